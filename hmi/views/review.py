"""Review: the queue of REVIEW parts; a reviewer confirms OK or NOK with a reason (a new record, named)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from cell_control.store import Store, StoreError
from cell_control.users import Action, is_allowed
from hmi import records
from hmi.auth import Login
from hmi.runtime import HmiContext
from hmi.views import common
from hmi.views.inspection import show_inspection
from vision.types import Verdict


def decide(ctx: HmiContext, store: Store, login: Login, inspection_id: int, disposition: Verdict, reason: str) -> str:
    """Records the review under the logged-in user's name; returns the message for the reviewer."""
    if not is_allowed(login.role, Action.REVIEW):
        store.audit(login.user, "hmi", "review", False, f"inspection {inspection_id}: refused by role")
        raise PermissionError(f"Not allowed: a {login.role.value} may not review parts.")
    if not reason.strip():
        raise StoreError("Give a reason for the decision.")
    review_id = store.add_review(inspection_id, login.user, disposition, reason.strip())
    store.audit(login.user, "hmi", "review", True, f"inspection {inspection_id} -> {disposition.value}: {reason}")
    return f"Review {review_id} recorded: inspection {inspection_id} is {disposition.value} (by {login.user})."


def page() -> None:
    ctx, login = common.session()
    st.header("Review")
    store = common.store_or_note(ctx)
    if store is None:
        return
    done = st.session_state.pop("review_done", None)
    if done:
        st.success(done)
    queue = records.review_queue(store)
    if not queue:
        st.info("No part waits for review.")
        return
    st.caption(f"{len(queue)} part(s) wait for a decision, oldest first.")
    st.dataframe(pd.DataFrame(queue), hide_index=True, key="review_queue")
    labels = {int(str(q["id"])): f"{q['serial']} (inspection {q['id']}, {q['finished (UTC)']})" for q in queue}
    iid = st.selectbox("Part", list(labels), format_func=labels.__getitem__, key="review_pick")
    if iid is None:
        return
    view = records.inspection(store, iid)
    if view is None:
        st.error(f"Inspection {iid} not found.")
        return
    show_inspection(view, "review")
    may_review = is_allowed(login.role, Action.REVIEW)
    if not may_review:
        st.caption(f"Your role ({login.role.value}) may look but not decide.")
    with st.form(f"review_form_{iid}"):
        disposition = st.radio("Decision", ["OK", "NOK"], horizontal=True, key=f"review_disp_{iid}")
        reason = st.text_area("Reason", key=f"review_reason_{iid}", placeholder="what you saw on the radiograph")
        submitted = st.form_submit_button("Record decision", disabled=not may_review)
    if submitted:
        try:
            st.session_state["review_done"] = decide(ctx, store, login, iid, Verdict(disposition), reason)
        except (StoreError, PermissionError) as exc:
            st.error(str(exc))
        else:
            st.rerun()
