"""Cartesian impedance control law: a pure function of arm state, goal, gains and the last applied torque.

tau = J^T (K e - D (J dq - v_goal) + F_ff) + N (K_n (q_n - q) - D_n dq) + bias, with D = 2 zeta sqrt(K)
(libfranka's choice: unit-mass damping), N the nullspace projector of J, bias = qfrc_bias (gravity,
Coriolis and centrifugal terms from the model). The command is clipped to the joint torque limits, then
to the torque-rate limit around the last applied torque; the function returns what is actually applied.

This NumPy version is the reference. The 1 kHz tick runs the same law compiled (robot.control_kernel),
through `impedance_torque_fast` or the kernel itself; tests hold the two to 1e-9.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import mujoco
import numpy as np

from robot import control_kernel as ck


class ArmState(NamedTuple):
    q: np.ndarray  # (7,) rad
    dq: np.ndarray  # (7,) rad/s
    tcp_pos_m: np.ndarray  # (3,)
    tcp_rot: np.ndarray  # (3, 3) world from tool
    jac: np.ndarray  # (6, 7) [linear; angular] at the tool centre point
    bias_nm: np.ndarray  # (7,) qfrc_bias of the arm's DoFs


class ImpedanceGoal(NamedTuple):
    pos_m: np.ndarray  # (3,)
    quat_wxyz: np.ndarray  # (4,) world from tool
    twist: np.ndarray  # (6,) feed-forward tool velocity [m/s; rad/s]
    q_null_rad: np.ndarray  # (7,) posture the nullspace term pulls toward
    wrench_ff: np.ndarray  # (6,) feed-forward force/torque at the tool (payload weight)


@dataclass(frozen=True)
class ControlGains:
    k_trans_n_per_m: float
    k_rot_nm_per_rad: float
    damping_ratio: float
    k_null_nm_per_rad: float
    torque_limits_nm: np.ndarray
    torque_rate_limit_nm_per_s: float
    dt_s: float
    stiffness: np.ndarray = field(init=False, repr=False)
    damping: np.ndarray = field(init=False, repr=False)
    null_damping: float = field(init=False, repr=False)
    rate_step_nm: float = field(init=False, repr=False)
    packed: np.ndarray = field(init=False, repr=False)  # the same gains for the compiled kernels

    def __post_init__(self) -> None:
        k = np.array([self.k_trans_n_per_m] * 3 + [self.k_rot_nm_per_rad] * 3)
        object.__setattr__(self, "stiffness", k)
        object.__setattr__(self, "damping", 2.0 * self.damping_ratio * np.sqrt(k))
        object.__setattr__(self, "null_damping", 2.0 * self.damping_ratio * float(np.sqrt(self.k_null_nm_per_rad)))
        object.__setattr__(self, "rate_step_nm", self.torque_rate_limit_nm_per_s * self.dt_s)
        packed = ck.pack_params(
            self.stiffness,
            self.damping,
            self.k_null_nm_per_rad,
            self.null_damping,
            self.rate_step_nm,
            np.asarray(self.torque_limits_nm, dtype=float),
        )
        object.__setattr__(self, "packed", packed)


class ControlOutput(NamedTuple):
    tau_nm: np.ndarray  # applied after both limits
    tau_cmd_nm: np.ndarray  # before limits
    saturated: bool
    rate_limited: bool
    twist: np.ndarray  # measured tool velocity J dq, for the safety monitor
    error: np.ndarray  # (6,) pose error [m; rad]


def impedance_torque(
    state: ArmState, goal: ImpedanceGoal, gains: ControlGains, tau_prev_nm: np.ndarray
) -> ControlOutput:
    jac = state.jac
    e = np.empty(6)
    e[:3] = goal.pos_m - state.tcp_pos_m
    # Orientation error as a world-frame rotation vector, straight into e[3:] (C calls, no temporaries).
    q = np.empty(4)
    mujoco.mju_mat2Quat(q, state.tcp_rot.reshape(9))
    mujoco.mju_negQuat(q, q)
    qe = np.empty(4)
    mujoco.mju_mulQuat(qe, goal.quat_wxyz, q)
    mujoco.mju_quat2Vel(e[3:], qe, 1.0)
    v = jac @ state.dq
    f = gains.stiffness * e + gains.damping * (goal.twist - v) + goal.wrench_ff
    if gains.k_null_nm_per_rad > 0.0:
        # N t0 = t0 - J^T (J J^T)^-1 J t0 (kinematic projector): posture torques cannot move the tool.
        t0 = gains.k_null_nm_per_rad * (goal.q_null_rad - state.q) - gains.null_damping * state.dq
        jjt = jac @ jac.T
        jjt.flat[::7] += 1e-4
        mujoco.mju_cholFactor(jjt, 0.0)
        y = np.empty(6)
        mujoco.mju_cholSolve(y, jjt, jac @ t0)
        tau_cmd = jac.T @ (f - y) + t0 + state.bias_nm
    else:
        tau_cmd = jac.T @ f + state.bias_nm
    lim = gains.torque_limits_nm
    tau_sat = np.minimum(np.maximum(tau_cmd, -lim), lim)
    step = gains.rate_step_nm
    tau_out = np.minimum(np.maximum(tau_sat, tau_prev_nm - step), tau_prev_nm + step)
    return ControlOutput(
        tau_out,
        tau_cmd,
        bool((tau_sat != tau_cmd).any()),
        bool((tau_out != tau_sat).any()),
        v,
        e,
    )


def joint_hold_torque(
    q: np.ndarray,
    dq: np.ndarray,
    q_goal: np.ndarray,
    bias_nm: np.ndarray,
    kp_nm_per_rad: float,
    gains: ControlGains,
    tau_prev_nm: np.ndarray,
) -> np.ndarray:
    """Joint-space PD with gravity compensation for the arm that is not working; same limits apply."""
    tau = kp_nm_per_rad * (q_goal - q) - (2.0 * gains.damping_ratio * math.sqrt(kp_nm_per_rad)) * dq + bias_nm
    lim = gains.torque_limits_nm
    step = gains.rate_step_nm
    tau = np.minimum(np.maximum(tau, -lim), lim)
    return np.minimum(np.maximum(tau, tau_prev_nm - step), tau_prev_nm + step)


def impedance_torque_fast(
    state: ArmState, goal: ImpedanceGoal, gains: ControlGains, tau_prev_nm: np.ndarray, out: np.ndarray | None = None
) -> ControlOutput:
    """`impedance_torque` through the compiled kernel. The arrays of the result are views of `out`
    (`control_kernel.OUT_SIZE` floats, made here when not given): they change when `out` is used again."""
    if out is None:
        out = np.empty(ck.OUT_SIZE)
    flags = ck.impedance_kernel(*state, *goal, gains.packed, tau_prev_nm, out)
    return ControlOutput(
        out[ck.O_TAU : ck.O_TAU + 7],
        out[ck.O_CMD : ck.O_CMD + 7],
        bool(flags & ck.SATURATED),
        bool(flags & ck.RATE_LIMITED),
        out[ck.O_TWIST : ck.O_TWIST + 6],
        out[ck.O_ERR : ck.O_ERR + 6],
    )


def joint_hold_torque_fast(
    q: np.ndarray,
    dq: np.ndarray,
    q_goal: np.ndarray,
    bias_nm: np.ndarray,
    kp_nm_per_rad: float,
    gains: ControlGains,
    tau_prev_nm: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """`joint_hold_torque` through the compiled kernel, written into `out` (7 floats) and returned."""
    if out is None:
        out = np.empty(7)
    kd = 2.0 * gains.damping_ratio * math.sqrt(kp_nm_per_rad)
    ck.joint_hold_kernel(q, dq, q_goal, bias_nm, kp_nm_per_rad, kd, gains.packed, tau_prev_nm, out)
    return out


def warm_up() -> None:
    """Compile (or load from the on-disk cache) every kernel of robot.control_kernel for the array layouts
    the runtime passes, so that no tick of a control loop pays for it."""
    rng = np.random.default_rng(0)
    lim = np.full(7, 50.0)
    gains = ControlGains(1000.0, 100.0, 1.0, 10.0, lim, 1000.0, 0.001)
    wide = rng.normal(size=(6, 20))
    for jac in (wide[:, 3:10], np.ascontiguousarray(wide[:, 3:10])):  # a view into the model's Jacobian, or not
        st = ArmState(np.zeros(7), np.zeros(7), np.zeros(3), np.eye(3), jac, np.zeros(7))
        goal = ImpedanceGoal(np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0]), np.zeros(6), np.zeros(7), np.zeros(6))
        impedance_torque_fast(st, goal, gains, np.zeros(7))
    joint_hold_torque_fast(np.zeros(7), np.zeros(7), np.zeros(7), np.zeros(7), 100.0, gains, np.zeros(7))
    ck.warm_up_contacts()
    ck.warm_up_ik()
