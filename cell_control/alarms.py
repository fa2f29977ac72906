"""ISA-18.2 alarm manager: one alarm per condition, states unacknowledged / acknowledged / returned to
normal unacknowledged / normal / shelved, every change written to the store before anyone is told.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from cell_control.types import AlarmRecord, AlarmSeverity, AlarmState

log = logging.getLogger(__name__)


class AlarmSink(Protocol):
    """Where alarm changes are recorded (cell_control.store.Store satisfies it)."""

    def raise_alarm(self, alarm: AlarmRecord) -> int: ...

    def alarm_event(self, alarm_id: int, alarm: AlarmRecord) -> None: ...


class AlarmError(ValueError):
    """An operator action that does not apply to the alarm (unknown id, already acknowledged, ...)."""


@dataclass(frozen=True)
class Alarm:
    id: int
    code: str
    message: str
    severity: AlarmSeverity
    state: AlarmState
    raised_at: datetime
    changed_at: datetime
    part_serial: str | None = None
    user: str = ""
    reason: str = ""
    condition_active: bool = True
    state_before_shelve: AlarmState | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "code": self.code,
            "message": self.message,
            "severity": int(self.severity),
            "state": self.state.value,
            "raised_at": self.raised_at.isoformat(),
            "changed_at": self.changed_at.isoformat(),
            "part_serial": self.part_serial,
            "user": self.user,
        }


class AlarmManager:
    """Not thread-safe: owned by the cell's event loop."""

    def __init__(self, sink: AlarmSink, now: Callable[[], datetime] | None = None) -> None:
        self._sink = sink
        self._now = now or (lambda: datetime.now(UTC))
        self._alarms: dict[int, Alarm] = {}
        self._by_code: dict[str, int] = {}
        self._listeners: list[Callable[[Alarm], None]] = []

    def subscribe(self, listener: Callable[[Alarm], None]) -> None:
        self._listeners.append(listener)

    def _record(self, a: Alarm) -> AlarmRecord:
        return AlarmRecord(
            code=a.code,
            message=a.message,
            severity=a.severity,
            state=a.state,
            changed_at=a.changed_at,
            user=a.user,
            reason=a.reason,
            part_serial=a.part_serial,
        )

    def _changed(self, a: Alarm) -> None:
        self._sink.alarm_event(a.id, self._record(a))
        self._store_in_memory(a)

    def _store_in_memory(self, a: Alarm) -> None:
        if a.state == AlarmState.NORMAL:
            self._alarms.pop(a.id, None)
            if self._by_code.get(a.code) == a.id:
                del self._by_code[a.code]
        else:
            self._alarms[a.id] = a
        for fn in self._listeners:
            try:
                fn(a)
            except Exception:  # a broken listener must not lose the alarm
                log.exception("alarm listener failed")

    # --- conditions (the cell) -----------------------------------------------------------------
    def raise_alarm(
        self, code: str, message: str, severity: AlarmSeverity = AlarmSeverity.HIGH, part_serial: str | None = None
    ) -> Alarm:
        """Condition became active. An alarm already open for the code is re-activated, not duplicated."""
        now = self._now()
        existing = self._by_code.get(code)
        if existing is not None:
            a = self._alarms[existing]
            if a.condition_active:
                return a
            state = a.state
            if state in (AlarmState.RTN_UNACK,):
                state = AlarmState.UNACK_ACTIVE
            b = replace(a, state=state, condition_active=True, changed_at=now, message=message, user="", reason="")
            self._changed(b)
            return b
        a = Alarm(0, code, message, severity, AlarmState.UNACK_ACTIVE, now, now, part_serial)
        alarm_id = self._sink.raise_alarm(self._record(a))
        a = replace(a, id=alarm_id)
        self._by_code[code] = alarm_id
        self._store_in_memory(a)
        log.warning("alarm %s raised: %s", code, message)
        return a

    def clear(self, code: str) -> Alarm | None:
        """Condition returned to normal."""
        alarm_id = self._by_code.get(code)
        if alarm_id is None:
            return None
        a = self._alarms[alarm_id]
        if not a.condition_active:
            return a
        now = self._now()
        if a.state == AlarmState.UNACK_ACTIVE:
            b = replace(a, state=AlarmState.RTN_UNACK, condition_active=False, changed_at=now, user="", reason="")
        elif a.state == AlarmState.ACK_ACTIVE:
            b = replace(a, state=AlarmState.NORMAL, condition_active=False, changed_at=now, user="", reason="")
        else:  # shelved: remember the condition is gone; unshelving decides what shows
            b = replace(a, condition_active=False, changed_at=now)
            self._alarms[a.id] = b
            return b
        self._changed(b)
        return b

    # --- operators -----------------------------------------------------------------------------
    def _get(self, alarm_id: int) -> Alarm:
        a = self._alarms.get(alarm_id)
        if a is None:
            raise AlarmError(f"no open alarm with id {alarm_id}")
        return a

    def acknowledge(self, alarm_id: int, user: str, comment: str = "") -> Alarm:
        a = self._get(alarm_id)
        now = self._now()
        if a.state == AlarmState.UNACK_ACTIVE:
            b = replace(a, state=AlarmState.ACK_ACTIVE, changed_at=now, user=user, reason=comment)
        elif a.state == AlarmState.RTN_UNACK:
            b = replace(a, state=AlarmState.NORMAL, changed_at=now, user=user, reason=comment)
        else:
            raise AlarmError(f"alarm {alarm_id} is {a.state.value}: nothing to acknowledge")
        self._changed(b)
        return b

    def shelve(self, alarm_id: int, user: str, reason: str) -> Alarm:
        if not reason.strip():
            raise AlarmError("shelving an alarm needs a reason")
        a = self._get(alarm_id)
        if a.state == AlarmState.SHELVED:
            raise AlarmError(f"alarm {alarm_id} is already shelved")
        b = replace(
            a, state=AlarmState.SHELVED, state_before_shelve=a.state, changed_at=self._now(), user=user, reason=reason
        )
        self._changed(b)
        return b

    def unshelve(self, alarm_id: int, user: str) -> Alarm:
        a = self._get(alarm_id)
        if a.state != AlarmState.SHELVED:
            raise AlarmError(f"alarm {alarm_id} is not shelved")
        before = a.state_before_shelve or AlarmState.UNACK_ACTIVE
        if not a.condition_active:
            state = (
                AlarmState.RTN_UNACK if before in (AlarmState.UNACK_ACTIVE, AlarmState.RTN_UNACK) else AlarmState.NORMAL
            )
        else:
            state = AlarmState.UNACK_ACTIVE if before == AlarmState.RTN_UNACK else before
        b = replace(a, state=state, state_before_shelve=None, changed_at=self._now(), user=user, reason="unshelved")
        self._changed(b)
        return b

    # --- views ---------------------------------------------------------------------------------
    def open_alarms(self) -> list[Alarm]:
        """Every alarm not yet back to normal (shelved included), newest first."""
        return sorted(self._alarms.values(), key=lambda a: a.id, reverse=True)

    def unacknowledged_count(self) -> int:
        return sum(1 for a in self._alarms.values() if a.state in (AlarmState.UNACK_ACTIVE, AlarmState.RTN_UNACK))

    def is_active(self, code: str) -> bool:
        alarm_id = self._by_code.get(code)
        return alarm_id is not None and self._alarms[alarm_id].condition_active
