from __future__ import annotations

import pytest

from cell_control.packml import ACTING_STATES, SC, TRANSITIONS, WAIT_STATES, transition
from cell_control.types import PackMLCommand as C
from cell_control.types import PackMLState as S

# The ISA-TR88.00.02 base state model, written out independently of the implementation's table.
EXPECTED: dict[S, dict[C, S]] = {
    S.STOPPED: {C.RESET: S.RESETTING, C.ABORT: S.ABORTING},
    S.RESETTING: {C.STOP: S.STOPPING, C.ABORT: S.ABORTING},
    S.IDLE: {C.START: S.STARTING, C.STOP: S.STOPPING, C.ABORT: S.ABORTING},
    S.STARTING: {C.STOP: S.STOPPING, C.ABORT: S.ABORTING},
    S.EXECUTE: {C.HOLD: S.HOLDING, C.SUSPEND: S.SUSPENDING, C.STOP: S.STOPPING, C.ABORT: S.ABORTING},
    S.HOLDING: {C.STOP: S.STOPPING, C.ABORT: S.ABORTING},
    S.HELD: {C.UNHOLD: S.UNHOLDING, C.STOP: S.STOPPING, C.ABORT: S.ABORTING},
    S.UNHOLDING: {C.STOP: S.STOPPING, C.ABORT: S.ABORTING},
    S.SUSPENDING: {C.STOP: S.STOPPING, C.ABORT: S.ABORTING},
    S.SUSPENDED: {C.UNSUSPEND: S.UNSUSPENDING, C.STOP: S.STOPPING, C.ABORT: S.ABORTING},
    S.UNSUSPENDING: {C.STOP: S.STOPPING, C.ABORT: S.ABORTING},
    S.COMPLETING: {C.STOP: S.STOPPING, C.ABORT: S.ABORTING},
    S.COMPLETE: {C.RESET: S.RESETTING, C.STOP: S.STOPPING, C.ABORT: S.ABORTING},
    S.STOPPING: {C.ABORT: S.ABORTING},
    S.ABORTING: {},
    S.ABORTED: {C.CLEAR: S.CLEARING},
    S.CLEARING: {C.ABORT: S.ABORTING},
}
EXPECTED_SC: dict[S, S] = {
    S.RESETTING: S.IDLE,
    S.STARTING: S.EXECUTE,
    S.EXECUTE: S.COMPLETING,
    S.COMPLETING: S.COMPLETE,
    S.HOLDING: S.HELD,
    S.UNHOLDING: S.EXECUTE,
    S.SUSPENDING: S.SUSPENDED,
    S.UNSUSPENDING: S.EXECUTE,
    S.STOPPING: S.STOPPED,
    S.ABORTING: S.ABORTED,
    S.CLEARING: S.STOPPED,
}


def test_seventeen_states_nine_commands() -> None:
    assert len(S) == 17 and len(C) == 9
    assert set(EXPECTED) == set(S)
    assert ACTING_STATES | WAIT_STATES | {S.EXECUTE} == set(S)


@pytest.mark.parametrize("state", list(S))
@pytest.mark.parametrize("command", list(C))
def test_every_state_and_command(state: S, command: C) -> None:
    t = transition(state, command)
    want = EXPECTED[state].get(command)
    if want is None:
        assert not t.accepted
        assert t.state == state  # refused: nothing changes
        assert command.name.capitalize() in t.reason and state.name.capitalize() in t.reason
    else:
        assert t.accepted and t.state == want and t.reason == ""


@pytest.mark.parametrize("state", list(S))
def test_state_complete(state: S) -> None:
    t = transition(state, SC)
    if state in EXPECTED_SC:
        assert t.accepted and t.state == EXPECTED_SC[state]
    else:
        assert not t.accepted and t.state == state and "wait state" in t.reason


def test_table_has_nothing_else() -> None:
    n = sum(len(v) for v in EXPECTED.values()) + len(EXPECTED_SC)
    assert len(TRANSITIONS) == n


def test_a_full_production_cycle() -> None:
    s = S.STOPPED
    for ev in (C.RESET, SC, C.START, SC, C.HOLD, SC, C.UNHOLD, SC, C.SUSPEND, SC, C.UNSUSPEND, SC, SC, SC, C.RESET):
        t = transition(s, ev)
        assert t.accepted, (s, ev, t.reason)
        s = t.state
    assert s == S.RESETTING
