"""Rotations, arm index bookkeeping, and a damped-least-squares IK used to refuse unreachable targets."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import mujoco
import numpy as np

from robot.control_kernel import ik_iteration_kernel
from robot.scene import ARM_JOINTS, TORQUE_LIMITS_NM


def quat_to_mat(q_wxyz: np.ndarray | tuple[float, ...]) -> np.ndarray:
    out = np.empty(9)
    mujoco.mju_quat2Mat(out, np.asarray(q_wxyz, dtype=float))
    return out.reshape(3, 3)


def mat_to_quat(r: np.ndarray) -> np.ndarray:
    out = np.empty(4)
    mujoco.mju_mat2Quat(out, np.ascontiguousarray(r, dtype=float).reshape(9))
    return out


def rot_z(yaw_rad: float) -> np.ndarray:
    c, s = np.cos(yaw_rad), np.sin(yaw_rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotation_error(r_goal: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Rotation vector (world frame, rad) that turns `r` into `r_goal`."""
    e = r_goal @ r.T
    v = 0.5 * np.array([e[2, 1] - e[1, 2], e[0, 2] - e[2, 0], e[1, 0] - e[0, 1]])
    s = float(np.linalg.norm(v))
    c = 0.5 * (e[0, 0] + e[1, 1] + e[2, 2] - 1.0)
    if s < 1e-12:
        if c > 0:
            return np.zeros(3)
        # Half a turn: any axis with e = 2 a a^T - I; take the largest diagonal.
        i = int(np.argmax(np.diag(e)))
        a = (e[:, i] + np.eye(3)[:, i]) / np.sqrt(2.0 * (1.0 + e[i, i]))
        return a * np.pi
    return v / s * float(np.arctan2(s, c))


def quat_error(q_goal: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Rotation vector (world frame, rad) from orientation matrix `r` to quaternion `q_goal`; C calls only."""
    q = np.empty(4)
    mujoco.mju_mat2Quat(q, r.reshape(9))
    mujoco.mju_negQuat(q, q)
    qe = np.empty(4)
    mujoco.mju_mulQuat(qe, q_goal, q)
    e = np.empty(3)
    mujoco.mju_quat2Vel(e, qe, 1.0)
    # quat2Vel returns the rotation in the frame of the quaternion product's left factor's parent: world here.
    return e


def slerp_mat(r0: np.ndarray, r1: np.ndarray, s: float) -> np.ndarray:
    w = rotation_error(r1, r0)
    if not w.any():
        return r0.copy()
    out = np.empty(4)
    mujoco.mju_axisAngle2Quat(out, w / np.linalg.norm(w), float(np.linalg.norm(w)) * s)
    return quat_to_mat(out) @ r0


def tool_down(yaw_rad: float) -> np.ndarray:
    """Tool orientation for a top grasp: tool axis straight down, fingers closing along the rotated y."""
    return rot_z(yaw_rad)


@dataclass(frozen=True)
class ArmIndex:
    """Where one arm's joints, DoFs, actuators, tool site and fingers live in the model."""

    side: str
    qpos: np.ndarray
    dof: np.ndarray
    act: np.ndarray
    grip_act: tuple[int, int]
    finger_qpos: tuple[int, int]
    finger_dof: tuple[int, int]
    tcp_site: int
    finger_geoms: tuple[int, int]
    body_ids: frozenset[int]
    torque_limits_nm: np.ndarray
    q_low: np.ndarray
    q_high: np.ndarray

    @staticmethod
    def of(m: mujoco.MjModel, side: str) -> ArmIndex:
        p = side[0]
        jids = [m.joint(f"{p}_{j}").id for j in ARM_JOINTS]
        fa, fb = m.joint(f"{p}_finger_a").id, m.joint(f"{p}_finger_b").id
        bodies = {m.body(f"{p}_{b}").id for b in ("shoulder1", "shoulder2", "upper_arm", "forearm", "wrist1")}
        bodies |= {m.body(f"{p}_{b}").id for b in ("wrist2", "hand", "finger_a", "finger_b")}
        return ArmIndex(
            side=side,
            qpos=np.array([m.jnt_qposadr[j] for j in jids]),
            dof=np.array([m.jnt_dofadr[j] for j in jids]),
            act=np.array([m.actuator(f"{p}_{j}").id for j in ARM_JOINTS]),
            grip_act=(m.actuator(f"{p}_grip_a").id, m.actuator(f"{p}_grip_b").id),
            finger_qpos=(int(m.jnt_qposadr[fa]), int(m.jnt_qposadr[fb])),
            finger_dof=(int(m.jnt_dofadr[fa]), int(m.jnt_dofadr[fb])),
            tcp_site=m.site(f"{p}_tcp").id,
            finger_geoms=(
                int(m.body_geomadr[m.body(f"{p}_finger_a").id]),
                int(m.body_geomadr[m.body(f"{p}_finger_b").id]),
            ),
            body_ids=frozenset(bodies),
            torque_limits_nm=np.array(TORQUE_LIMITS_NM),
            q_low=np.array([m.jnt_range[j][0] for j in jids]),
            q_high=np.array([m.jnt_range[j][1] for j in jids]),
        )


@dataclass(frozen=True)
class IkResult:
    ok: bool
    q: np.ndarray
    position_error_m: float
    rotation_error_rad: float


def ik_steps(
    m: mujoco.MjModel,
    scratch: mujoco.MjData,
    arm: ArmIndex,
    pos: np.ndarray,
    rot: np.ndarray,
    q_start: np.ndarray,
    iterations: int = 200,
    tol_m: float = 0.004,
    tol_rad: float = 0.03,
    per_yield: int = 3,
) -> Generator[None, None, IkResult]:
    """Damped least squares inside the joint limits, on a scratch MjData (the live one is never touched).

    A generator that yields every `per_yield` iterations, so the 1 kHz loop can spread the solve over ticks.
    """
    q = np.clip(q_start.astype(float).copy(), arm.q_low, arm.q_high)
    jp = np.zeros((3, m.nv))
    jr = np.zeros((3, m.nv))
    err = np.full(2, np.inf)
    qs = slice(int(arm.qpos[0]), int(arm.qpos[0]) + 7)  # an arm's joints are contiguous (CellSim checks)
    dof0 = int(arm.dof[0])
    site_pos, site_mat = scratch.site_xpos[arm.tcp_site], scratch.site_xmat[arm.tcp_site]
    rot = np.ascontiguousarray(rot, dtype=float)
    pos = np.asarray(pos, dtype=float)
    for it in range(iterations):
        if it and it % per_yield == 0:
            yield
        scratch.qpos[qs] = q
        mujoco.mj_kinematics(m, scratch)
        mujoco.mj_comPos(m, scratch)
        mujoco.mj_jacSite(m, scratch, jp, jr, arm.tcp_site)
        # Error, then (unless within tolerance) one damped-least-squares step on q, compiled.
        if ik_iteration_kernel(
            jp, jr, dof0, site_pos, site_mat, pos, rot, q, arm.q_low, arm.q_high, tol_m, tol_rad, err
        ):
            return IkResult(True, q, float(err[0]), float(err[1]))
    ep, er = float(err[0]), float(err[1])
    return IkResult(False, q, ep, er)


def solve_ik(
    m: mujoco.MjModel,
    scratch: mujoco.MjData,
    arm: ArmIndex,
    pos: np.ndarray,
    rot: np.ndarray,
    q_start: np.ndarray,
    iterations: int = 200,
) -> IkResult:
    gen = ik_steps(m, scratch, arm, pos, rot, q_start, iterations)
    while True:
        try:
            next(gen)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
