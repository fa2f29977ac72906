"""Pacing for the control loop: real time (sleep, then spin to the deadline) or virtual (no waiting).

FIELD_NOTES: `time.sleep` alone misses 1 ms deadlines on 0.7-2.2% of ticks on this VM; sleeping until
shortly before the deadline and spinning the rest, with the garbage collector paused, misses 0.2-0.4%.
On a shared machine the caches also go cold within a millisecond of idling, which made a tick 2-3x slower
than back to back; an optional `warm` call, `warm_lead_s` before each deadline, touches the tick's code and
data again (it must change nothing) so that the tick itself starts warm. The warm-up is itself a cold tick, whose
cost swings with the host (40 us on a quiet one, several times that on a busy one): started a fixed lead before
the deadline it overran into the tick on busy hosts and made it late, so the lead follows the warm-up's own
measured duration (smoothed mean + 4 deviations, as TCP sizes its retransmission timer), never under the
configured lead and never over the spin phase.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

LATENESS_SAMPLES = 200_000


class VirtualClock:
    """As fast as it computes: the simulation's own time is the only clock."""

    realtime = False

    def start(self) -> None:
        pass

    def wait_next(self) -> None:
        pass

    def stats(self) -> dict[str, float]:
        return {"ticks_paced": 0.0, "deadline_misses": 0.0, "deadline_miss_ratio": 0.0}


class RealTimeClock:
    """Wakes at t0 + k * period. A tick misses its deadline when its work ends after the next tick's start."""

    realtime = True

    def __init__(
        self,
        period_s: float,
        spin_s: float = 0.0004,
        warm: Callable[[], object] | None = None,
        warm_lead_s: float = 0.0,
    ) -> None:
        self.period_ns = round(period_s * 1e9)
        self.spin_ns = int(spin_s * 1e9)
        self._warm = warm if warm_lead_s > 0 else None
        self.warm_lead_ns = int(warm_lead_s * 1e9)
        # The warm-up must start inside the spin phase (sleep overshoots by tens of us) and within half a period.
        self._lead_cap_ns = max(self.warm_lead_ns, min(3 * self.spin_ns // 4, self.period_ns // 2))
        self._warm_mean_ns = 0.0
        self._warm_dev_ns = 0.0
        self.warmups = 0
        self.warm_overruns = 0
        self.warm_ns = np.zeros(LATENESS_SAMPLES, dtype=np.int64)
        self.lateness_ns = np.zeros(LATENESS_SAMPLES, dtype=np.int64)
        self.ticks = 0
        self.misses = 0
        self._next_ns = 0

    def start(self) -> None:
        self._next_ns = time.perf_counter_ns() + self.period_ns

    def wait_next(self) -> None:
        now = time.perf_counter_ns()
        if now > self._next_ns:
            # The work of this tick ran past its slot; start the next at once and count the miss.
            self.misses += 1
            behind = (now - self._next_ns) // self.period_ns
            if behind >= 1:
                # More than a whole period behind: skip the lost slots instead of bursting to catch up.
                self._next_ns += behind * self.period_ns
        else:
            remaining = self._next_ns - now
            if remaining > self.spin_ns:
                time.sleep((remaining - self.spin_ns) / 1e9)
            if self._warm is not None:
                self._warm_before_deadline()
            while time.perf_counter_ns() < self._next_ns:
                pass
        woke = time.perf_counter_ns()
        self.lateness_ns[self.ticks % LATENESS_SAMPLES] = max(0, woke - self._next_ns)
        self.ticks += 1
        self._next_ns += self.period_ns

    def warm_lead_now_ns(self) -> int:
        adaptive = int(self._warm_mean_ns + 4.0 * self._warm_dev_ns)
        return min(self._lead_cap_ns, max(self.warm_lead_ns, adaptive))

    def _warm_before_deadline(self) -> None:
        assert self._warm is not None
        warm_at = self._next_ns - self.warm_lead_now_ns()
        # Only with the lead still ahead: a late warm-up would push the tick past its start.
        if time.perf_counter_ns() >= warm_at:
            # Skipped: let the estimate shrink, or one spike would hold the lead where no warm-up can start.
            self._warm_mean_ns *= 0.9
            self._warm_dev_ns *= 0.9
            return
        while time.perf_counter_ns() < warm_at:
            pass
        self._warm()
        done = time.perf_counter_ns()
        took = done - warm_at
        self.warm_ns[self.warmups % LATENESS_SAMPLES] = took
        self.warmups += 1
        if done > self._next_ns:
            self.warm_overruns += 1
        err = took - self._warm_mean_ns
        self._warm_mean_ns += err / 8.0
        self._warm_dev_ns += (abs(err) - self._warm_dev_ns) / 4.0

    def stats(self) -> dict[str, float]:
        late_p50, late_p99, late_max = _ring_us(self.lateness_ns, self.ticks)
        warm_p50, warm_p99, _ = _ring_us(self.warm_ns, self.warmups)
        return {
            "ticks_paced": float(self.ticks),
            "deadline_misses": float(self.misses),
            "deadline_miss_ratio": self.misses / self.ticks if self.ticks else 0.0,
            "cache_warmups": float(self.warmups),
            "cache_warm_overruns": float(self.warm_overruns),
            "cache_warm_us_p50": warm_p50,
            "cache_warm_us_p99": warm_p99,
            "cache_warm_lead_us_final": (self.warm_lead_now_ns() if self._warm is not None else 0) / 1000.0,
            "lateness_us_p50": late_p50,
            "lateness_us_p99": late_p99,
            "lateness_us_max": late_max,
        }


def _ring_us(ring_ns: np.ndarray, count: int) -> tuple[float, float, float]:
    """p50, p99 and max in us of the samples a ring buffer of ns holds after `count` writes (zeros when none)."""
    n = min(count, len(ring_ns))
    us = ring_ns[:n] / 1000.0 if n else np.zeros(1)
    return float(np.percentile(us, 50)), float(np.percentile(us, 99)), float(us.max())
