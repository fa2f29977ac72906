"""Robot: live rendered view, mode, TCP position, contact-force trend, protective stop and its reset."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from hmi import auth, fmt
from hmi.auth import Login
from hmi.model import CellSnapshot, Command, CommandKind
from hmi.runtime import HmiContext
from hmi.views import common

TREND_S = 300.0


def force_frame(snap: CellSnapshot, window_s: float = TREND_S) -> pd.DataFrame:
    pts = [p for p in snap.trend if p.contact_force_n is not None]
    if not pts:
        return pd.DataFrame(columns=["seconds ago", "contact force N"])
    t_end = pts[-1].t_unix_s
    pts = [p for p in pts if t_end - p.t_unix_s <= window_s]
    return pd.DataFrame(
        {
            "seconds ago": [round(p.t_unix_s - t_end, 1) for p in pts],
            "contact force N": [p.contact_force_n for p in pts],
        }
    )


def live(ctx: HmiContext, login: Login) -> None:
    ctx.link.want_view()
    snap = ctx.link.snapshot()
    common.link_banner(snap)
    view, facts = st.columns([3, 2])
    with view:
        if snap.render_png:
            st.image(snap.render_png, caption="Cell view (robot simulation, rendered)", width="stretch")
            if snap.render_note:
                st.caption(snap.render_note)
        else:
            st.info(snap.render_note or "No live view.")
    r = snap.robot
    with facts:
        if r is None:
            st.info("The cell publishes no robot state.")
        else:
            if r.protective_stop:
                st.markdown(
                    fmt.badge_html("Protective stop", fmt.Salience.ALARM, "robot-pstop"), unsafe_allow_html=True
                )
                st.caption("Check the cell, remove the cause, then reset. The reset counts as an intervention.")
            else:
                st.markdown(
                    fmt.badge_html(r.mode or "unknown", fmt.Salience.NORMAL, "robot-mode"), unsafe_allow_html=True
                )
            st.metric("Contact force", fmt.num(r.contact_force_n, 1, "N"))
            tcp = r.tcp_position_m
            st.metric("TCP (x, y, z)", "–" if tcp is None else ", ".join(f"{v:.3f}" for v in tcp) + " m")
            if auth.may(login.role, CommandKind.RESET_PROTECTIVE_STOP):
                if st.button(
                    "Reset protective stop", key="robot_reset", disabled=not (snap.connected and r.protective_stop)
                ):
                    common.send(ctx, login, Command(CommandKind.RESET_PROTECTIVE_STOP))
            else:
                st.caption(f"Your role ({login.role.value}) may not reset a protective stop.")
            common.show_feedback()
    df = force_frame(snap)
    if len(df):
        limit = ctx.config.robot.safety.contact_force_limit_n
        st.caption(f"Contact force, last {TREND_S / 60:.0f} min; dashed: the {limit:.0f} N limit (robot.safety)")
        st.vega_lite_chart(df, force_spec(limit), height=200)


def force_spec(limit_n: float) -> dict[str, object]:
    x = {"field": "seconds ago", "type": "quantitative", "title": "seconds ago"}
    y = {"field": "contact force N", "type": "quantitative", "title": "N", "axis": {"format": ".0f"}}
    return {
        "layer": [
            {"mark": {"type": "line", "color": "#555555"}, "encoding": {"x": x, "y": y}},
            {
                "mark": {"type": "rule", "color": "#d9382e", "strokeDash": [4, 4]},
                "encoding": {"y": {"datum": limit_n, "type": "quantitative"}},
            },
        ]
    }


def page() -> None:
    ctx, login = common.session()
    st.header("Robot")
    st.fragment(run_every=ctx.refresh_s)(live)(ctx, login)
