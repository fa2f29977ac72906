"""Alarms (ISA-18.2): active alarms with their state, acknowledge, shelve with a reason, history.

Acknowledgement and shelving are the cell's state (OPC UA methods), not the tab's: every tab and every
client of the cell sees the same alarm states.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from hmi import auth, fmt, records
from hmi.auth import Login
from hmi.model import AlarmView, Command, CommandKind
from hmi.runtime import HmiContext
from hmi.views import common

_SEVERITY_SALIENCE = {"Critical": fmt.Salience.ALARM, "High": fmt.Salience.ALARM, "Medium": fmt.Salience.ATTENTION}


def _row(ctx: HmiContext, login: Login, a: AlarmView, may_ack: bool) -> None:
    c = st.columns([1.1, 4, 2.2, 1.3])
    sev = fmt.severity_words(a.severity)
    salience = _SEVERITY_SALIENCE.get(sev, fmt.Salience.NORMAL) if fmt.needs_ack(a.state) else fmt.Salience.NORMAL
    c[0].markdown(fmt.badge_html(sev, salience), unsafe_allow_html=True)
    part = f" · part {a.part_serial}" if a.part_serial else ""
    c[1].markdown(
        f"**{a.code}** {a.message}  \n<small>alarm {a.alarm_id} · since {fmt.iso_short(a.since)}{part}</small>",
        unsafe_allow_html=True,
    )
    c[2].write(fmt.alarm_state_words(a.state))
    if fmt.needs_ack(a.state) and may_ack and c[3].button("Acknowledge", key=f"ack_{a.alarm_id}"):
        common.send(ctx, login, Command(CommandKind.ACKNOWLEDGE, alarm_id=a.alarm_id))
    if (
        a.state == "shelved"
        and auth.may(login.role, CommandKind.UNSHELVE)
        and c[3].button("Unshelve", key=f"unshelve_{a.alarm_id}")
    ):
        common.send(ctx, login, Command(CommandKind.UNSHELVE, alarm_id=a.alarm_id))


def live(ctx: HmiContext, login: Login) -> None:
    snap = ctx.link.snapshot()
    common.link_banner(snap)
    common.show_feedback()
    if not snap.alarms:
        st.success("No active alarms.") if snap.connected else st.caption("Alarms unknown while the cell is away.")
        return
    may_ack = auth.may(login.role, CommandKind.ACKNOWLEDGE)
    if not may_ack:
        st.caption(f"Your role ({login.role.value}) may not acknowledge alarms.")
    for a in snap.alarms:
        _row(ctx, login, a, may_ack)


def shelve_form(ctx: HmiContext, login: Login) -> None:
    if not auth.may(login.role, CommandKind.SHELVE):
        st.caption(f"Shelving needs the engineer role (you are {login.role.value}).")
        return
    alarms = [a for a in ctx.link.snapshot().alarms if a.state != "shelved"]
    if not alarms:
        st.caption("Nothing to shelve.")
        return
    labels = {a.alarm_id: f"{a.alarm_id} · {a.code} · {a.message[:60]}" for a in alarms}
    with st.form("shelve"):
        alarm_id = st.selectbox("Alarm", list(labels), format_func=labels.__getitem__, key="shelve_pick")
        reason = st.text_input("Reason (required: it goes to the alarm history)", key="shelve_reason")
        submitted = st.form_submit_button("Shelve")
    if submitted:
        if not reason.strip():
            st.error("A shelved alarm needs a reason.")
        elif alarm_id is not None:
            res = common.send(ctx, login, Command(CommandKind.SHELVE, alarm_id=alarm_id, reason=reason.strip()))
            (st.success if res.ok else st.error)(res.message)


def history(ctx: HmiContext) -> None:
    store = common.store_or_note(ctx)
    if store is None:
        return
    rows = records.alarm_history(store, limit=500)
    if not rows:
        st.caption("No alarm recorded yet.")
        return
    df = pd.DataFrame(rows)
    df["state"] = df["state"].map(fmt.alarm_state_words)
    st.dataframe(df, hide_index=True, key="alarm_history")


def page() -> None:
    ctx, login = common.session()
    st.header("Alarms")
    st.fragment(run_every=ctx.refresh_s)(live)(ctx, login)
    with st.expander("Shelve an alarm"):
        shelve_form(ctx, login)
    st.subheader("History")
    st.button("Refresh history", key="alarm_hist_refresh")
    history(ctx)
