"""Everything one report shows, gathered in one pass: identity, KPIs, charts' data, NOK parts, traceability.

The renderers (PDF, XLSX, JSON) read a `ReportContent`; the per-part streams (CSV, XLSX Parts/Flaws) read
the open selection directly so that a million parts never sit in memory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, and_, case, cast, func, select

import cell_control
from cell_control.reports.disposition import defect_from_row
from cell_control.reports.kpis import Kpis, KpiSettings, event_conditions, kpis_of
from cell_control.reports.selection import Selection, select_parts
from cell_control.reports.spc import Histogram, Pareto, PChart, histogram_of, pareto_of, pchart_of
from cell_control.reports.window import ReportWindow, as_utc
from cell_control.store.schema import AlarmEventRow, AlarmRow, DefectRow, InspectionRow, ReviewRow
from cell_control.store.store import Store
from vision.types import Defect


@dataclass(frozen=True)
class CellIdentity:
    name: str
    manufacturer: str
    model: str
    serial_number: str
    product_instance_uri: str


@dataclass(frozen=True)
class ReviewDecision:
    """A reviewer's decision that changed the machine verdict (or settled a REVIEW)."""

    serial: str
    inspection_id: int
    machine_verdict: str
    final_disposition: str
    user: str
    reviewed_at: datetime
    reason: str


@dataclass(frozen=True)
class NokPart:
    serial: str
    lot: str
    finished_at: datetime
    inspection_id: int
    machine_verdict: str
    final_disposition: str
    image_sha256: str
    defects: tuple[Defect, ...]


@dataclass(frozen=True)
class ModelVersionUse:
    versions: dict[str, str]
    inspections: int


@dataclass(frozen=True)
class Traceability:
    software_version: str
    report_config_sha256: str
    model_versions: tuple[ModelVersionUse, ...]
    config_sha256_used: tuple[tuple[str, int], ...]  # (hash recorded by the cell, inspections)


@dataclass(frozen=True)
class AlarmSummary:
    code: str
    severity: int
    count: int
    message: str


@dataclass(frozen=True)
class ReportContent:
    identity: CellIdentity
    generated_at: datetime
    window: ReportWindow
    kpis: Kpis
    pchart: PChart
    pareto_class: Pareto
    pareto_zone: Pareto
    cycle_hist: Histogram
    force_hist: Histogram
    nok_parts: tuple[NokPart, ...]
    nok_parts_total: int
    review_decisions: tuple[ReviewDecision, ...]
    review_decisions_total: int
    alarms: tuple[AlarmSummary, ...]
    traceability: Traceability


def config_sha256(cfg: Any) -> str:
    """SHA-256 of the effective config as canonical JSON (what this report was computed with)."""
    data = cfg.model_dump(mode="json") if hasattr(cfg, "model_dump") else {}
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _identity(cfg: Any) -> CellIdentity:
    c = cfg.cell
    return CellIdentity(c.name, c.manufacturer, c.model, c.serial_number, c.product_instance_uri)


def nok_parts_of(sel: Selection, limit: int) -> tuple[tuple[NokPart, ...], int]:
    """Parts finally NOK, oldest first, with their findings (at most `limit`), and how many there are."""
    rp = sel.table.c
    nok = rp.final_disposition == "NOK"
    total = int(sel.conn.scalar(select(func.count()).select_from(sel.table).where(nok)) or 0)
    i = InspectionRow.__table__.c
    rows = sel.conn.execute(
        select(
            rp.serial,
            rp.lot,
            rp.finished_at,
            rp.inspection_id,
            rp.machine_verdict,
            rp.final_disposition,
            i.image_sha256,
        )
        .join(InspectionRow.__table__, i.id == rp.inspection_id)
        .where(nok)
        .order_by(rp.finished_s, rp.part_id)
        .limit(max(0, limit))
    ).all()
    defects: dict[int, list[Defect]] = {}
    ids = [r.inspection_id for r in rows]
    d = DefectRow.__table__
    for k in range(0, len(ids), 500):
        q = select(d).where(d.c.inspection_id.in_(ids[k : k + 500])).order_by(d.c.id)
        for row in sel.conn.execute(q):
            defects.setdefault(row.inspection_id, []).append(defect_from_row(row))
    parts = tuple(
        NokPart(
            r.serial,
            r.lot,
            as_utc(r.finished_at),
            r.inspection_id,
            r.machine_verdict,
            r.final_disposition,
            r.image_sha256 or "",
            tuple(defects.get(r.inspection_id, ())),
        )
        for r in rows
    )
    return parts, total


def review_decisions_of(sel: Selection, limit: int) -> tuple[tuple[ReviewDecision, ...], int]:
    """Reviewed parts whose final disposition differs from the machine verdict, oldest first."""
    rp = sel.table.c
    r = ReviewRow.__table__.c
    changed = and_(rp.review_id.is_not(None), rp.final_disposition != rp.machine_verdict)
    total = int(sel.conn.scalar(select(func.count()).select_from(sel.table).where(changed)) or 0)
    q = (
        select(rp.serial, rp.inspection_id, rp.machine_verdict, rp.final_disposition, r.user, r.created_at, r.reason)
        .join(ReviewRow.__table__, r.id == rp.review_id)
        .where(changed)
        .order_by(rp.finished_s, rp.part_id)
        .limit(max(0, limit))
    )
    rows = tuple(
        ReviewDecision(s, int(i), m, f, u, as_utc(at), reason) for s, i, m, f, u, at, reason in sel.conn.execute(q)
    )
    return rows, total


def traceability_of(sel: Selection, cfg: Any) -> Traceability:
    rp = sel.table.c
    i = InspectionRow.__table__.c
    mv = cast(i.model_versions, Text)
    uses: dict[str, int] = {}
    cfgs: dict[str, int] = {}

    def joined(*cols: Any) -> Any:
        return select(*cols).select_from(sel.table).join(InspectionRow.__table__, i.id == rp.inspection_id)

    # DISTINCT keeps only the few different values (models change rarely) where GROUP BY would sort them
    # all; the counts then come from one more pass, or from GROUP BY when there are many.
    combos = sel.conn.execute(joined(mv, i.config_sha256).distinct()).all()
    if not combos:
        counts: list[int] = []
    elif len(combos) == 1:
        counts = [int(sel.conn.scalar(joined(func.count())) or 0)]
    elif len(combos) <= 16:
        sums = [func.sum(case((and_(mv == m, i.config_sha256 == c), 1), else_=0)) for m, c in combos]
        counts = [int(v or 0) for v in sel.conn.execute(joined(*sums)).one()]
    else:
        by = dict(
            ((m, c), int(n))
            for m, c, n in sel.conn.execute(joined(mv, i.config_sha256, func.count()).group_by(mv, i.config_sha256))
        )
        counts = [by.get((m, c), 0) for m, c in combos]
    for (text, cfg_hash), n in zip(combos, counts, strict=True):
        uses[text or "{}"] = uses.get(text or "{}", 0) + n
        key = cfg_hash or "(not recorded)"
        cfgs[key] = cfgs.get(key, 0) + n
    versions = []
    for text, n in sorted(uses.items(), key=lambda kv: -kv[1]):
        try:
            data = json.loads(text)
        except ValueError:
            data = {"(unreadable)": text}
        if not isinstance(data, dict):
            data = {"(value)": data}
        versions.append(ModelVersionUse({str(k): str(v) for k, v in data.items()}, n))
    return Traceability(
        software_version=cell_control.__version__,
        report_config_sha256=config_sha256(cfg),
        model_versions=tuple(versions),
        config_sha256_used=tuple(sorted(cfgs.items(), key=lambda kv: -kv[1])),
    )


def alarm_summary_of(sel: Selection, first: datetime | None, last: datetime | None) -> tuple[AlarmSummary, ...]:
    a = AlarmRow.__table__.c
    conds = event_conditions(sel, a.raised_at, a.part_serial, first, last)
    q = (
        select(a.code, func.max(a.severity), func.count(), func.max(a.message))
        .where(*conds)
        .group_by(a.code)
        .order_by(func.count().desc(), a.code)
    )
    return tuple(AlarmSummary(str(c), int(s), int(n), str(m)) for c, s, n, m in sel.conn.execute(q))


def iter_alarms(sel: Selection, first: datetime | None, last: datetime | None) -> Iterator[dict[str, Any]]:
    """Every alarm of the window with its latest state (from alarm_events), oldest first."""
    a = AlarmRow.__table__.c
    e = AlarmEventRow.__table__.c
    latest = select(e.alarm_id, func.max(e.id).label("eid")).group_by(e.alarm_id).subquery()
    ev = AlarmEventRow.__table__.alias("ev")
    q = (
        select(a.id, a.code, a.severity, a.raised_at, a.part_serial, a.message, ev.c.state, ev.c.at, ev.c.user)
        .outerjoin(latest, latest.c.alarm_id == a.id)
        .outerjoin(ev, ev.c.id == latest.c.eid)
        .where(*event_conditions(sel, a.raised_at, a.part_serial, first, last))
        .order_by(a.raised_at, a.id)
    )
    for r in sel.conn.execution_options(yield_per=2000).execute(q):
        yield {
            "alarm_id": r.id,
            "code": r.code,
            "severity": r.severity,
            "raised_at": as_utc(r.raised_at).isoformat(),
            "part_serial": r.part_serial or "",
            "message": r.message,
            "state": r.state or "",
            "state_at": as_utc(r.at).isoformat() if r.at else "",
            "state_by": r.user or "",
        }


def auto_subgroup(kpis: Kpis) -> int | None:
    """Hourly subgroups when the window spans a few hours; otherwise about 20 subgroups of parts."""
    if kpis.span_h is not None and kpis.span_h >= 3.0:
        return None
    return max(5, kpis.parts // 20) if kpis.parts else None


def content_of(
    sel: Selection, cfg: Any, settings: KpiSettings, nok_limit: int, subgroup_parts: int | None
) -> ReportContent:
    kpis = kpis_of(sel, settings)
    sub = subgroup_parts if subgroup_parts is not None else auto_subgroup(kpis)
    nok, nok_total = nok_parts_of(sel, nok_limit)
    decisions, decisions_total = review_decisions_of(sel, nok_limit)
    return ReportContent(
        identity=_identity(cfg),
        generated_at=datetime.now(UTC),
        window=sel.window,
        kpis=kpis,
        pchart=pchart_of(sel, sub),
        pareto_class=pareto_of(sel, "flaw_class"),
        pareto_zone=pareto_of(sel, "zone"),
        cycle_hist=histogram_of(sel, "task_cycle_s"),
        force_hist=histogram_of(sel, "task_max_contact_force_n"),
        nok_parts=nok,
        nok_parts_total=nok_total,
        review_decisions=decisions,
        review_decisions_total=decisions_total,
        alarms=alarm_summary_of(sel, kpis.first_arrival_at, kpis.last_finish_at),
        traceability=traceability_of(sel, cfg),
    )


def default_config() -> Any:
    from cell_control.config import IroncellConfig

    return IroncellConfig()


@contextmanager
def open_report(
    store: Store,
    window: ReportWindow | None = None,
    cfg: Any = None,
    *,
    nok_limit: int = 100,
    subgroup_parts: int | None = None,
) -> Iterator[tuple[Selection, ReportContent]]:
    """One selection and its content, for renderers that also stream per-part rows."""
    cfg = cfg if cfg is not None else default_config()
    with select_parts(store, window or ReportWindow()) as sel:
        yield sel, content_of(sel, cfg, KpiSettings.from_config(cfg), nok_limit, subgroup_parts)


def collect_report(
    store: Store,
    window: ReportWindow | None = None,
    cfg: Any = None,
    *,
    nok_limit: int = 100,
    subgroup_parts: int | None = None,
) -> ReportContent:
    with open_report(store, window, cfg, nok_limit=nok_limit, subgroup_parts=subgroup_parts) as (_, content):
        return content
