"""The impedance control law on its own (pure function), then on the simulated arm."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from robot.config import RobotConfig
from robot.controller import (
    ArmState,
    ControlGains,
    ImpedanceGoal,
    impedance_torque,
    impedance_torque_fast,
    joint_hold_torque,
    joint_hold_torque_fast,
)
from robot.kinematics import mat_to_quat, quat_to_mat, rot_z, rotation_error, solve_ik
from robot.runtime import RobotRuntime
from robot.scene import TORQUE_LIMITS_NM, home_joint_positions
from robot.skills import move_to
from robot.trajectory import Setpoint

LIM = np.array(TORQUE_LIMITS_NM)


def _gains(k: float = 1500.0, rate: float = 1000.0, k_null: float = 10.0) -> ControlGains:
    return ControlGains(k, 150.0, 1.0, k_null, LIM, rate, 0.001)


def _state(rng: np.random.Generator, bias: np.ndarray | None = None) -> ArmState:
    jac = rng.normal(size=(6, 7))
    return ArmState(
        rng.normal(size=7),
        rng.normal(size=7) * 0.1,
        np.array([0.4, -0.2, 0.9]),
        np.eye(3),
        jac,
        np.zeros(7) if bias is None else bias,
    )


def _goal(st: ArmState, dp: np.ndarray | None = None) -> ImpedanceGoal:
    return ImpedanceGoal(
        st.tcp_pos_m + (np.zeros(3) if dp is None else dp),
        mat_to_quat(st.tcp_rot),
        np.zeros(6),
        st.q.copy(),
        np.zeros(6),
    )


def test_damping_follows_stiffness_and_ratio() -> None:
    g = ControlGains(1600.0, 100.0, 0.7, 9.0, LIM, 1000.0, 0.001)
    assert np.allclose(g.damping, 2 * 0.7 * np.sqrt([1600.0] * 3 + [100.0] * 3))
    assert g.null_damping == pytest.approx(2 * 0.7 * 3.0)


def test_at_rest_on_goal_the_torque_is_the_bias() -> None:
    rng = np.random.default_rng(1)
    bias = np.array([10.0, -20.0, 3.0, 5.0, 1.0, -1.0, 0.5])
    st = _state(rng, bias)._replace(dq=np.zeros(7))
    out = impedance_torque(st, _goal(st), _gains(), tau_prev_nm=bias)
    assert np.allclose(out.tau_nm, bias, atol=1e-9)
    assert not out.saturated and not out.rate_limited


def test_torque_saturation_and_rate_limit_hold() -> None:
    rng = np.random.default_rng(2)
    for _ in range(50):
        st = _state(rng)
        prev = rng.uniform(-LIM, LIM)
        out = impedance_torque(st, _goal(st, rng.normal(size=3)), _gains(k=20000.0), prev)
        assert np.all(np.abs(out.tau_nm) <= LIM + 1e-9)
        assert np.all(np.abs(out.tau_nm - prev) <= 1000.0 * 0.001 + 1e-9)
    # A large error saturates; the function reports it.
    st = _state(rng)
    out = impedance_torque(st, _goal(st, np.array([5.0, 5.0, 5.0])), _gains(k=20000.0, rate=1e9), np.zeros(7))
    assert out.saturated and np.any(np.abs(out.tau_nm) == LIM)


def test_nullspace_term_does_not_push_the_tool() -> None:
    rng = np.random.default_rng(3)
    st = _state(rng)._replace(dq=np.zeros(7))
    goal = _goal(st)._replace(q_null_rad=st.q + 0.5)
    out = impedance_torque(st, goal, _gains(rate=1e9), np.zeros(7))
    # tau = J^T F for some F exactly when it lies in the row space of J; the posture part must not.
    wrench, *_ = np.linalg.lstsq(st.jac.T, out.tau_nm, rcond=None)
    assert np.linalg.norm(st.jac.T @ wrench - out.tau_nm) > 1e-3  # posture torque present...
    # ...but it lies in the nullspace of J: no tool velocity, no tool force (projector damped by 1e-4).
    assert np.linalg.norm(st.jac @ out.tau_nm) < 1e-2 * np.linalg.norm(out.tau_nm)


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    return quat_to_mat(q / np.linalg.norm(q))


def test_compiled_law_gives_the_reference_torques() -> None:
    """The tick runs the compiled kernel; it must be the reference law to 1e-9, limits and flags included."""
    rng = np.random.default_rng(7)
    # Rotations of 170 degrees about each axis reach every branch of the matrix-to-quaternion conversion.
    turns = [mujoco_axis_rot(axis, np.radians(170.0)) for axis in np.eye(3)]
    flags = set()
    for i in range(600):
        wide = rng.normal(size=(6, 20))
        jac = wide[:, 4:11] if i % 2 else np.ascontiguousarray(wide[:, 4:11])  # a view of the model's Jacobian
        rot = turns[i % 3] if i % 4 == 0 else _random_rotation(rng)
        small = i % 5 < 2  # small errors and loads: inside the torque limits
        a = 0.01 if small else 1.0
        st = ArmState(rng.normal(size=7), rng.normal(size=7) * a, rng.normal(size=3), rot, jac, rng.normal(size=7) * a)
        goal = ImpedanceGoal(
            st.tcp_pos_m + rng.normal(size=3) * 0.01 * a,
            mat_to_quat(rot) if small else mat_to_quat(_random_rotation(rng)),
            rng.normal(size=6) * 0.1 * a,
            st.q + rng.normal(size=7) * a,
            rng.normal(size=6) * 5 * a,
        )
        gains = _gains(
            k=float(rng.uniform(100.0, 20000.0)), rate=[1000.0, 1e9][i % 2], k_null=[0.0, 10.0, 200.0][i % 3]
        )
        prev = rng.uniform(-LIM, LIM)
        if i % 7 < 3:  # the last torque close to this command: within the rate limit, or just outside it
            cmd = np.clip(impedance_torque(st, goal, gains, prev).tau_cmd_nm, -LIM, LIM)
            prev = cmd + rng.uniform(-1.5, 1.5, 7) * gains.rate_step_nm
        want = impedance_torque(st, goal, gains, prev)
        got = impedance_torque_fast(st, goal, gains, prev)
        for name, a, b in zip(want._fields, want, got, strict=True):
            if isinstance(a, bool):
                assert a == b, name
            else:
                assert np.allclose(a, b, rtol=0.0, atol=1e-9), name
        flags.add((want.saturated, want.rate_limited))
        hold = joint_hold_torque(st.q, st.dq, goal.q_null_rad, st.bias_nm, 300.0, gains, prev)
        assert np.allclose(joint_hold_torque_fast(st.q, st.dq, goal.q_null_rad, st.bias_nm, 300.0, gains, prev), hold)
    assert flags == {(False, False), (True, False), (False, True), (True, True)}  # every limit case was exercised


def mujoco_axis_rot(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    q = np.empty(4)
    mujoco.mju_axisAngle2Quat(q, axis, angle_rad)
    return quat_to_mat(q)


def test_tick_applies_the_reference_law_to_both_arms() -> None:
    rt = RobotRuntime(RobotConfig(), seed=0)
    sim = rt.sim
    pos, rot = sim.tcp("right")
    rt.ctx["right"].goal = Setpoint(pos + np.array([0.03, -0.02, 0.05]), mat_to_quat(rot_z(0.2) @ rot), np.zeros(6))
    for _ in range(3):
        st = ArmState(*(np.array(a, copy=True) for a in sim.arm_state("right")))
        g = rt.ctx["right"].goal
        want = impedance_torque(
            st,
            ImpedanceGoal(g.pos_m, g.quat_wxyz, g.twist, rt.ctx["right"].q_null, np.zeros(6)),
            rt.gains,
            rt.tau["right"].copy(),
        )
        left = sim.arm_views("left")
        hold = joint_hold_torque(
            left.q, left.dq, rt.hold_q["left"], left.bias_nm, 300.0, rt.gains, rt.tau["left"].copy()
        )
        rt.tick()
        assert np.allclose(rt.tau["right"], want.tau_nm, rtol=0.0, atol=1e-9)
        assert np.allclose(rt.tau["left"], hold, rtol=0.0, atol=1e-9)
        assert want.rate_limited  # a step in the goal: the torque-rate limit is what the arm gets first


def test_rotation_error_is_the_rotation_vector() -> None:
    r = rot_z(0.3)
    assert np.allclose(rotation_error(r, np.eye(3)), [0, 0, 0.3])
    assert np.allclose(quat_to_mat(mat_to_quat(r)), r)


@pytest.mark.parametrize(
    ("start_seed", "target", "yaw"),
    [
        (1, np.array([0.45, -0.05, 0.85]), 0.4),
        (2, np.array([0.30, -0.45, 0.95]), -0.3),
        (3, np.array([0.50, -0.25, 1.10]), 0.0),
    ],
)
def test_arm_converges_from_varied_poses_and_holds_against_gravity(
    start_seed: int, target: np.ndarray, yaw: float
) -> None:
    rt = RobotRuntime(RobotConfig(), seed=0)
    sim = rt.sim
    arm = sim.arms["right"]
    # Start from a perturbed posture, the controller already holding it (as after a previous motion).
    q0 = home_joint_positions("right") + np.random.default_rng(start_seed).uniform(-0.3, 0.3, 7)
    sim.d.qpos[arm.qpos] = np.clip(q0, arm.q_low, arm.q_high)
    mujoco.mj_forward(sim.m, sim.d)
    rt.tau["right"] = sim.d.qfrc_bias[arm.dof].copy()
    rt._hold_here("right")
    assert solve_ik(sim.m, sim.scratch, arm, target, rot_z(yaw), home_joint_positions("right")).ok
    motion = move_to(rt.ctx["right"], target, rot_z(yaw))
    for _ in range(4000):
        next(motion, None)
        rt.tick()
    pos, rot = sim.tcp("right")
    assert np.linalg.norm(pos - target) < 0.003
    assert np.linalg.norm(rotation_error(rot_z(yaw), rot)) < 0.02
    assert not rt.safety.stopped
    held = pos.copy()
    for _ in range(1000):
        rt.tick()
    pos, _ = sim.tcp("right")
    assert np.linalg.norm(pos - held) < 0.001
    assert all(v == 0 for v in sim.warnings().values())


def test_ik_solutions_put_the_tool_on_target_and_far_targets_are_refused() -> None:
    """The compiled IK iteration: an ok answer is checked by forward kinematics, independently of the solver."""
    rt = RobotRuntime(RobotConfig(), seed=0)
    sim = rt.sim
    arm = sim.arms["right"]
    rng = np.random.default_rng(9)
    solved = 0
    for _ in range(20):
        target = np.array([rng.uniform(0.3, 0.55), rng.uniform(-0.45, -0.05), rng.uniform(0.8, 1.1)])
        rot = rot_z(float(rng.uniform(-0.6, 0.6)))
        res = solve_ik(sim.m, sim.scratch, arm, target, rot, home_joint_positions("right"))
        if not res.ok:
            continue
        solved += 1
        assert np.all(res.q >= arm.q_low) and np.all(res.q <= arm.q_high)
        sim.scratch.qpos[arm.qpos] = res.q
        mujoco.mj_kinematics(sim.m, sim.scratch)
        assert np.linalg.norm(sim.scratch.site_xpos[arm.tcp_site] - target) < 0.004
        assert np.linalg.norm(rotation_error(rot, sim.scratch.site_xmat[arm.tcp_site].reshape(3, 3))) < 0.03
    assert solved >= 15
    far = solve_ik(sim.m, sim.scratch, arm, np.array([1.6, -0.3, 1.0]), rot_z(0.0), home_joint_positions("right"))
    assert not far.ok and far.position_error_m > 0.1
