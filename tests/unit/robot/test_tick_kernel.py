"""The compiled tick (robot.tick_kernel) computes what the readable reference laws compute, and writes it to ctrl."""

from __future__ import annotations

import numpy as np
import pytest

from robot.config import RobotConfig
from robot.controller import ImpedanceGoal, impedance_torque, joint_hold_torque
from robot.force_estimate import GRAVITY_M_PER_S2
from robot.runtime import IDLE_ARM_KP_NM_PER_RAD
from robot.sim_driver import InProcessSimRobot
from robot.tick_kernel import G_CLOSING, G_FORCE_LIMIT, G_OPEN_GAP, G_SINCE, arm_commands_kernel, grip_force_kernel
from robot.types import PickPlaceTask, TargetBin

CFG = RobotConfig(clock="virtual")


def _mid_task_robot(seconds: float) -> InProcessSimRobot:
    robot = InProcessSimRobot(CFG, seed=3)
    robot.submit(PickPlaceTask("t1", "S1", "wheel", TargetBin.NOK_BIN, part_mass_kg=2.5))
    robot.run_for(seconds)
    return robot


@pytest.mark.parametrize("seconds", [0.3, 2.2, 3.5])  # approach, grasp/lift, transfer with the part held
def test_one_call_equals_the_reference_laws_and_lands_in_ctrl(seconds: float) -> None:
    robot = _mid_task_robot(seconds)
    rt, sim = robot.runtime, robot.runtime.sim
    side = rt.active
    other = rt._other[side]
    ctx, octx = rt.ctx[side], rt.ctx[other]
    est = rt.force_estimator
    st = sim.arm_state(side)
    ost = sim.arm_views(other)
    payload = 1.7
    ff = np.array([0.0, 0.0, payload * GRAVITY_M_PER_S2, 0.0, 0.0, 0.0])
    goal = ImpedanceGoal(ctx.goal.pos_m + 0.01, ctx.goal.quat_wxyz, ctx.goal.twist, ctx.q_null, ff)

    # The references, on copies of everything the kernel writes.
    tau_prev, otau_prev = rt.tau[side].copy(), rt.tau[other].copy()
    want = impedance_torque(st, goal, rt.gains, tau_prev)
    kp = IDLE_ARM_KP_NM_PER_RAD
    want_idle = joint_hold_torque(ost.q, ost.dq, rt.hold_q[other], ost.bias_nm, kp, rt.gains, otau_prev)
    want_grip = (ctx.grip_force_command_n(), octx.grip_force_command_n())
    assert est.prepare()
    m_dq, bias, passive, motor = est.views[side]
    # The torque residual of the last step and its least-squares wrench, in NumPy.
    tau_ext = m_dq * est.inv_dt + bias - passive - motor
    force = np.linalg.solve(st.jac @ st.jac.T + 1e-4 * np.eye(6), st.jac @ tau_ext)
    force[2] += payload * GRAVITY_M_PER_S2
    want_n = float(np.linalg.norm(force[:3]))
    # The runtime's own argument tail for this arm (the same arrays the tick hands the kernel).
    got_n = arm_commands_kernel(
        goal.pos_m, goal.quat_wxyz, goal.twist, ff, True, payload * GRAVITY_M_PER_S2, sim.time_s, *rt._tick_args[side]
    )
    np.testing.assert_allclose(rt.tau[side], want.tau_nm, atol=1e-9)
    np.testing.assert_allclose(sim.arm_ctrl[side], want.tau_nm, atol=1e-9)
    np.testing.assert_allclose(rt.tau[other], want_idle, atol=1e-9)
    np.testing.assert_allclose(sim.arm_ctrl[other], want_idle, atol=1e-9)
    assert got_n == pytest.approx(want_n, rel=1e-9, abs=1e-9)
    for s, want_f in zip((side, other), want_grip, strict=True):
        a, b = sim.grip_index[s][:2]
        assert sim.ctrl[a] == sim.ctrl[b] == pytest.approx(want_f, abs=1e-12)


def test_no_estimate_without_a_valid_step() -> None:
    robot = _mid_task_robot(0.3)
    rt, sim = robot.runtime, robot.runtime.sim
    side = rt.active
    sim.arm_state(side)
    g = rt.ctx[side].goal
    got = arm_commands_kernel(g.pos_m, g.quat_wxyz, g.twist, np.zeros(6), False, 0.0, sim.time_s, *rt._tick_args[side])
    assert got == 0.0


def test_gripper_law_opens_to_the_gap_and_ramps_its_squeeze() -> None:
    row = np.zeros(4)
    row[G_OPEN_GAP], row[G_FORCE_LIMIT] = 0.08, 80.0
    # Open: a position loop on half the gap, clipped to 30 N either way.
    assert grip_force_kernel(row, 1.0, 0.08, 0.0) == pytest.approx(0.0)
    assert grip_force_kernel(row, 1.0, 0.02, 0.0) == 30.0
    assert grip_force_kernel(row, 1.0, 0.10, 0.0) == -30.0
    # Closing since t = 1 s: the cap rises linearly over 0.5 s from 2 % of the limit, the speed loop pushes closed.
    row[G_CLOSING], row[G_SINCE] = 1.0, 1.0
    assert grip_force_kernel(row, 1.0, 0.08, 0.0) == pytest.approx(-0.02 * 80.0)
    assert grip_force_kernel(row, 1.25, 0.05, 0.0) == pytest.approx(-40.0)
    assert grip_force_kernel(row, 3.0, 0.05, 0.0) == pytest.approx(-80.0)
    # Fingers already closing at the target speed: no push.
    assert grip_force_kernel(row, 3.0, 0.05, -0.3) == pytest.approx(0.0)


def test_grip_row_follows_the_gripper_command() -> None:
    robot = InProcessSimRobot(CFG, seed=1)
    ctx = robot.runtime.ctx["right"]
    robot.run_for(0.01)
    ctx.set_gripper("close")
    assert ctx.grip_row[G_CLOSING] == 1.0 and ctx.grip_row[G_SINCE] == pytest.approx(robot.runtime.sim.time_s)
    ctx.set_grip_force_limit(3.0)
    assert ctx.grip_row[G_FORCE_LIMIT] == 3.0 == ctx.gripper.force_limit_n
    ctx.set_gripper("open", open_gap_m=0.05)
    assert ctx.grip_row[G_CLOSING] == 0.0 and ctx.grip_row[G_OPEN_GAP] == pytest.approx(0.05)
