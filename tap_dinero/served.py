"""What a partition's read of a ``changesSince`` list has served, in memory that does not grow with the list.

:class:`ChangesSinceStream` (tap_dinero.incremental) must know, for every row a list serves:

* whether the same row version (key and ``UpdatedAt|DeletedAt`` stamp) was already emitted in this run, so
  it is not emitted twice, and
* whether the list moved while it was paged: a key served twice by the normal pass, or served by it and
  then by the deletion pass. The list is then read again.

Keeping every key of the run in sets took about 330 bytes per row (30 MiB per 100 000 rows). What a repeat
can really hit, on the first read of a list, is small:

* A list that gains rows at an earlier position shifts later rows forward, so the last rows of one page
  come again at the start of the next, with the same stamp: the keys of the last page or two (``window``)
  catch that.
* A row that moves to a later position (``UpdatedAt``-ordered lists on an update, a draft invoice that is
  booked) or that is deleted while the list is paged was *changed during the run*, so its new stamp is
  recent. Recent rows (``UpdatedAt``/``DeletedAt`` at most ``RECENT_MARGIN`` before the run, or
  unreadable) are few; their keys and stamps stay in memory, and at the end of the read the keys of the
  rows served are scanned once for them.

Every row served is also appended, a page at a time, to an anonymous temporary file (``pickle`` of
``(flag, key, stamp)`` tuples, about 0.2 µs per row). Only when a list has to be read again is that file
loaded into a private temporary SQLite database (on disk, with a 2 MiB page cache); the re-reads then
check every row against it exactly, as the in-memory sets did.

Limit of the first read: a list that gains more than a page of rows ahead of the read position between two
page requests repeats rows older than the window; those rows (unchanged, so nothing is lost) are emitted
twice and do not trigger a re-read.
"""

from __future__ import annotations

import datetime as dt
import pickle
import sqlite3
import tempfile
import typing as t

__all__ = ["RECENT_MARGIN", "ServedRows"]

#: A row changed while the list is paged is stamped at or after the run's start by Dinero's clock. Rows
#: stamped up to this long before the run count as recent, so a Dinero clock that runs behind ours (or
#: ``lookback_seconds: 0``) cannot hide a moved row; Danish local time only pushes stamps later.
RECENT_MARGIN = dt.timedelta(hours=1)
#: SQLite page cache of a re-read (negative: KiB), so a re-read of a large list stays flat too.
_CACHE_KIB = 2048

# flags of the spilled rows
_LIVE, _LIVE_EMITTED, _DELETED, _DELETED_EMITTED = 0, 1, 2, 3
_EMITTED = (_LIVE_EMITTED, _DELETED_EMITTED)
_MISSING = object()


class ServedRows:
    """Rows served and emitted by the reads of one partition (see the module docstring).

    Use as a context manager; per read call :meth:`start_read`, per pass :meth:`start_pass`, per row
    :meth:`serve`, and :meth:`finish_read` to learn whether the list moved.
    """

    def __init__(self, page_size: int) -> None:
        """``page_size``: rows per list request (the size of one window generation)."""
        self._page_size = max(1, int(page_size))
        self._deleted_pass = False
        self._disturbed = False
        # first read: bounded in-memory structures plus the spill file
        self._window: dict[str, str] = {}
        self._window_before: dict[str, str] = {}
        self._recent_emitted: set[tuple[str, str]] = set()
        self._recent_live: set[str] = set()
        self._recent_deleted: set[str] = set()
        self._batch: list[tuple[int, str, str]] = []
        self._spill: t.IO[bytes] | None = None
        # re-reads: everything in SQLite
        self._db: sqlite3.Connection | None = None

    def __enter__(self) -> ServedRows:
        """The object itself."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the temporary file and database."""
        self.close()

    def close(self) -> None:
        """Drop the spill file and the SQLite database (both vanish with their handles)."""
        if self._spill is not None:
            self._spill.close()
            self._spill = None
        if self._db is not None:
            self._db.close()
            self._db = None
        self._batch = []

    # ------------------------------------------------------------------------------------- reads
    def start_read(self, attempt: int) -> None:
        """Begin read number ``attempt`` (1-based) of the list; reads after the first are exact."""
        self._disturbed = False
        if attempt > 1:
            db = self._database()
            db.execute("DELETE FROM live")

    def start_pass(self, *, deleted: bool) -> None:
        """Begin the normal pass or the ``deletedOnly`` pass of the current read."""
        self._deleted_pass = deleted
        self._window, self._window_before = {}, {}

    def serve(self, key: str, stamp: str, *, recent: bool, wanted: bool = True) -> bool:
        """Record a served row; True when it is to be emitted (``wanted`` and not emitted yet this run).

        ``recent``: the row may have changed during the run (see ``RECENT_MARGIN``). ``wanted``: False
        for a row the caller skips anyway (already emitted by the previous run); it still counts as
        served.
        """
        if self._db is not None:
            return self._serve_exact(key, stamp, wanted=wanted)
        seen = self._window.get(key, _MISSING)
        if seen is _MISSING:
            seen = self._window_before.get(key, _MISSING)
        if seen is not _MISSING and not self._deleted_pass:
            self._disturbed = True  # served twice: the list moved
        emit = wanted and seen != stamp
        if recent:
            if emit and (key, stamp) in self._recent_emitted:
                emit = False
            if emit:
                self._recent_emitted.add((key, stamp))
            (self._recent_deleted if self._deleted_pass else self._recent_live).add(key)
        window = self._window
        window[key] = stamp
        if len(window) >= self._page_size:
            self._window_before, self._window = window, {}
        flag = (_DELETED if self._deleted_pass else _LIVE) + emit
        batch = self._batch
        batch.append((flag, key, stamp))
        if len(batch) >= self._page_size:
            self._flush()
        return emit

    def finish_read(self) -> bool:
        """End the current read; True when the list moved while it was paged (read it again)."""
        if self._db is None and not self._disturbed and (self._recent_live or self._recent_deleted):
            self._disturbed = self._recent_row_moved()
        self._recent_live.clear()
        self._recent_deleted.clear()
        return self._disturbed

    # ------------------------------------------------------------------------------------- first read
    def _flush(self) -> None:
        if not self._batch:
            return
        if self._spill is None:
            self._spill = tempfile.TemporaryFile(prefix="tap-dinero-served-")  # noqa: SIM115 (closed by close())
        pickle.dump(self._batch, self._spill, protocol=pickle.HIGHEST_PROTOCOL)
        self._batch = []

    def _spilled(self) -> t.Iterator[tuple[int, str, str]]:
        """Every row recorded by the first read, from the spill file and the unflushed batch."""
        if self._spill is not None:
            self._spill.flush()
            self._spill.seek(0)
            while True:
                try:
                    yield from pickle.load(self._spill)
                except EOFError:
                    break
            self._spill.seek(0, 2)
        yield from self._batch

    def _recent_row_moved(self) -> bool:
        """A recent key served twice by the normal pass, or by it and by the deletion pass."""
        watched = self._recent_live | self._recent_deleted
        live_counts: dict[str, int] = {}
        for flag, key, _stamp in self._spilled():
            if flag <= _LIVE_EMITTED and key in watched:
                live_counts[key] = live_counts.get(key, 0) + 1
        return any(live_counts.get(key, 0) >= 2 for key in self._recent_live) or any(
            key in live_counts for key in self._recent_deleted
        )

    # ------------------------------------------------------------------------------------- re-reads
    def _database(self) -> sqlite3.Connection:
        """The re-read store, created on the first re-read from what the first read emitted."""
        if self._db is not None:
            return self._db
        db = sqlite3.connect("", isolation_level=None)  # "": private temporary database on disk
        db.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA temp_store=FILE")
        db.execute("CREATE TABLE emitted (key TEXT NOT NULL, stamp TEXT NOT NULL)")
        db.execute("CREATE TABLE live (key TEXT PRIMARY KEY) WITHOUT ROWID")
        db.executemany(
            "INSERT INTO emitted VALUES (?, ?)",
            ((key, stamp) for flag, key, stamp in self._spilled() if flag in _EMITTED),
        )
        db.execute("CREATE INDEX emitted_key ON emitted (key, stamp)")
        self._db = db
        if self._spill is not None:
            self._spill.close()
            self._spill = None
        self._batch = []
        self._window, self._window_before = {}, {}
        self._recent_emitted = set()
        return db

    def _serve_exact(self, key: str, stamp: str, *, wanted: bool) -> bool:
        db = t.cast("sqlite3.Connection", self._db)
        if self._deleted_pass:
            if db.execute("SELECT 1 FROM live WHERE key = ?", (key,)).fetchone():
                self._disturbed = True
        elif db.execute("INSERT OR IGNORE INTO live VALUES (?)", (key,)).rowcount == 0:
            self._disturbed = True
        if not wanted:
            return False
        if db.execute("SELECT 1 FROM emitted WHERE key = ? AND stamp = ?", (key, stamp)).fetchone():
            return False
        db.execute("INSERT INTO emitted VALUES (?, ?)", (key, stamp))
        return True
