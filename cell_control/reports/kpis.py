"""Quality and production KPIs of a window, computed with aggregates in the database.

Definitions (the README repeats them for the quality engineer):
- yield = final OK / parts; first-pass yield = parts OK at their first inspection and finally OK / parts;
  ppm NOK = final NOK / parts x 1e6. Parts still waiting for review count as neither OK nor NOK.
- false-reject rate = parts the machine flagged (NOK or REVIEW) that a reviewer released as OK / parts.
- escape rate (simulation, ground truth known) = truly NOK parts finally OK / truly NOK parts;
  escape ppm = truly NOK parts finally OK / parts finally OK (with ground truth) x 1e6. "Truly NOK" is the
  simulator's flaws graded by the acceptance rules (see sqlfuncs.gt_flawed). The escape uses the final
  disposition (what ships); `ironcell bench cell` counts the machine verdict.
- false-reject rate vs ground truth = truly OK parts the machine called NOK / truly OK parts (as the cell
  benchmark counts it).
- throughput = parts / (last inspection finished - first part arrived).
- OEE = availability x performance x quality. Planned time = the window (or the data's span) capped at
  cell.planned_production_h_per_day per started day; run time = the sum of gaps between consecutive parts,
  a gap longer than `stop_gap_s` counting as a stop of that length (plus one ideal cycle for the first part);
  performance = parts x cell.ideal_cycle_s / run time; quality = yield.
- tasks per intervention = successful robot tasks / human interventions (None when there were none);
  autonomous recoveries = successful tasks that needed at least one regrasp.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Index, and_, case, func, or_, select

from cell_control.reports.selection import Selection, select_parts, window_filter
from cell_control.reports.sqlfuncs import floor_int
from cell_control.reports.window import ReportWindow, as_utc
from cell_control.store.schema import InterventionRow, RobotTaskRow
from cell_control.store.store import Store

DAY_S = 86400.0


@dataclass(frozen=True)
class KpiSettings:
    planned_production_h_per_day: float = 16.0
    ideal_cycle_s: float = 6.0
    contact_force_limit_n: float = 140.0
    stop_gap_cycles: float = 5.0  # a gap between parts longer than this many ideal cycles is a stop

    @property
    def stop_gap_s(self) -> float:
        return self.stop_gap_cycles * self.ideal_cycle_s

    @classmethod
    def from_config(cls, cfg: Any) -> KpiSettings:
        """From an IroncellConfig (typed loosely so vision/robot-free callers can pass a stand-in)."""
        return cls(
            planned_production_h_per_day=float(cfg.cell.planned_production_h_per_day),
            ideal_cycle_s=float(cfg.cell.ideal_cycle_s),
            contact_force_limit_n=float(cfg.robot.safety.contact_force_limit_n),
        )


@dataclass(frozen=True)
class Kpis:
    window: ReportWindow
    parts: int = 0
    inspections: int = 0
    first_arrival_at: datetime | None = None
    last_finish_at: datetime | None = None
    machine_ok: int = 0
    machine_nok: int = 0
    machine_review: int = 0
    final_ok: int = 0
    final_nok: int = 0
    pending_review: int = 0
    reviewed_parts: int = 0
    review_confirmations: int = 0
    review_overrides_to_ok: int = 0  # machine NOK, reviewer OK
    review_overrides_to_nok: int = 0  # machine OK, reviewer NOK
    review_resolved_ok: int = 0  # machine REVIEW, reviewer OK
    review_resolved_nok: int = 0  # machine REVIEW, reviewer NOK
    false_rejects: int = 0  # machine NOK or REVIEW, reviewer OK
    yield_ratio: float | None = None
    first_pass_yield: float | None = None
    ppm_nok: float | None = None
    false_reject_rate: float | None = None
    gt_parts: int = 0
    gt_flawed_parts: int = 0
    escapes: int = 0
    escape_rate: float | None = None
    gt_ok_parts: int = 0
    gt_false_rejects: int = 0
    false_reject_rate_gt: float | None = None
    escape_ppm: float | None = None
    throughput_parts_per_h: float | None = None
    span_h: float | None = None
    planned_time_h: float | None = None
    run_time_h: float | None = None
    stops: int = 0
    availability: float | None = None
    performance: float | None = None
    quality: float | None = None
    oee: float | None = None
    tasks: int = 0
    tasks_succeeded: int = 0
    interventions: int = 0
    tasks_per_intervention: float | None = None
    autonomous_recoveries: int = 0
    regrasps: int = 0
    protective_stops: int = 0
    contact_force_max_n: float | None = None
    contact_force_mean_n: float | None = None
    contact_force_p95_n: float | None = None
    tasks_over_force_limit: int = 0
    cycle_s_mean: float | None = None
    cycle_s_p50: float | None = None
    cycle_s_p95: float | None = None
    cycle_s_max: float | None = None
    inspection_latency_ms_mean: float | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return self.parts == 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO 8601 UTC strings, the window as a mapping."""
        out = asdict(self)
        out["window"] = self.window.to_dict()
        for k, v in out.items():
            if isinstance(v, datetime):
                out[k] = v.isoformat()
        out["notes"] = list(self.notes)
        return out


def _i(v: Any) -> int:
    return int(v or 0)


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def _ratio(num: int, den: int, scale: float = 1.0) -> float | None:
    return num / den * scale if den else None


def nearest_rank(sel: Selection, col: Any, q: float, n: int) -> float | None:
    """The q-quantile by the nearest-rank method (a value that occurs), without loading the column."""
    if n <= 0:
        return None
    # An index turns the OFFSET into a walk along sorted keys instead of a full sort per quantile.
    Index(f"{sel.table.name}_{col.name}", col).create(sel.conn, checkfirst=True)
    k = max(0, math.ceil(q * n) - 1)
    return _f(sel.conn.scalar(select(col).where(col.is_not(None)).order_by(col).offset(k).limit(1)))


def _part_counts(sel: Selection) -> dict[str, Any]:
    rp = sel.table.c

    def count_if(*conds: Any) -> Any:
        return func.sum(case((and_(*conds), 1), else_=0))

    reviewed = rp.review_id.is_not(None)
    cols = {
        "parts": func.count(),
        "inspections": func.sum(rp.n_inspections),
        "first_arrival_at": func.min(rp.arrived_at),
        "last_finish_at": func.max(rp.finished_at),
        "machine_ok": count_if(rp.machine_verdict == "OK"),
        "machine_nok": count_if(rp.machine_verdict == "NOK"),
        "machine_review": count_if(rp.machine_verdict == "REVIEW"),
        "final_ok": count_if(rp.final_disposition == "OK"),
        "final_nok": count_if(rp.final_disposition == "NOK"),
        "pending": count_if(rp.final_disposition == "REVIEW"),
        "reviewed": count_if(reviewed),
        "confirm": count_if(reviewed, rp.machine_verdict == rp.final_disposition),
        "to_ok": count_if(reviewed, rp.machine_verdict == "NOK", rp.final_disposition == "OK"),
        "to_nok": count_if(reviewed, rp.machine_verdict == "OK", rp.final_disposition == "NOK"),
        "res_ok": count_if(reviewed, rp.machine_verdict == "REVIEW", rp.final_disposition == "OK"),
        "res_nok": count_if(reviewed, rp.machine_verdict == "REVIEW", rp.final_disposition == "NOK"),
        "first_pass": count_if(rp.first_verdict == "OK", rp.final_disposition == "OK"),
        "gt_parts": count_if(rp.gt_flawed.is_not(None)),
        "gt_flawed": count_if(rp.gt_flawed == 1),
        "escapes": count_if(rp.gt_flawed == 1, rp.final_disposition == "OK"),
        "gt_shipped": count_if(rp.gt_flawed.is_not(None), rp.final_disposition == "OK"),
        "gt_ok": count_if(rp.gt_flawed == 0),
        "gt_false_rejects": count_if(rp.gt_flawed == 0, rp.machine_verdict == "NOK"),
        "cycle_n": func.count(rp.task_cycle_s),
        "force_n": func.count(rp.task_max_contact_force_n),
        "cycle_mean": func.avg(rp.task_cycle_s),
        "cycle_max": func.max(rp.task_cycle_s),
        "latency_mean": func.avg(rp.latency_ms),
    }
    row = sel.conn.execute(select(*(c.label(k) for k, c in cols.items())).select_from(sel.table)).one()
    return dict(row._mapping)


def _task_counts(sel: Selection, force_limit_n: float) -> dict[str, Any]:
    t = RobotTaskRow.__table__.c
    ok = t.outcome == "success"
    q = (
        select(
            func.count().label("tasks"),
            func.sum(case((ok, 1), else_=0)).label("succeeded"),
            func.sum(case((ok & (t.regrasp_count > 0), 1), else_=0)).label("recoveries"),
            func.sum(t.regrasp_count).label("regrasps"),
            func.sum(t.protective_stops).label("pstops"),
            func.max(t.max_contact_force_n).label("fmax"),
            func.avg(t.max_contact_force_n).label("fmean"),
            func.sum(case((t.max_contact_force_n > force_limit_n, 1), else_=0)).label("over"),
        )
        .select_from(RobotTaskRow.__table__)
        .join(sel.table, sel.table.c.part_id == t.part_id)
    )
    row = sel.conn.execute(q).one()
    return dict(row._mapping)


def event_conditions(
    sel: Selection, at_col: Any, serial_col: Any, first: datetime | None, last: datetime | None
) -> Any:
    """Which interventions/alarms belong to the window: by time, and for a lot those naming one of its parts
    or naming no part and happening while the lot ran."""
    conds = window_filter(at_col, sel.window)
    if sel.window.lot is None:
        return conds
    in_lot = serial_col.in_(select(sel.table.c.serial))
    if first is None or last is None:
        return [in_lot]
    during = serial_col.is_(None) & (at_col >= first) & (at_col <= last)
    return [*conds, or_(in_lot, during)]


def _interventions(sel: Selection, first: datetime | None, last: datetime | None) -> int:
    c = InterventionRow.__table__.c
    conds = event_conditions(sel, c.at, c.part_serial, first, last)
    return _i(sel.conn.scalar(select(func.count()).select_from(InterventionRow.__table__).where(*conds)))


def _run_time(sel: Selection, stop_gap_s: float) -> tuple[float, int]:
    """Sum of gaps between consecutive parts (a stop counts as stop_gap_s) and the number of stops."""
    rp = sel.table.c
    # Whole milliseconds: julianday() arithmetic carries ~50 us of float noise, and integers sum exactly.
    lag = func.lag(rp.finished_s).over(order_by=(rp.finished_s, rp.part_id))
    gaps = select(floor_int((rp.finished_s - lag) * 1000.0 + 0.5, sel.dialect).label("gap_ms")).subquery()
    stop_ms = round(stop_gap_s * 1000.0)
    stop = gaps.c.gap_ms > stop_ms
    row = sel.conn.execute(
        select(func.sum(case((stop, stop_ms), else_=gaps.c.gap_ms)), func.sum(case((stop, 1), else_=0)))
    ).one()
    return float(row[0] or 0) / 1000.0, _i(row[1])


def _oee(
    sel: Selection, s: KpiSettings, parts: int, final_ok: int, first: datetime, last: datetime, notes: list[str]
) -> dict[str, Any]:
    start = sel.window.since or first
    end = sel.window.until or last
    window_s = max(0.0, (end - start).total_seconds())
    days = max(1, math.ceil(window_s / DAY_S - 1e-9))
    planned_s = min(window_s, days * s.planned_production_h_per_day * 3600.0)
    gaps_s, stops = _run_time(sel, s.stop_gap_s)
    run_s = gaps_s + s.ideal_cycle_s
    out: dict[str, Any] = {"planned_time_h": planned_s / 3600.0, "run_time_h": run_s / 3600.0, "stops": stops}
    if planned_s <= 0:
        notes.append("OEE not computed: the window has no length")
        return out
    availability = run_s / planned_s
    if availability > 1.0:
        notes.append(
            f"availability capped at 100%: the cell ran {run_s / 3600:.2f} h, more than the planned "
            f"{planned_s / 3600:.2f} h (cell.planned_production_h_per_day = {s.planned_production_h_per_day:g})"
        )
        availability = 1.0
    performance = parts * s.ideal_cycle_s / run_s
    if performance > 1.0:
        notes.append(
            f"performance capped at 100%: parts came every {run_s / parts:.2f} s on average, faster than "
            f"cell.ideal_cycle_s = {s.ideal_cycle_s:g} s; check that setting"
        )
        performance = 1.0
    quality = final_ok / parts
    out.update(
        availability=availability, performance=performance, quality=quality, oee=availability * performance * quality
    )
    return out


def kpis_of(sel: Selection, settings: KpiSettings) -> Kpis:
    """KPIs over an open selection (the report builds one selection for everything)."""
    pc = _part_counts(sel)
    n = _i(pc["parts"])
    if n == 0:
        return Kpis(window=sel.window, notes=("no parts were inspected in this window",))
    first = as_utc(pc["first_arrival_at"])
    last = as_utc(pc["last_finish_at"])
    notes: list[str] = []
    tc = _task_counts(sel, settings.contact_force_limit_n)
    interventions = _interventions(sel, first, last)
    succeeded = _i(tc["succeeded"])
    span_h = (last - first).total_seconds() / 3600.0
    final_ok, gt_flawed, pending = _i(pc["final_ok"]), _i(pc["gt_flawed"]), _i(pc["pending"])
    if pending:
        notes.append(f"{pending} part(s) wait for review: counted neither OK nor NOK")
    cycle_n = _i(pc["cycle_n"])
    rp = sel.table.c
    tasks_n = _i(tc["tasks"])
    force_n = _i(pc["force_n"])
    return Kpis(
        window=sel.window,
        parts=n,
        inspections=_i(pc["inspections"]),
        first_arrival_at=first,
        last_finish_at=last,
        machine_ok=_i(pc["machine_ok"]),
        machine_nok=_i(pc["machine_nok"]),
        machine_review=_i(pc["machine_review"]),
        final_ok=final_ok,
        final_nok=_i(pc["final_nok"]),
        pending_review=pending,
        reviewed_parts=_i(pc["reviewed"]),
        review_confirmations=_i(pc["confirm"]),
        review_overrides_to_ok=_i(pc["to_ok"]),
        review_overrides_to_nok=_i(pc["to_nok"]),
        review_resolved_ok=_i(pc["res_ok"]),
        review_resolved_nok=_i(pc["res_nok"]),
        false_rejects=_i(pc["to_ok"]) + _i(pc["res_ok"]),
        yield_ratio=final_ok / n,
        first_pass_yield=_i(pc["first_pass"]) / n,
        ppm_nok=_i(pc["final_nok"]) / n * 1e6,
        false_reject_rate=(_i(pc["to_ok"]) + _i(pc["res_ok"])) / n,
        gt_parts=_i(pc["gt_parts"]),
        gt_flawed_parts=gt_flawed,
        escapes=_i(pc["escapes"]),
        escape_rate=_ratio(_i(pc["escapes"]), gt_flawed),
        gt_ok_parts=_i(pc["gt_ok"]),
        gt_false_rejects=_i(pc["gt_false_rejects"]),
        false_reject_rate_gt=_ratio(_i(pc["gt_false_rejects"]), _i(pc["gt_ok"])),
        escape_ppm=_ratio(_i(pc["escapes"]), _i(pc["gt_shipped"]), 1e6),
        throughput_parts_per_h=n / span_h if span_h > 0 else None,
        span_h=span_h,
        **_oee(sel, settings, n, final_ok, first, last, notes),
        tasks=tasks_n,
        tasks_succeeded=succeeded,
        interventions=interventions,
        tasks_per_intervention=succeeded / interventions if interventions else None,
        autonomous_recoveries=_i(tc["recoveries"]),
        regrasps=_i(tc["regrasps"]),
        protective_stops=_i(tc["pstops"]),
        contact_force_max_n=_f(tc["fmax"]),
        contact_force_mean_n=_f(tc["fmean"]),
        contact_force_p95_n=nearest_rank(sel, rp.task_max_contact_force_n, 0.95, force_n),
        tasks_over_force_limit=_i(tc["over"]),
        cycle_s_mean=_f(pc["cycle_mean"]),
        cycle_s_p50=nearest_rank(sel, rp.task_cycle_s, 0.5, cycle_n),
        cycle_s_p95=nearest_rank(sel, rp.task_cycle_s, 0.95, cycle_n),
        cycle_s_max=_f(pc["cycle_max"]),
        inspection_latency_ms_mean=_f(pc["latency_mean"]),
        notes=tuple(notes),
    )


def compute_kpis(store: Store, window: ReportWindow | None = None, settings: KpiSettings | None = None) -> Kpis:
    """KPIs of the parts inspected in `window` (default: everything in the store)."""
    with select_parts(store, window or ReportWindow()) as sel:
        return kpis_of(sel, settings or KpiSettings())
