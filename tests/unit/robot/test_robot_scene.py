"""Every scene variant compiles and steps without MuJoCo warnings; the robot model is plausible."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from robot.config import RobotConfig
from robot.runtime import RobotRuntime
from robot.scene import ARM_JOINTS, ARMS, PART_FAMILIES, TORQUE_LIMITS_NM, build_scene_xml
from robot.sim import CellSim


@pytest.mark.parametrize("hand_probe", [False, True])
def test_scene_compiles_and_steps_without_warnings(hand_probe: bool) -> None:
    rt = RobotRuntime(RobotConfig(), seed=0, hand_probe=hand_probe)
    for fam in PART_FAMILIES:
        rt.sim.spawn_part(fam, np.array([0.42, 0.0 if fam == "wheel" else 0.2]), 0.1, 3.0)
    for _ in range(1500):
        rt.tick()
    assert all(v == 0 for v in rt.sim.warnings().values()), rt.sim.warnings()
    assert not rt.safety.stopped
    # The wheel came to rest on the station exit surface (friction, gravity, contacts all sane).
    assert rt.sim.part_pose("wheel").pos_m[2] == pytest.approx(0.78, abs=0.005)


def test_robot_model_has_two_seven_dof_arms_with_limits_and_grippers() -> None:
    sim = CellSim()
    m = sim.m
    assert m.opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC and m.opt.impratio == 10
    for side in ARMS:
        arm = sim.arms[side]
        assert len(arm.qpos) == len(ARM_JOINTS) == 7
        assert np.all(arm.q_low < arm.q_high)
        for j in ARM_JOINTS:
            assert m.jnt_limited[m.joint(f"{side[0]}_{j}").id]
        ranges = np.array([m.actuator_ctrlrange[a] for a in arm.act])
        assert np.allclose(ranges[:, 1], TORQUE_LIMITS_NM)
        link_mass = sum(m.body_mass[b] for b in arm.body_ids)
        assert 8.0 < link_mass < 25.0
        assert np.all(m.body_inertia[list(arm.body_ids)] > 0)
    assert m.camera("head_cam").id >= 0
    for fam in PART_FAMILIES:
        assert 0.5 <= m.body_mass[sim.part_body[fam]] <= 5.0
    assert m.neq == 2 and all(m.eq_type[i] == mujoco.mjtEq.mjEQ_JOINT for i in range(m.neq))  # no welds


def test_xml_builds_for_other_timesteps() -> None:
    m = mujoco.MjModel.from_xml_string(build_scene_xml(timestep_s=0.0005))
    assert m.opt.timestep == 0.0005
