"""The MuJoCo cell: model and data, part feeder, contact-force sensing and simulated part localisation."""

from __future__ import annotations

import math
from typing import NamedTuple

import mujoco
import numpy as np

from robot.control_kernel import contact_kernel
from robot.controller import ArmState
from robot.kinematics import ArmIndex
from robot.scene import ARMS, LAYOUT, PART_FAMILIES, build_scene_xml, home_joint_positions, part_half_height_m

PARK_POSITIONS = {"wheel": (-0.8, 0.9), "housing": (-0.8, -0.9)}


class PartPose(NamedTuple):
    pos_m: np.ndarray
    yaw_rad: float
    upright: bool  # tool-down grasp possible (part's z axis within 25 degrees of vertical)


class ContactReading(NamedTuple):
    external_n: float  # contact force on the robot and its held part from everything else
    finger_part_contacts: int  # fingers touching the target part (0, 1, 2)


class CellSim:
    """Owns MjModel/MjData. Nothing else writes to the data, so one step = one control tick."""

    def __init__(self, hand_probe: bool = False, timestep_s: float = 0.001) -> None:
        self.xml = build_scene_xml(hand_probe=hand_probe, timestep_s=timestep_s)
        self.m = mujoco.MjModel.from_xml_string(self.xml)
        self.d = mujoco.MjData(self.m)
        self.scratch = mujoco.MjData(self.m)
        self.arms = {side: ArmIndex.of(self.m, side) for side in ARMS}
        self.part_body = {f: self.m.body(f"part_{f}").id for f in PART_FAMILIES}
        self.part_qpos = {f: int(self.m.jnt_qposadr[self.m.joint(f"part_{f}").id]) for f in PART_FAMILIES}
        self.part_dof = {f: int(self.m.jnt_dofadr[self.m.joint(f"part_{f}").id]) for f in PART_FAMILIES}
        self._base_inertia = {f: self.m.body_inertia[b].copy() for f, b in self.part_body.items()}
        self._base_mass = {f: float(self.m.body_mass[b]) for f, b in self.part_body.items()}
        robot_bodies: set[int] = {self.m.body("torso").id, self.m.body("head").id}
        for a in self.arms.values():
            robot_bodies |= a.body_ids
        # Each arm's joints are contiguous in qpos/qvel: slices avoid fancy-index copies in the 1 kHz loop.
        self.qpos_slice = {k: slice(int(a.qpos[0]), int(a.qpos[0]) + 7) for k, a in self.arms.items()}
        self.dof_slice = {k: slice(int(a.dof[0]), int(a.dof[0]) + 7) for k, a in self.arms.items()}
        self._qs, self._ds = self.qpos_slice, self.dof_slice
        for a in self.arms.values():
            assert list(a.qpos) == list(range(a.qpos[0], a.qpos[0] + 7)), "arm joints must be contiguous"
            assert list(a.dof) == list(range(a.dof[0], a.dof[0] + 7)), "arm DoFs must be contiguous"
            assert list(a.act) == list(range(a.act[0], a.act[0] + 7)), "arm actuators must be contiguous"
        # Per geom: -1 environment, -2 robot, else the part body id (so a part's contacts can be told apart).
        cls = np.full(self.m.ngeom, -1, dtype=int)
        for g in range(self.m.ngeom):
            b = int(self.m.geom_bodyid[g])
            if b in robot_bodies:
                cls[g] = -2
            elif b in self.part_body.values():
                cls[g] = b
        self._geom_class = cls.tolist()
        self._geom_class_arr = cls.astype(np.int64)
        if self.m.opt.cone != mujoco.mjtCone.mjCONE_ELLIPTIC:
            raise ValueError("the cell needs elliptic friction cones (grasps, and the compiled contact reading)")
        self._f6 = np.zeros(6)
        # Per arm, the state the controller reads as views into MjData (no copies per tick), and a
        # (6, nv) Jacobian buffer that mj_jacSite fills in place; the arm's 7 columns are a view of it.
        d = self.d
        self._jac_full = {side: np.zeros((6, self.m.nv)) for side in ARMS}
        self._arm_views = {
            side: ArmState(
                d.qpos[self._qs[side]],
                d.qvel[self._ds[side]],
                d.site_xpos[a.tcp_site],
                d.site_xmat[a.tcp_site].reshape(3, 3),
                self._jac_full[side][:, self._ds[side]],
                d.qfrc_bias[self._ds[side]],
            )
            for side, a in self.arms.items()
        }
        self._jac_rows = {side: (j[:3], j[3:]) for side, j in self._jac_full.items()}
        self._tcp_site = {side: a.tcp_site for side, a in self.arms.items()}
        # The finger indices; MjData's arrays are held once below (each attribute access makes a new array object).
        self._finger_qpos = {side: a.finger_qpos for side, a in self.arms.items()}
        self._finger_dof0 = {side: a.finger_dof[0] for side, a in self.arms.items()}
        # For the compiled tick (robot.tick_kernel), the only writer of commands: the whole ctrl/qpos/qvel, each
        # arm's ctrl view, and where each gripper's actuators and finger joints are (I_* layout).
        self.ctrl, self.qpos, self.qvel = d.ctrl, d.qpos, d.qvel
        self.arm_ctrl = {side: d.ctrl[int(a.act[0]) : int(a.act[0]) + 7] for side, a in self.arms.items()}
        self.grip_index = {
            side: np.array([*a.grip_act, *a.finger_qpos, a.finger_dof[0]], dtype=np.int64)
            for side, a in self.arms.items()
        }
        self.arm_moving_mass_kg = float(sum(self.m.body_mass[b] for b in self.arms["right"].body_ids))
        for side, a in self.arms.items():
            self.d.qpos[a.qpos] = home_joint_positions(side)
        for fam in PART_FAMILIES:
            self.park(fam)
        mujoco.mj_forward(self.m, self.d)

    # --- time and actuation -------------------------------------------------------------------------
    @property
    def time_s(self) -> float:
        return float(self.d.time)

    def step(self) -> None:
        mujoco.mj_step(self.m, self.d)

    def finger_gap_m(self, side: str) -> float:
        a, b = self._finger_qpos[side]
        q = self.qpos
        return float(q[a] + q[b])

    def finger_speed_m_per_s(self, side: str) -> float:
        return float(self.qvel[self._finger_dof0[side]])

    # --- state ---------------------------------------------------------------------------------------
    def arm_state(self, side: str) -> ArmState:
        """The arm's state for the controller, with its Jacobian brought up to date.

        Every array is a view into the simulation (the Jacobian into a buffer of this object): read it
        before the next step, copy what must outlive the tick. No allocation, one MuJoCo call.
        """
        jp, jr = self._jac_rows[side]
        mujoco.mj_jacSite(self.m, self.d, jp, jr, self._tcp_site[side])
        return self._arm_views[side]

    def arm_views(self, side: str) -> ArmState:
        """The same views without refreshing the Jacobian (for the joint-space hold of the idle arm)."""
        return self._arm_views[side]

    def joint_positions(self) -> np.ndarray:
        return np.concatenate([self.d.qpos[a.qpos] for a in self.arms.values()])

    def tcp(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        a = self.arms[side]
        return self.d.site_xpos[a.tcp_site].copy(), self.d.site_xmat[a.tcp_site].reshape(3, 3).copy()

    def warnings(self) -> dict[str, int]:
        """Counts of MuJoCo's own warnings (contact buffer full, bad qacc, ...) since the data was made."""
        names = {int(v): k for k, v in mujoco.mjtWarning.__members__.items()}
        return {names.get(i, str(i)): int(w.number) for i, w in enumerate(self.d.warning) if i in names}

    # --- part feeder ---------------------------------------------------------------------------------
    def park(self, family: str) -> None:
        """Take the part out of the cell: it floats out of reach with collisions off (no solver work)."""
        x, y = PARK_POSITIONS[family]
        self._set_active(family, False)
        self._place(family, np.array([x, y, 0.5]), 0.0)

    def _set_active(self, family: str, active: bool) -> None:
        b = self.part_body[family]
        self.m.body_gravcomp[b] = 0.0 if active else 1.0
        for g in range(int(self.m.body_geomadr[b]), int(self.m.body_geomadr[b] + self.m.body_geomnum[b])):
            self.m.geom_contype[g] = 4 if active else 0
            self.m.geom_conaffinity[g] = 7 if active else 0

    def spawn_part(self, family: str, xy_m: np.ndarray, yaw_rad: float, mass_kg: float) -> None:
        """Put the part on the station-exit surface, as the X-ray station's out-feed would."""
        b = self.part_body[family]
        scale = mass_kg / self._base_mass[family]
        self.m.body_mass[b] = mass_kg
        self.m.body_inertia[b] = self._base_inertia[family] * scale
        z = LAYOUT.station_surface_z_m + part_half_height_m(family) + 0.001
        self._set_active(family, True)
        self._place(family, np.array([xy_m[0], xy_m[1], z]), yaw_rad)
        mujoco.mj_forward(self.m, self.d)

    def _place(self, family: str, pos: np.ndarray, yaw_rad: float) -> None:
        i = self.part_qpos[family]
        self.d.qpos[i : i + 3] = pos
        self.d.qpos[i + 3 : i + 7] = (np.cos(yaw_rad / 2), 0.0, 0.0, np.sin(yaw_rad / 2))
        j = self.part_dof[family]
        self.d.qvel[j : j + 6] = 0.0

    def part_pose(self, family: str) -> PartPose:
        b = self.part_body[family]
        r = self.d.xmat[b].reshape(3, 3)
        yaw = float(np.arctan2(r[1, 0], r[0, 0]))
        return PartPose(self.d.xpos[b].copy(), yaw, bool(r[2, 2] > np.cos(np.radians(25.0))))

    def part_speed_m_per_s(self, family: str) -> float:
        j = self.part_dof[family]
        return float(np.linalg.norm(self.d.qvel[j : j + 3]))

    def locate_part(self, family: str, rng: np.random.Generator, noise_m: float, noise_rad: float) -> PartPose:
        """Simulated localisation by the head camera: the true pose with Gaussian error."""
        p = self.part_pose(family)
        pos = p.pos_m + np.array([*rng.normal(0.0, noise_m, 2), 0.0])
        return PartPose(pos, p.yaw_rad + float(rng.normal(0.0, noise_rad)), p.upright)

    def withdraw_hand_probe(self) -> None:
        """The person takes their hand away (moves the probe body out of the cell)."""
        b = self.m.body("hand_probe").id
        self.m.body_pos[b] = (-1.5, 0.0, 0.3)
        mujoco.mj_forward(self.m, self.d)

    # --- contact sensing -----------------------------------------------------------------------------
    def contacts(self, side: str, target_family: str | None, held: bool) -> ContactReading:
        """External force at the tool: robot (and, while held, the part) against anything but the gripped part.

        The squeeze between the fingers and the target part is internal and not counted; while the part is
        held, what the world pushes on it (a table, a bin wall, a hand) is. Compiled (control_kernel); the
        same reading as `contacts_reference`.
        """
        d = self.d
        if d.ncon == 0:
            return ContactReading(0.0, 0)
        target = self.part_body[target_family] if target_family else -3
        fa, fb = self.arms[side].finger_geoms
        # The contact and constraint arrays change size every step: fetched anew each call.
        c = d.contact
        total, hits = contact_kernel(
            c.geom, c.efc_address, c.dim, d.efc_force, self._geom_class_arr, target, fa, fb, held
        )
        return ContactReading(total, hits)

    def contacts_reference(self, side: str, target_family: str | None, held: bool) -> ContactReading:
        """`contacts` as a plain loop with mj_contactForce (any friction cone): the readable reference."""
        d = self.d
        n = d.ncon
        if n == 0:
            return ContactReading(0.0, 0)
        target = self.part_body[target_family] if target_family else -3
        cls = self._geom_class
        fa, fb = self.arms[side].finger_geoms
        hits_a = hits_b = False
        total = 0.0
        f6 = self._f6
        # A plain loop over the few contacts is cheaper than numpy masks at this size (~10 contacts).
        for i, (g1, g2) in enumerate(d.contact.geom.tolist()):
            c1, c2 = cls[g1], cls[g2]
            robot1, robot2 = c1 == -2, c2 == -2
            if robot1 and robot2:
                continue
            if (robot1 and c2 == target) or (robot2 and c1 == target):
                hits_a = hits_a or fa in (g1, g2)
                hits_b = hits_b or fb in (g1, g2)
                continue
            if robot1 or robot2 or (held and (c1 == target or c2 == target)):
                mujoco.mj_contactForce(self.m, d, i, f6)
                total += math.sqrt(f6[0] * f6[0] + f6[1] * f6[1] + f6[2] * f6[2])
        return ContactReading(total, int(hits_a) + int(hits_b))
