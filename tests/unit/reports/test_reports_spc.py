"""p-chart limits and Pareto ordering against hand-computed values; final disposition rule."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from cell_control.reports.disposition import ReviewEntry, final_disposition
from cell_control.reports.spc import build_pareto, build_pchart, hour_label, pchart_limits
from vision.types import Verdict


def test_pchart_limits_by_hand() -> None:
    # p = 0.1, n = 100: sigma = sqrt(0.09 / 100) = 0.03, limits 0.1 ± 0.09
    lcl, ucl = pchart_limits(0.1, 100)
    assert lcl == pytest.approx(0.01) and ucl == pytest.approx(0.19)
    # small subgroups: the lower limit clips at 0, the upper at 1
    assert pchart_limits(0.1, 4) == (0.0, pytest.approx(0.55))
    assert pchart_limits(0.5, 1) == (0.0, 1.0)
    assert pchart_limits(0.0, 50) == (0.0, 0.0)
    with pytest.raises(ValueError):
        pchart_limits(0.1, 0)


def test_pchart_centre_line_is_weighted_and_flags_points_out_of_control() -> None:
    chart = build_pchart([("h1", 200, 4), ("h2", 200, 6), ("h3", 100, 15), ("empty", 0, 0)], "hour")
    assert chart.p_bar == pytest.approx(25 / 500)  # pooled, not the mean of the subgroup fractions
    assert [p.label for p in chart.points] == ["h1", "h2", "h3"]
    h3 = chart.points[2]
    assert h3.ucl == pytest.approx(0.05 + 3 * math.sqrt(0.05 * 0.95 / 100))
    assert h3.p == pytest.approx(0.15) and h3.out_of_control
    assert [p.label for p in chart.out_of_control] == ["h3"]
    assert build_pchart([], "hour").p_bar is None


def test_pareto_sorted_with_cumulative_share() -> None:
    pareto = build_pareto({"crack": (1, 1), "porosity": (6, 9), "inclusion": (3, 3), "none": (0, 0)}, "flaw_class", 9)
    assert [b.category for b in pareto.bars] == ["porosity", "inclusion", "crack"]
    assert [b.share for b in pareto.bars] == pytest.approx([0.6, 0.3, 0.1])
    assert [b.cumulative_share for b in pareto.bars] == pytest.approx([0.6, 0.9, 1.0])
    assert pareto.bars[0].defects == 9


def test_hour_labels_are_utc() -> None:
    hours = int(datetime(2026, 11, 21, 6, tzinfo=UTC).timestamp()) // 3600
    assert hour_label(hours) == "2026-11-21T06:00Z"


def _review(rid: int, disp: Verdict) -> ReviewEntry:
    return ReviewEntry(rid, 1, datetime(2026, 11, 21, tzinfo=UTC), "u", disp, "r")


def test_final_disposition_is_the_latest_review_else_the_machine_verdict() -> None:
    assert final_disposition("NOK", []) is Verdict.NOK
    assert final_disposition(Verdict.REVIEW, []) is Verdict.REVIEW
    assert final_disposition("NOK", [_review(3, Verdict.OK)]) is Verdict.OK
    assert final_disposition("REVIEW", [_review(9, Verdict.NOK), _review(4, Verdict.OK)]) is Verdict.NOK
