"""KPIs, p-chart, Pareto and review queue of the hand-built history (conftest.py), computed by hand."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from cell_control.reports import (
    KpiSettings,
    ReportWindow,
    compute_kpis,
    pareto_data,
    pchart_data,
    pending_review_count,
    review_item,
    review_queue,
    submit_review,
)
from cell_control.reports.spc import NO_RULE, cycle_histogram
from cell_control.store import Store, StoreError
from tests.integration.reports.conftest import T0
from vision.types import Verdict


def test_counts_yield_ppm_and_review_outcomes(qstore: Store) -> None:
    k = compute_kpis(qstore)
    assert (k.parts, k.inspections) == (10, 11)
    assert (k.machine_ok, k.machine_nok, k.machine_review) == (5, 3, 2)
    # final: P0 P1 P3 P8 P9 OK; P2 P4 P6 P7 NOK; P5 waits for review
    assert (k.final_ok, k.final_nok, k.pending_review) == (5, 4, 1)
    assert k.yield_ratio == pytest.approx(0.5)
    assert k.ppm_nok == pytest.approx(400_000)
    # first pass: P0 P1 P8 (P3 first NOK, P6 overridden, P9 first REVIEW)
    assert k.first_pass_yield == pytest.approx(0.3)
    assert k.reviewed_parts == 4
    assert (k.review_confirmations, k.review_overrides_to_ok, k.review_overrides_to_nok) == (1, 1, 1)
    assert (k.review_resolved_ok, k.review_resolved_nok) == (0, 1)
    assert k.false_rejects == 1
    assert k.false_reject_rate == pytest.approx(0.1)
    assert any("wait for review" in n for n in k.notes)


def test_escapes_against_ground_truth_read_defensively(qstore: Store) -> None:
    k = compute_kpis(qstore)
    # P6 has no ground truth, P9's is not an object: 8 known; NOK P1 P2 P4 P7 (flawed, list, verdict, count)
    assert (k.gt_parts, k.gt_flawed_parts, k.escapes) == (8, 4, 1)
    assert k.escape_rate == pytest.approx(0.25)
    # released OK with known truth: P0 P1 P3 P8; one of them (P1) flawed
    assert k.escape_ppm == pytest.approx(250_000)
    # truly OK: P0 (its flaw is acceptable), P3 (count 0), P5, P8; the machine called P3 NOK
    assert (k.gt_ok_parts, k.gt_false_rejects) == (4, 1)
    assert k.false_reject_rate_gt == pytest.approx(0.25)


def test_throughput_oee_and_robot_figures(qstore: Store) -> None:
    k = compute_kpis(qstore, settings=KpiSettings(planned_production_h_per_day=16, ideal_cycle_s=6.0))
    assert k.span_h == pytest.approx(100 / 3600)
    assert k.throughput_parts_per_h == pytest.approx(360.0)
    # planned = the data's 100 s; run = gaps 8 x 10 s + 14 s + one ideal cycle = 100 s
    assert k.planned_time_h == pytest.approx(100 / 3600)
    assert k.run_time_h == pytest.approx(100 / 3600)
    assert k.stops == 0
    assert k.availability == pytest.approx(1.0)
    assert k.performance == pytest.approx(0.6)
    assert k.quality == pytest.approx(0.5)
    assert k.oee == pytest.approx(0.3)
    assert (k.tasks, k.tasks_succeeded) == (9, 8)
    assert k.interventions == 4  # unbounded window: every intervention in the store
    assert k.tasks_per_intervention == pytest.approx(2.0)
    assert (k.autonomous_recoveries, k.regrasps) == (2, 4)
    assert k.contact_force_max_n == pytest.approx(150.0)
    assert k.contact_force_mean_n == pytest.approx(455 / 9)
    assert k.contact_force_p95_n == pytest.approx(150.0)
    assert k.tasks_over_force_limit == 1
    # cycles sorted 6 6.5 7 7.5 8 8.5 9 10 12: nearest rank p50 = 5th, p95 = 9th
    assert (k.cycle_s_p50, k.cycle_s_p95, k.cycle_s_max) == (8.0, 12.0, 12.0)
    assert k.cycle_s_mean == pytest.approx(74.5 / 9)


def test_stops_shorten_run_time(qstore: Store) -> None:
    k = compute_kpis(qstore, settings=KpiSettings(ideal_cycle_s=6.0, stop_gap_cycles=1.0))
    # every gap (10 s or 14 s) is longer than 6 s: 9 stops, run = 9 x 6 + 6 = 60 s
    assert k.stops == 9
    assert k.run_time_h == pytest.approx(60 / 3600)
    assert k.availability == pytest.approx(0.6)
    assert k.performance == pytest.approx(1.0)
    assert k.oee == pytest.approx(0.3)


def test_window_and_lot(qstore: Store) -> None:
    w = ReportWindow(since=T0, until=T0 + timedelta(hours=1))
    k = compute_kpis(qstore, w)
    assert k.parts == 10
    assert k.interventions == 3  # the one the next day is outside
    assert k.tasks_per_intervention == pytest.approx(8 / 3)
    # a one-hour window: planned time is the hour
    assert k.planned_time_h == pytest.approx(1.0)
    later = compute_kpis(qstore, ReportWindow(since=T0 + timedelta(seconds=30)))
    assert later.parts == 7  # P0-P2 finished before
    lot_b = compute_kpis(qstore, ReportWindow(lot="B"))
    assert lot_b.parts == 5
    assert lot_b.yield_ratio == pytest.approx(0.4)  # P8 P9 OK of P5-P9
    assert lot_b.interventions == 2  # names P5, or names no part and happened while lot B ran


def test_empty_window_is_valid(qstore: Store) -> None:
    k = compute_kpis(qstore, ReportWindow(since=T0 + timedelta(days=5)))
    assert k.empty and k.parts == 0
    assert k.yield_ratio is None and k.oee is None
    assert "no parts" in k.notes[0]


def test_pchart_limits_per_subgroup_and_hour(qstore: Store) -> None:
    chart = pchart_data(qstore, subgroup_parts=5)
    assert chart.p_bar == pytest.approx(0.4)
    assert [(p.label, p.n, p.nonconforming) for p in chart.points] == [("1-5", 5, 2), ("6-10", 5, 2)]
    sigma = math.sqrt(0.4 * 0.6 / 5)
    assert chart.points[0].ucl == pytest.approx(min(1.0, 0.4 + 3 * sigma))
    assert chart.points[0].lcl == 0.0
    hourly = pchart_data(qstore)
    assert [(p.label, p.n, p.nonconforming) for p in hourly.points] == [("2026-11-21T06:00Z", 10, 4)]


def test_pareto_by_class_and_zone(qstore: Store) -> None:
    by_class = pareto_data(qstore)
    assert by_class.nok_parts == 4
    assert [(b.category, b.parts, b.defects) for b in by_class.bars] == [
        (NO_RULE, 2, 0),  # P4 (finding below the reject level) and P6 (reviewer found it)
        ("porosity", 2, 3),
        ("inclusion", 1, 1),
    ]
    assert [round(b.cumulative_share, 3) for b in by_class.bars] == [0.4, 0.8, 1.0]
    by_zone = pareto_data(qstore, by="zone")
    assert [(b.category, b.parts) for b in by_zone.bars] == [(NO_RULE, 2), ("rim", 2), ("hub", 1), ("spoke", 1)]


def test_cycle_histogram_counts_every_task(qstore: Store) -> None:
    h = cycle_histogram(qstore, bins=6)
    assert h.n == 9
    assert h.edges[0] == 6.0 and h.edges[-1] == pytest.approx(12.0)
    assert h.counts == (2, 2, 2, 1, 1, 1)  # [6,7) [7,8) [8,9) [9,10) [10,11) [11,12]


def test_review_queue_and_final_disposition(qstore: Store) -> None:
    queue = review_queue(qstore)
    assert [item.part_serial for item in queue] == ["P5"]  # P9's REVIEW was superseded by its re-inspection
    assert pending_review_count(qstore) == 1 and pending_review_count(qstore, ReportWindow(lot="A")) == 0
    p7 = review_item(qstore, qstore.ids["P7"])  # type: ignore[attr-defined]
    assert [(r.user, r.disposition) for r in p7.reviews] == [("alice", Verdict.OK), ("bob", Verdict.NOK)]
    assert p7.final_disposition is Verdict.NOK and len(p7.defects) == 2
    assert queue[0].final_disposition is Verdict.REVIEW
    everything = review_queue(qstore, include_reviewed=True)
    assert [item.part_serial for item in everything] == ["P4", "P5"]
    assert everything[0].final_disposition is Verdict.NOK
    assert [r.user for r in everything[0].reviews] == ["alice"]
    submit_review(qstore, queue[0].inspection_id, "carol", "ok", "porosity below limit on second look")
    assert review_queue(qstore) == []
    k = compute_kpis(qstore)
    assert (k.final_ok, k.pending_review, k.review_resolved_ok) == (6, 0, 1)
    assert k.machine_review == 2  # the machine verdict is kept


@pytest.mark.parametrize(
    ("user", "disposition", "reason", "message"),
    [
        ("", "OK", "fine", "reviewer"),
        ("carol", "REVIEW", "fine", "OK or NOK"),
        ("carol", "maybe", "fine", "OK or NOK"),
        ("carol", "NOK", "   ", "reason"),
    ],
)
def test_bad_reviews_are_refused(sqlite_store: Store, user: str, disposition: str, reason: str, message: str) -> None:
    iid = sqlite_store.ids["P5"]  # type: ignore[attr-defined]
    with pytest.raises(StoreError, match=message):
        submit_review(sqlite_store, iid, user, disposition, reason)
