"""Configuration schema of the robot package (loaded by cell_control, passed in validated)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImpedanceGains(_Strict):
    translational_stiffness_n_per_m: float = Field(1500.0, gt=0.0, le=20000.0)
    rotational_stiffness_nm_per_rad: float = Field(150.0, gt=0.0, le=2000.0)
    damping_ratio: float = Field(1.0, gt=0.0, le=3.0)
    nullspace_stiffness_nm_per_rad: float = Field(10.0, ge=0.0, le=500.0)


class SafetyConfig(_Strict):
    contact_force_limit_n: float = Field(140.0, gt=0.0, le=1000.0)
    body_region: Literal["hand", "chest", "skull", "face", "forearm", "upper_arm"] = "hand"
    tcp_speed_limit_m_per_s: float = Field(1.0, gt=0.0, le=5.0)
    torque_rate_limit_nm_per_s: float = Field(1000.0, gt=0.0, le=100000.0)
    workspace_min_m: tuple[float, float, float] = (-0.2, -1.0, 0.0)
    workspace_max_m: tuple[float, float, float] = (1.2, 1.0, 1.8)
    speed_tolerance: float = Field(0.25, ge=0.0, le=2.0)  # monitor trips at limit * (1 + tolerance)
    force_trip_ratio: float = Field(0.85, gt=0.0, le=1.0)  # stop at this share of the limit: the stop's
    # own transient must stay under contact_force_limit_n


class RobotConfig(_Strict):
    driver: Literal["sim", "real"] = "sim"
    control_hz: float = Field(1000.0, gt=0.0, le=10000.0)
    clock: Literal["real", "virtual"] = "real"
    gains: ImpedanceGains = ImpedanceGains()
    safety: SafetyConfig = SafetyConfig()
    max_regrasps: int = Field(2, ge=0, le=10)
    max_tcp_accel_m_per_s2: float = Field(3.0, gt=0.0, le=50.0)
    render_fps: float = Field(4.0, ge=0.0, le=30.0)
    render_width_px: int = Field(320, ge=32, le=1920)
    render_height_px: int = Field(240, ge=32, le=1080)
    seed: int = 0
    grip_force_n: float = Field(80.0, gt=0.0, le=140.0)  # gripper force limit (each finger)
    part_pose_noise_m: float = Field(0.01, ge=0.0, le=0.05)  # sim feeder: where parts leave the X-ray station
    part_pose_noise_deg: float = Field(10.0, ge=0.0, le=45.0)
    part_mass_noise: float = Field(0.2, ge=0.0, le=0.5)  # sim feeder: true mass within +-this share of nominal
    perception_noise_m: float = Field(0.002, ge=0.0, le=0.02)  # simulated part localisation error (1 sigma)
    perception_noise_deg: float = Field(1.0, ge=0.0, le=10.0)
    state_publish_hz: float = Field(50.0, gt=0.0, le=1000.0)
    # SCHED_FIFO priority of the robot process in real-time mode (0: ordinary scheduling). Falls back to
    # ordinary scheduling, with a warning, where the OS does not allow it.
    realtime_priority: int = Field(20, ge=0, le=99)
    # CPU cores the robot process may run on in real-time mode (empty: wherever the OS puts it). One core,
    # ideally one kept free of other work (isolcpus), spares the loop migrations and their cold caches.
    # Cores the machine lacks fall back to the OS's choice, with a warning.
    cpu_affinity: tuple[Annotated[int, Field(ge=0, le=1023)], ...] = ()
    # Real time: at least this long before each tick's start (longer when the warm-up itself takes longer) the loop
    # runs the tick's reads and control law once without effect, so the tick finds its code and data in cache
    # (0: off). See robot.clock.
    cache_warm_lead_us: float = Field(60.0, ge=0.0, le=500.0)
