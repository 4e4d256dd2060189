"""Dinero's date-time wire format: change filters, offset-less timestamps, the request clock.

Dinero takes ``changesSince``/``changesFrom``/``changesTo`` as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, inclusive)
and answers ``CreatedAt``/``UpdatedAt``/``DeletedAt`` without an offset (the sandbox stores UTC; whether
real Dinero uses UTC or Danish local time is undocumented, REFERENCE §3.5). Offset-less values are read
as UTC here; the ``lookback_seconds`` overlap and the request-clock bookmark absorb the uncertainty.
"""

from __future__ import annotations

import datetime as dt

__all__ = [
    "danish_fall_back_between",
    "format_change_filter",
    "parse_api_datetime",
    "utc_now",
    "whole_second",
    "widen_for_danish_clock_change",
]


def utc_now() -> dt.datetime:
    """The current time as an aware UTC datetime (the tap's request clock)."""
    return dt.datetime.now(dt.timezone.utc)


def whole_second(value: dt.datetime, *, round_up: bool = False) -> dt.datetime:
    """``value`` in UTC cut to a whole second (rounded up instead when ``round_up``)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    value = value.astimezone(dt.timezone.utc)
    floor = value.replace(microsecond=0)
    if round_up and floor != value:
        return floor + dt.timedelta(seconds=1)
    return floor


def format_change_filter(value: dt.datetime, *, round_up: bool = False) -> str:
    """Format a moment as Dinero's change-filter string ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds).

    Lower bounds are truncated and upper bounds (``round_up``) rounded up, so an inclusive window never
    leaves out a change that happened within its fractional second.
    """
    return whole_second(value, round_up=round_up).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_api_datetime(value: str | None) -> dt.datetime | None:
    """Parse a Dinero timestamp (``2017-05-19T14:20:47.407``, offset optional) as an aware datetime.

    Returns None for empty or unparseable values instead of failing the sync. Called for every row of
    an incremental list, so the common shape (no offset) takes the shortest path.
    """
    if not value:
        return None
    try:
        parsed = _fromisoformat(value)
    except (TypeError, ValueError):
        text = str(value).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = _fromisoformat(text)
        except ValueError:
            return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=_UTC)


_fromisoformat = dt.datetime.fromisoformat
_UTC = dt.timezone.utc


def _last_sunday_of_october(year: int) -> dt.datetime:
    """01:00 UTC on the last Sunday of October: when Danish clocks go back from 03:00 to 02:00 (the EU
    rule Denmark follows; computed, so no time-zone database is needed)."""
    day = dt.date(year, 10, 31)
    day -= dt.timedelta(days=(day.weekday() + 1) % 7)
    return dt.datetime(day.year, day.month, day.day, 1, tzinfo=dt.timezone.utc)


def danish_fall_back_between(start: dt.datetime, end: dt.datetime) -> bool:
    """Whether Danish clocks went back an hour at some instant in ``(start, end]``."""
    return any(start < _last_sunday_of_october(year) <= end for year in range(start.year, end.year + 1))


def widen_for_danish_clock_change(since: dt.datetime) -> dt.datetime:
    """``since`` moved one hour earlier when Danish clocks go back within the hour after it.

    If Dinero keeps ``UpdatedAt`` in Danish local time and compares ``changesSince`` with it as local
    wall time (REFERENCE §3.5 leaves this open), a row changed less than an hour after ``since`` but
    after the clocks went back carries a wall time *earlier* than ``since``'s, and would never be listed
    (a row changed later than that compares later anyway). One extra hour of overlap, once a year, costs
    a few re-read rows (which the tap does not emit twice); under UTC it changes nothing but that.
    """
    if danish_fall_back_between(since, since + dt.timedelta(hours=1)):
        return since - dt.timedelta(hours=1)
    return since
