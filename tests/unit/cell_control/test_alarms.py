from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cell_control.alarms import AlarmError, AlarmManager
from cell_control.types import AlarmRecord, AlarmSeverity, AlarmState


class Sink:
    def __init__(self) -> None:
        self.rows: list[tuple[int, AlarmState]] = []
        self.next_id = 0

    def raise_alarm(self, alarm: AlarmRecord) -> int:
        self.next_id += 1
        self.rows.append((self.next_id, alarm.state))
        return self.next_id

    def alarm_event(self, alarm_id: int, alarm: AlarmRecord) -> None:
        self.rows.append((alarm_id, alarm.state))


def make() -> tuple[AlarmManager, Sink]:
    sink = Sink()
    return AlarmManager(sink, now=lambda: datetime(2026, 1, 1, tzinfo=UTC)), sink


def test_ack_then_return_to_normal() -> None:
    m, sink = make()
    a = m.raise_alarm("X", "boom", AlarmSeverity.HIGH)
    assert a.state == AlarmState.UNACK_ACTIVE and m.unacknowledged_count() == 1
    assert m.raise_alarm("X", "again").id == a.id  # one alarm per condition
    m.acknowledge(a.id, "op", "seen")
    assert m.open_alarms()[0].state == AlarmState.ACK_ACTIVE
    m.clear("X")
    assert m.open_alarms() == []
    assert [s for _, s in sink.rows] == [AlarmState.UNACK_ACTIVE, AlarmState.ACK_ACTIVE, AlarmState.NORMAL]


def test_return_to_normal_unacknowledged_then_ack() -> None:
    m, sink = make()
    a = m.raise_alarm("X", "boom")
    m.clear("X")
    assert m.open_alarms()[0].state == AlarmState.RTN_UNACK
    with pytest.raises(AlarmError):
        m.shelve(a.id, "eng", "")
    m.acknowledge(a.id, "op")
    assert m.open_alarms() == []
    with pytest.raises(AlarmError, match="no open alarm"):
        m.acknowledge(a.id, "op")
    assert len(sink.rows) == 3


def test_shelve_and_unshelve() -> None:
    m, _ = make()
    a = m.raise_alarm("X", "chatter")
    m.shelve(a.id, "eng", "sensor chatter, ticket 42")
    assert m.open_alarms()[0].state == AlarmState.SHELVED and m.unacknowledged_count() == 0
    with pytest.raises(AlarmError):
        m.acknowledge(a.id, "op")
    m.clear("X")  # condition goes away while shelved
    b = m.unshelve(a.id, "eng")
    assert b.state == AlarmState.RTN_UNACK
    m.acknowledge(a.id, "op")
    assert not m.open_alarms()
