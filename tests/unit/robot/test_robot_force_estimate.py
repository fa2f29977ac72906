"""External force at the tool from the joint-torque residual (robot.force_estimate) against known pushes."""

from __future__ import annotations

import mujoco
import numpy as np

from robot.config import RobotConfig
from robot.runtime import RobotRuntime


def _push(rt: RobotRuntime, force_n: np.ndarray) -> None:
    """A person's steady push at the right tool centre point: a generalised force the robot cannot see."""
    sim = rt.sim
    d = sim.d
    d.qfrc_applied[:] = 0.0
    site = sim.arms["right"].tcp_site
    body = int(sim.m.site_bodyid[site])
    mujoco.mj_applyFT(sim.m, d, force_n, np.zeros(3), d.site_xpos[site].copy(), body, d.qfrc_applied)


def test_a_steady_push_at_the_tool_is_estimated_from_joint_torques() -> None:
    rt = RobotRuntime(RobotConfig(), seed=0)
    for _ in range(300):
        rt.tick()
    assert rt.safety.last_estimated_force_n < 1.0  # holding still: the model explains every joint torque
    push = np.array([30.0, -20.0, 50.0])
    for _ in range(1500):  # the compliant arm yields, then holds against the push
        _push(rt, push)
        rt.tick()
    est = rt.force_estimator.wrench[:3]
    assert np.linalg.norm(est - push) < 0.05 * np.linalg.norm(push), est
    assert rt.safety.last_force_n == 0.0  # no contact at all: only the estimate sees this push
    assert not rt.safety.stopped


def test_a_push_above_the_limit_stops_the_arm_by_the_estimate_alone() -> None:
    cfg = RobotConfig()
    rt = RobotRuntime(cfg, seed=0)
    for _ in range(100):
        rt.tick()
    for _ in range(300):
        _push(rt, np.array([0.0, 0.0, -1.2 * cfg.safety.contact_force_limit_n]))
        rt.tick()
    ev = rt.safety.active
    assert ev is not None and ev.category == 2 and "estimated from joint torques" in ev.reason
    assert rt.safety.peak_force_n == 0.0  # the contact sensing never saw it
    ok, why = rt.reset()
    assert not ok and "clear the contact" in why  # still pushed: reset refused
    rt.sim.d.qfrc_applied[:] = 0.0
    for _ in range(300):
        rt.tick()
    assert rt.reset()[0]
