"""Whole tasks on the simulated cell, in virtual time (InProcessSimRobot: same runtime as the process)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from robot.config import RobotConfig
from robot.pick_place import drop_zone, in_zone
from robot.sim_driver import InProcessSimRobot
from robot.types import PickPlaceTask, Pose, RobotMode, TargetBin, TaskOutcome

CFG = RobotConfig()


def _task(i: int, target: TargetBin, family: str = "wheel", mass: float = 3.0, **kw: object) -> PickPlaceTask:
    return PickPlaceTask(f"t{i}", f"S{i}", family, target, part_mass_kg=mass, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("target", "family", "mass"),
    [(TargetBin.OK_CONVEYOR, "wheel", 4.5), (TargetBin.NOK_BIN, "housing", 2.0), (TargetBin.REVIEW_BIN, "wheel", 0.6)],
)
def test_pick_and_place_reaches_each_bin(target: TargetBin, family: str, mass: float) -> None:
    robot = InProcessSimRobot(CFG, seed=11)
    applied: list[np.ndarray] = []
    sim = robot.runtime.sim
    orig = sim.step

    def record() -> None:
        # What the actuators of the working arm get for this step: the torque actually applied.
        applied.append(sim.arm_ctrl[robot.runtime.active].copy())
        orig()

    sim.step = record  # type: ignore[method-assign]
    robot.submit(_task(1, target, family, mass))
    res = robot.result(timeout_s=30.0)
    assert res is not None and res.outcome == TaskOutcome.SUCCESS, res
    assert in_zone(sim.part_pose(family).pos_m, drop_zone(target))
    assert res.max_contact_force_n < CFG.safety.contact_force_limit_n
    assert 2.0 < res.cycle_s <= 8.0
    assert all(v == 0 for v in sim.warnings().values())
    tau = np.array(applied)
    lim = robot.runtime.gains.torque_limits_nm
    assert np.all(np.abs(tau) <= lim + 1e-9)
    step = np.abs(np.diff(tau, axis=0)).max()
    assert step <= CFG.safety.torque_rate_limit_nm_per_s / CFG.control_hz + 1e-9
    assert robot.state().mode == RobotMode.IDLE


def test_same_seed_same_trajectory() -> None:
    runs = []
    for _ in range(2):
        robot = InProcessSimRobot(CFG, seed=5)
        robot.submit(_task(1, TargetBin.NOK_BIN, "housing"))
        trace = []
        while robot.runtime.job is not None or robot.runtime.queue:
            robot.run_for(0.25)
            trace.append(robot.runtime.sim.d.qpos.copy())
        runs.append((np.array(trace), robot.result(0.0)))
    assert runs[0][1] == runs[1][1]
    assert np.array_equal(runs[0][0], runs[1][0])


def _warm_first(warm: Callable[[], None], tick: Callable[[], None]) -> Callable[[], None]:
    def warm_then_tick() -> None:
        warm()
        tick()

    return warm_then_tick


def test_cache_warm_up_before_each_tick_changes_nothing() -> None:
    # The real-time clock runs `warm_caches` just before every tick; the trajectory must be bit for bit the same.
    runs = []
    for warm in (False, True):
        robot = InProcessSimRobot(CFG, seed=5)
        rt = robot.runtime
        if warm:
            rt.tick = _warm_first(rt.warm_caches, rt.tick)  # type: ignore[method-assign]
        robot.submit(_task(1, TargetBin.REVIEW_BIN, "wheel", 2.5))
        trace = []
        while rt.job is not None or rt.queue:
            robot.run_for(0.25)
            trace.append(np.concatenate([rt.sim.d.qpos, rt.sim.d.ctrl, rt.tau["right"], rt.tau["left"]]))
        runs.append((np.array(trace), robot.result(0.0)))
    assert runs[0][1] is not None and runs[0][1].outcome == TaskOutcome.SUCCESS
    assert runs[0][1] == runs[1][1]
    assert np.array_equal(runs[0][0], runs[1][0])


def test_unreachable_target_is_refused_before_any_motion() -> None:
    robot = InProcessSimRobot(CFG, seed=0)
    q_before = np.array(robot.state().joint_positions_rad)
    robot.submit(_task(1, TargetBin.OK_CONVEYOR, pick_pose=Pose((1.6, -0.1, 0.8))))
    res = robot.result(timeout_s=5.0)
    assert res is not None and res.outcome == TaskOutcome.REFUSED
    assert "out of reach" in res.reason and "pick" in res.reason
    assert np.abs(np.array(robot.state().joint_positions_rad) - q_before).max() < 2e-3
    bad = _task(2, TargetBin.NOK_BIN, family="crankshaft")
    robot.submit(bad)
    res = robot.result(timeout_s=5.0)
    assert res is not None and res.outcome == TaskOutcome.REFUSED and "family" in res.reason


def test_missed_grasp_is_recovered_by_a_regrasp() -> None:
    robot = InProcessSimRobot(CFG, seed=2)
    sim = robot.runtime.sim
    real_locate = sim.locate_part
    calls = {"n": 0}

    def bad_first_look(family, rng, noise_m, noise_rad):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        seen = real_locate(family, rng, noise_m, noise_rad)
        if calls["n"] == 1:  # the camera is 6 cm off once: the fingers close beside the part
            return seen._replace(pos_m=seen.pos_m + np.array([0.0, 0.0, 0.06]))
        return seen

    sim.locate_part = bad_first_look  # type: ignore[method-assign]
    robot.submit(_task(1, TargetBin.OK_CONVEYOR, "housing"))
    res = robot.result(timeout_s=40.0)
    assert res is not None and res.outcome == TaskOutcome.SUCCESS, res
    assert res.regrasp_count == 1 and robot.runtime.recoveries == 1
    assert robot.state().recoveries == 1


def test_unrecoverable_failure_becomes_an_intervention_request() -> None:
    cfg = CFG.model_copy(update={"max_regrasps": 0})
    robot = InProcessSimRobot(cfg, seed=2)
    sim = robot.runtime.sim
    real_locate = sim.locate_part
    lift = np.array([0.0, 0.0, 0.06])
    sim.locate_part = lambda *a: real_locate(*a)._replace(pos_m=real_locate(*a).pos_m + lift)  # type: ignore[method-assign]
    robot.submit(_task(1, TargetBin.NOK_BIN, "wheel"))
    res = robot.result(timeout_s=30.0)
    assert res is not None and res.outcome == TaskOutcome.INTERVENTION_REQUIRED
    assert "missed" in res.reason
    assert robot.runtime.interventions == 1 and robot.state().interventions == 1


def test_hand_in_the_path_stops_the_arm_under_the_force_limit_until_reset() -> None:
    robot = InProcessSimRobot(CFG, seed=0, hand_probe=True)
    robot.submit(_task(1, TargetBin.OK_CONVEYOR, "wheel", 2.0))
    res = robot.result(timeout_s=30.0)
    assert res is not None and res.outcome == TaskOutcome.INTERVENTION_REQUIRED
    assert res.protective_stops == 1 and "contact force" in res.reason
    peak = robot.runtime.safety.peak_force_n
    assert 0.5 * CFG.safety.contact_force_limit_n < peak < CFG.safety.contact_force_limit_n
    # The estimate from joint torques sees the same push as the contact sensing (it may trip first).
    assert abs(robot.runtime.safety.peak_estimated_force_n - peak) < 0.1 * peak
    st = robot.state()
    assert st.mode == RobotMode.PROTECTIVE_STOP and st.stop_category == 2
    # Stopped means stopped: no motion, new work refused, for as long as nobody resets.
    pos = np.array(st.tcp_pose.position_m)
    robot.run_for(1.0)
    assert np.linalg.norm(np.array(robot.state().tcp_pose.position_m) - pos) < 0.05
    robot.submit(_task(2, TargetBin.OK_CONVEYOR))
    refused = robot.result(timeout_s=1.0)
    assert refused is not None and refused.outcome == TaskOutcome.REFUSED and "reset" in refused.reason
    robot.runtime.sim.withdraw_hand_probe()
    robot.run_for(0.2)
    robot.reset()
    assert robot.state().mode == RobotMode.IDLE
    robot.submit(_task(3, TargetBin.OK_CONVEYOR, "wheel", 2.0))
    res = robot.result(timeout_s=30.0)
    assert res is not None and res.outcome == TaskOutcome.SUCCESS, res


def test_emergency_stop_brakes_hold_the_arm_and_abort_the_task() -> None:
    robot = InProcessSimRobot(CFG, seed=0)
    robot.submit(_task(1, TargetBin.NOK_BIN))
    robot.run_for(1.0)
    robot.stop(0, "e-stop pressed")
    res = robot.result(timeout_s=0.0)
    assert res is not None and res.outcome == TaskOutcome.ABORTED and "e-stop" in res.reason
    q = np.array(robot.state().joint_positions_rad)
    robot.run_for(0.5)
    assert np.abs(np.array(robot.state().joint_positions_rad) - q).max() < 1e-9
    assert robot.state().mode == RobotMode.EMERGENCY_STOP
    robot.reset()
    robot.run_for(0.5)
    assert robot.state().mode == RobotMode.IDLE
    assert np.abs(np.array(robot.state().joint_positions_rad) - q).max() < 0.02  # holds, no sag after power-up


def test_part_slipping_out_during_lift_is_detected_and_picked_again() -> None:
    robot = InProcessSimRobot(CFG, seed=4)
    rt = robot.runtime
    robot.submit(_task(1, TargetBin.OK_CONVEYOR, "housing", 4.0))
    while rt.ctx["right"].phase != "lift":
        robot.run_for(0.01)
    robot.run_for(0.1)
    rt.ctx["right"].set_grip_force_limit(3.0)  # the grip weakens: the part slides out of the fingers
    res = robot.result(timeout_s=40.0)
    assert res is not None and res.outcome == TaskOutcome.SUCCESS, res
    assert res.regrasp_count == 1
    assert in_zone(rt.sim.part_pose("housing").pos_m, drop_zone(TargetBin.OK_CONVEYOR))


def test_category_1_stop_decelerates_then_brakes() -> None:
    robot = InProcessSimRobot(CFG, seed=0)
    robot.submit(_task(1, TargetBin.OK_CONVEYOR))
    robot.run_for(0.8)  # moving toward the part
    robot.stop(1, "door opened")
    assert robot.runtime._brake_q == {}  # controlled stop first, power still on
    robot.run_for(0.6)
    assert robot.runtime._brake_q  # then the brakes hold
    st = robot.state()
    assert st.mode == RobotMode.EMERGENCY_STOP and st.stop_category == 1
    res = robot.result(timeout_s=0.0)
    assert res is not None and res.outcome == TaskOutcome.ABORTED


def test_compiled_contact_reading_equals_the_reference_loop_through_a_task() -> None:
    """The tick reads contact force through a compiled kernel; it must agree with mj_contactForce in a loop."""
    robot = InProcessSimRobot(CFG, seed=5)
    rt = robot.runtime
    robot.submit(_task(1, TargetBin.NOK_BIN, "housing", 4.0))
    seen: set[tuple[int, bool, bool]] = set()
    while rt.job is not None or rt.queue:
        robot.run_for(0.002)
        ctx = rt.ctx[rt.active]
        for held in (ctx.held, not ctx.held):
            got = rt.sim.contacts(rt.active, ctx.family, held)
            want = rt.sim.contacts_reference(rt.active, ctx.family, held)
            assert got.finger_part_contacts == want.finger_part_contacts
            assert abs(got.external_n - want.external_n) <= 1e-9
            seen.add((got.finger_part_contacts, held, got.external_n > 1.0))
    # Both pads on the part, with and without counting it as held, and real external forces were all compared.
    assert {(2, True, True), (2, False, False), (0, False, False)} <= seen
