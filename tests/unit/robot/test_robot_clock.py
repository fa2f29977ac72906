"""Deadline bookkeeping of the real-time clock, on a scripted time source (no real waiting)."""

from __future__ import annotations

import pytest

from robot import clock as clock_mod
from robot.clock import RealTimeClock


class FakeTime:
    def __init__(self) -> None:
        self.now_ns = 0
        self.slept_s = 0.0

    def perf_counter_ns(self) -> int:
        self.now_ns += 1_000  # every reading costs 1 us, so spinning ends
        return self.now_ns

    def sleep(self, s: float) -> None:
        self.slept_s += s
        self.now_ns += int(s * 1e9)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    """The clock module reads this scripted time instead of the real one."""
    t = FakeTime()
    monkeypatch.setattr(clock_mod.time, "perf_counter_ns", t.perf_counter_ns)
    monkeypatch.setattr(clock_mod.time, "sleep", t.sleep)
    return t


def run_ticks(clk: RealTimeClock, fake: FakeTime, work_us: list[int]) -> None:
    clk.start()
    for w in work_us:
        fake.now_ns += w * 1000
        clk.wait_next()


def test_overrunning_ticks_count_as_misses_and_lost_slots_are_skipped(fake: FakeTime) -> None:
    clk = RealTimeClock(0.001, spin_s=0.0002)
    work_us = [100, 100, 1500, 100, 3500, 100]  # two ticks run past their 1 ms slot
    run_ticks(clk, fake, work_us)
    st = clk.stats()
    assert st["ticks_paced"] == len(work_us)
    assert st["deadline_misses"] == 2
    assert st["deadline_miss_ratio"] == pytest.approx(2 / 6)
    assert fake.slept_s > 0  # on-time ticks sleep first, then spin
    # After a 3.5 ms overrun the clock re-anchors instead of bursting through the lost slots.
    assert clk._next_ns - fake.now_ns <= clk.period_ns


def test_warm_up_runs_once_per_tick_within_its_lead_and_never_on_a_late_tick(fake: FakeTime) -> None:
    ahead_ns: list[int] = []
    clk = RealTimeClock(
        0.001, spin_s=0.0002, warm=lambda: ahead_ns.append(clk._next_ns - fake.now_ns), warm_lead_s=6e-5
    )
    work_us = [100, 100, 960, 1500, 100]  # the third leaves less than the lead, the fourth overruns
    run_ticks(clk, fake, work_us)
    assert len(ahead_ns) == 3 == clk.stats()["cache_warmups"]
    assert all(0 < a <= 60_000 for a in ahead_ns)  # just before the deadline, never after it
    assert clk.stats()["deadline_misses"] == 1


def test_no_warm_up_without_a_lead(fake: FakeTime) -> None:
    calls: list[int] = []
    clk = RealTimeClock(0.001, warm=lambda: calls.append(1), warm_lead_s=0.0)
    run_ticks(clk, fake, [100] * 3)
    assert calls == []


def slow_warm_clock(fake: FakeTime, spin_s: float, warm_us: int) -> RealTimeClock:
    """A 1 kHz clock with a 60 us least lead whose warm-up takes warm_us of scripted time."""

    def warm() -> None:
        fake.now_ns += warm_us * 1000

    return RealTimeClock(0.001, spin_s=spin_s, warm=warm, warm_lead_s=6e-5)


def test_warm_up_lead_grows_to_the_warm_ups_own_duration(fake: FakeTime) -> None:
    """A warm-up slower than the configured lead would run into the tick; the lead follows its measured cost."""
    clk = slow_warm_clock(fake, spin_s=0.0004, warm_us=150)
    run_ticks(clk, fake, [100] * 60)
    st = clk.stats()
    assert st["cache_warmups"] == 60
    assert 0 < st["cache_warm_overruns"] < 10  # the first warm-ups overran; once the lead has grown, none do
    assert 150 <= st["cache_warm_lead_us_final"] <= 300  # grown to the warm-up's cost, capped inside the spin phase
    assert st["cache_warm_us_p50"] == pytest.approx(150.0, abs=5.0)
    late = clk.lateness_ns[40:60]
    assert (late <= 5_000).all()  # each scripted clock reading costs 1 us


def test_warm_up_lead_never_passes_the_spin_phase(fake: FakeTime) -> None:
    clk = slow_warm_clock(fake, spin_s=0.0002, warm_us=700)
    run_ticks(clk, fake, [50] * 30)
    assert clk.warm_lead_now_ns() <= 150_000
