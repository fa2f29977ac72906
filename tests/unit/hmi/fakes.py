"""A fake cell for the HMI's page tests: PackML transitions, alarms and per-user sessions in memory."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import replace

from cell_control.types import PackMLState
from hmi.model import AlarmView, CellSnapshot, Command, CommandKind, CommandResult, RobotView, TrendPoint

S = PackMLState
# the few transitions the page tests exercise (the real table lives in the cell)
_NEXT = {
    (CommandKind.RESET, S.STOPPED): S.IDLE,
    (CommandKind.START, S.IDLE): S.EXECUTE,
    (CommandKind.STOP, S.EXECUTE): S.STOPPED,
    (CommandKind.HOLD, S.EXECUTE): S.HELD,
    (CommandKind.UNHOLD, S.HELD): S.EXECUTE,
    (CommandKind.ABORT, S.EXECUTE): S.ABORTED,
    (CommandKind.CLEAR, S.ABORTED): S.STOPPED,
}


class FakeCell:
    def __init__(self, state: PackMLState = S.IDLE, connected: bool = True) -> None:
        self._lock = threading.Lock()
        self.sessions: dict[str, str] = {}
        self.sent: list[tuple[str, Command]] = []
        self.viewers: set[str] = set()
        self.view_wanted = False  # users the "cell" refuses methods to (BadUserAccessDenied)
        self.snap = CellSnapshot(
            url="opc.tcp://fake:4840",
            connected=connected,
            error="" if connected else "cannot reach the cell: connection refused",
            read_at_unix_s=time.time(),
            state=state,
            cell_name="FakeCell",
            counters={"ProcessedCount": 10, "OkCount": 7, "DefectiveCount": 2, "ReviewCount": 1},
            robot=RobotView(mode="running", tcp_position_m=(0.4, 0.0, 0.3), contact_force_n=12.5),
            trend=tuple(TrendPoint(1000.0 + i, i, 0, 10.0 + i % 3) for i in range(30)),
            render_note="No live view: fake cell.",
        )

    def set(self, **changes: object) -> None:
        with self._lock:
            self.snap = replace(self.snap, **changes)  # type: ignore[arg-type]

    def add_alarm(self, alarm_id: str, state: str = "unacknowledged", severity: int = 750) -> None:
        a = AlarmView(alarm_id, "ROBOT_PSTOP", "Protective stop: contact force over limit", severity, state, "now")
        self.set(alarms=(*self.snap.alarms, a))

    # --- CellClient --------------------------------------------------------------------------
    def snapshot(self) -> CellSnapshot:
        with self._lock:
            return self.snap

    def want_view(self) -> None:
        self.view_wanted = True

    def open_session(self, user: str, password: str) -> str:
        token = secrets.token_hex(8)
        self.sessions[token] = user
        return token

    def close_session(self, token: str) -> None:
        self.sessions.pop(token, None)

    def session_user(self, token: str) -> str | None:
        return self.sessions.get(token)

    def send(self, token: str, command: Command) -> CommandResult:
        user = self.sessions.get(token)
        if user is None:
            return CommandResult(False, "Your HMI session has ended; log in again.")
        self.sent.append((user, command))
        if user in self.viewers:
            return CommandResult(False, "The cell refused: your role may not do this (BadUserAccessDenied).")
        if command.kind in (CommandKind.ACKNOWLEDGE, CommandKind.SHELVE, CommandKind.UNSHELVE):
            new = {CommandKind.ACKNOWLEDGE: "acknowledged", CommandKind.SHELVE: "shelved"}.get(
                command.kind, "acknowledged"
            )
            alarms = tuple(replace(a, state=new) if a.alarm_id == command.alarm_id else a for a in self.snap.alarms)
            self.set(alarms=alarms)
            return CommandResult(True, f"{command.kind.value.capitalize()} sent.")
        nxt = _NEXT.get((command.kind, self.snap.state)) if self.snap.state is not None else None
        if nxt is None:
            return CommandResult(False, f"The cell refused {command.kind.value}: not allowed in this state.")
        self.set(state=nxt)
        return CommandResult(True, f"{command.kind.value.capitalize()} sent.")
