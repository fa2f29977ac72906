"""Statistical process control data: p-chart with 3-sigma limits, Pareto of NOK causes, histograms.

Pure builders (`build_pchart`, `build_pareto`, `pchart_limits`) hold the arithmetic; the `*_of` readers
aggregate in the database over a selection; `pchart_data`/`pareto_data`/`cycle_histogram` open one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Integer, case, cast, func, select

from cell_control.reports.selection import Selection, select_parts
from cell_control.reports.sqlfuncs import floor_int
from cell_control.reports.window import ReportWindow
from cell_control.store.schema import DefectRow
from cell_control.store.store import Store

NO_RULE = "(no rule broken)"
NO_ZONE = "(no zone)"


@dataclass(frozen=True)
class PChartPoint:
    label: str
    n: int
    nonconforming: int
    p: float
    lcl: float
    ucl: float

    @property
    def out_of_control(self) -> bool:
        return self.p > self.ucl or self.p < self.lcl


@dataclass(frozen=True)
class PChart:
    """Fraction NOK (final disposition) per subgroup; limits vary with each subgroup's size."""

    subgroup: str
    p_bar: float | None
    points: tuple[PChartPoint, ...]

    @property
    def out_of_control(self) -> tuple[PChartPoint, ...]:
        return tuple(p for p in self.points if p.out_of_control)


def pchart_limits(p_bar: float, n: int) -> tuple[float, float]:
    """p ± 3 sqrt(p(1-p)/n), clipped to [0, 1]."""
    if n <= 0:
        raise ValueError(f"a subgroup needs at least one part, got n = {n}")
    sigma = math.sqrt(p_bar * (1.0 - p_bar) / n)
    return max(0.0, p_bar - 3.0 * sigma), min(1.0, p_bar + 3.0 * sigma)


def build_pchart(groups: Iterable[tuple[str, int, int]], subgroup: str) -> PChart:
    """groups: (label, parts, nonconforming parts) per subgroup, in time order."""
    rows = [(label, int(n), int(d)) for label, n, d in groups if n > 0]
    total = sum(n for _, n, _ in rows)
    if total == 0:
        return PChart(subgroup, None, ())
    p_bar = sum(d for _, _, d in rows) / total
    points = []
    for label, n, d in rows:
        lcl, ucl = pchart_limits(p_bar, n)
        points.append(PChartPoint(label, n, d, d / n, lcl, ucl))
    return PChart(subgroup, p_bar, tuple(points))


def hour_label(hours_since_epoch: int) -> str:
    return datetime.fromtimestamp(hours_since_epoch * 3600, UTC).strftime("%Y-%m-%dT%H:00Z")


def pchart_of(sel: Selection, subgroup_parts: int | None = None) -> PChart:
    rp = sel.table.c
    nok = func.sum(case((rp.final_disposition == "NOK", 1), else_=0))
    if subgroup_parts is None:
        # Whole hours since 1970 from the stored epoch seconds: grouping on a number beats formatting dates.
        bucket = floor_int(rp.finished_s / 3600.0, sel.dialect).label("g")
        sub = select(bucket, rp.final_disposition).subquery()
        q = select(sub.c.g, func.count(), func.sum(case((sub.c.final_disposition == "NOK", 1), else_=0)))
        rows = sel.conn.execute(q.group_by(sub.c.g).order_by(sub.c.g)).all()
        return build_pchart(((hour_label(int(g)), n, d or 0) for g, n, d in rows), "hour")
    if subgroup_parts < 1:
        raise ValueError(f"subgroup_parts must be >= 1, got {subgroup_parts}")
    rn = func.row_number().over(order_by=(rp.finished_s, rp.part_id))
    sub = select(cast((rn - 1) // subgroup_parts, Integer).label("g"), rp.final_disposition).subquery()
    nok = func.sum(case((sub.c.final_disposition == "NOK", 1), else_=0))
    rows = sel.conn.execute(select(sub.c.g, func.count(), nok).group_by(sub.c.g).order_by(sub.c.g)).all()
    labels = (f"{g * subgroup_parts + 1}-{g * subgroup_parts + n}" for g, n, _ in rows)
    return build_pchart(
        ((lab, n, d or 0) for lab, (_, n, d) in zip(labels, rows, strict=True)), f"{subgroup_parts} parts"
    )


@dataclass(frozen=True)
class ParetoBar:
    category: str
    parts: int  # NOK parts with at least one rule broken in this category
    defects: int  # rule-breaking findings in this category
    share: float
    cumulative_share: float


@dataclass(frozen=True)
class Pareto:
    by: str
    nok_parts: int
    bars: tuple[ParetoBar, ...]


def build_pareto(counts: Mapping[str, tuple[int, int]], by: str, nok_parts: int) -> Pareto:
    """counts: category -> (parts, defects); bars sorted by parts, largest first (ties by name)."""
    items = sorted(((k, p, d) for k, (p, d) in counts.items() if p > 0), key=lambda x: (-x[1], x[0]))
    total = sum(p for _, p, _ in items)
    bars, cum = [], 0
    for k, p, d in items:
        cum += p
        bars.append(ParetoBar(k, p, d, p / total, cum / total))
    return Pareto(by, nok_parts, tuple(bars))


def pareto_of(sel: Selection, by: Literal["flaw_class", "zone"] = "flaw_class") -> Pareto:
    rp = sel.table.c
    d = DefectRow.__table__.c
    if by not in ("flaw_class", "zone"):
        raise ValueError(f"pareto by {by!r}: use 'flaw_class' or 'zone'")
    key = d.flaw_class if by == "flaw_class" else func.coalesce(func.nullif(d.zone, ""), NO_ZONE)
    nok = rp.final_disposition == "NOK"
    q = (
        select(key.label("k"), func.count(func.distinct(rp.part_id)), func.count())
        .select_from(sel.table)
        .join(DefectRow.__table__, d.inspection_id == rp.inspection_id)
        .where(nok, d.rule_broken.is_not(None))
        .group_by(key)
    )
    counts: dict[str, tuple[int, int]] = {str(k): (int(p), int(n)) for k, p, n in sel.conn.execute(q)}
    row = sel.conn.execute(select(func.count(), func.sum(case((rp.n_rules_broken == 0, 1), else_=0))).where(nok)).one()
    nok_parts, no_rule = int(row[0] or 0), int(row[1] or 0)
    if no_rule:
        counts[NO_RULE] = (no_rule, 0)
    return build_pareto(counts, by, nok_parts)


@dataclass(frozen=True)
class Histogram:
    quantity: str
    edges: tuple[float, ...]
    counts: tuple[int, ...]

    @property
    def n(self) -> int:
        return sum(self.counts)


def histogram_of(sel: Selection, column: str = "task_cycle_s", bins: int = 30) -> Histogram:
    """Equal-width bins between the column's min and max, counted in the database."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    col: Any = sel.table.c[column]
    lo, hi = sel.conn.execute(select(func.min(col), func.max(col))).one()
    if lo is None:
        return Histogram(column, (), ())
    lo, hi = float(lo), float(hi)
    if hi <= lo:
        n = int(sel.conn.scalar(select(func.count(col))) or 0)
        return Histogram(column, (lo, lo + 1e-9), (n,))
    width = (hi - lo) / bins
    raw = floor_int((col - lo) / width, sel.dialect)
    b = case((col >= hi, bins - 1), else_=raw).label("b")
    sub = select(b).where(col.is_not(None)).subquery()
    counts = [0] * bins
    for idx, n in sel.conn.execute(select(sub.c.b, func.count()).group_by(sub.c.b)):
        counts[min(max(int(idx), 0), bins - 1)] += int(n)
    return Histogram(column, tuple(lo + i * width for i in range(bins + 1)), tuple(counts))


def pchart_data(store: Store, window: ReportWindow | None = None, subgroup_parts: int | None = None) -> PChart:
    """p-chart per UTC hour, or per consecutive subgroup of `subgroup_parts` parts."""
    with select_parts(store, window or ReportWindow()) as sel:
        return pchart_of(sel, subgroup_parts)


def pareto_data(
    store: Store, window: ReportWindow | None = None, by: Literal["flaw_class", "zone"] = "flaw_class"
) -> Pareto:
    with select_parts(store, window or ReportWindow()) as sel:
        return pareto_of(sel, by)


def cycle_histogram(store: Store, window: ReportWindow | None = None, bins: int = 30) -> Histogram:
    """Robot pick-and-place cycle time (the latest task of each part)."""
    with select_parts(store, window or ReportWindow()) as sel:
        return histogram_of(sel, "task_cycle_s", bins)
