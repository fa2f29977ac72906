"""The parts a report covers, gathered once into a temporary table that every KPI query then reads.

One pass over the store's big tables (GROUP BY in the database) picks, per part inspected in the window:
its latest and first inspection, the latest review of the latest inspection (the final disposition),
the ground truth, a defect summary and its latest robot task. The KPI, chart and export queries are
then cheap aggregates over that one table, whatever the size of the store.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    case,
    func,
    select,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement

from cell_control.reports.sqlfuncs import epoch_s, gt_flawed
from cell_control.reports.window import ReportWindow
from cell_control.store.schema import DefectRow, InspectionRow, PartRow, ReviewRow, RobotTaskRow
from cell_control.store.store import Store

_counter = itertools.count()


@dataclass(frozen=True)
class Selection:
    """An open connection holding the temporary table `table` of the window's parts."""

    conn: Connection
    table: Table
    window: ReportWindow

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name


def window_filter(col: Any, window: ReportWindow) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if window.since is not None:
        conds.append(col >= window.since)
    if window.until is not None:
        conds.append(col < window.until)
    return conds


def _table(name: str) -> Table:
    # Kept narrow on purpose: writing this table is most of a report's time; wide text columns
    # (hashes, job ids) are joined back from the store only where an export needs them.
    return Table(
        name,
        MetaData(),
        Column("part_id", Integer, primary_key=True),
        Column("serial", String(64)),
        Column("lot", String(64)),
        Column("arrived_at", DateTime(timezone=True)),
        Column("inspection_id", Integer),
        Column("n_inspections", Integer),
        Column("finished_at", DateTime(timezone=True)),
        Column("finished_s", Float),
        Column("machine_verdict", String(8)),
        Column("first_verdict", String(8)),
        Column("review_id", Integer),
        Column("review_disposition", String(8)),
        Column("final_disposition", String(8)),
        Column("gt_flawed", Integer),
        Column("anomaly_score", Float),
        Column("latency_ms", Float),
        Column("n_defects", Integer),
        Column("n_rules_broken", Integer),
        Column("max_defect_score", Float),
        Column("max_defect_size_mm", Float),
        Column("task_row_id", Integer),
        Column("task_outcome", String(32)),
        Column("task_cycle_s", Float),
        Column("task_regrasps", Integer),
        Column("task_max_contact_force_n", Float),
        prefixes=["TEMPORARY"],
    )


def _fill(conn: Connection, rp: Table, window: ReportWindow) -> None:
    insp = InspectionRow.__table__
    conds = window_filter(insp.c.finished_at, window)
    per_part = select(
        insp.c.part_id.label("part_id"),
        func.max(insp.c.id).label("last_id"),
        func.min(insp.c.id).label("first_id"),
        func.count().label("n"),
    )
    if window.lot is not None:
        per_part = per_part.join(PartRow.__table__, PartRow.__table__.c.id == insp.c.part_id)
        conds.append(PartRow.__table__.c.lot == window.lot)
    agg = per_part.where(*conds).group_by(insp.c.part_id).subquery("agg")

    last = aliased(InspectionRow, name="last_insp")
    first = aliased(InspectionRow, name="first_insp")
    rev = aliased(ReviewRow, name="rev")
    task = aliased(RobotTaskRow, name="task")
    # Correlated look-ups through the foreign-key indexes: cheaper than grouping whole tables.
    latest_review_id = select(func.max(ReviewRow.id)).where(ReviewRow.inspection_id == agg.c.last_id).scalar_subquery()
    latest_task_id = select(func.max(RobotTaskRow.id)).where(RobotTaskRow.part_id == agg.c.part_id).scalar_subquery()
    first_verdict = case(
        (agg.c.n == 1, last.verdict),
        else_=select(first.verdict).where(first.id == agg.c.first_id).scalar_subquery(),
    )
    defects = (
        select(
            DefectRow.inspection_id,
            func.count().label("n"),
            func.sum(case((DefectRow.rule_broken.is_not(None), 1), else_=0)).label("broken"),
            func.max(DefectRow.score).label("score"),
            func.max(DefectRow.size_mm).label("size"),
        )
        .group_by(DefectRow.inspection_id)
        .subquery("dsum")
    )
    final = case((rev.disposition.is_not(None), rev.disposition), else_=last.verdict)
    query = (
        select(
            PartRow.id,
            PartRow.serial,
            PartRow.lot,
            PartRow.arrived_at,
            agg.c.last_id,
            agg.c.n,
            last.finished_at,
            epoch_s(last.finished_at, conn.dialect.name),
            last.verdict,
            first_verdict,
            rev.id,
            rev.disposition,
            final,
            gt_flawed("parts.ground_truth", conn.dialect.name),
            last.anomaly_score,
            last.latency_ms,
            func.coalesce(defects.c.n, 0),
            func.coalesce(defects.c.broken, 0),
            defects.c.score,
            defects.c.size,
            task.id,
            task.outcome,
            task.cycle_s,
            task.regrasp_count,
            task.max_contact_force_n,
        )
        .select_from(agg)
        .join(PartRow, PartRow.id == agg.c.part_id)
        .join(last, last.id == agg.c.last_id)
        .outerjoin(rev, rev.id == latest_review_id)
        .outerjoin(defects, defects.c.inspection_id == agg.c.last_id)
        .outerjoin(task, task.id == latest_task_id)
    )
    conn.execute(rp.insert().from_select([c.name for c in rp.columns], query))


@contextmanager
def select_parts(store: Store, window: ReportWindow) -> Iterator[Selection]:
    """Open a connection, gather the window's parts into a temporary table, yield it, then drop it."""
    name = f"ironcell_rp_{next(_counter)}"
    rp = _table(name)
    with store.engine.connect() as conn:
        try:
            rp.create(conn)
            _fill(conn, rp, window)
            Index(f"{name}_finished", rp.c.finished_s, rp.c.part_id).create(conn)
            yield Selection(conn, rp, window)
        finally:
            # Pooled connections outlive this call: the temporary table must go, even after an error.
            try:
                conn.rollback()
                rp.drop(conn, checkfirst=True)
                conn.commit()
            except SQLAlchemyError:
                conn.invalidate()
