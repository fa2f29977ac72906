"""Per-part and per-finding rows streamed from the database (server-side cursor, fixed-size batches)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select

from cell_control.reports.selection import Selection
from cell_control.reports.window import as_utc
from cell_control.store.schema import DefectRow, ReviewRow

BATCH = 5000

PART_COLUMNS = (
    "serial",
    "family",
    "recipe",
    "lot",
    "arrived_at",
    "finished_at",
    "inspection_id",
    "n_inspections",
    "job_id",
    "machine_verdict",
    "first_verdict",
    "review_disposition",
    "reviewed_by",
    "reviewed_at",
    "review_reason",
    "final_disposition",
    "gt_flawed",
    "anomaly_score",
    "latency_ms",
    "n_defects",
    "n_rules_broken",
    "max_defect_score",
    "max_defect_size_mm",
    "task_id",
    "task_outcome",
    "task_target",
    "task_cycle_s",
    "task_regrasps",
    "task_max_contact_force_n",
    "image_sha256",
    "config_sha256",
    "error",
)

FLAW_COLUMNS = (
    "serial",
    "inspection_id",
    "final_disposition",
    "flaw_class",
    "score",
    "size_mm",
    "zone",
    "rule_broken",
    "source",
    "x0_px",
    "y0_px",
    "x1_px",
    "y1_px",
)


def iso(dt: datetime | None) -> str:
    return as_utc(dt).isoformat() if dt is not None else ""


def iter_part_rows(sel: Selection) -> Iterator[tuple[Any, ...]]:
    """One tuple per part in PART_COLUMNS order, oldest inspection first; datetimes as ISO 8601 UTC."""
    rp = sel.table.c
    r = ReviewRow.__table__.c
    cols = [
        rp.serial,
        rp.family,
        rp.recipe,
        rp.lot,
        rp.arrived_at,
        rp.finished_at,
        rp.inspection_id,
        rp.n_inspections,
        rp.job_id,
        rp.machine_verdict,
        rp.first_verdict,
        rp.review_disposition,
        r.user,
        r.created_at,
        r.reason,
        rp.final_disposition,
        rp.gt_flawed,
        rp.anomaly_score,
        rp.latency_ms,
        rp.n_defects,
        rp.n_rules_broken,
        rp.max_defect_score,
        rp.max_defect_size_mm,
        rp.task_id,
        rp.task_outcome,
        rp.task_target,
        rp.task_cycle_s,
        rp.task_regrasps,
        rp.task_max_contact_force_n,
        rp.image_sha256,
        rp.config_sha256,
        rp.error,
    ]
    q = (
        select(*cols)
        .select_from(sel.table)
        .outerjoin(ReviewRow.__table__, r.id == rp.review_id)
        .order_by(rp.finished_at, rp.part_id)
    )
    result = sel.conn.execution_options(stream_results=True, yield_per=BATCH).execute(q)
    for row in result:
        t = list(row)
        t[4], t[5], t[13] = iso(t[4]), iso(t[5]), iso(t[13])
        t[16] = "" if t[16] is None else bool(t[16])
        yield tuple(t)


def iter_flaw_rows(sel: Selection) -> Iterator[tuple[Any, ...]]:
    """One tuple per finding of each part's latest inspection, in FLAW_COLUMNS order."""
    rp = sel.table.c
    d = DefectRow.__table__.c
    q = (
        select(
            rp.serial,
            rp.inspection_id,
            rp.final_disposition,
            d.flaw_class,
            d.score,
            d.size_mm,
            d.zone,
            d.rule_broken,
            d.source,
            d.x0_px,
            d.y0_px,
            d.x1_px,
            d.y1_px,
        )
        .select_from(sel.table)
        .join(DefectRow.__table__, d.inspection_id == rp.inspection_id)
        .order_by(rp.finished_at, rp.part_id, d.id)
    )
    yield from (tuple(row) for row in sel.conn.execution_options(stream_results=True, yield_per=BATCH).execute(q))
