"""What a report covers: a half-open UTC time window [since, until) and optionally one lot."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta


class WindowError(ValueError):
    """A window the user asked for that cannot be used; the message says which value and why."""


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def as_utc(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes; the store writes UTC, so naive means UTC."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def parse_time(text: str, *, option: str = "time", end_of_day: bool = False) -> datetime:
    """ISO 8601 date or date-time to an aware UTC datetime.

    A bare date means midnight UTC; with `end_of_day` (for --until) it means the end of that day, so
    `--until 2026-11-21` includes the whole 21st. A time without an offset is taken as UTC.
    """
    raw = text.strip()
    if not raw:
        raise WindowError(f"{option}: empty value; expected an ISO 8601 date or time such as 2026-11-21T06:00:00Z")
    try:
        if _DATE_ONLY.match(raw):
            d = date.fromisoformat(raw)
            start = datetime(d.year, d.month, d.day, tzinfo=UTC)
            return start + timedelta(days=1) if end_of_day else start
        value = raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw
        return as_utc(datetime.fromisoformat(value))
    except ValueError as exc:
        raise WindowError(
            f"{option} {text!r}: not an ISO 8601 date or time ({exc}); "
            "expected e.g. 2026-11-21, 2026-11-21T06:00, 2026-11-21T06:00:00Z or 2026-11-21T07:00:00+01:00"
        ) from exc


@dataclass(frozen=True)
class ReportWindow:
    """Parts whose inspection finished in [since, until) (either end open when None), optionally one lot."""

    since: datetime | None = None
    until: datetime | None = None
    lot: str | None = None

    def __post_init__(self) -> None:
        if self.since is not None:
            object.__setattr__(self, "since", as_utc(self.since))
        if self.until is not None:
            object.__setattr__(self, "until", as_utc(self.until))
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise WindowError(
                f"window is empty: since {self.since.isoformat()} is not before until {self.until.isoformat()}"
            )
        if self.lot is not None and not self.lot.strip():
            raise WindowError("lot: empty value; leave it out to report every lot")

    @classmethod
    def parse(cls, since: str | None = None, until: str | None = None, lot: str | None = None) -> ReportWindow:
        """From CLI strings; raises WindowError naming the option and the value."""
        start = parse_time(since, option="--since") if since is not None else None
        end = parse_time(until, option="--until", end_of_day=True) if until is not None else None
        if start is not None and end is not None and start >= end:
            raise WindowError(
                f"--since {since!r} ({start.isoformat()}) is not before --until {until!r} ({end.isoformat()}, "
                "exclusive; a bare date means the end of that day)"
            )
        return cls(since=start, until=end, lot=lot)

    @classmethod
    def shift(cls, day: date, start_hour: float, hours: float, lot: str | None = None) -> ReportWindow:
        """One shift: e.g. shift(date(2026, 11, 21), 6, 8) covers 06:00-14:00 UTC."""
        if not 0 <= start_hour < 24 or not 0 < hours <= 24:
            raise WindowError(f"shift: start hour {start_hour} must be in [0, 24) and length {hours} h in (0, 24]")
        since = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=start_hour)
        return cls(since=since, until=since + timedelta(hours=hours), lot=lot)

    def describe(self) -> str:
        since = self.since.isoformat() if self.since else "(first record)"
        until = self.until.isoformat() if self.until else "(last record)"
        text = f"{since} to {until}"
        return f"{text}, lot {self.lot}" if self.lot else text

    def to_dict(self) -> dict[str, str | None]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "lot": self.lot,
        }
