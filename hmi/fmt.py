"""Words and colours for what the HMI shows.

ISA-101 high-performance HMI: normal operation is grey-scale; colour is kept for abnormal situations
so it draws the eye only when something needs the operator.
"""

from __future__ import annotations

import enum
import html
from datetime import UTC, datetime

from cell_control.types import AlarmSeverity, AlarmState, PackMLState


class Salience(enum.StrEnum):
    NORMAL = "normal"
    ATTENTION = "attention"
    ALARM = "alarm"


STATE_WORDS: dict[PackMLState, str] = {
    PackMLState.CLEARING: "Clearing",
    PackMLState.STOPPED: "Stopped",
    PackMLState.STARTING: "Starting",
    PackMLState.IDLE: "Idle",
    PackMLState.SUSPENDED: "Suspended",
    PackMLState.EXECUTE: "Execute",
    PackMLState.STOPPING: "Stopping",
    PackMLState.ABORTING: "Aborting",
    PackMLState.ABORTED: "Aborted",
    PackMLState.HOLDING: "Holding",
    PackMLState.HELD: "Held",
    PackMLState.UNHOLDING: "Unholding",
    PackMLState.SUSPENDING: "Suspending",
    PackMLState.UNSUSPENDING: "Unsuspending",
    PackMLState.RESETTING: "Resetting",
    PackMLState.COMPLETING: "Completing",
    PackMLState.COMPLETE: "Complete",
}

STATE_HINTS: dict[PackMLState, str] = {
    PackMLState.STOPPED: "Press Reset to make the cell ready.",
    PackMLState.IDLE: "Ready. Press Start to run parts.",
    PackMLState.EXECUTE: "Producing.",
    PackMLState.HELD: "Held by the cell (for example a protective stop). Clear the cause, then Unhold.",
    PackMLState.SUSPENDED: "Waiting for parts or downstream. Unsuspend when the line is ready.",
    PackMLState.ABORTED: "Aborted. Find the cause in Alarms, then Clear.",
    PackMLState.COMPLETE: "Run complete. Reset for the next run.",
}

_ALARM_STATES = {PackMLState.ABORTING, PackMLState.ABORTED, PackMLState.CLEARING}
_ATTENTION_STATES = {PackMLState.HOLDING, PackMLState.HELD, PackMLState.SUSPENDING, PackMLState.SUSPENDED}

# Muted fills; grey for normal, amber and red only for the abnormal.
_FILL = {Salience.NORMAL: "#d9d9d9", Salience.ATTENTION: "#f2b233", Salience.ALARM: "#d9382e"}
_INK = {Salience.NORMAL: "#222222", Salience.ATTENTION: "#222222", Salience.ALARM: "#ffffff"}


def state_words(state: PackMLState | None) -> str:
    return "Unknown" if state is None else STATE_WORDS.get(state, state.name.title())


def state_salience(state: PackMLState | None) -> Salience:
    if state in _ALARM_STATES:
        return Salience.ALARM
    if state in _ATTENTION_STATES:
        return Salience.ATTENTION
    return Salience.NORMAL


def badge_html(text: str, salience: Salience, test_id: str = "") -> str:
    attr = f' data-testid="{html.escape(test_id)}"' if test_id else ""
    return (
        f'<div{attr} style="display:inline-block;padding:0.35rem 0.9rem;border-radius:0.3rem;'
        f"background:{_FILL[salience]};color:{_INK[salience]};font-size:1.6rem;font-weight:600;"
        f'border:1px solid #888">{html.escape(text)}</div>'
    )


def severity_words(severity: int) -> str:
    if severity >= AlarmSeverity.CRITICAL:
        return "Critical"
    if severity >= AlarmSeverity.HIGH:
        return "High"
    if severity >= AlarmSeverity.MEDIUM:
        return "Medium"
    return "Low"


ALARM_STATE_WORDS: dict[str, str] = {
    AlarmState.UNACK_ACTIVE.value: "Active, unacknowledged",
    AlarmState.ACK_ACTIVE.value: "Active, acknowledged",
    AlarmState.RTN_UNACK.value: "Returned to normal, unacknowledged",
    AlarmState.NORMAL.value: "Normal",
    AlarmState.SHELVED.value: "Shelved",
}


def alarm_state_words(state: str) -> str:
    return ALARM_STATE_WORDS.get(state, state or "?")


def needs_ack(state: str) -> bool:
    return state in (AlarmState.UNACK_ACTIVE.value, AlarmState.RTN_UNACK.value)


def ago(t_unix_s: float, now_unix_s: float) -> str:
    dt = max(0.0, now_unix_s - t_unix_s)
    if dt < 90:
        return f"{dt:.0f} s ago"
    if dt < 5400:
        return f"{dt / 60:.0f} min ago"
    return f"{dt / 3600:.1f} h ago"


def when(t: datetime | None) -> str:
    if t is None:
        return ""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_short(text: str) -> str:
    """An ISO 8601 time from the cell as 'YYYY-MM-DD HH:MM:SS UTC'; anything else unchanged."""
    try:
        return when(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except (ValueError, AttributeError):
        return text


def pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{100.0 * x:.{digits}f} %"


def num(x: float | int | None, digits: int = 1, unit: str = "") -> str:
    if x is None:
        return "–"
    s = f"{x:,.{digits}f}" if isinstance(x, float) else f"{x:,}"
    return f"{s} {unit}".rstrip()
