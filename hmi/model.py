"""What the HMI knows about the cell: frozen views built at the OPC UA edge, and the client role.

Pages only ever see these dataclasses; asyncua nodes and variants stay inside `hmi.link`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol

from cell_control.types import PackMLState


class CellAuthError(RuntimeError):
    """The cell refused the user's name and password (or the user is unknown to the HMI)."""


@dataclass(frozen=True)
class RobotView:
    mode: str = ""
    tcp_position_m: tuple[float, float, float] | None = None
    contact_force_n: float | None = None
    protective_stop: bool = False
    reason: str = ""


@dataclass(frozen=True)
class LastResultView:
    job_id: str = ""
    part_serial: str = ""
    verdict: str = ""
    flaw_count: int = 0


@dataclass(frozen=True)
class AlarmView:
    """One alarm the cell holds now, with its ISA-18.2 state (see cell_control.types.AlarmState)."""

    alarm_id: str
    code: str
    message: str
    severity: int
    state: str
    since: str = ""
    part_serial: str | None = None


@dataclass(frozen=True)
class TrendPoint:
    t_unix_s: float
    processed: int
    defective: int
    contact_force_n: float | None


@dataclass(frozen=True)
class CellSnapshot:
    """The latest reading of the cell; `connected` False means the values are stale or absent."""

    url: str
    connected: bool
    error: str = ""
    read_at_unix_s: float = 0.0
    state: PackMLState | None = None
    cell_name: str = ""
    counters: dict[str, int] = field(default_factory=dict)
    last_result: LastResultView | None = None
    robot: RobotView | None = None
    alarms: tuple[AlarmView, ...] = ()
    trend: tuple[TrendPoint, ...] = ()
    render_png: bytes | None = field(default=None, repr=False)
    render_note: str = ""
    last_command: str = ""

    @property
    def processed(self) -> int:
        return self.counters.get("ProcessedCount", 0)

    @property
    def defective(self) -> int:
        return self.counters.get("DefectiveCount", 0)


class CommandKind(enum.StrEnum):
    """What a user can ask the cell for through the HMI; values match cell_control.users.Action."""

    START = "start"
    STOP = "stop"
    RESET = "reset"
    HOLD = "hold"
    UNHOLD = "unhold"
    SUSPEND = "suspend"
    UNSUSPEND = "unsuspend"
    ABORT = "abort"
    CLEAR = "clear"
    ACKNOWLEDGE = "acknowledge"
    SHELVE = "shelve"
    UNSHELVE = "unshelve"
    RESET_PROTECTIVE_STOP = "reset_protective_stop"


PACKML_COMMANDS: tuple[CommandKind, ...] = (
    CommandKind.START,
    CommandKind.STOP,
    CommandKind.RESET,
    CommandKind.HOLD,
    CommandKind.UNHOLD,
    CommandKind.SUSPEND,
    CommandKind.UNSUSPEND,
    CommandKind.ABORT,
    CommandKind.CLEAR,
)


@dataclass(frozen=True)
class Command:
    kind: CommandKind
    alarm_id: str = ""
    reason: str = ""


@dataclass(frozen=True)
class CommandResult:
    ok: bool
    message: str


class CellClient(Protocol):
    """The HMI's one link to the cell: a snapshot read without blocking, and per-user sessions.

    Real: `hmi.link.OpcuaCellLink`; tests: a fake in tests/unit/hmi.
    """

    def snapshot(self) -> CellSnapshot: ...

    def want_view(self) -> None:
        """A page shows the robot's rendered view: fetch it with the next snapshots (for a few seconds)."""
        ...

    def open_session(self, user: str, password: str) -> str:
        """Registers the user's own OPC UA identity and returns a session token kept by the tab."""
        ...

    def close_session(self, token: str) -> None: ...

    def session_user(self, token: str) -> str | None: ...

    def send(self, token: str, command: Command) -> CommandResult:
        """Calls the cell's method under the session's identity; never raises for refusals."""
        ...
