"""Safety monitor: trips, latches, reset rules, stop categories."""

from __future__ import annotations

import numpy as np
import pytest

from robot.config import SafetyConfig
from robot.safety import SafetyMonitor

INSIDE = np.array([0.4, 0.0, 1.0])


def test_force_speed_and_workspace_trip_a_protective_stop() -> None:
    cfg = SafetyConfig()
    for args in [
        (INSIDE, 0.1, cfg.contact_force_limit_n),  # force at the limit (trip level is below it)
        (INSIDE, 2.0, 0.0),  # too fast
        (np.array([2.0, 0.0, 1.0]), 0.1, 0.0),  # outside the workspace
    ]:
        mon = SafetyMonitor(cfg)
        assert mon.check(0.0, INSIDE, 0.1, 10.0) is None
        ev = mon.check(1.0, *args)
        assert ev is not None and ev.category == 2 and mon.stopped
        assert mon.protective_stops == 1


def test_stop_latches_until_reset_and_reset_needs_the_contact_cleared() -> None:
    mon = SafetyMonitor(SafetyConfig(contact_force_limit_n=100.0))
    ev = mon.check(0.0, INSIDE, 0.0, 120.0)
    assert ev is not None and "contact force" in ev.reason
    assert mon.check(0.1, INSIDE, 0.0, 0.0) is None and mon.stopped  # latched even after the force is gone
    mon.check(0.2, INSIDE, 0.0, 95.0)
    ok, why = mon.reset()
    assert not ok and "clear the contact" in why and mon.stopped
    mon.check(0.3, INSIDE, 0.0, 5.0)
    assert mon.reset() == (True, "reset") and not mon.stopped
    assert mon.peak_force_n == 120.0


def test_stronger_stop_replaces_weaker_never_the_reverse() -> None:
    mon = SafetyMonitor(SafetyConfig())
    mon.trigger(2, "operator hold", 0.0)
    assert mon.trigger(0, "e-stop", 0.1).category == 0
    assert mon.trigger(2, "again", 0.2).category == 0
    assert mon.emergency_stops == 1 and mon.protective_stops == 1
    with pytest.raises(ValueError):
        mon.trigger(3, "no such category", 0.3)
