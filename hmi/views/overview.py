"""Overview: PackML state in words, the commands the user's role allows, KPIs and the throughput trend."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from cell_control.types import PackMLState
from hmi import auth, fmt, records
from hmi.model import PACKML_COMMANDS, CellSnapshot, Command, CommandKind
from hmi.views import common

S = PackMLState
_ACTIVE = set(S) - {S.STOPPED, S.STOPPING, S.ABORTING, S.ABORTED, S.CLEARING}
# Where each command means something (ISA-TR88.00.02). Advisory: the cell's own table decides and
# answers a refusal with its reason, which the page shows.
ACCEPTED_IN: dict[CommandKind, set[PackMLState]] = {
    CommandKind.START: {S.IDLE},
    CommandKind.RESET: {S.STOPPED, S.COMPLETE},
    CommandKind.STOP: _ACTIVE,
    CommandKind.HOLD: {S.EXECUTE, S.SUSPENDED, S.SUSPENDING, S.UNSUSPENDING},
    CommandKind.UNHOLD: {S.HELD},
    CommandKind.SUSPEND: {S.EXECUTE},
    CommandKind.UNSUSPEND: {S.SUSPENDED},
    CommandKind.ABORT: set(S) - {S.ABORTING, S.ABORTED},
    CommandKind.CLEAR: {S.ABORTED},
}


def accepted(kind: CommandKind, state: PackMLState | None) -> bool:
    return state is not None and state in ACCEPTED_IN.get(kind, set())


def _throughput_per_h(snap: CellSnapshot, window_s: float = 300.0) -> float | None:
    pts = snap.trend
    if len(pts) < 2:
        return None
    last = pts[-1]
    first = next((p for p in pts if last.t_unix_s - p.t_unix_s <= window_s), pts[0])
    dt = last.t_unix_s - first.t_unix_s
    if dt < 5.0:
        return None
    return max(0, last.processed - first.processed) * 3600.0 / dt


def _kpis(snap: CellSnapshot) -> None:
    c = snap.counters
    n = snap.processed
    ok = c.get("OkCount")
    cols = st.columns(6)
    cols[0].metric("Parts processed", fmt.num(n))
    cols[1].metric("OK", fmt.num(ok))
    cols[2].metric("NOK", fmt.num(c.get("DefectiveCount")))
    cols[3].metric("Review", fmt.num(c.get("ReviewCount")))
    cols[4].metric("Yield", fmt.pct(ok / n if ok is not None and n else None))
    cols[5].metric("Parts/h (5 min)", fmt.num(_throughput_per_h(snap), 0))


def _commands(ctx: common.HmiContext, login: auth.Login, snap: CellSnapshot) -> None:
    allowed = [k for k in PACKML_COMMANDS if auth.may(login.role, k)]
    if not allowed:
        st.caption(f"Your role ({login.role.value}) may watch the cell but not command it.")
        return
    cols = st.columns(len(allowed))
    for col, kind in zip(cols, allowed, strict=True):
        now_ok = snap.connected and accepted(kind, snap.state)
        if col.button(
            common.command_label(kind),
            key=f"cmd_{kind.value}",
            disabled=not now_ok,
            type="primary" if now_ok and kind in (CommandKind.START, CommandKind.RESET) else "secondary",
            width="stretch",
        ):
            common.send(ctx, login, Command(kind))


def live(ctx: common.HmiContext, login: auth.Login) -> None:
    snap = ctx.link.snapshot()
    common.link_banner(snap)
    left, right = st.columns([2, 3])
    with left:
        st.caption(f"Cell {snap.cell_name or '?'} · PackML state")
        common.state_badge(snap)
        hint = fmt.STATE_HINTS.get(snap.state) if snap.state is not None else None
        if hint:
            st.caption(hint)
        if snap.last_command:
            st.caption(f"Last command: {snap.last_command}")
    with right:
        unacked = sum(1 for a in snap.alarms if fmt.needs_ack(a.state))
        if unacked:
            st.error(f"{unacked} unacknowledged alarm(s): see Alarms.")
        elif snap.alarms:
            st.warning(f"{len(snap.alarms)} active alarm(s).")
        lr = snap.last_result
        if lr is not None:
            st.caption(f"Last part {lr.part_serial}: {lr.verdict}, {lr.flaw_count} flaw(s), job {lr.job_id}")
        if snap.robot is not None and snap.robot.protective_stop:
            st.error("Robot in protective stop: see Robot.")
    _kpis(snap)
    _commands(ctx, login, snap)
    common.show_feedback()


def trend(ctx: common.HmiContext) -> None:
    store = ctx.store()
    if store is None:
        st.caption(ctx.store_error)
        return
    data = records.throughput_per_minute(store, datetime.now(UTC), minutes=60)
    df = pd.DataFrame(data)
    st.caption("Parts finished per minute, last hour (record store)")
    st.vega_lite_chart(df, minute_bars_spec(), height=220)


def minute_bars_spec() -> dict[str, object]:
    """Grey bars, whole-number axis (Streamlit's default chart prints 0.000000 on an idle hour)."""
    return {
        "mark": {"type": "bar", "color": "#7f7f7f"},
        "encoding": {
            "x": {"field": "minute", "type": "temporal", "title": None, "axis": {"format": "%H:%M"}},
            "y": {
                "field": "parts",
                "type": "quantitative",
                "title": "parts/min",
                "axis": {"format": "d", "tickMinStep": 1},
            },
        },
    }


def page() -> None:
    ctx, login = common.session()
    st.header("Overview")
    st.fragment(run_every=ctx.refresh_s)(live)(ctx, login)
    st.fragment(run_every=max(5.0, ctx.refresh_s))(trend)(ctx)
