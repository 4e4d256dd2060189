"""Date/time helpers in Dinero's wire formats (the sandbox stores UTC).

* record times: ``YYYY-MM-DDTHH:MM:SS.fff`` (no offset, always three fractional digits, so that stored
  values compare correctly as strings)
* ``changesSince``: ``YYYY-MM-DDTHH:MM:SSZ``
* dates: ``YYYY-MM-DD``
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

_CHANGES_SINCE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?)Z?$")

UTC = timezone.utc


def utcnow() -> datetime:
    """The current time, UTC, naive (Dinero's record times carry no offset)."""
    return datetime.now(UTC).replace(tzinfo=None)


def fmt_dt(value: datetime) -> str:
    """Format a naive UTC datetime as a Dinero record time (``.fff``)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def now_str() -> str:
    """The current time as a Dinero record time."""
    return fmt_dt(utcnow())


def fmt_date(value: date) -> str:
    """Format a date as ``YYYY-MM-DD``."""
    return value.isoformat()


def parse_changes_since(value: str) -> str | None:
    """Parse a ``changesSince`` value; return it as a comparable record time or None if malformed."""
    if not _CHANGES_SINCE.match(value):
        return None
    try:
        parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None
    return fmt_dt(parsed)


def parse_date(value: str) -> date | None:
    """Parse ``YYYY-MM-DD``; None when malformed."""
    if not _DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def parse_date_or_datetime(value: str) -> datetime | None:
    """Parse a date (midnight) or a date-time (optionally with ``Z`` / fractions); None when malformed."""
    value = value.strip()
    day = parse_date(value)
    if day is not None:
        return datetime(day.year, day.month, day.day)
    match = _DATETIME.match(value)
    if not match:
        return None
    time_part = match.group(2)
    if len(time_part) == 5:
        time_part += ":00"
    try:
        return datetime.fromisoformat(f"{match.group(1)}T{time_part[:15]}")
    except ValueError:
        return None


def record_time_to_datetime(value: str) -> datetime:
    """Parse a stored record time back to a datetime."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f")


def add_seconds(value: str, seconds: float) -> str:
    """Add seconds to a stored record time."""
    return fmt_dt(record_time_to_datetime(value) + timedelta(seconds=seconds))
