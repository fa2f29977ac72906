"""Minimum-jerk Cartesian segments with speed and acceleration limits, and the ISO/TS 15066 PFL speed limit."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from robot.kinematics import quat_error, quat_to_mat

# ISO/TS 15066 Annex A: quasi-static force limit (N), effective spring constant (N/mm), effective mass (kg).
BODY_REGIONS: dict[str, tuple[float, float, float]] = {
    "skull": (130.0, 150.0, 4.4),
    "face": (65.0, 75.0, 4.4),
    "chest": (140.0, 25.0, 40.0),
    "upper_arm": (150.0, 30.0, 3.0),
    "forearm": (160.0, 40.0, 2.0),
    "hand": (140.0, 75.0, 0.6),
}
# Peak velocity and acceleration of s(t) = 10t^3 - 15t^4 + 6t^5 on a unit path over unit time.
_MJ_PEAK_VEL = 1.875
_MJ_PEAK_ACC = 10.0 / math.sqrt(3.0)


def pfl_speed_limit_m_per_s(
    body_region: str, robot_effective_mass_kg: float, force_limit_n: float, transient: bool = False
) -> float:
    """Largest relative speed whose contact energy stays within the force limit (ISO/TS 15066 eq. A.6).

    v = F / sqrt(mu k), mu = (1/m_H + 1/m_R)^-1. With `transient`, the limit doubles (Annex A); the default
    uses the quasi-static limit, so a contact at this speed never exceeds the configured force.
    """
    f_region, k_n_per_mm, m_h = BODY_REGIONS[body_region]
    f = min(force_limit_n, f_region) * (2.0 if transient else 1.0)
    mu = 1.0 / (1.0 / m_h + 1.0 / robot_effective_mass_kg)
    return f / math.sqrt(mu * k_n_per_mm * 1000.0)


def robot_effective_mass_kg(moving_mass_kg: float, payload_kg: float) -> float:
    """ISO/TS 15066 A.3: m_R = M/2 + m_L."""
    return moving_mass_kg / 2.0 + payload_kg


class Setpoint(NamedTuple):
    pos_m: np.ndarray
    quat_wxyz: np.ndarray
    twist: np.ndarray  # (6,) [m/s; rad/s]


@dataclass(frozen=True)
class MinJerkSegment:
    """Straight line with slerped orientation on a shared min-jerk time scaling."""

    p0: np.ndarray
    p1: np.ndarray
    q0: np.ndarray  # (4,) wxyz
    q1: np.ndarray
    duration_s: float
    _axis: np.ndarray = field(repr=False)
    _angle: float = field(repr=False)
    # The same numbers as Python floats: `at` runs every tick, and float arithmetic on a handful of
    # scalars costs less than the dozen small NumPy operations it replaces.
    _f: tuple[float, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        f = (*self.p0.tolist(), *(self.p1 - self.p0).tolist(), *self.q0.tolist(), *self._axis.tolist())
        object.__setattr__(self, "_f", f)

    @staticmethod
    def plan(
        p0: np.ndarray,
        q0: np.ndarray,
        p1: np.ndarray,
        q1: np.ndarray,
        max_speed_m_per_s: float,
        max_accel_m_per_s2: float,
        max_ang_speed_rad_per_s: float = 1.5,
        min_duration_s: float = 0.05,
    ) -> MinJerkSegment:
        dist = float(np.linalg.norm(p1 - p0))
        w = quat_error(q1, quat_to_mat(q0))
        ang = float(np.linalg.norm(w))
        t = max(
            min_duration_s,
            _MJ_PEAK_VEL * dist / max_speed_m_per_s,
            math.sqrt(_MJ_PEAK_ACC * dist / max_accel_m_per_s2),
            _MJ_PEAK_VEL * ang / max_ang_speed_rad_per_s,
        )
        axis = w / ang if ang > 1e-9 else np.array([0.0, 0.0, 1.0])
        return MinJerkSegment(p0.copy(), p1.copy(), q0.copy(), q1.copy(), t, axis, ang)

    def at(self, t_s: float) -> Setpoint:
        tau = min(max(t_s / self.duration_s, 0.0), 1.0)
        s = tau**3 * (10.0 - 15.0 * tau + 6.0 * tau * tau)
        ds = 30.0 * tau * tau * (1.0 - tau) ** 2 / self.duration_s
        px, py, pz, dx, dy, dz, w0, x0, y0, z0, ax, ay, az = self._f
        angle = self._angle
        if angle > 0.0:
            # mju_axisAngle2Quat then mju_mulQuat(dq, q0), written out.
            h = 0.5 * angle * s
            c, sn = math.cos(h), math.sin(h)
            dw, dxq, dyq, dzq = c, ax * sn, ay * sn, az * sn
            q = (
                dw * w0 - dxq * x0 - dyq * y0 - dzq * z0,
                dw * x0 + dxq * w0 + dyq * z0 - dzq * y0,
                dw * y0 - dxq * z0 + dyq * w0 + dzq * x0,
                dw * z0 + dxq * y0 - dyq * x0 + dzq * w0,
            )
        else:
            q = tuple(self.q1.tolist())
        wv = ds * angle
        buf = np.array(
            (px + s * dx, py + s * dy, pz + s * dz, *q, ds * dx, ds * dy, ds * dz, ax * wv, ay * wv, az * wv)
        )
        return Setpoint(buf[0:3], buf[3:7], buf[7:13])

    @property
    def end(self) -> Setpoint:
        return Setpoint(self.p1, self.q1, np.zeros(6))

    def peak_speed_m_per_s(self) -> float:
        return _MJ_PEAK_VEL * float(np.linalg.norm(self.p1 - self.p0)) / self.duration_s

    def peak_accel_m_per_s2(self) -> float:
        return _MJ_PEAK_ACC * float(np.linalg.norm(self.p1 - self.p0)) / self.duration_s**2
