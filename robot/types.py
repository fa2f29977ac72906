"""Domain types the robot package produces or accepts. Frozen, with units in field names."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TargetBin(enum.StrEnum):
    OK_CONVEYOR = "ok_conveyor"
    NOK_BIN = "nok_bin"
    REVIEW_BIN = "review_bin"


class RobotMode(enum.StrEnum):
    """Modes named after OPC 40010 Robotics OperationalMode / motion state."""

    IDLE = "idle"
    RUNNING = "running"
    PROTECTIVE_STOP = "protective_stop"
    EMERGENCY_STOP = "emergency_stop"
    FAULT = "fault"


class TaskOutcome(enum.StrEnum):
    SUCCESS = "success"
    FAILED_RECOVERABLE = "failed_recoverable"
    INTERVENTION_REQUIRED = "intervention_required"
    REFUSED = "refused"
    ABORTED = "aborted"


@dataclass(frozen=True)
class Pose:
    """Position in metres in the cell frame, orientation as a unit quaternion (w, x, y, z)."""

    position_m: tuple[float, float, float]
    quat_wxyz: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class PickPlaceTask:
    task_id: str
    part_serial: str
    part_family: str
    target: TargetBin
    part_mass_kg: float = 2.0
    pick_pose: Pose | None = None  # None: the nominal station-exit pose


@dataclass(frozen=True)
class TaskResult:
    task_id: str
    part_serial: str
    outcome: TaskOutcome
    target: TargetBin
    cycle_s: float
    regrasp_count: int = 0
    max_contact_force_n: float = 0.0
    protective_stops: int = 0
    reason: str = ""


@dataclass(frozen=True)
class RobotState:
    time_s: float
    mode: RobotMode
    joint_positions_rad: tuple[float, ...]
    tcp_pose: Pose
    contact_force_n: float
    current_task_id: str | None = None
    reason: str = ""
    phase: str = ""  # skill step of the current task (approach, grasp, lift, transfer, release, ...)
    active_arm: str = ""
    stop_category: int | None = None  # 0/1 emergency, 2 protective; None while not stopped
    protective_stops: int = 0  # counters since the robot process started
    recoveries: int = 0  # autonomous re-grasps
    interventions: int = 0  # tasks that ended needing a person
