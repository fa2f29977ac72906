"""In-process A/B of the warm-up lead: fixed 60 us, adaptive, none. Alternating real-time runs, SCHED_FIFO."""

import gc
import json
import os
import sys
import time

import numpy as np

from robot import clock as C
from robot.bench import _random_task
from robot.config import RobotConfig
from robot.runtime import RobotRuntime


class FixedLeadClock(C.RealTimeClock):
    """The warm-up a fixed warm_lead_s before each deadline, as before the lead followed the warm-up's cost."""

    def warm_lead_now_ns(self) -> int:
        return self.warm_lead_ns


def run(name, seconds, seed):
    cfg = RobotConfig()
    rt = RobotRuntime(cfg, seed=seed)
    clock_cls = FixedLeadClock if name == "fixed" else C.RealTimeClock
    clk = clock_cls(rt.dt_s, warm=rt.warm_caches, warm_lead_s=0.0 if name == "none" else 60e-6)
    rng = np.random.default_rng(seed)
    i = 0
    rt.submit(_random_task(i, rng))
    gc.collect()
    gc.disable()
    clk.start()
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        rt.tick()
        while rt.results:
            rt.results.popleft()
            i += 1
            rt.submit(_random_task(i, rng))
        clk.wait_next()
    gc.enable()
    st = {**rt.tick_stats(), **clk.stats()}
    row = {
        k: round(st.get(k, -1), 2)
        for k in (
            "deadline_misses",
            "ticks_paced",
            "lateness_us_p99",
            "tick_compute_us_p50",
            "tick_compute_us_p99",
            "cache_warm_overruns",
            "cache_warm_us_p50",
            "cache_warm_us_p99",
            "cache_warm_lead_us_final",
        )
    }
    row["arm"] = name
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(20))
    except OSError as e:
        print("no fifo", e)
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    for r in range(rounds):
        for name in ("fixed", "adaptive", "none"):
            run(name, secs, r + 1)
