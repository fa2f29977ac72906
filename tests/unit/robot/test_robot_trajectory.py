"""Minimum-jerk segments respect speed and acceleration limits; ISO/TS 15066 PFL speeds."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from robot.kinematics import mat_to_quat, quat_to_mat, rot_z, rotation_error
from robot.trajectory import MinJerkSegment, pfl_speed_limit_m_per_s, robot_effective_mass_kg


@pytest.mark.parametrize(("dist", "vmax", "amax"), [(0.5, 0.68, 3.0), (0.05, 1.0, 3.0), (1.2, 0.3, 10.0)])
def test_min_jerk_hits_endpoints_within_limits(dist: float, vmax: float, amax: float) -> None:
    p0 = np.array([0.3, -0.2, 1.0])
    p1 = p0 + np.array([dist, 0.0, 0.0])
    seg = MinJerkSegment.plan(p0, mat_to_quat(np.eye(3)), p1, mat_to_quat(rot_z(0.5)), vmax, amax)
    ts = np.linspace(0.0, seg.duration_s, 2001)
    pos = np.array([seg.at(t).pos_m for t in ts])
    vel = np.array([seg.at(t).twist[:3] for t in ts])
    dt = ts[1] - ts[0]
    acc = np.diff(vel, axis=0) / dt
    assert np.allclose(pos[0], p0) and np.allclose(pos[-1], p1)
    assert np.allclose(vel[0], 0.0) and np.allclose(vel[-1], 0.0, atol=1e-9)
    assert np.abs(vel).max() <= vmax * 1.0001
    assert np.abs(acc).max() <= amax * 1.01
    # The feed-forward velocity is the derivative of the position.
    assert np.allclose(np.gradient(pos[:, 0], dt)[5:-5], vel[5:-5, 0], atol=1e-3)
    end = quat_to_mat(seg.at(seg.duration_s).quat_wxyz)
    assert np.linalg.norm(rotation_error(rot_z(0.5), end)) < 1e-9


def test_pfl_speed_follows_region_and_mass() -> None:
    m_r = robot_effective_mass_kg(12.7, 2.0)
    assert m_r == pytest.approx(8.35)
    hand = pfl_speed_limit_m_per_s("hand", m_r, 140.0)
    chest = pfl_speed_limit_m_per_s("chest", m_r, 140.0)
    face = pfl_speed_limit_m_per_s("face", m_r, 140.0)
    # v = F / sqrt(mu k): hand 140 N, 75 N/mm, 0.6 kg
    mu = 1.0 / (1.0 / 0.6 + 1.0 / m_r)
    assert hand == pytest.approx(140.0 / np.sqrt(mu * 75_000.0))
    assert face < chest < hand
    assert pfl_speed_limit_m_per_s("hand", m_r + 5.0, 140.0) < hand  # heavier payload, slower
    assert pfl_speed_limit_m_per_s("hand", m_r, 140.0, transient=True) == pytest.approx(2 * hand)
    assert pfl_speed_limit_m_per_s("hand", m_r, 70.0) == pytest.approx(hand / 2)  # configured limit is lower


def test_setpoint_orientation_is_the_slerp_mujoco_computes() -> None:
    """`at` writes the quaternion product out in scalars; it must equal mju_axisAngle2Quat + mju_mulQuat."""
    rng = np.random.default_rng(4)
    for _ in range(50):
        q0, q1 = (mat_to_quat(quat_to_mat(rng.normal(size=4) / 2.0)) for _ in range(2))
        p0, p1 = rng.normal(size=3), rng.normal(size=3)
        seg = MinJerkSegment.plan(p0, q0 / np.linalg.norm(q0), p1, q1 / np.linalg.norm(q1), 0.5, 3.0)
        for t in rng.uniform(-0.1, seg.duration_s + 0.1, 5):
            sp = seg.at(float(t))
            tau = min(max(t / seg.duration_s, 0.0), 1.0)
            s = tau**3 * (10.0 - 15.0 * tau + 6.0 * tau * tau)
            dq, want = np.empty(4), np.empty(4)
            mujoco.mju_axisAngle2Quat(dq, seg._axis, seg._angle * s)
            mujoco.mju_mulQuat(want, dq, seg.q0)
            assert np.allclose(sp.quat_wxyz, want, rtol=0.0, atol=1e-12)
            assert np.allclose(sp.pos_m, seg.p0 + s * (seg.p1 - seg.p0), rtol=0.0, atol=1e-12)
            assert np.allclose(sp.twist[3:], seg._axis * seg._angle * (sp.twist[0] / (seg.p1 - seg.p0)[0]), atol=1e-9)
