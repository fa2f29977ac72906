"""PackML (ISA-TR88.00.02 / OPC 30050) base state machine as a pure transition table.

Acting states (names ending in -ing) and the wait state EXECUTE end on a "state complete" (SC) event
that the machine raises itself when the state's work is done (a reset finished, the drained pipeline
stopped, the part count reached); commands come from people or the line. A command that is not valid in
the current state is refused with a reason and changes nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cell_control.types import PackMLCommand, PackMLState

S = PackMLState
C = PackMLCommand


class StateComplete(enum.Enum):
    """The machine's own event: the work of the current acting state is done."""

    SC = "state_complete"


SC = StateComplete.SC
Event = PackMLCommand | StateComplete

ACTING_STATES = frozenset(
    {
        S.CLEARING,
        S.STARTING,
        S.STOPPING,
        S.ABORTING,
        S.HOLDING,
        S.UNHOLDING,
        S.SUSPENDING,
        S.UNSUSPENDING,
        S.RESETTING,
        S.COMPLETING,
    }
)
WAIT_STATES = frozenset({S.STOPPED, S.IDLE, S.SUSPENDED, S.ABORTED, S.HELD, S.COMPLETE})

# Stop and Abort apply across whole groups of states; the rest are single transitions.
_STOPPABLE = frozenset(set(S) - {S.STOPPED, S.STOPPING, S.ABORTING, S.ABORTED, S.CLEARING})
_ABORTABLE = frozenset(set(S) - {S.ABORTING, S.ABORTED})

_TABLE: dict[tuple[PackMLState, Event], PackMLState] = {
    (S.STOPPED, C.RESET): S.RESETTING,
    (S.RESETTING, SC): S.IDLE,
    (S.IDLE, C.START): S.STARTING,
    (S.STARTING, SC): S.EXECUTE,
    (S.EXECUTE, SC): S.COMPLETING,
    (S.COMPLETING, SC): S.COMPLETE,
    (S.COMPLETE, C.RESET): S.RESETTING,
    (S.EXECUTE, C.HOLD): S.HOLDING,
    (S.HOLDING, SC): S.HELD,
    (S.HELD, C.UNHOLD): S.UNHOLDING,
    (S.UNHOLDING, SC): S.EXECUTE,
    (S.EXECUTE, C.SUSPEND): S.SUSPENDING,
    (S.SUSPENDING, SC): S.SUSPENDED,
    (S.SUSPENDED, C.UNSUSPEND): S.UNSUSPENDING,
    (S.UNSUSPENDING, SC): S.EXECUTE,
    (S.STOPPING, SC): S.STOPPED,
    (S.ABORTING, SC): S.ABORTED,
    (S.ABORTED, C.CLEAR): S.CLEARING,
    (S.CLEARING, SC): S.STOPPED,
}
for _s in _STOPPABLE:
    _TABLE[(_s, C.STOP)] = S.STOPPING
for _s in _ABORTABLE:
    _TABLE[(_s, C.ABORT)] = S.ABORTING

TRANSITIONS: dict[tuple[PackMLState, Event], PackMLState] = dict(_TABLE)


@dataclass(frozen=True)
class Transition:
    accepted: bool
    state: PackMLState  # the new state when accepted, else the unchanged current state
    reason: str = ""


def state_text(state: PackMLState) -> str:
    """OPC 30050 style display name: 'Execute', 'Stopped', ..."""
    return state.name.capitalize()


def allowed_commands(state: PackMLState) -> list[PackMLCommand]:
    return [c for c in PackMLCommand if (state, c) in TRANSITIONS]


def transition(state: PackMLState, event: Event) -> Transition:
    """The pure PackML table: the next state for an event, or a refusal with the reason."""
    nxt = TRANSITIONS.get((state, event))
    if nxt is not None:
        return Transition(True, nxt)
    if isinstance(event, StateComplete):
        return Transition(
            False, state, f"{state_text(state)} is a wait state: it completes on a command, not by itself"
        )
    valid = ", ".join(c.name.capitalize() for c in allowed_commands(state)) or "none"
    return Transition(
        False,
        state,
        f"command {event.name.capitalize()} is not valid in state {state_text(state)}; valid here: {valid}",
    )
