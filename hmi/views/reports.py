"""Reports: choose a window, preview KPIs and charts, download the PDF, CSV and XLSX.

Previews use cell_control.reports directly; the files come from the public `ironcell report` command
(run as a child process), so the HMI offers exactly what the quality engineer's CLI produces.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
import streamlit as st

from cell_control.reports import KpiSettings, ReportWindow, WindowError, compute_kpis
from hmi import fmt
from hmi.auth import Login
from hmi.runtime import HmiContext
from hmi.views import common

FORMATS = {
    "pdf": "application/pdf",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_FILES = "report_files"
_PRESETS = {
    "Last hour": timedelta(hours=1),
    "Last 8 h (shift)": timedelta(hours=8),
    "Last 24 h": timedelta(days=1),
    "Last 7 days": timedelta(days=7),
    "All records": None,
}


def choose_window() -> ReportWindow:
    c = st.columns([1.4, 1.2, 1.2, 1.2])
    preset = c[0].selectbox("Window", [*_PRESETS, "Dates"], index=2, key="rep_window")
    lot = c[3].text_input("Lot (optional)", key="rep_lot").strip() or None
    if preset == "Dates":
        d0 = c[1].date_input("From (UTC)", value=date.today(), key="rep_from")
        d1 = c[2].date_input("To (UTC, inclusive)", value=date.today(), key="rep_to")
        return ReportWindow(
            datetime.combine(d0, time(), UTC), datetime.combine(d1, time(), UTC) + timedelta(days=1), lot
        )
    span = _PRESETS[preset]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    # the end is left open so a part finishing while the user looks is not cut off
    return ReportWindow(None if span is None else now - span, None, lot)


def build_file(fmt_name: str, window: ReportWindow, out_dir: Path) -> Path:
    """Runs `ironcell report` for one format; raises RuntimeError with its message on failure."""
    out = out_dir / f"ironcell_report.{fmt_name}"
    cmd = [sys.executable, "-m", "cell_control.cli.main", "report", "--format", fmt_name, "--out", str(out)]
    if window.since is not None:
        cmd += ["--since", window.since.isoformat()]
    if window.until is not None:
        cmd += ["--until", window.until.isoformat()]
    if window.lot:
        cmd += ["--lot", window.lot]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ))
    if proc.returncode != 0 or not out.is_file():
        raise RuntimeError((proc.stderr or proc.stdout or f"exit code {proc.returncode}").strip()[-800:])
    return out


def _stamp(window: ReportWindow) -> str:
    end = window.until or datetime.now(UTC)
    return end.strftime("%Y%m%dT%H%M")


def files_section(ctx: HmiContext, login: Login, window: ReportWindow) -> None:
    if st.button("Build report files (PDF, CSV, XLSX)", key="rep_build", type="primary"):
        built: dict[str, bytes] = {}
        errors: list[str] = []
        with st.spinner("Building the reports ..."), tempfile.TemporaryDirectory(prefix="ironcell-hmi-") as tmp:
            for name in FORMATS:
                try:
                    built[name] = build_file(name, window, Path(tmp)).read_bytes()
                except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
                    errors.append(f"{name.upper()}: {exc}")
        st.session_state[_FILES] = (window, built, errors)
        store = ctx.store()
        if store is not None:
            store.audit(login.user, "hmi", "report", not errors, f"{window.to_dict()} {sorted(built)}")
    got = st.session_state.get(_FILES)
    if not got:
        return
    built_window, built, errors = got
    for e in errors:
        st.error(f"Report failed: {e}")
    if built_window != window:
        st.caption("These files are for the previous window; build again for the one selected now.")
    cols = st.columns(len(FORMATS))
    for col, (name, mime) in zip(cols, FORMATS.items(), strict=True):
        if name in built:
            col.download_button(
                f"Download {name.upper()}",
                data=built[name],
                file_name=f"ironcell_report_{_stamp(built_window)}.{name}",
                mime=mime,
                key=f"rep_dl_{name}",
                on_click="ignore",
            )


def preview(ctx: HmiContext, window: ReportWindow) -> None:
    from cell_control.reports import cycle_histogram, pareto_data, pchart_data

    store = common.store_or_note(ctx)
    if store is None:
        return
    k = compute_kpis(store, window, KpiSettings.from_config(ctx.config))
    if k.empty:
        st.info("No part finished in this window.")
        return
    c = st.columns(6)
    c[0].metric("Parts", fmt.num(k.parts))
    c[1].metric("Yield (final)", fmt.pct(k.yield_ratio))
    c[2].metric("First-pass yield", fmt.pct(k.first_pass_yield))
    c[3].metric("NOK ppm", fmt.num(k.ppm_nok, 0))
    c[4].metric("Parts/h", fmt.num(k.throughput_parts_per_h, 0))
    c[5].metric("OEE", fmt.pct(k.oee))
    c = st.columns(6)
    c[0].metric("Pending review", fmt.num(k.pending_review))
    c[1].metric("False rejects", fmt.pct(k.false_reject_rate, 2))
    c[2].metric("Escapes", fmt.pct(k.escape_rate, 2))
    c[3].metric("Tasks / intervention", fmt.num(k.tasks_per_intervention, 0))
    c[4].metric("Peak force N", fmt.num(k.contact_force_max_n, 1))
    c[5].metric("Cycle p50 s", fmt.num(k.cycle_s_p50, 2))
    for note in k.notes:
        st.caption(note)
    left, right = st.columns(2)
    pc = pchart_data(store, window)
    if pc.points:
        left.caption(f"p-chart: fraction NOK per {pc.subgroup} (p̄ {fmt.pct(pc.p_bar, 2)}, limits p̄ ± 3σ)")
        df = pd.DataFrame([{"subgroup": p.label, "p": p.p, "UCL": p.ucl, "LCL": p.lcl} for p in pc.points])
        left.vega_lite_chart(df, pchart_spec(), height=240)
        if pc.out_of_control:
            left.warning(f"{len(pc.out_of_control)} subgroup(s) out of control.")
    pa = pareto_data(store, window)
    if pa.bars:
        right.caption(f"Pareto of NOK parts by flaw class ({pa.nok_parts} NOK parts)")
        df = pd.DataFrame([{"class": b.category, "parts": b.parts} for b in pa.bars])
        right.bar_chart(df, x="class", y="parts", height=240, color="#7f7f7f", sort="-parts")
    h = cycle_histogram(store, window)
    if h.counts:
        st.caption("Robot cycle time distribution (s)")
        df = pd.DataFrame({"cycle s": [round(e, 2) for e in h.edges[:-1]], "tasks": list(h.counts)})
        st.bar_chart(df, x="cycle s", y="tasks", height=200, color="#7f7f7f")


def pchart_spec() -> dict[str, object]:
    """Fraction NOK with points (a single subgroup is still visible) and dashed control limits."""
    x = {"field": "subgroup", "type": "ordinal", "title": None, "axis": {"labelAngle": -30}}

    def limit(field: str) -> dict[str, object]:
        return {
            "mark": {"type": "line", "color": "#d9382e", "strokeDash": [4, 4], "interpolate": "step-after"},
            "encoding": {"x": x, "y": {"field": field, "type": "quantitative"}},
        }

    return {
        "layer": [
            limit("UCL"),
            limit("LCL"),
            {
                "mark": {"type": "line", "color": "#333333", "point": {"color": "#333333"}},
                "encoding": {
                    "x": x,
                    "y": {"field": "p", "type": "quantitative", "title": "fraction NOK", "axis": {"format": ".1%"}},
                },
            },
        ]
    }


def page() -> None:
    ctx, login = common.session()
    st.header("Reports")
    try:
        window = choose_window()
    except WindowError as exc:
        st.error(str(exc))
        return
    files_section(ctx, login, window)
    st.divider()
    preview(ctx, window)
