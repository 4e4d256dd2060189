"""Date-time formats Dinero uses (REFERENCE §3.5).

* ``changesSince`` takes UTC as ``YYYY-MM-DDTHH:MM:SSZ`` (inclusive: rows changed at or after it).
* ``CreatedAt`` / ``UpdatedAt`` / ``DeletedAt`` come back as ``YYYY-MM-DDTHH:MM:SS[.fff]`` with no
  offset. Whether that is UTC or Danish local time is undocumented (REFERENCE §7 question 1); the
  sandbox stores UTC and we read them as UTC. If Dinero turns out to use local time, a bookmark taken
  from ``max(UpdatedAt)`` could sit up to two hours in the future, so incremental syncs should prefer a
  client-clock bookmark (request start minus an overlap) and dedupe the inclusive boundary by key.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

__all__ = ["format_changes_since", "parse_dinero_datetime", "to_utc_iso"]

_DINERO_DT = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)


def _as_utc(value: datetime) -> datetime:
    # Naive datetimes are taken as UTC (never as the machine's local time).
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def format_changes_since(value: datetime | date | str) -> str:
    """Format for ``changesSince``: ``YYYY-MM-DDTHH:MM:SSZ`` in UTC.

    Fractions of a second are dropped (rounded *down*), which is safe because the filter is inclusive:
    it can only repeat boundary rows, never skip one. Strings are parsed first (ISO 8601 or Dinero's
    offset-less form, taken as UTC); dates mean midnight UTC.
    """
    if isinstance(value, str):
        parsed = parse_dinero_datetime(value)
        if parsed is None:
            raise ValueError(f"not a date-time: {value!r}")
        value = parsed
    elif not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    return _as_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_dinero_datetime(value: str | None) -> datetime | None:
    """Parse Dinero's timestamps (``2017-05-19T14:20:47.407``, 0-9 fractional digits, optional offset).

    Returns an aware UTC datetime; offset-less values are read as UTC (see module docstring). None or
    an empty string gives None; anything else unparsable raises ValueError.
    """
    if value is None or not value.strip():
        return None
    match = _DINERO_DT.match(value.strip())
    if not match:
        raise ValueError(f"not a Dinero date-time: {value!r}")
    fraction = (match.group("f") or "").ljust(6, "0")[:6]
    parsed = datetime.fromisoformat(
        f"{match.group('date')}T{match.group('h')}:{match.group('m')}:{match.group('s') or '00'}"
    ).replace(microsecond=int(fraction or 0), tzinfo=timezone.utc)
    tz = match.group("tz")
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        parsed = parsed - sign * offset
    return parsed


def to_utc_iso(value: str | datetime | None) -> str | None:
    """RFC 3339 UTC string (``2017-05-19T14:20:47.407000+00:00``) for records and bookmarks."""
    if value is None:
        return None
    parsed = parse_dinero_datetime(value) if isinstance(value, str) else _as_utc(value)
    return parsed.isoformat() if parsed is not None else None
