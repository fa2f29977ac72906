"""Inspection: the latest radiograph with its flaws and anomaly map, and a history browser with filters."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from hmi import fmt, overlay, records
from hmi.runtime import HmiContext
from hmi.views import common
from vision.types import FlawClass, Verdict

_VERDICT_SALIENCE = {"OK": fmt.Salience.NORMAL, "REVIEW": fmt.Salience.ATTENTION, "NOK": fmt.Salience.ALARM}


def flaw_table(view: records.InspectionView) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "#": i,
                "class": d.flaw_class,
                "score": round(d.score, 3),
                "size mm": round(d.size_mm, 2),
                "zone": d.zone or "–",
                "rule broken": d.rule_broken or "none (within limits)",
                "found by": d.source,
            }
            for i, d in enumerate(view.defects, start=1)
        ]
    )


def _anomaly(path: Path) -> np.ndarray | None:
    if path.suffix == ".npy":
        return np.asarray(np.load(path, allow_pickle=False), dtype=np.float32)
    return overlay.load_gray8(path)


def show_inspection(view: records.InspectionView, key: str) -> None:
    final = view.final_verdict
    head = f"{view.serial} · {final}" + (f" (machine: {view.verdict})" if final != view.verdict else "")
    st.markdown(
        fmt.badge_html(head, _VERDICT_SALIENCE.get(final, fmt.Salience.NORMAL), f"verdict-{key}"),
        unsafe_allow_html=True,
    )
    st.caption(
        f"Inspection {view.inspection_id} · {fmt.when(view.finished_at)} · {view.family} / {view.recipe}"
        + (f" · lot {view.lot}" if view.lot else "")
        + f" · {len(view.defects)} flaw(s) · anomaly score {fmt.num(view.anomaly_score, 3)}"
        + f" · {view.latency_ms:.0f} ms"
    )
    if view.error:
        st.warning(f"Inspection error: {view.error}")
    gray = overlay.load_gray8(view.image_path) if view.image_path else None
    amap = _anomaly(view.anomaly_map_path) if view.anomaly_map_path else None
    # radiograph on the left; the anomaly map (or, without one, the flaw table) beside it
    left, right = st.columns(2)
    if gray is None:
        left.info("Radiograph not on this machine (the store holds its SHA-256 only).")
    else:
        left.image(overlay.draw_flaws(gray, view.defects), caption="Radiograph with flaws", width="stretch")
    table_at = right
    if gray is not None and amap is not None:
        right.image(overlay.anomaly_overlay(gray, amap), caption="Anomaly map", width="stretch")
        table_at = st.container()
    if view.defects:
        table_at.dataframe(flaw_table(view), hide_index=True, key=f"flaws_{key}")
    else:
        table_at.caption("No flaws found.")
    for r in view.reviews:
        st.caption(f"Reviewed {fmt.when(r.at)} by {r.user}: {r.disposition} — {r.reason}")
    if view.model_versions:
        st.caption("Models: " + ", ".join(f"{k} {v}" for k, v in sorted(view.model_versions.items())))


_LATEST = {"Latest part": (), "Latest rejected (NOK or REVIEW)": ("NOK", "REVIEW")}


def latest(ctx: HmiContext, which: str) -> None:
    store = ctx.store()
    if store is None:
        st.info(ctx.store_error)
        return
    iid = records.latest_inspection_id(store, _LATEST[which])
    if iid is None:
        st.info("No such part yet.")
        return
    view = records.inspection(store, iid)
    if view is not None:
        show_inspection(view, "latest")


_WINDOWS = {
    "Last hour": timedelta(hours=1),
    "Last 8 h": timedelta(hours=8),
    "Last 24 h": timedelta(days=1),
    "Last 7 days": timedelta(days=7),
    "All": None,
}


def history_filter() -> records.HistoryFilter:
    c = st.columns([1.2, 1.6, 1.1, 1.1, 1.0])
    window = c[0].selectbox("Window", [*_WINDOWS, "Dates"], key="hist_window")
    since: datetime | None = None
    until: datetime | None = None
    if window == "Dates":
        d0, d1 = st.columns(2)
        day0 = d0.date_input("From (UTC)", value=date.today() - timedelta(days=1), key="hist_from")
        day1 = d1.date_input("To (UTC, inclusive)", value=date.today(), key="hist_to")
        since = datetime.combine(day0, time(), UTC)
        until = datetime.combine(day1, time(), UTC) + timedelta(days=1)
    else:
        span = _WINDOWS[window]
        since = None if span is None else datetime.now(UTC) - span
    verdicts = c[1].multiselect("Verdict", [v.value for v in Verdict], key="hist_verdicts")
    flaw = c[2].selectbox("Flaw class", ["any", *[f.value for f in FlawClass]], key="hist_flaw")
    serial = c[3].text_input("Serial contains", key="hist_serial")
    lot = c[4].text_input("Lot", key="hist_lot")
    return records.HistoryFilter(
        since=since,
        until=until,
        verdicts=tuple(verdicts),
        flaw_class=None if flaw == "any" else flaw,
        serial_contains=serial,
        lot=lot,
    )


def history(ctx: HmiContext) -> None:
    store = common.store_or_note(ctx)
    if store is None:
        return
    f = history_filter()
    rows = records.history(store, f)
    st.caption(f"{len(rows)} part(s), newest first (at most {f.limit}). Select a row to see the part.")
    if not rows:
        return
    event = st.dataframe(
        pd.DataFrame(rows), hide_index=True, on_select="rerun", selection_mode="single-row", key="hist_table"
    )
    picked = event.selection.rows if hasattr(event, "selection") else []
    if picked:
        view = records.inspection(store, int(rows[picked[0]]["id"]))  # type: ignore[call-overload]
        if view is not None:
            show_inspection(view, "picked")


def page() -> None:
    ctx, _login = common.session()
    st.header("Inspection")
    which = st.radio("Show", list(_LATEST), horizontal=True, key="insp_latest", label_visibility="collapsed")
    st.fragment(run_every=max(2.0, ctx.refresh_s))(latest)(ctx, which)
    st.subheader("History")
    history(ctx)
