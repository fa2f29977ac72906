"""PickPlace: the sorting task composed from skills, with failure detection and autonomous re-grasps."""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from robot.kinematics import tool_down
from robot.scene import LAYOUT, part_grip_width_m, part_half_height_m
from robot.skills import (
    GraspFailure,
    SkillContext,
    grasp,
    move_to,
    open_gripper,
    place,
    reachable,
    release,
    retreat,
    wait,
)
from robot.types import PickPlaceTask, TargetBin, TaskOutcome

PREGRASP_DZ_M = 0.12
LIFT_DZ_M = 0.15
PLACE_CLEARANCE_M = 0.012
HOME_TCP = {"right": np.array([0.32, -0.25, 1.0]), "left": np.array([0.32, 0.25, 1.0])}


def arm_for(target: TargetBin) -> str:
    """The conveyor is on the robot's right, both bins on its left."""
    return "right" if target == TargetBin.OK_CONVEYOR else "left"


@dataclass(frozen=True)
class Drop:
    """Where a part goes: centre (x, y) and the surface it rests on, with the region that counts as inside."""

    xy_m: tuple[float, float]
    surface_z_m: float
    half_extent_m: tuple[float, float]


def drop_zone(target: TargetBin) -> Drop:
    lay = LAYOUT
    if target == TargetBin.OK_CONVEYOR:
        return Drop(lay.conveyor_xy_m, lay.conveyor_surface_z_m, (0.35, 0.11))
    xy = lay.nok_bin_xy_m if target == TargetBin.NOK_BIN else lay.review_bin_xy_m
    return Drop(xy, lay.bin_floor_z_m, (lay.bin_half_inner_m, lay.bin_half_inner_m))


def in_zone(pos: np.ndarray, zone: Drop) -> bool:
    return (
        abs(pos[0] - zone.xy_m[0]) <= zone.half_extent_m[0]
        and abs(pos[1] - zone.xy_m[1]) <= zone.half_extent_m[1]
        and zone.surface_z_m - 0.01 <= pos[2] <= zone.surface_z_m + 0.15
    )


def grasp_yaw(family: str, part_yaw_rad: float) -> float:
    """Fingers close across the housing's narrow side; a wheel can be taken from any side."""
    if family == "wheel":
        return 0.0
    # A box is symmetric under half a turn: pick the equivalent yaw nearest zero to keep the wrist centred.
    return (part_yaw_rad + math.pi / 2) % math.pi - math.pi / 2


@dataclass
class PickPlaceOutcome:
    outcome: TaskOutcome
    reason: str = ""
    regrasps: int = 0
    failures: tuple[str, ...] = ()


def check_task(ctx: SkillContext, task: PickPlaceTask) -> Generator[None, None, str]:
    """Reasons the task cannot be done ("" if it can), found before any motion."""
    if task.part_family not in ("wheel", "housing"):
        return f"unknown part family {task.part_family!r} (wheel or housing)"
    if not 0.5 <= task.part_mass_kg <= 5.0 * 1.25:
        return f"part mass {task.part_mass_kg} kg outside the gripper's payload range 0.5-6.25 kg"
    fam = task.part_family
    zone = drop_zone(task.target)
    if task.pick_pose is not None:
        pick = np.array(task.pick_pose.position_m, dtype=float)
    else:
        pick = np.array([*LAYOUT.station_exit_xy_m, LAYOUT.station_surface_z_m + part_half_height_m(fam)])
    place_at = np.array([*zone.xy_m, zone.surface_z_m + part_half_height_m(fam) + PLACE_CLEARANCE_M])
    for name, p in (("pick", pick), ("pre-grasp", pick + np.array([0, 0, PREGRASP_DZ_M])), ("place", place_at)):
        ok = yield from reachable(ctx, p, tool_down(0.0))
        if not ok:
            return f"{name} pose {np.round(p, 3).tolist()} m is out of reach of the {ctx.side} arm"
    return ""


def pick_place(ctx: SkillContext, task: PickPlaceTask, max_regrasps: int) -> Generator[None, None, PickPlaceOutcome]:
    fam = task.part_family
    ctx.family = fam
    zone = drop_zone(task.target)
    width = part_grip_width_m(fam)
    hh = part_half_height_m(fam)
    cfg = ctx.cfg
    failures: list[str] = []
    regrasps = 0
    while True:
        seen = ctx.sim.locate_part(fam, ctx.rng, cfg.perception_noise_m, math.radians(cfg.perception_noise_deg))
        if not seen.upright:
            return PickPlaceOutcome(
                TaskOutcome.INTERVENTION_REQUIRED, "part lies on its side", regrasps, tuple(failures)
            )
        yaw = grasp_yaw(fam, seen.yaw_rad)
        rot = tool_down(yaw)
        # Pads centred a little above the part's middle, clear of the surface it rests on.
        at = seen.pos_m + np.array([0.0, 0.0, 0.005])
        if regrasps > 0:
            ok = yield from reachable(ctx, at, rot)
            if not ok:
                return PickPlaceOutcome(
                    TaskOutcome.INTERVENTION_REQUIRED,
                    f"part at {np.round(seen.pos_m, 3).tolist()} m is out of reach after {failures[-1]}",
                    regrasps,
                    tuple(failures),
                )
        try:
            ctx.phase = "approach"
            ctx.set_gripper("open")
            yield from move_to(ctx, at + np.array([0, 0, PREGRASP_DZ_M]), rot)
            yield from move_to(ctx, at, rot, 0.4, settle=True)
            ctx.phase = "grasp"
            yield from grasp(ctx, fam, width, task.part_mass_kg)
            ctx.phase = "lift"
            yield from move_to(ctx, at + np.array([0, 0, LIFT_DZ_M]), rot, 0.4)
            ctx.phase = "transfer"
            place_at = np.array([*zone.xy_m, zone.surface_z_m + hh + PLACE_CLEARANCE_M])
            place_rot = tool_down(0.0)
            yield from place(ctx, place_at + np.array([0, 0, PREGRASP_DZ_M]), place_at, place_rot)
            ctx.phase = "release"
            yield from release(ctx)
            ctx.phase = "retreat"
            yield from retreat(ctx, PREGRASP_DZ_M)
            yield from wait(ctx, 1.0, until=lambda: ctx.sim.part_speed_m_per_s(fam) < 0.02)
            final = ctx.sim.part_pose(fam)
            if not in_zone(final.pos_m, zone):
                raise GraspFailure("release", f"part came to rest at {np.round(final.pos_m, 3).tolist()} m")
            ctx.phase = "home"
            yield from move_to(ctx, HOME_TCP[ctx.side], tool_down(0.0))
            return PickPlaceOutcome(TaskOutcome.SUCCESS, "", regrasps, tuple(failures))
        except GraspFailure as f:
            failures.append(f.kind)
            ctx.phase = f"recover ({f.kind})"
            ctx.clear_held()
            yield from open_gripper(ctx)
            up = ctx.goal.pos_m.copy()
            up[2] = max(up[2], seen.pos_m[2] + PREGRASP_DZ_M)
            yield from move_to(ctx, up, rot)
            yield from wait(ctx, 2.0, until=lambda: ctx.sim.part_speed_m_per_s(fam) < 0.01)
            if in_zone(ctx.sim.part_pose(fam).pos_m, zone) and f.kind in ("slip", "drop"):
                yield from move_to(ctx, HOME_TCP[ctx.side], tool_down(0.0))
                return PickPlaceOutcome(
                    TaskOutcome.SUCCESS, f"{f.kind}: part fell into the target", regrasps, tuple(failures)
                )
            if regrasps >= max_regrasps:
                return PickPlaceOutcome(
                    TaskOutcome.INTERVENTION_REQUIRED,
                    f"{f} after {regrasps} re-grasps: a person must put the part back",
                    regrasps,
                    tuple(failures),
                )
            regrasps += 1
