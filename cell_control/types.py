"""Domain types the cell controller produces. Frozen, with units in field names."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class PackMLState(enum.IntEnum):
    """ISA-TR88.00.02 / OPC 30050 state numbers."""

    CLEARING = 1
    STOPPED = 2
    STARTING = 3
    IDLE = 4
    SUSPENDED = 5
    EXECUTE = 6
    STOPPING = 7
    ABORTING = 8
    ABORTED = 9
    HOLDING = 10
    HELD = 11
    UNHOLDING = 12
    SUSPENDING = 13
    UNSUSPENDING = 14
    RESETTING = 15
    COMPLETING = 16
    COMPLETE = 17


class PackMLCommand(enum.IntEnum):
    RESET = 1
    START = 2
    STOP = 3
    HOLD = 4
    UNHOLD = 5
    SUSPEND = 6
    UNSUSPEND = 7
    ABORT = 8
    CLEAR = 9


class AlarmState(enum.StrEnum):
    """ISA-18.2 alarm states."""

    UNACK_ACTIVE = "unacknowledged"
    ACK_ACTIVE = "acknowledged"
    RTN_UNACK = "returned_unacknowledged"
    NORMAL = "normal"
    SHELVED = "shelved"


class AlarmSeverity(enum.IntEnum):
    LOW = 250
    MEDIUM = 500
    HIGH = 750
    CRITICAL = 1000


@dataclass(frozen=True)
class AlarmRecord:
    code: str
    message: str
    severity: AlarmSeverity
    state: AlarmState
    changed_at: datetime
    user: str = ""
    reason: str = ""
    part_serial: str | None = None


class InterventionKind(enum.StrEnum):
    PROTECTIVE_STOP_RESET = "protective_stop_reset"
    PART_REPLACED_BY_HAND = "part_replaced_by_hand"
    FAULT_ACKNOWLEDGED = "fault_acknowledged"
    OTHER = "other"


@dataclass(frozen=True)
class InterventionRecord:
    kind: InterventionKind
    at: datetime
    reason: str
    user: str = ""
    part_serial: str | None = None
