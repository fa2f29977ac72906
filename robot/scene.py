"""The cell scene as MJCF, written from primitives: a fixed-base humanoid upper body and the sorting cell.

Frame: x forward from the robot, y to its left, z up, metres. Arms hang down at q = 0; the tool axis
(`*_tcp` site, between the finger pads) points down along the hand's -z.

Contact groups (bits of contype/conaffinity): 1 environment, 2 robot, 4 parts. The robot does not collide
with itself (the arms cannot reach each other's workspace in the tasks it runs); parts collide with
everything. Grasps hold by friction only: elliptic cones with impratio 10 (see FIELD_NOTES).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ARMS = ("right", "left")
ARM_JOINTS = ("shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow", "wrist_yaw", "wrist_pitch", "wrist_roll")
# Peak joint torques (Nm) in the range of 7-DoF collaborative arms of this size.
TORQUE_LIMITS_NM = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)
FINGER_FORCE_MAX_N = 140.0
FINGER_STROKE_M = 0.095
PAD_HALF_THICKNESS_M = 0.008
PART_FAMILIES = ("wheel", "housing")


@dataclass(frozen=True)
class Layout:
    """Where things are. Surfaces are top faces (z of the plane a part rests on)."""

    shoulder_z_m: float = 1.25
    shoulder_y_m: float = 0.22
    station_exit_xy_m: tuple[float, float] = (0.42, 0.0)
    station_surface_z_m: float = 0.75
    conveyor_xy_m: tuple[float, float] = (0.40, -0.50)
    conveyor_surface_z_m: float = 0.72
    nok_bin_xy_m: tuple[float, float] = (0.42, 0.44)
    review_bin_xy_m: tuple[float, float] = (0.08, 0.56)
    bin_floor_z_m: float = 0.64
    bin_half_inner_m: float = 0.14
    hand_probe_xyz_m: tuple[float, float, float] = (0.41, -0.33, 0.90)


LAYOUT = Layout()

# Part geometry (half sizes, metres) and the grasp the gripper makes on it.
WHEEL_RADIUS_M = 0.075
WHEEL_HALF_HEIGHT_M = 0.03
HOUSING_HALF_M = (0.07, 0.045, 0.04)


def part_half_height_m(family: str) -> float:
    return WHEEL_HALF_HEIGHT_M if family == "wheel" else HOUSING_HALF_M[2]


def part_grip_width_m(family: str) -> float:
    """Width between the finger pads when the part is held (across the wheel, across the housing's y)."""
    return 2 * WHEEL_RADIUS_M if family == "wheel" else 2 * HOUSING_HALF_M[1]


def _inertia_box(mass: float, hx: float, hy: float, hz: float) -> str:
    ix, iy, iz = (mass / 3.0 * (b * b + c * c) for b, c in ((hy, hz), (hx, hz), (hx, hy)))
    return f"{ix:.6f} {iy:.6f} {iz:.6f}"


def _arm_xml(side: str, lay: Layout) -> tuple[str, str]:
    s = 1.0 if side == "left" else -1.0
    p = side[0]
    r_lo, r_hi = (-0.3, 1.9) if side == "left" else (-1.9, 0.3)
    lim = TORQUE_LIMITS_NM
    fmax = FINGER_FORCE_MAX_N
    # Link masses/inertias from the capsule and box shapes (geom mass), totals like a 7-DoF cobot arm (~17 kg).
    return (
        f"""
    <body name="{p}_shoulder1" pos="0 {s * lay.shoulder_y_m:.3f} {lay.shoulder_z_m:.3f}">
      <joint name="{p}_shoulder_pitch" axis="0 1 0" range="-2.9 1.2" armature="0.1" damping="0.5"/>
      <geom class="robot" type="sphere" size="0.06" mass="2.5"/>
      <body name="{p}_shoulder2">
        <joint name="{p}_shoulder_roll" axis="1 0 0" range="{r_lo} {r_hi}" armature="0.1" damping="0.5"/>
        <geom class="robot" type="capsule" fromto="0 0 0 0 0 -0.08" size="0.055" mass="2.2"/>
        <body name="{p}_upper_arm" pos="0 0 -0.08">
          <joint name="{p}_shoulder_yaw" axis="0 0 1" range="-2.8 2.8" armature="0.08" damping="0.5"/>
          <geom class="robot" type="capsule" fromto="0 0 0 0 0 -0.24" size="0.048" mass="3.0"/>
          <body name="{p}_forearm" pos="0 0 -0.24">
            <joint name="{p}_elbow" axis="0 1 0" range="-2.7 0.0" armature="0.08" damping="0.5"/>
            <geom class="robot" type="capsule" fromto="0 0 0 0 0 -0.28" size="0.042" mass="2.4"/>
            <body name="{p}_wrist1" pos="0 0 -0.30">
              <joint name="{p}_wrist_yaw" axis="0 0 1" range="-2.8 2.8" armature="0.03" damping="0.2"/>
              <geom class="robot" type="cylinder" fromto="0 0 0.02 0 0 -0.03" size="0.04" mass="1.0"/>
              <body name="{p}_wrist2" pos="0 0 -0.03">
                <joint name="{p}_wrist_pitch" axis="0 1 0" range="-2.6 2.6" armature="0.03" damping="0.2"/>
                <geom class="robot" type="sphere" size="0.038" mass="0.7"/>
                <body name="{p}_hand" pos="0 0 -0.04">
                  <joint name="{p}_wrist_roll" axis="0 0 1" range="-2.9 2.9" armature="0.02" damping="0.2"/>
                  <geom class="robot" type="box" pos="0 0 -0.035" size="0.035 0.1 0.03" mass="0.7"/>
                  <site name="{p}_tcp" pos="0 0 -0.125" size="0.01" rgba="1 0 0 0.5"/>
                  <body name="{p}_finger_a" pos="0 0 -0.11">
                    <joint name="{p}_finger_a" type="slide" axis="0 1 0" range="0.0 {FINGER_STROKE_M}"
                           damping="8" armature="0.01"/>
                    <geom class="pad" pos="0 {PAD_HALF_THICKNESS_M} -0.015"
                          size="0.02 {PAD_HALF_THICKNESS_M} 0.025" mass="0.12"/>
                  </body>
                  <body name="{p}_finger_b" pos="0 0 -0.11">
                    <joint name="{p}_finger_b" type="slide" axis="0 -1 0" range="0.0 {FINGER_STROKE_M}"
                           damping="8" armature="0.01"/>
                    <geom class="pad" pos="0 {-PAD_HALF_THICKNESS_M} -0.015"
                          size="0.02 {PAD_HALF_THICKNESS_M} 0.025" mass="0.12"/>
                  </body>
                </body>
              </body>
            </body>
          </body>
        </body>
      </body>
    </body>""",
        "\n".join(
            f'    <motor name="{p}_{j}" joint="{p}_{j}" ctrlrange="{-t} {t}" ctrllimited="true"/>'
            for j, t in zip(ARM_JOINTS, lim, strict=True)
        )
        + "".join(
            f'\n    <motor name="{p}_grip_{k}" joint="{p}_finger_{k}" ctrlrange="{-fmax} {fmax}"/>' for k in "ab"
        ),
    )


def _bin_xml(name: str, xy: tuple[float, float], floor_z: float, half: float, rgba: str) -> str:
    x, y = xy
    wall_h = 0.05
    t = 0.01
    wz = floor_z + wall_h
    fz = floor_z / 2 - t / 2
    return f"""
    <body name="{name}" pos="{x} {y} 0">
      <geom class="env" type="box" pos="0 0 {fz:.4f}" size="{half + t} {half + t} {fz:.4f}" rgba="{rgba}"/>
      <geom class="env" type="box" pos="{half + t / 2} 0 {wz}" size="{t / 2} {half + t} {wall_h}" rgba="{rgba}"/>
      <geom class="env" type="box" pos="{-half - t / 2} 0 {wz}" size="{t / 2} {half + t} {wall_h}" rgba="{rgba}"/>
      <geom class="env" type="box" pos="0 {half + t / 2} {wz}" size="{half + t} {t / 2} {wall_h}" rgba="{rgba}"/>
      <geom class="env" type="box" pos="0 {-half - t / 2} {wz}" size="{half + t} {t / 2} {wall_h}" rgba="{rgba}"/>
    </body>"""


def build_scene_xml(hand_probe: bool = False, timestep_s: float = 0.001) -> str:
    """MJCF of the cell. `hand_probe` adds a person's hand (0.6 kg on a spring, ISO/TS 15066 hand stiffness)."""
    lay = LAYOUT
    arms = [_arm_xml(side, lay) for side in ARMS]
    sx, sy = lay.station_exit_xy_m
    cx, cy = lay.conveyor_xy_m
    sz, cz = lay.station_surface_z_m / 2, lay.conveyor_surface_z_m / 2
    hx, hy, hz = HOUSING_HALF_M
    probe = ""
    if hand_probe:
        px, py, pz = lay.hand_probe_xyz_m
        # The hand gives way on a slide (a person's arm); contact time constant 3 ms gives ~60-75 N/mm with
        # the contact's effective mass, the hand stiffness ISO/TS 15066 lists.
        probe = f"""
    <body name="hand_probe" pos="{px} {py} {pz}">
      <joint name="hand_probe" type="slide" axis="0 1 0" stiffness="2000" damping="40" range="-0.2 0.2"/>
      <geom name="hand_probe" class="env" type="box" size="0.05 0.02 0.05" mass="0.6" rgba="0.9 0.7 0.6 1"
            solref="0.003 1"/>
    </body>"""
    return f"""<mujoco model="ironcell">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{timestep_s}" cone="elliptic" impratio="10" integrator="implicitfast"/>
  <visual>
    <global offwidth="640" offheight="480"/><quality shadowsize="0"/>
    <headlight ambient="0.35 0.35 0.35" diffuse="0.5 0.5 0.5"/>
  </visual>
  <default>
    <default class="robot"><geom contype="2" conaffinity="5" rgba="0.75 0.78 0.82 1"/></default>
    <default class="pad"><geom type="box" contype="2" conaffinity="5" friction="1.2 0.02 0.0005" condim="4"
      rgba="0.2 0.2 0.2 1"/></default>
    <default class="env"><geom contype="1" conaffinity="6" rgba="0.5 0.5 0.55 1"/></default>
    <default class="part"><geom contype="4" conaffinity="7" friction="1.0 0.01 0.0005" condim="4"
      rgba="0.72 0.74 0.78 1"/></default>
  </default>
  <asset>
    <texture name="grid" type="2d" builtin="checker" rgb1="0.3 0.32 0.35" rgb2="0.25 0.27 0.3" width="64" height="64"/>
    <material name="floor" texture="grid" texrepeat="8 8"/>
  </asset>
  <worldbody>
    <light pos="0.5 0 3" dir="0 0 -1" diffuse="0.8 0.8 0.8"/>
    <geom name="floor" type="plane" size="3 3 0.1" material="floor" contype="1" conaffinity="6"/>
    <body name="cell_centre" pos="0.3 0 0.75"/>
    <camera name="overview" pos="0.2 -1.3 2.5" mode="targetbody" target="cell_centre" fovy="55"/>
    <body name="torso" pos="0 0 0">
      <geom class="robot" type="cylinder" fromto="-0.05 0 0 -0.05 0 0.9" size="0.12" mass="30"/>
      <geom class="robot" type="box" pos="-0.03 0 1.1" size="0.1 0.17 0.2" mass="15"/>
      <body name="head" pos="0 0 1.45">
        <geom class="robot" type="sphere" size="0.1" mass="3" rgba="0.3 0.3 0.35 1"/>
        <camera name="head_cam" pos="0.09 0 0.02" xyaxes="0 -1 0 0.6 0 0.8" fovy="70"/>
      </body>
      {arms[0][0]}
      {arms[1][0]}
    </body>
    <body name="station_exit" pos="{sx} {sy} 0">
      <geom class="env" type="box" pos="0 0 {sz}" size="0.14 0.14 {sz}" rgba="0.35 0.4 0.5 1"/>
      <geom class="env" type="box" pos="0.62 0 0.9" size="0.3 0.35 0.9" rgba="0.8 0.75 0.2 1"/>
    </body>
    <body name="ok_conveyor" pos="{cx} {cy} 0">
      <geom class="env" type="box" pos="0 0 {cz}" size="0.35 0.11 {cz}" rgba="0.15 0.5 0.2 1"/>
    </body>
    {_bin_xml("nok_bin", lay.nok_bin_xy_m, lay.bin_floor_z_m, lay.bin_half_inner_m, "0.7 0.15 0.15 1")}
    {_bin_xml("review_bin", lay.review_bin_xy_m, lay.bin_floor_z_m, lay.bin_half_inner_m, "0.85 0.55 0.1 1")}
    <body name="part_wheel" pos="-1.0 1.0 {WHEEL_HALF_HEIGHT_M}">
      <freejoint name="part_wheel"/>
      <geom class="part" type="cylinder" size="{WHEEL_RADIUS_M} {WHEEL_HALF_HEIGHT_M}" mass="2.0"/>
    </body>
    <body name="part_housing" pos="-1.0 -1.0 {hz}">
      <freejoint name="part_housing"/>
      <inertial pos="0 0 0" mass="2.0" diaginertia="{_inertia_box(2.0, hx, hy, hz)}"/>
      <geom class="part" type="box" size="{hx} {hy} {hz}"/>
    </body>{probe}
  </worldbody>
  <equality>
    <joint joint1="r_finger_a" joint2="r_finger_b" polycoef="0 1 0 0 0"/>
    <joint joint1="l_finger_a" joint2="l_finger_b" polycoef="0 1 0 0 0"/>
  </equality>
  <actuator>
{arms[0][1]}
{arms[1][1]}
  </actuator>
</mujoco>"""


def home_joint_positions(side: str) -> np.ndarray:
    """A ready posture: elbow bent, tool pointing down in front of the shoulder, clear of the table."""
    s = 1.0 if side == "left" else -1.0
    # Solved once by IK for the tool at (0.32, +-0.25, 1.0), pointing down.
    return np.array([-0.246, 0.099 * s, 0.049 * s, -2.069, 0.114 * s, 2.317, 0.0])
