"""The control laws of robot.controller, and the contact-force reading of robot.sim, compiled with Numba.

The NumPy law in robot.controller is the readable reference; these kernels compute the same torques
(tested to 1e-9) in one call each, with no NumPy temporaries: a tick of the NumPy law is some 35 small
array operations at about 0.5 us apiece, the kernel is about 1 us in all. They are pure apart from the
`out` buffer they fill, allocate nothing on the heap, and are compiled once and cached on disk
(`cache=True`); `warm_up()` compiles or loads them before a control loop starts.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit  # type: ignore[import-untyped]

# Layout of `params` (ControlGains.packed).
P_K = 0  # (6,) stiffness [N/m x3; Nm/rad x3]
P_D = 6  # (6,) damping
P_KNULL = 12
P_DNULL = 13
P_STEP = 14  # torque-rate limit times dt (Nm per tick)
P_LIM = 15  # (7,) joint torque limits
PARAMS_SIZE = 22
# Layout of `out` of impedance_kernel.
O_TAU = 0  # (7,) applied torque
O_CMD = 7  # (7,) commanded torque before both limits
O_TWIST = 14  # (6,) measured tool velocity J dq
O_ERR = 20  # (6,) pose error [m; rad]
O_POS_ERR = 26  # |position error| (m)
O_SPEED = 27  # |linear tool velocity| (m/s)
OUT_SIZE = 28
NULLSPACE_REG = 1e-4  # added to the diagonal of J J^T, as in the reference law

SATURATED = 1
RATE_LIMITED = 2


@njit(cache=True, nogil=True)
def _rotation_error(r: np.ndarray, gq: np.ndarray, e: np.ndarray) -> None:  # pragma: no cover - compiled
    """World-frame rotation vector from orientation `r` (3x3) to quaternion `gq`: mju_mat2Quat, conjugate,
    mju_mulQuat, mju_quat2Vel in one place (same formulas, so the same numbers)."""
    tr = r[0, 0] + r[1, 1] + r[2, 2]
    if tr > 0.0:
        w = 0.5 * math.sqrt(1.0 + tr)
        x = 0.25 * (r[2, 1] - r[1, 2]) / w
        y = 0.25 * (r[0, 2] - r[2, 0]) / w
        z = 0.25 * (r[1, 0] - r[0, 1]) / w
    elif r[0, 0] > r[1, 1] and r[0, 0] > r[2, 2]:
        x = 0.5 * math.sqrt(1.0 + r[0, 0] - r[1, 1] - r[2, 2])
        w = 0.25 * (r[2, 1] - r[1, 2]) / x
        y = 0.25 * (r[0, 1] + r[1, 0]) / x
        z = 0.25 * (r[0, 2] + r[2, 0]) / x
    elif r[1, 1] > r[2, 2]:
        y = 0.5 * math.sqrt(1.0 - r[0, 0] + r[1, 1] - r[2, 2])
        w = 0.25 * (r[0, 2] - r[2, 0]) / y
        x = 0.25 * (r[0, 1] + r[1, 0]) / y
        z = 0.25 * (r[1, 2] + r[2, 1]) / y
    else:
        z = 0.5 * math.sqrt(1.0 - r[0, 0] - r[1, 1] + r[2, 2])
        w = 0.25 * (r[1, 0] - r[0, 1]) / z
        x = 0.25 * (r[0, 2] + r[2, 0]) / z
        y = 0.25 * (r[1, 2] + r[2, 1]) / z
    n = math.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / n, -x / n, -y / n, -z / n  # normalised, conjugated
    a0, a1, a2, a3 = gq[0], gq[1], gq[2], gq[3]
    qw = a0 * w - a1 * x - a2 * y - a3 * z
    qx = a0 * x + a1 * w + a2 * z - a3 * y
    qy = a0 * y - a1 * z + a2 * w + a3 * x
    qz = a0 * z + a1 * y - a2 * x + a3 * w
    s = math.sqrt(qx * qx + qy * qy + qz * qz)
    if s < 1e-15:
        e[0] = e[1] = e[2] = 0.0
        return
    angle = 2.0 * math.atan2(s, qw)
    if angle > math.pi:
        angle -= 2.0 * math.pi
    k = angle / s
    e[0] = qx * k
    e[1] = qy * k
    e[2] = qz * k


@njit(cache=True, nogil=True)
def _jjt_solve(jac: np.ndarray, reg: float, b: np.ndarray) -> None:  # pragma: no cover - compiled
    """Solve (J J^T + reg I) x = b for a 6x7 J, in place in b: Cholesky in a 6x6 scratch, two substitutions."""
    a = np.empty((6, 6))
    for i in range(6):
        for k in range(i + 1):
            s = 0.0
            for j in range(7):
                s += jac[i, j] * jac[k, j]
            a[i, k] = s
        a[i, i] += reg
    for i in range(6):
        for k in range(i + 1):
            s = a[i, k]
            for m in range(k):
                s -= a[i, m] * a[k, m]
            if i == k:
                a[i, i] = math.sqrt(s)
            else:
                a[i, k] = s / a[k, k]
    for i in range(6):
        s = b[i]
        for m in range(i):
            s -= a[i, m] * b[m]
        b[i] = s / a[i, i]
    for i in range(5, -1, -1):
        s = b[i]
        for m in range(i + 1, 6):
            s -= a[m, i] * b[m]
        b[i] = s / a[i, i]


@njit(cache=True, nogil=True)
def _mul_j(jac: np.ndarray, v: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    for i in range(6):
        s = 0.0
        for j in range(7):
            s += jac[i, j] * v[j]
        out[i] = s


@njit(cache=True, nogil=True)
def impedance_kernel(
    q: np.ndarray,
    dq: np.ndarray,
    tcp_pos: np.ndarray,
    tcp_rot: np.ndarray,
    jac: np.ndarray,
    bias: np.ndarray,
    goal_pos: np.ndarray,
    goal_quat: np.ndarray,
    goal_twist: np.ndarray,
    q_null: np.ndarray,
    wrench_ff: np.ndarray,
    params: np.ndarray,
    tau_prev: np.ndarray,
    out: np.ndarray,
) -> int:  # pragma: no cover - compiled
    """robot.controller.impedance_torque compiled: fills `out` (layout O_*), returns SATURATED | RATE_LIMITED.

    Arguments in the order of ArmState, then ImpedanceGoal, then the gains (ControlGains.packed)."""
    e = out[O_ERR : O_ERR + 6]
    for i in range(3):
        e[i] = goal_pos[i] - tcp_pos[i]
    _rotation_error(tcp_rot, goal_quat, e[3:])
    f = np.empty(6)
    for i in range(6):
        v = 0.0
        for j in range(7):
            v += jac[i, j] * dq[j]
        out[O_TWIST + i] = v
        f[i] = params[P_K + i] * e[i] + params[P_D + i] * (goal_twist[i] - v) + wrench_ff[i]
    cmd = out[O_CMD : O_CMD + 7]
    k_null = params[P_KNULL]
    if k_null > 0.0:
        # N t0 = t0 - J^T (J J^T)^-1 J t0: posture torques cannot move the tool.
        d_null = params[P_DNULL]
        t0 = np.empty(7)
        for j in range(7):
            t0[j] = k_null * (q_null[j] - q[j]) - d_null * dq[j]
        b = np.empty(6)
        _mul_j(jac, t0, b)
        _jjt_solve(jac, NULLSPACE_REG, b)
        for i in range(6):
            f[i] -= b[i]
        for j in range(7):
            s = 0.0
            for i in range(6):
                s += jac[i, j] * f[i]
            cmd[j] = s + t0[j] + bias[j]
    else:
        for j in range(7):
            s = 0.0
            for i in range(6):
                s += jac[i, j] * f[i]
            cmd[j] = s + bias[j]
    step = params[P_STEP]
    flags = 0
    for j in range(7):
        lim = params[P_LIM + j]
        t = min(max(cmd[j], -lim), lim)
        if t != cmd[j]:
            flags |= SATURATED
        u = min(max(t, tau_prev[j] - step), tau_prev[j] + step)
        if u != t:
            flags |= RATE_LIMITED
        out[O_TAU + j] = u
    out[O_POS_ERR] = math.sqrt(e[0] * e[0] + e[1] * e[1] + e[2] * e[2])
    tw = out[O_TWIST : O_TWIST + 3]
    out[O_SPEED] = math.sqrt(tw[0] * tw[0] + tw[1] * tw[1] + tw[2] * tw[2])
    return flags


@njit(cache=True, nogil=True)
def joint_hold_kernel(
    q: np.ndarray,
    dq: np.ndarray,
    q_goal: np.ndarray,
    bias: np.ndarray,
    kp: float,
    kd: float,
    params: np.ndarray,
    tau_prev: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """robot.controller.joint_hold_torque compiled (kd = 2 zeta sqrt(kp) given): applied torque into out[:7].

    `out` may be `tau_prev` itself (an update in place): each joint reads its previous torque before writing."""
    step = params[P_STEP]
    for j in range(7):
        lim = params[P_LIM + j]
        t = kp * (q_goal[j] - q[j]) - kd * dq[j] + bias[j]
        t = min(max(t, -lim), lim)
        out[j] = min(max(t, tau_prev[j] - step), tau_prev[j] + step)


@njit(cache=True, nogil=True)
def contact_kernel(
    geom: np.ndarray,
    efc_address: np.ndarray,
    dim: np.ndarray,
    efc_force: np.ndarray,
    geom_class: np.ndarray,
    target: int,
    finger_a: int,
    finger_b: int,
    held: bool,
) -> tuple[float, int]:  # pragma: no cover - compiled
    """CellSim.contacts_reference compiled, for elliptic friction cones (where mj_contactForce is a copy
    of the contact's efc_force rows): (external force in N, fingers touching the target part)."""
    total = 0.0
    hits_a = False
    hits_b = False
    for i in range(geom.shape[0]):
        g1 = geom[i, 0]
        g2 = geom[i, 1]
        c1 = geom_class[g1]
        c2 = geom_class[g2]
        robot1 = c1 == -2
        robot2 = c2 == -2
        if robot1 and robot2:
            continue
        if (robot1 and c2 == target) or (robot2 and c1 == target):
            hits_a = hits_a or g1 == finger_a or g2 == finger_a
            hits_b = hits_b or g1 == finger_b or g2 == finger_b
            continue
        if robot1 or robot2 or (held and (c1 == target or c2 == target)):
            adr = efc_address[i]
            if adr < 0:
                continue
            f0 = efc_force[adr]
            if dim[i] >= 3:
                f1 = efc_force[adr + 1]
                f2 = efc_force[adr + 2]
                total += math.sqrt(f0 * f0 + f1 * f1 + f2 * f2)
            else:
                total += abs(f0)
    return total, int(hits_a) + int(hits_b)


@njit(cache=True, nogil=True)
def wrench_estimate_kernel(
    jac: np.ndarray,
    m_dq_step: np.ndarray,
    bias: np.ndarray,
    passive: np.ndarray,
    motor: np.ndarray,
    inv_dt: float,
    payload_weight_n: float,
    out: np.ndarray,
) -> float:  # pragma: no cover - compiled
    """External wrench at the tool from the joint-torque residual of the last step.

    tau_ext = M (dq_k - dq_k-1) / dt + bias - passive - motor; F solves (J J^T + reg I) F = J tau_ext (the
    least-squares wrench with J^T F = tau_ext); the held payload's weight is added back on z, since the
    controller carries it. Fills out[:6] with F [N; Nm], out[6] with |F[:3]|, and returns out[6].
    """
    r = np.empty(7)
    for j in range(7):
        r[j] = m_dq_step[j] * inv_dt + bias[j] - passive[j] - motor[j]
    b = np.empty(6)
    _mul_j(jac, r, b)
    _jjt_solve(jac, NULLSPACE_REG, b)
    b[2] += payload_weight_n
    for i in range(6):
        out[i] = b[i]
    out[6] = math.sqrt(b[0] * b[0] + b[1] * b[1] + b[2] * b[2])
    return out[6]


IK_ROT_WEIGHT = 0.3  # rad counted as 0.3 m in the IK's error, so position leads
IK_DAMPING = 1e-3
IK_MAX_STEP_RAD = 0.3


@njit(cache=True, nogil=True)
def ik_iteration_kernel(
    jac_pos: np.ndarray,
    jac_rot: np.ndarray,
    dof0: int,
    site_pos: np.ndarray,
    site_mat: np.ndarray,
    pos: np.ndarray,
    rot: np.ndarray,
    q: np.ndarray,
    q_low: np.ndarray,
    q_high: np.ndarray,
    tol_m: float,
    tol_rad: float,
    err: np.ndarray,
) -> bool:  # pragma: no cover - compiled
    """One damped-least-squares IK iteration at the site's current pose (robot.kinematics.ik_steps).

    Writes the position and rotation error norms into err[0:2]; True when both are within tolerance,
    else q steps (clipped to 0.3 rad and to the joint range) in place. The rotation error is
    kinematics.rotation_error written out (world frame, from the matrix logarithm).
    """
    e = np.empty(6)
    for i in range(3):
        e[i] = pos[i] - site_pos[i]
    # E = rot @ R^T, R = site_mat (row-major 3x3).
    E = np.empty((3, 3))
    for i in range(3):
        for k in range(3):
            E[i, k] = rot[i, 0] * site_mat[k * 3] + rot[i, 1] * site_mat[k * 3 + 1] + rot[i, 2] * site_mat[k * 3 + 2]
    vx = 0.5 * (E[2, 1] - E[1, 2])
    vy = 0.5 * (E[0, 2] - E[2, 0])
    vz = 0.5 * (E[1, 0] - E[0, 1])
    s = math.sqrt(vx * vx + vy * vy + vz * vz)
    c = 0.5 * (E[0, 0] + E[1, 1] + E[2, 2] - 1.0)
    if s < 1e-12:
        if c > 0:
            e[3] = e[4] = e[5] = 0.0
        else:
            i = 0
            for k in range(1, 3):
                if E[k, k] > E[i, i]:
                    i = k
            den = math.sqrt(2.0 * (1.0 + E[i, i]))
            for k in range(3):
                e[3 + k] = (E[k, i] + (1.0 if k == i else 0.0)) / den * math.pi
    else:
        ang = math.atan2(s, c) / s
        e[3] = vx * ang
        e[4] = vy * ang
        e[5] = vz * ang
    ep = math.sqrt(e[0] * e[0] + e[1] * e[1] + e[2] * e[2])
    er = math.sqrt(e[3] * e[3] + e[4] * e[4] + e[5] * e[5])
    err[0] = ep
    err[1] = er
    if ep < tol_m and er < tol_rad:
        return True
    j = np.empty((6, 7))
    for k in range(7):
        for i in range(3):
            j[i, k] = jac_pos[i, dof0 + k]
            j[3 + i, k] = jac_rot[i, dof0 + k] * IK_ROT_WEIGHT
    for i in range(3, 6):
        e[i] *= IK_ROT_WEIGHT
    # dq = J^T (J J^T + damping I)^-1 e
    y = e.copy()
    _jjt_solve(j, IK_DAMPING, y)
    dq = np.empty(7)
    big = 0.0
    for k in range(7):
        acc = 0.0
        for i in range(6):
            acc += j[i, k] * y[i]
        dq[k] = acc
        big = max(big, abs(acc))
    scale = IK_MAX_STEP_RAD / big if big > IK_MAX_STEP_RAD else 1.0
    for k in range(7):
        q[k] = min(max(q[k] + dq[k] * scale, q_low[k]), q_high[k])
    return False


def warm_up_contacts() -> None:
    """Compile contact_kernel for the layouts MuJoCo hands it: strided views into its contact records, which
    NumPy (and so Numba) call contiguous when there is a single contact."""
    records = np.zeros((3, 152), dtype=np.int32)  # 608-byte records, like mjContact
    cls = np.full(4, -1, dtype=np.int64)
    for n in (1, 3):
        contact_kernel(records[:n, 0:2], records[:n, 2], records[:n, 3], np.zeros(4), cls, -3, 0, 1, False)


def warm_up_ik() -> None:
    jac = np.zeros((3, 20))
    jac[:, 3:10] = np.eye(3, 7)
    q = np.zeros(7)
    lim = np.ones(7)
    site = np.zeros((2, 9))
    ik_iteration_kernel(jac, jac, 3, site[0, :3], site[0], np.ones(3), np.eye(3), q, -lim, lim, 1e-3, 1e-3, np.zeros(2))


def pack_params(
    stiffness: np.ndarray, damping: np.ndarray, k_null: float, d_null: float, step: float, lim: np.ndarray
) -> np.ndarray:
    p = np.empty(PARAMS_SIZE)
    p[P_K : P_K + 6] = stiffness
    p[P_D : P_D + 6] = damping
    p[P_KNULL] = k_null
    p[P_DNULL] = d_null
    p[P_STEP] = step
    p[P_LIM : P_LIM + 7] = lim
    return p
