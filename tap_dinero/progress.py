"""Per-stream progress lines an operator can read: count, total, rate and ETA, every 30 seconds.

Before (issue 16) a stream logged its counters every 25 requests, with no total, rate or ETA, although
the first page of a Dinero list says how many rows the list holds (``Pagination.ResultWithoutFilter``).
That count is exact on a list read without ``changesSince``; with ``changesSince`` Dinero may count the
whole unfiltered list (REFERENCE §3.1), so it is shown as an upper bound and no ETA is derived from it.
"""

from __future__ import annotations

import logging
import time
import typing as t

__all__ = ["PROGRESS_INTERVAL_SECONDS", "StreamProgress", "format_duration"]

#: Seconds between two progress lines of one stream (the first comes after as long).
PROGRESS_INTERVAL_SECONDS = 30.0


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 5 s``, ``2 h 10 min``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {sec} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


class StreamProgress:
    """Running totals of one stream (records, requests, quota wait) and its progress line."""

    def __init__(self, interval: float | None = None, clock: t.Callable[[], float] = time.monotonic) -> None:
        """Start at zero; ``interval`` defaults to ``PROGRESS_INTERVAL_SECONDS``."""
        self.records = 0
        self.requests = 0
        self.quota_wait_seconds = 0.0
        self.interval = PROGRESS_INTERVAL_SECONDS if interval is None else interval
        self._clock = clock
        self.label = ""
        self.total: int | None = None
        self.total_exact = False
        self._start = clock()
        self._start_records = 0
        self._last_log = self._start

    def as_dict(self) -> dict[str, t.Any]:
        """The totals as a log-friendly dict."""
        return {
            "records": self.records,
            "requests": self.requests,
            "quota_wait_seconds": round(self.quota_wait_seconds, 2),
        }

    def start_partition(self, label: str) -> None:
        """A new partition (organization) starts: rate, total and ETA count from here."""
        self.label = label
        self.total = None
        self.total_exact = False
        self._start = self._last_log = self._clock()
        self._start_records = self.records

    def note_total(self, total: int | None, *, exact: bool) -> None:
        """The row count of the first list page of the partition (later pages and passes do not change it)."""
        if self.total is None and isinstance(total, int) and total >= 0:
            self.total = total
            self.total_exact = exact

    def line(self, name: str) -> str:
        """``invoices (organization 100000): 1850 of 4000 records (46 %), 31.2/s, ETA 1 min 9 s; ...``"""
        done = self.records - self._start_records
        elapsed = max(self._clock() - self._start, 1e-9)
        rate = done / elapsed
        eta = ""
        if self.total is not None and self.total_exact:
            share = min(100, int(100 * done / self.total)) if self.total else 100
            text = f"{name}{self.label}: {done} of {self.total} records ({share} %)"
            if rate > 0 and self.total > done:
                eta = f", ETA {format_duration((self.total - done) / rate)}"
        elif self.total is not None:
            text = f"{name}{self.label}: {done} records (the list holds at most {self.total})"
        else:
            text = f"{name}{self.label}: {done} records"
        return (
            f"{text}, {rate:.1f} records/s{eta}; {self.requests} requests, "
            f"{self.quota_wait_seconds:.1f} s quota wait, {format_duration(elapsed)} elapsed"
        )

    def maybe_log(self, logger: logging.Logger, name: str) -> None:
        """Log the progress line when ``interval`` has passed since the last one."""
        now = self._clock()
        if now - self._last_log >= self.interval:
            self._last_log = now
            logger.info("Progress of %s", self.line(name))
