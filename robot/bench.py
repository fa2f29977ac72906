"""`ironcell bench robot`: randomised pick-and-places in virtual time, then a real-time run for deadlines.

Part 1 (virtual time, same runtime as the robot process): N tasks with random family, bin and nominal
mass; the simulated out-feed scatters each part by up to `part_pose_noise_m` / `part_pose_noise_deg` and
its true mass by `part_mass_noise` (defaults 1 cm, 10 degrees, 20%). Success counts autonomous re-grasps
as success; cycle times are simulated seconds (the robot moves in real time at the same speeds).
Part 2 (real time): the robot process paced at `control_hz` for `realtime_s`, sorting parts meanwhile;
deadline misses and lateness come from the process's own clock statistics.
Tick compute is the controller's work in a tick (sensing, skills, control law, safety, both arms), not the
simulated plant's step: `tick_compute_us_*` in wall-clock time (perf_counter, so preemption by other
processes counts), `tick_compute_thread_cpu_us_*` in the loop thread's CPU time (the work alone). The
unsuffixed keys come from the real-time run; `*_virtual` from part 1.
"""

from __future__ import annotations

import gc
import os
import time
from typing import Any

import numpy as np

from robot.config import RobotConfig
from robot.sim_driver import InProcessSimRobot, SimRobotDriver
from robot.types import PickPlaceTask, TargetBin, TaskOutcome

FAMILIES = ("wheel", "housing")
TARGETS = (TargetBin.OK_CONVEYOR, TargetBin.NOK_BIN, TargetBin.REVIEW_BIN)


def _random_task(i: int, rng: np.random.Generator) -> PickPlaceTask:
    return PickPlaceTask(
        task_id=f"bench-{i}",
        part_serial=f"B{i:05d}",
        part_family=str(rng.choice(FAMILIES)),
        target=TARGETS[int(rng.integers(len(TARGETS)))],
        # Nominal 0.65-4.15 kg, so the +-20% true mass stays within the 0.5-5 kg parts of the cell.
        part_mass_kg=round(float(rng.uniform(0.65, 4.15)), 3),
    )


def virtual_picks(n: int, cfg: RobotConfig, seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    robot = InProcessSimRobot(cfg, seed=seed)
    results = []
    t0 = time.perf_counter()
    gc.collect()
    gc.freeze()
    for i in range(n):
        robot.submit(_random_task(i, rng))
        # As in the robot process: no garbage collection inside the control loop; here it runs between tasks.
        gc.disable()
        try:
            res = robot.result(timeout_s=60.0)
        finally:
            gc.enable()
        gc.collect(0)
        if res is None:
            raise RuntimeError(f"task {i} gave no result within 60 s of simulated time")
        results.append(res)
        if robot.runtime.safety.stopped:
            robot.reset()  # the operator's reset after a protective stop: counted as an intervention above
    gc.unfreeze()
    wall = time.perf_counter() - t0
    ok = [r for r in results if r.outcome == TaskOutcome.SUCCESS]
    stats = robot.stats()
    failures = sorted({r.reason for r in results if r.outcome != TaskOutcome.SUCCESS})
    return {
        "picks": n,
        "pick_success_rate": len(ok) / n,
        "pick_cycle_s_median": float(np.median([r.cycle_s for r in ok])) if ok else None,
        "pick_cycle_s_p95": float(np.percentile([r.cycle_s for r in ok], 95)) if ok else None,
        "max_contact_force_n": max(r.max_contact_force_n for r in results),
        # The same cell's external force estimated from joint torques (robot.force_estimate), all ticks.
        "max_estimated_force_n": stats["max_estimated_force_n"],
        "recoveries": sum(r.regrasp_count for r in results),
        "interventions": sum(r.outcome == TaskOutcome.INTERVENTION_REQUIRED for r in results),
        "protective_stops": sum(r.protective_stops for r in results),
        "failure_reasons": failures[:5],
        "tick_compute_us_p50_virtual": stats["tick_compute_us_p50"],
        "tick_compute_us_p99_virtual": stats["tick_compute_us_p99"],
        "tick_compute_thread_cpu_us_p50_virtual": stats["tick_compute_thread_cpu_us_p50"],
        "tick_compute_thread_cpu_us_p99_virtual": stats["tick_compute_thread_cpu_us_p99"],
        "tick_with_physics_us_p99_virtual": stats["tick_with_physics_us_p99"],
        "virtual_wall_s": wall,
        "sim_s": robot.runtime.sim.time_s,
    }


def realtime_run(seconds: float, cfg: RobotConfig, seed: int = 1, prefix: str = "") -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    drv = SimRobotDriver(cfg, clock="real", seed=seed)
    done = 0
    cycles: list[float] = []
    try:
        t_end = time.monotonic() + seconds
        i = 0
        drv.submit(_random_task(i, rng))
        while time.monotonic() < t_end:
            res = drv.result(timeout_s=min(1.0, max(0.01, t_end - time.monotonic())))
            if res is not None:
                done += 1
                if res.outcome == TaskOutcome.SUCCESS:
                    cycles.append(res.cycle_s)
                i += 1
                if drv.state().mode.value in ("protective_stop", "emergency_stop"):
                    drv.reset()
                drv.submit(_random_task(i, rng))
        stats = drv.stats()
    finally:
        drv.close()
    keys = ["deadline_misses", "deadline_miss_ratio", "lateness_us_p50", "lateness_us_p99", "lateness_us_max"]
    keys += [
        "cache_warmups",
        "cache_warm_overruns",
        "cache_warm_us_p50",
        "cache_warm_us_p99",
        "cache_warm_lead_us_final",
    ]
    keys += ["tick_compute_us_p50", "tick_compute_us_p99", "tick_compute_us_max"]
    keys += ["tick_compute_thread_cpu_us_p50", "tick_compute_thread_cpu_us_p99", "tick_compute_thread_cpu_us_max"]
    keys += ["tick_with_physics_us_p50", "tick_with_physics_us_p99", "tick_with_physics_us_max"]
    out: dict[str, Any] = {f"{prefix}{k}": stats[k] for k in keys}
    out[f"{prefix}realtime_s"] = seconds
    out[f"{prefix}realtime_picks_done"] = done
    out[f"{prefix}realtime_pick_cycle_s_median"] = float(np.median(cycles)) if cycles else None
    out[f"{prefix}ticks_realtime"] = stats["ticks_paced"]
    out[f"{prefix}sched"] = stats["sched"]
    out[f"{prefix}cpu_affinity"] = stats["cpu_affinity"]
    return out


def run_bench(quick: bool = False) -> dict[str, Any]:
    cfg = RobotConfig()
    load_before = os.getloadavg()[0]
    out: dict[str, Any] = {"control_hz": cfg.control_hz, "contact_force_limit_n": cfg.safety.contact_force_limit_n}
    out.update(virtual_picks(20 if quick else 200, cfg))
    out.update(realtime_run(10.0 if quick else 60.0, cfg))
    # For comparison: the same loop with ordinary scheduling (what a user without CAP_SYS_NICE gets).
    plain = cfg.model_copy(update={"realtime_priority": 0})
    out.update(realtime_run(5.0 if quick else 20.0, plain, prefix="ordinary_sched_"))
    # And without the cache warm-up before each tick (robot.clock), so its effect is measured on the same machine.
    cold = cfg.model_copy(update={"cache_warm_lead_us": 0.0})
    out.update(realtime_run(5.0 if quick else 20.0, cold, prefix="no_cache_warm_"))
    out["cache_warm_lead_us"] = cfg.cache_warm_lead_us
    out["load_avg_1min_before"] = load_before
    out["load_avg_1min_after"] = os.getloadavg()[0]
    out["cpu_count"] = os.cpu_count()
    return out
