"""Skills as generators stepped once per control tick: move_to, open/close (grasp), lift, place, release, retreat.

A skill sets the impedance goal and the gripper command on the `SkillContext`, then yields; the runtime
runs the controller and the physics step, and calls `next()` again on the next tick. Skills compose with
`yield from`, and a lost grip surfaces as a `GraspFailure` raised inside the skill that noticed it.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from robot.config import RobotConfig
from robot.kinematics import ik_steps, mat_to_quat, quat_to_mat
from robot.scene import FINGER_STROKE_M, home_joint_positions
from robot.sim import CellSim, ContactReading
from robot.tick_kernel import (
    CLOSE_RAMP_S,
    G_CLOSING,
    G_FORCE_LIMIT,
    G_OPEN_GAP,
    G_SINCE,
    GRIP_ROW_SIZE,
    grip_force_kernel,
)
from robot.trajectory import MinJerkSegment, Setpoint, pfl_speed_limit_m_per_s, robot_effective_mass_kg

Skill = Generator[None, None, None]
GRAVITY = 9.81
GAP_TOLERANCE_M = 0.012
SLIP_LIMIT_M = 0.015
APPROACH_SPEED_M_PER_S = 0.4
TOUCH_FORCE_N = 20.0
RELEASE_CLEARANCE_M = 0.03


class GraspFailure(Exception):
    """The grip was lost or never made: kind is "missed", "slip", "drop" or "release"."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class Gripper:
    mode: str = "open"  # open | close
    since_s: float = 0.0
    force_limit_n: float = 80.0
    open_gap_m: float = 2 * FINGER_STROKE_M  # how far "open" opens (less inside a bin, clear of its walls)


class SkillContext:
    """What a skill may touch: the goal, the gripper command, the payload, and read-only sim queries."""

    def __init__(self, sim: CellSim, side: str, cfg: RobotConfig, rng: np.random.Generator) -> None:
        self.sim = sim
        self.side = side
        self.cfg = cfg
        self.rng = rng
        pos, rot = sim.tcp(side)
        self.goal = Setpoint(pos, mat_to_quat(rot), np.zeros(6))
        self.q_null = home_joint_positions(side)
        # The gripper command, in the layout the compiled tick reads (robot.tick_kernel G_*): its only copy.
        self.grip_row = np.zeros(GRIP_ROW_SIZE)
        self.set_gripper("open")
        self.payload_kg = 0.0
        self.family: str | None = None
        self.held = False
        self.grip_width_m = 0.0
        self.contact = ContactReading(0.0, 0)
        self.pos_error_m = 0.0
        self.phase = "idle"
        self._rel_part: np.ndarray | None = None
        self._no_contact_ticks = 0

    # --- time, limits ---------------------------------------------------------------------------------
    @property
    def now_s(self) -> float:
        return self.sim.time_s

    def speed_limit_m_per_s(self) -> float:
        """Configured tool speed, capped by ISO/TS 15066 PFL for the body region and the current payload."""
        s = self.cfg.safety
        m_r = robot_effective_mass_kg(self.sim.arm_moving_mass_kg, self.payload_kg)
        return min(s.tcp_speed_limit_m_per_s, pfl_speed_limit_m_per_s(s.body_region, m_r, s.contact_force_limit_n))

    # --- gripper ---------------------------------------------------------------------------------------
    def grip_force_command_n(self) -> float:
        """Finger force for this tick: a speed loop whose force cap ramps up while closing (the compiled law the
        tick runs for both grippers, robot.tick_kernel.grip_force_kernel)."""
        gap, speed = self.sim.finger_gap_m(self.side), self.sim.finger_speed_m_per_s(self.side)
        return float(grip_force_kernel(self.grip_row, self.now_s, gap, speed))

    @property
    def gripper(self) -> Gripper:
        """The current gripper command, read off `grip_row`."""
        row = self.grip_row
        mode = "open" if row[G_CLOSING] == 0.0 else "close"
        return Gripper(mode, float(row[G_SINCE]), float(row[G_FORCE_LIMIT]), float(row[G_OPEN_GAP]))

    def set_gripper(self, mode: str, open_gap_m: float = 2 * FINGER_STROKE_M) -> None:
        row = self.grip_row
        row[G_CLOSING] = 0.0 if mode == "open" else 1.0
        row[G_OPEN_GAP] = min(open_gap_m, 2 * FINGER_STROKE_M)
        row[G_FORCE_LIMIT] = self.cfg.grip_force_n
        row[G_SINCE] = self.now_s

    def set_grip_force_limit(self, force_n: float) -> None:
        """Change the finger force limit of the current grip (a weaker or stronger squeeze from now on)."""
        self.grip_row[G_FORCE_LIMIT] = force_n

    # --- grip watch --------------------------------------------------------------------------------------
    def mark_held(self, family: str, mass_kg: float) -> None:
        self.held = True
        self.payload_kg = mass_kg
        pos, rot = self.sim.tcp(self.side)
        self._rel_part = rot.T @ (self.sim.part_pose(family).pos_m - pos)
        self._no_contact_ticks = 0

    def clear_held(self) -> None:
        self.held = False
        self.payload_kg = 0.0
        self._rel_part = None

    def watch_grip(self) -> None:
        """Raise GraspFailure when a held part slips in the fingers or falls out."""
        if not self.held or self.family is None or self._rel_part is None:
            return
        d = self.sim.d
        site = self.sim.arms[self.side].tcp_site
        # The part's offset in the tool frame, R^T (p - s), in scalars: this runs every tick while a part is held.
        px, py, pz = d.xpos[self.sim.part_body[self.family]].tolist()
        sx, sy, sz = d.site_xpos[site].tolist()
        r = d.site_xmat[site].tolist()
        px, py, pz = px - sx, py - sy, pz - sz
        rx, ry, rz = self._rel_part.tolist()
        dx = px * r[0] + py * r[3] + pz * r[6] - rx
        dy = px * r[1] + py * r[4] + pz * r[7] - ry
        dz = px * r[2] + py * r[5] + pz * r[8] - rz
        moved = math.sqrt(dx * dx + dy * dy + dz * dz)
        self._no_contact_ticks = self._no_contact_ticks + 1 if self.contact.finger_part_contacts == 0 else 0
        gap = self.sim.finger_gap_m(self.side)
        if self._no_contact_ticks > 20 or gap < self.grip_width_m - 2 * GAP_TOLERANCE_M:
            self.clear_held()
            raise GraspFailure("drop", f"part left the fingers (gap {gap * 1000:.0f} mm)")
        if moved > SLIP_LIMIT_M:
            self.clear_held()
            raise GraspFailure("slip", f"part moved {moved * 1000:.0f} mm in the gripper")


def move_to(
    ctx: SkillContext,
    pos: np.ndarray,
    rot: np.ndarray,
    speed_m_per_s: float | None = None,
    settle: bool = False,
    stop_on_force_n: float | None = None,
) -> Skill:
    """Minimum-jerk straight line from the current goal; speed capped by the PFL limit.

    With `stop_on_force_n` the motion is guarded: it ends where the contact force first passes that value
    (a part touching down), and the goal stays at the measured pose.
    """
    vmax = ctx.speed_limit_m_per_s()
    if speed_m_per_s is not None:
        vmax = min(vmax, speed_m_per_s)
    amax = ctx.cfg.max_tcp_accel_m_per_s2
    seg = MinJerkSegment.plan(ctx.goal.pos_m, ctx.goal.quat_wxyz, pos, mat_to_quat(rot), vmax, amax)
    t0 = ctx.now_s
    while (t := ctx.now_s - t0) < seg.duration_s:
        if stop_on_force_n is not None and ctx.contact.external_n > stop_on_force_n:
            here, _ = ctx.sim.tcp(ctx.side)
            ctx.goal = Setpoint(here, ctx.goal.quat_wxyz, np.zeros(6))
            return
        ctx.goal = seg.at(t)
        ctx.watch_grip()
        yield
    ctx.goal = seg.end
    if settle:
        yield from wait(ctx, 0.4, until=lambda: ctx.pos_error_m < 0.003)


def wait(ctx: SkillContext, max_s: float, until: object = None) -> Skill:
    t0 = ctx.now_s
    while ctx.now_s - t0 < max_s:
        if callable(until) and until():
            return
        ctx.watch_grip()
        yield


def open_gripper(ctx: SkillContext, wait_s: float = 0.25, gap_m: float = 2 * FINGER_STROKE_M) -> Skill:
    ctx.set_gripper("open", gap_m)
    target = min(gap_m, 2 * FINGER_STROKE_M) - 0.01
    yield from wait(ctx, wait_s, until=lambda: ctx.sim.finger_gap_m(ctx.side) > target)


def grasp(ctx: SkillContext, family: str, width_m: float, mass_kg: float) -> Skill:
    """Close with a ramped force limit; success needs both pads on the part and a gap near its width."""
    ctx.set_gripper("close")
    t0 = ctx.now_s
    while ctx.now_s - t0 < CLOSE_RAMP_S + 0.1:
        yield
    gap = ctx.sim.finger_gap_m(ctx.side)
    touching = ctx.contact.finger_part_contacts
    if gap < width_m - GAP_TOLERANCE_M or touching < 2:
        raise GraspFailure(
            "missed", f"gap {gap * 1000:.0f} mm for a {width_m * 1000:.0f} mm part, {touching} pads on it"
        )
    ctx.grip_width_m = width_m
    ctx.mark_held(family, mass_kg)


def lift(ctx: SkillContext, dz_m: float) -> Skill:
    pos = ctx.goal.pos_m + np.array([0.0, 0.0, dz_m])
    yield from move_to(ctx, pos, quat_to_mat(ctx.goal.quat_wxyz), APPROACH_SPEED_M_PER_S)


def held_offset_m(ctx: SkillContext) -> np.ndarray:
    """Where the held part's centre sits relative to the tool centre point (world frame)."""
    if ctx.family is None:
        return np.zeros(3)
    pos, _ = ctx.sim.tcp(ctx.side)
    return ctx.sim.part_pose(ctx.family).pos_m - pos


def place(ctx: SkillContext, above: np.ndarray, at: np.ndarray, rot: np.ndarray) -> Skill:
    """Carry the part over `at` (its centre's resting pose plus clearance), then lower it, guarded by force."""
    yield from move_to(ctx, above, rot)
    # Parts settle in the fingers while lifted: aim the part, not the tool.
    off = held_offset_m(ctx)
    target = at - np.array([off[0], off[1], off[2]]) if ctx.held else at
    yield from move_to(ctx, target, rot, APPROACH_SPEED_M_PER_S, settle=True, stop_on_force_n=TOUCH_FORCE_N)


def release(ctx: SkillContext) -> Skill:
    """Open just enough to let go (the pads stay clear of bin walls), wait for the part to leave the pads."""
    width = ctx.grip_width_m
    ctx.clear_held()
    yield from open_gripper(ctx, 0.3, gap_m=width + RELEASE_CLEARANCE_M)


def retreat(ctx: SkillContext, dz_m: float) -> Skill:
    yield from lift(ctx, dz_m)


def reachable(ctx: SkillContext, pos: np.ndarray, rot: np.ndarray) -> Generator[None, None, bool]:
    """IK check spread over ticks; the live robot keeps its goal meanwhile."""
    res = yield from ik_steps(
        ctx.sim.m, ctx.sim.scratch, ctx.sim.arms[ctx.side], pos, rot, ctx.q_null, iterations=150, per_yield=1
    )
    return res.ok
