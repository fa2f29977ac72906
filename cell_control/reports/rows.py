"""Per-part and per-finding rows streamed from the database (server-side cursor, fixed-size batches)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import case, select

from cell_control.reports.selection import Selection
from cell_control.reports.sqlfuncs import iso_text
from cell_control.store.schema import DefectRow, InspectionRow, PartRow, ReviewRow, RobotTaskRow

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


def iter_part_rows(sel: Selection) -> Iterator[tuple[Any, ...]]:
    """One tuple per part in PART_COLUMNS order, oldest inspection first; datetimes as ISO 8601 UTC."""
    rp = sel.table.c
    r = ReviewRow.__table__.c
    p = PartRow.__table__.c
    i = InspectionRow.__table__.c
    t = RobotTaskRow.__table__.c
    d = sel.dialect
    cols = [
        rp.serial,
        p.family,
        p.recipe,
        rp.lot,
        iso_text(rp.arrived_at, d),
        iso_text(rp.finished_at, d),
        rp.inspection_id,
        rp.n_inspections,
        i.job_id,
        rp.machine_verdict,
        rp.first_verdict,
        rp.review_disposition,
        r.user,
        iso_text(r.created_at, d),
        r.reason,
        rp.final_disposition,
        case((rp.gt_flawed == 1, "True"), (rp.gt_flawed == 0, "False"), else_=""),
        rp.anomaly_score,
        rp.latency_ms,
        rp.n_defects,
        rp.n_rules_broken,
        rp.max_defect_score,
        rp.max_defect_size_mm,
        t.task_id,
        rp.task_outcome,
        t.target,
        rp.task_cycle_s,
        rp.task_regrasps,
        rp.task_max_contact_force_n,
        i.image_sha256,
        i.config_sha256,
        i.error,
    ]
    q = (
        select(*cols)
        .select_from(sel.table)
        .join(PartRow.__table__, p.id == rp.part_id)
        .join(InspectionRow.__table__, i.id == rp.inspection_id)
        .outerjoin(ReviewRow.__table__, r.id == rp.review_id)
        .outerjoin(RobotTaskRow.__table__, t.id == rp.task_row_id)
        .order_by(rp.finished_s, rp.part_id)
    )
    # Every value leaves the database ready to write: rows go to the writer as they come.
    for row in sel.conn.execution_options(stream_results=True, yield_per=BATCH).execute(q):
        yield tuple(row)


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
        .order_by(rp.finished_s, rp.part_id, d.id)
    )
    yield from (tuple(row) for row in sel.conn.execution_options(stream_results=True, yield_per=BATCH).execute(q))
