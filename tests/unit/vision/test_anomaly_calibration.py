"""Threshold calibration of the anomaly scorer: it must hold its false-alarm target on unseen flaw-free parts."""

from __future__ import annotations

import numpy as np
import pytest

from vision.anomaly import calibrate_threshold


@pytest.mark.parametrize("rate", [0.01, 0.05])
def test_calibrated_threshold_hits_false_alarm_target_on_fresh_parts(rate: float) -> None:
    rng = np.random.default_rng(7)
    # Flaw-free image scores: a skewed distribution like maxima of probability maps.
    calib = rng.beta(2.0, 30.0, 5000)
    fresh = rng.beta(2.0, 30.0, 100_000)
    t = calibrate_threshold(calib, rate)
    observed = float((fresh >= t).mean())
    # Binomial spread of a 5000-sample quantile: about +/- 0.3 % at 1 %.
    assert abs(observed - rate) < 0.35 * rate + 0.002
    # On the calibration set itself, never more alarms than allowed.
    assert (calib >= t).sum() <= int(rate * calib.size)


def test_calibration_on_small_set_allows_no_alarm_when_rate_times_n_below_one() -> None:
    scores = [0.1, 0.2, 0.3, 0.4, 0.5]
    t = calibrate_threshold(scores, 0.01)
    assert t > 0.5
    assert t == pytest.approx(0.5)


def test_threshold_sits_between_allowed_and_forbidden_scores() -> None:
    scores = np.arange(100, dtype=float)  # 0..99
    t = calibrate_threshold(scores, 0.05)  # 5 may alarm: 95..99
    assert 94 < t <= 95
    assert (scores >= t).sum() == 5


def test_ties_never_exceed_the_target() -> None:
    scores = [0.1] * 50 + [0.9] * 50
    t = calibrate_threshold(scores, 0.1)
    assert sum(s >= t for s in scores) == 0


@pytest.mark.parametrize(("scores", "rate"), [([], 0.01), ([0.1, float("nan")], 0.01), ([0.1], 0.0), ([0.1], 1.0)])
def test_bad_calibration_input_is_refused(scores: list[float], rate: float) -> None:
    with pytest.raises(ValueError):
        calibrate_threshold(scores, rate)
