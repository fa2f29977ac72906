"""The numeric part of a control tick in one compiled call: both arms' torques, both grippers, the force estimate.

On this kind of machine a 1 kHz loop resumes every millisecond on cold caches, and every Python operation in the
tick then costs 2-3x its warm price; the fewer there are, the shorter the tick. Before this kernel the tick made
some twenty calls for the numbers alone (impedance law, wrench estimate, idle-arm hold, two gripper laws, four
writes into MjData); now it makes one. The laws are the same compiled functions of robot.control_kernel, and the
gripper law lives here (SkillContext.grip_force_command_n calls it); the kernel only strings them together and
writes the commands into MjData's ctrl. What needs the interpreter (skills, safety decisions, brakes) stays out.
"""

from __future__ import annotations

import numpy as np
from numba import njit  # type: ignore[import-untyped]

from robot.control_kernel import O_TAU, impedance_kernel, joint_hold_kernel, wrench_estimate_kernel

# Layout of a gripper row (SkillContext.grip_row): the gripper command the skills set.
G_CLOSING = 0  # 1.0 while closing on a part, 0.0 open
G_OPEN_GAP = 1  # m, how far "open" opens
G_FORCE_LIMIT = 2  # N
G_SINCE = 3  # s, when the mode last changed
GRIP_ROW_SIZE = 4
# Layout of a gripper index row: where one arm's gripper lives in MjData.
I_ACT_A = 0  # the two finger actuators (coupled fingers: the same force on each)
I_ACT_B = 1
I_FINGER_Q_A = 2  # the two finger joints in qpos (the gap is their sum)
I_FINGER_Q_B = 3
I_FINGER_DOF = 4  # the first finger's DoF in qvel (the speed loop's measurement)
GRIP_INDEX_SIZE = 5

CLOSE_RAMP_S = 0.5  # grip force rises over this time: fast closing makes heavy parts slip (FIELD_NOTES)
FINGER_CLOSE_SPEED_M_PER_S = 0.3


@njit(cache=True, nogil=True)
def grip_force_kernel(
    grip: np.ndarray, now_s: float, gap_m: float, speed_m_per_s: float
) -> float:  # pragma: no cover - compiled
    """Finger force for this tick (positive opens, negative closes). Open: a position loop on the finger stroke,
    force-limited, that opens to the requested gap and stays there. Closing: a speed loop whose force cap ramps
    up over CLOSE_RAMP_S and that saturates once the pads stall on the part, so the squeeze equals the cap."""
    if grip[G_CLOSING] == 0.0:
        q = 0.5 * gap_m
        return max(-30.0, min(30.0, 3000.0 * (0.5 * grip[G_OPEN_GAP] - q) - 60.0 * speed_m_per_s))
    cap = grip[G_FORCE_LIMIT] * min(1.0, max(0.02, (now_s - grip[G_SINCE]) / CLOSE_RAMP_S))
    return max(-cap, min(cap, 400.0 * (-FINGER_CLOSE_SPEED_M_PER_S - speed_m_per_s)))


@njit(cache=True, nogil=True)
def _grip(
    ctrl: np.ndarray, qpos: np.ndarray, qvel: np.ndarray, idx: np.ndarray, grip: np.ndarray, now_s: float
) -> None:  # pragma: no cover - compiled
    gap = qpos[idx[I_FINGER_Q_A]] + qpos[idx[I_FINGER_Q_B]]
    f = grip_force_kernel(grip, now_s, gap, qvel[idx[I_FINGER_DOF]])
    ctrl[idx[I_ACT_A]] = f
    ctrl[idx[I_ACT_B]] = f


@njit(cache=True, nogil=True)
def arm_commands_kernel(
    goal_pos: np.ndarray,
    goal_quat: np.ndarray,
    goal_twist: np.ndarray,
    wrench_ff: np.ndarray,
    est_valid: bool,
    payload_weight_n: float,
    now_s: float,
    q: np.ndarray,
    dq: np.ndarray,
    tcp_pos: np.ndarray,
    tcp_rot: np.ndarray,
    jac: np.ndarray,
    bias: np.ndarray,
    q_null: np.ndarray,
    params: np.ndarray,
    tau: np.ndarray,
    out: np.ndarray,
    m_dq_step: np.ndarray,
    passive: np.ndarray,
    motor: np.ndarray,
    inv_dt: float,
    wrench: np.ndarray,
    idle_q: np.ndarray,
    idle_dq: np.ndarray,
    idle_hold_q: np.ndarray,
    idle_bias: np.ndarray,
    idle_kp: float,
    idle_kd: float,
    idle_tau: np.ndarray,
    ctrl: np.ndarray,
    act_ctrl: np.ndarray,
    idle_ctrl: np.ndarray,
    qpos: np.ndarray,
    qvel: np.ndarray,
    grip_index: np.ndarray,
    grip: np.ndarray,
    idle_grip_index: np.ndarray,
    idle_grip: np.ndarray,
) -> float:  # pragma: no cover - compiled
    """One tick's commands; returns the estimated |F| at the tool (0 when `est_valid` is False).

    The arguments that change every tick come first; the rest are the same arrays (views into MjData and the
    runtime's buffers) every tick that the same arm works: `RobotRuntime` builds that tail once per arm.

    Active arm: the impedance law into `out` (robot.control_kernel layout), its applied torque into `tau` and the
    arm's ctrl. Force estimate: the wrench of the last step into `wrench` (m_dq_step = M (dq_k - dq_k-1), made by
    the caller). Idle arm: the joint hold, updated in place in `idle_tau` and its ctrl. Grippers: each arm's
    command row (G_* layout) and index row (I_* layout) give its two finger forces in ctrl.
    """
    impedance_kernel(q, dq, tcp_pos, tcp_rot, jac, bias, goal_pos, goal_quat, goal_twist, q_null, wrench_ff, params,
                     tau, out)  # fmt: skip
    est_n = 0.0
    if est_valid:
        est_n = wrench_estimate_kernel(jac, m_dq_step, bias, passive, motor, inv_dt, payload_weight_n, wrench)
    for j in range(7):
        tau[j] = out[O_TAU + j]
        act_ctrl[j] = tau[j]
    _grip(ctrl, qpos, qvel, grip_index, grip, now_s)
    joint_hold_kernel(idle_q, idle_dq, idle_hold_q, idle_bias, idle_kp, idle_kd, params, idle_tau, idle_tau)
    for j in range(7):
        idle_ctrl[j] = idle_tau[j]
    _grip(ctrl, qpos, qvel, idle_grip_index, idle_grip, now_s)
    return est_n
