"""Streamlit entry of the operator HMI (`ironcell hmi` runs `streamlit run` on this file)."""

from __future__ import annotations

import streamlit as st

from hmi import auth, fmt
from hmi.runtime import HmiContext, context
from hmi.views import alarms, common, inspection, overview, reports, review, robot

PAGES = (
    (overview.page, "Overview", "overview"),
    (inspection.page, "Inspection", "inspection"),
    (review.page, "Review", "review"),
    (robot.page, "Robot", "robot"),
    (alarms.page, "Alarms", "alarms"),
    (reports.page, "Reports", "reports"),
)


def sidebar_status(ctx: HmiContext) -> None:
    snap = ctx.link.snapshot()
    if snap.connected:
        st.caption(f"Cell {snap.cell_name} · {fmt.state_words(snap.state)}")
    else:
        st.error("Cell not reachable")
    unacked = sum(1 for a in snap.alarms if fmt.needs_ack(a.state))
    if unacked:
        st.error(f"{unacked} alarm(s) to acknowledge")


def main() -> None:
    st.set_page_config(page_title="ironcell HMI", layout="wide")
    ctx = context()
    login = auth.current(ctx)
    # the same pages are registered before and after login, so a deep link (…/alarms) survives the login
    nav = st.navigation(
        [st.Page(fn, title=title, url_path=path, default=(i == 0)) for i, (fn, title, path) in enumerate(PAGES)],
        position="sidebar" if login is not None else "hidden",
    )
    if login is None:
        auth.login_form(ctx)
        common.link_banner(ctx.link.snapshot())
        return
    with st.sidebar:
        st.markdown(f"**{login.user}** · {login.role.value}")
        if st.button("Log out", key="logout"):
            auth.log_out(ctx)
            st.rerun()
        st.fragment(run_every=ctx.refresh_s)(sidebar_status)(ctx)
    nav.run()


main()
