"""A local journal of the manual vouchers the target created: how vouchers are loaded exactly once.

Why a journal: Dinero has no way to find a manual voucher by its ExternalReference. There is no list
endpoint and no filter for manual vouchers (REFERENCE §2.9), their create model takes no client-chosen
Guid (§6.20), and the entries endpoints (§2.13) only show *booked* vouchers -- a draft is invisible to
every search. So the target remembers what it created, in an append-only JSONL file (one per Dinero
host and organization), and writes to it around every write request:

1. ``pending``   -- appended and fsync'ed *before* the create request (with the FileGuid once the file
   is uploaded, so an upload is never repeated);
2. ``draft``     -- appended with the voucher Guid and Timestamp as soon as the create answer arrives;
3. ``booked``    -- appended after the book request succeeded.

What this survives: a crash before (1) or after (2) loses nothing and duplicates nothing (the next run
finds the reference, compares, updates a draft with its Timestamp or leaves a booked voucher alone).
The one window it cannot close is a crash *between sending the create and appending (2)*, or a
network error that leaves the create's outcome unknown: the journal then holds ``pending`` without a
Guid. For a voucher with a file the next run resolves it through the file list (``GET /files`` shows
which voucher the uploaded FileGuid is linked to). Without a file nothing in the API can tell, so the
target refuses to guess: the record is rejected with a reason that names the ExternalReference to
check in Dinero, never created a second time. Deleting that journal line after checking makes the
next run create it.

Alternatives considered: scanning ``/entries`` finds booked vouchers only, costs a request per voucher
to read each one's ExternalReference, and still misses drafts; ledger items (kassekladde) take a
client Id but are a different document type than the manual vouchers asked for.

One run at a time: the first access takes an exclusive lock on ``<journal>.lock`` and holds it until
the process ends (the OS drops it on any exit, ``SIGKILL`` included). A second target run on the same
journal -- an overlapping schedule, a retry started while the first process still runs -- waits for it
(up to ``lock_timeout`` seconds, then stops with an error naming the journal) and only then reads the
journal, so it sees every voucher the first run created instead of creating them again.

Keep the file between runs (a Meltano/Airflow worker should point ``ledger_file`` at persistent
storage). Lost journal = the target cannot know what it created before; it then creates again. The
opposite mistake -- a journal that belongs to another organization, or to a sandbox that was reset --
is caught: once per run the target reads one voucher the journal lists (one GET) and stops with an
error naming the journal when a booked one does not exist.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

__all__ = ["JournalBusyError", "VoucherJournal"]

DEFAULT_LOCK_TIMEOUT_SECONDS = 600.0
# Journal locks this process holds, by resolved path; released by the OS when the process ends.
_PROCESS_LOCKS: dict[str, FileLock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


class JournalBusyError(RuntimeError):
    """Another target run held the journal for longer than the lock timeout."""


class VoucherJournal:
    """Append-only, fsync'ed JSONL journal keyed by ExternalReference (thread-safe)."""

    def __init__(self, path: str | Path | None, lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS) -> None:
        self.path = Path(path).expanduser() if path else None
        self.lock_timeout = lock_timeout
        self._entries: dict[str, dict[str, Any]] | None = None
        self._lock = threading.RLock()
        self._run_lock: FileLock | None = None

    def _hold_run_lock(self) -> None:
        """Take the journal's cross-process lock for the rest of this process (see module docstring).

        The lock belongs to the process, not to this object: a later VoucherJournal on the same journal in the
        same process (a re-run inside one interpreter, as tests do) shares it instead of waiting for
        itself.
        """
        if self.path is None or self._run_lock is not None:
            return
        key = str(self.path.resolve())
        with _PROCESS_LOCKS_GUARD:
            run_lock = _PROCESS_LOCKS.get(key)
            if run_lock is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                run_lock = FileLock(key + ".lock", thread_local=False)
                try:
                    run_lock.acquire(timeout=self.lock_timeout)
                except Timeout:
                    raise JournalBusyError(
                        f"Another target-dinero run has held the voucher journal {self.path} for "
                        f"{self.lock_timeout:g} s. Runs loading into one organization must not overlap: "
                        "wait for it to end (or stop it), then run again."
                    ) from None
                _PROCESS_LOCKS[key] = run_lock
        self._run_lock = run_lock

    def _load(self) -> dict[str, dict[str, Any]]:
        if self._entries is not None:
            return self._entries
        self._hold_run_lock()
        entries: dict[str, dict[str, Any]] = {}
        if self.path is not None and self.path.exists():
            with self.path.open(encoding="utf-8") as handle:
                for line in handle:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        event = json.loads(line)
                    except ValueError:
                        continue  # a line torn by a crash mid-write: the write it announced never finished
                    ref = event.pop("ref", None)
                    if ref is None:
                        continue
                    entry = entries.setdefault(ref, {"ref": ref})
                    added = event.pop("add_sales", None)
                    entry.update(event)
                    if added:
                        entry.setdefault("sales", {}).update(added)
        self._entries = entries
        return entries

    def get(self, ref: str) -> dict[str, Any] | None:
        """The merged state of ``ref`` (a copy), or None if the target never created it."""
        with self._lock:
            entry = self._load().get(ref)
            return json.loads(json.dumps(entry)) if entry is not None else None

    def entries(self) -> list[dict[str, Any]]:
        """Copies of every entry (for the end-of-run pass over drafts still to book)."""
        with self._lock:
            return json.loads(json.dumps(list(self._load().values())))

    def record(self, ref: str, *, add_sales: dict[str, Any] | None = None, **fields: Any) -> None:
        """Append an event for ``ref`` and make it durable before returning."""
        event: dict[str, Any] = {
            "ref": ref,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **fields,
        }
        if add_sales:
            event["add_sales"] = add_sales
        line = json.dumps(event, default=str, separators=(",", ":"))
        with self._lock:
            entries = self._load()
            entry = entries.setdefault(ref, {"ref": ref})
            entry.update(fields)
            if add_sales:
                entry.setdefault("sales", {}).update(add_sales)
            if self.path is None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())
