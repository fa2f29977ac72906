"""Quality reports: KPIs, SPC charts, the review workflow and the exports a quality engineer signs.

The HMI and the CLI use this API; heavy renderers (PDF, XLSX) are imported on first use.
"""

from __future__ import annotations

from typing import Any

from cell_control.reports.disposition import (
    ReviewEntry,
    ReviewItem,
    final_disposition,
    pending_review_count,
    review_history,
    review_item,
    review_queue,
    submit_review,
)
from cell_control.reports.kpis import Kpis, KpiSettings, compute_kpis
from cell_control.reports.window import ReportWindow, WindowError, parse_time

__all__ = [
    "KpiSettings",
    "Kpis",
    "ReportWindow",
    "ReviewEntry",
    "ReviewItem",
    "WindowError",
    "compute_kpis",
    "final_disposition",
    "parse_time",
    "pending_review_count",
    "review_history",
    "review_item",
    "review_queue",
    "submit_review",
]

_LAZY = {
    "pchart_data": "cell_control.reports.spc",
    "pareto_data": "cell_control.reports.spc",
    "cycle_histogram": "cell_control.reports.spc",
    "PChart": "cell_control.reports.spc",
    "Pareto": "cell_control.reports.spc",
    "collect_report": "cell_control.reports.content",
    "ReportContent": "cell_control.reports.content",
    "render_pdf": "cell_control.reports.pdf",
    "write_csv": "cell_control.reports.tabular",
    "write_xlsx": "cell_control.reports.tabular",
    "write_json": "cell_control.reports.jsonout",
    "report_dict": "cell_control.reports.jsonout",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)
