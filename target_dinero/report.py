"""Counters of what the target did, per stream, printed as a summary at the end of the run."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict

__all__ = ["OUTCOMES", "RunReport"]

#: created / updated (a draft changed) / booked / unchanged (already in Dinero as sent) /
#: skipped_booked (already booked in Dinero: never changed) / rejected / would_create, would_update,
#: would_book (dry run)
OUTCOMES = (
    "created",
    "updated",
    "booked",
    "unchanged",
    "skipped_booked",
    "rejected",
    "would_create",
    "would_update",
    "would_book",
)


class RunReport:
    """Thread-safe tally of outcomes per stream, plus notes worth a human's attention."""

    def __init__(self) -> None:
        self._counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.notes: list[str] = []
        self._lock = threading.Lock()

    def count(self, stream: str, outcome: str, n: int = 1) -> None:
        """Add ``n`` to ``outcome`` of ``stream``."""
        with self._lock:
            self._counts[stream][outcome] += n

    def note(self, text: str) -> None:
        """Remember something the summary should mention (e.g. a booked object that differs)."""
        with self._lock:
            self.notes.append(text)

    def get(self, stream: str, outcome: str) -> int:
        """Current count of ``outcome`` for ``stream``."""
        with self._lock:
            return self._counts[stream][outcome]

    def as_dict(self) -> dict[str, dict[str, int]]:
        """Counts per stream (only non-zero outcomes)."""
        with self._lock:
            return {stream: dict(counter) for stream, counter in sorted(self._counts.items())}
