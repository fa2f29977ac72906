"""--since/--until parsing: ISO 8601 in, aware UTC out, clear errors for anything else."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cell_control.reports.window import ReportWindow, WindowError, parse_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21", datetime(2026, 11, 21, tzinfo=UTC)),
        ("2026-11-21T06:30", datetime(2026, 11, 21, 6, 30, tzinfo=UTC)),
        ("2026-11-21T06:30:00Z", datetime(2026, 11, 21, 6, 30, tzinfo=UTC)),
        ("2026-11-21 07:30:00+01:00", datetime(2026, 11, 21, 6, 30, tzinfo=UTC)),
        (" 2026-11-21T06:30:00.250z ", datetime(2026, 11, 21, 6, 30, 0, 250000, tzinfo=UTC)),
    ],
)
def test_iso_times_become_utc(text: str, expected: datetime) -> None:
    got = parse_time(text)
    assert got == expected and got.tzinfo is not None and got.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_a_bare_until_date_includes_that_day() -> None:
    w = ReportWindow.parse("2026-11-21", "2026-11-21")
    assert w.since == datetime(2026, 11, 21, tzinfo=UTC)
    assert w.until == datetime(2026, 11, 22, tzinfo=UTC)


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "21/11/2026", "", "2026-11-21T25:00"])
def test_bad_times_name_the_option_and_the_value(text: str) -> None:
    with pytest.raises(WindowError) as err:
        ReportWindow.parse(since=text)
    assert "--since" in str(err.value)
    assert "ISO 8601" in str(err.value)


def test_since_must_be_before_until() -> None:
    with pytest.raises(WindowError, match="is not before"):
        ReportWindow.parse("2026-11-22", "2026-11-21")
    with pytest.raises(WindowError, match="empty"):
        ReportWindow(since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2026, 1, 1, tzinfo=UTC))


def test_shift_and_naive_bounds() -> None:
    w = ReportWindow.shift(date(2026, 11, 21), 22, 8, lot="L7")
    assert (w.since, w.until, w.lot) == (
        datetime(2026, 11, 21, 22, tzinfo=UTC),
        datetime(2026, 11, 22, 6, tzinfo=UTC),
        "L7",
    )
    naive = ReportWindow(since=datetime(2026, 11, 21, 6))
    assert naive.since == datetime(2026, 11, 21, 6, tzinfo=UTC)
    with pytest.raises(WindowError):
        ReportWindow.shift(date(2026, 11, 21), 25, 8)
    with pytest.raises(WindowError, match="lot"):
        ReportWindow(lot="  ")
