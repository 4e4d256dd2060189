"""The durable journal of what the target wrote, kept in a store every worker of a deployment reaches.

Why a journal: Dinero cannot search manual vouchers (no list endpoint, no filter, REFERENCE §2.9), their
create model takes no client-chosen Guid (§6.20), and the entries endpoints only show *booked* vouchers.
So the target remembers, per ExternalReference, what it sent and what Dinero answered. The write
protocol that uses it is :mod:`target_dinero.exactly_once` (and :mod:`target_dinero.voucher_writer`):

1. ``pending`` -- recorded durably *before* a create is sent (with ``sent_at``, and the FileGuid once the
   voucher's file is uploaded, so an upload is reused);
2. ``draft`` / ``done`` -- recorded with the Guid as soon as a confirmed answer arrives;
3. ``booked`` -- recorded after the book request was confirmed.

Where it lives (setting ``journal_store``):

* a file path -> a SQLite database (stdlib ``sqlite3``, rollback journal, ``synchronous=FULL``): every
  process of one machine, or of machines sharing that file system, sees the same journal;
* ``redis://...`` -> Redis (the ``redis`` extra): every worker of a deployment that reaches that Redis;
* unset -> a SQLite file next to where the JSONL journal always was
  (``<ledger_file>`` with the suffix ``.sqlite3``; ``ledger_file`` defaults to
  ``<quota cache dir>/target-dinero-ledger-<host>-<org>.jsonl``).

One store holds the journals of many organizations: each is a *namespace* ``<api host>/<organization>``.
An existing JSONL journal (``ledger_file``, the format of earlier versions) is merged into the store on
first use and left in place, read-only; the store remembers the migration and never repeats it.

One run per organization at a time: before its first look-up the target takes the namespace's lock in
the store (SQLite: a file lock next to the database; Redis: a lease key renewed every few seconds and
dropped when the process ends -- a killed process's lease expires after ``REDIS_LEASE_SECONDS``). A second
run on the same organization -- an overlapping schedule, a retry started while the first still runs,
another worker -- waits for it (up to ``lock_timeout`` seconds, then stops with an error naming the
store) and only then reads the journal and Dinero, so it sees everything the first run wrote.

An empty journal is not taken for the truth: what it does not know is looked up in Dinero (see
:mod:`target_dinero.exactly_once`). A journal that belongs to another organization or to a Dinero
sandbox that was reset is caught: once per run the target reads one voucher the journal lists.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

__all__ = ["JournalBusyError", "JournalStoreError", "VoucherJournal", "describe_store"]

DEFAULT_LOCK_TIMEOUT_SECONDS = 600.0
REDIS_LEASE_SECONDS = 30.0
# Run locks this process holds, by (store, namespace); released when the process ends.
_PROCESS_LOCKS: dict[str, Any] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


class JournalBusyError(RuntimeError):
    """Another target run held the journal for longer than the lock timeout."""


class JournalStoreError(RuntimeError):
    """The journal store cannot be opened (bad URL, missing ``redis`` package, unreachable server)."""


def describe_store(location: str) -> str:
    """The store for messages: a path as is, a Redis URL without its password."""
    if "://" not in location:
        return location
    from urllib.parse import urlsplit

    parts = urlsplit(location)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _merge(entry: dict[str, Any], fields: dict[str, Any], add_sales: dict[str, Any] | None) -> None:
    entry.update(fields)
    if add_sales:
        entry.setdefault("sales", {}).update(add_sales)


def read_jsonl_journal(path: Path) -> dict[str, dict[str, Any]]:
    """The merged entries of a JSONL journal of earlier versions (torn last lines skipped)."""
    entries: dict[str, dict[str, Any]] = {}
    with path.open(encoding="utf-8") as handle:
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
            _merge(entry, event, event.pop("add_sales", None))
    return entries


# ---------------------------------------------------------------------------------------------------
# backends
# ---------------------------------------------------------------------------------------------------
class _SqliteBackend:
    """One SQLite database; rows (namespace, ref) -> merged JSON entry."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def _conn(self, create: bool = True) -> sqlite3.Connection | None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if not create and not self.path.exists():
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
        # Rollback journal, not WAL: WAL maps a shared-memory file, and a process killed at the wrong
        # moment can leave it in a state that makes the next one fault (SIGBUS seen in the kill matrix).
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS journal (ns TEXT NOT NULL, ref TEXT NOT NULL, entry TEXT NOT NULL, "
            "updated REAL NOT NULL, PRIMARY KEY (ns, ref))"
        )
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self._local.conn = conn
        return conn

    def load(self, ns: str, *, create: bool) -> dict[str, dict[str, Any]]:
        conn = self._conn(create)
        if conn is None:
            return {}
        rows = conn.execute("SELECT ref, entry FROM journal WHERE ns = ?", (ns,)).fetchall()
        return {ref: json.loads(text) for ref, text in rows}

    def put(self, ns: str, ref: str, entry: dict[str, Any]) -> None:
        conn = self._conn()
        assert conn is not None
        conn.execute(
            "INSERT INTO journal (ns, ref, entry, updated) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (ns, ref) DO UPDATE SET entry = excluded.entry, updated = excluded.updated",
            (ns, ref, json.dumps(entry, default=str, separators=(",", ":")), time.time()),
        )

    def get_meta(self, key: str) -> str | None:
        conn = self._conn()
        assert conn is not None
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        conn = self._conn()
        assert conn is not None
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def lock(self, ns: str, timeout: float) -> Any:
        """A process-wide file lock next to the database (one per namespace)."""
        safe = "".join(ch if ch.isalnum() or ch in ".-" else "_" for ch in ns)
        lock = FileLock(f"{self.path}.{safe}.lock", thread_local=False)
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            return None
        return lock


class _RedisLease:
    """A Redis lock lease (SET NX PX), renewed by a daemon thread while the process lives."""

    def __init__(self, client: Any, key: str, token: str) -> None:
        self._client = client
        self._key = key
        self._token = token
        self._stop = threading.Event()
        threading.Thread(target=self._renew, name="journal-lease", daemon=True).start()
        atexit.register(self.release)

    def _renew(self) -> None:
        script = (
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) "
            "else return 0 end"
        )
        while not self._stop.wait(REDIS_LEASE_SECONDS / 3):
            try:
                self._client.eval(script, 1, self._key, self._token, int(REDIS_LEASE_SECONDS * 1000))
            except Exception:  # a blip: the next renewal tries again before the lease runs out
                continue

    def release(self) -> None:
        self._stop.set()
        script = (
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
            "else return 0 end"
        )
        with contextlib.suppress(Exception):  # the lease expires on its own
            self._client.eval(script, 1, self._key, self._token)


class _RedisBackend:
    """Redis: a hash per namespace (ref -> merged JSON entry), a lease key per namespace."""

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise JournalStoreError(
                "journal_store is a redis:// URL but the redis package is missing: "
                "pip install 'target-dinero[redis]'"
            ) from exc
        self.url = url
        self._client = redis.Redis.from_url(url, socket_timeout=30)

    def _key(self, ns: str, what: str) -> str:
        return f"target-dinero:{what}:{ns}"

    def load(self, ns: str, *, create: bool) -> dict[str, dict[str, Any]]:
        raw = self._client.hgetall(self._key(ns, "journal"))
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def put(self, ns: str, ref: str, entry: dict[str, Any]) -> None:
        # Redis persists per its own configuration: use appendonly yes + appendfsync always for a journal.
        self._client.hset(
            self._key(ns, "journal"), ref, json.dumps(entry, default=str, separators=(",", ":"))
        )

    def get_meta(self, key: str) -> str | None:
        value = self._client.hget("target-dinero:meta", key)
        return value.decode() if value is not None else None

    def set_meta(self, key: str, value: str) -> None:
        self._client.hset("target-dinero:meta", key, value)

    def lock(self, ns: str, timeout: float) -> Any:
        key = self._key(ns, "lock")
        token = uuid.uuid4().hex
        deadline = time.monotonic() + timeout
        while True:
            if self._client.set(key, token, nx=True, px=int(REDIS_LEASE_SECONDS * 1000)):
                return _RedisLease(self._client, key, token)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.2)


def _open_backend(location: str) -> Any:
    if location.startswith(("redis://", "rediss://", "unix://")):
        return _RedisBackend(location)
    if "://" in location:
        raise JournalStoreError(
            f"journal_store {describe_store(location)!r}: use a file path (SQLite) or a redis:// URL"
        )
    return _SqliteBackend(Path(location).expanduser())


# ---------------------------------------------------------------------------------------------------
class VoucherJournal:
    """The journal of one namespace (Dinero host + organization) in a store; thread-safe.

    Args:
        store: a file path (SQLite; a ``.jsonl`` path means "the SQLite file next to this legacy
            journal, migrating it") or a ``redis://`` URL.
        namespace: ``<host>/<organization>``; one store holds many.
        legacy_jsonl: a JSONL journal of earlier versions to merge in on first use.
        read_only: dry run -- never create the store, never write.
    """

    def __init__(
        self,
        store: str | Path | None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
        *,
        namespace: str = "default",
        legacy_jsonl: str | Path | None = None,
        read_only: bool = False,
        lock_namespace: str | None = None,
    ) -> None:
        location = str(store) if store is not None else None
        if location is not None and "://" not in location and location.endswith(".jsonl"):
            legacy_jsonl = legacy_jsonl or location
            location = str(Path(location).expanduser().with_suffix(".sqlite3"))
        self.location = location
        self.path = describe_store(location) if location else None  # what messages name
        self.namespace = namespace
        self.lock_namespace = lock_namespace or namespace
        self.legacy_jsonl = Path(legacy_jsonl).expanduser() if legacy_jsonl else None
        self.lock_timeout = lock_timeout
        self.read_only = read_only
        self._backend: Any = None
        self._entries: dict[str, dict[str, Any]] | None = None
        self._lock = threading.RLock()

    def _store(self) -> Any:
        if self._backend is None and self.location is not None:
            self._backend = _open_backend(self.location)
        return self._backend

    # -- the run lock -----------------------------------------------------------------------------
    def hold_run_lock(self) -> None:
        """Take the namespace's cross-process lock for the rest of this process (see module docstring).

        The lock belongs to the process, not to this object: a later journal on the same store and
        namespace in the same process (a re-run inside one interpreter, as tests do) shares it.
        """
        if self.location is None or self.read_only:
            return
        key = f"{self.location}|{self.lock_namespace}"
        with _PROCESS_LOCKS_GUARD:
            if key in _PROCESS_LOCKS:
                return
            lock = self._store().lock(self.lock_namespace, self.lock_timeout)
            if lock is None:
                raise JournalBusyError(
                    f"Another target-dinero run has held the journal {self.path} ({self.lock_namespace}) for "
                    f"{self.lock_timeout:g} s. Runs loading into one organization must not overlap: "
                    "wait for it to end (or stop it), then run again."
                )
            _PROCESS_LOCKS[key] = lock

    # -- entries --------------------------------------------------------------------------------------
    def _load(self) -> dict[str, dict[str, Any]]:
        if self._entries is not None:
            return self._entries
        self.hold_run_lock()
        store = self._store()
        entries: dict[str, dict[str, Any]] = {}
        if store is not None:
            entries = store.load(self.namespace, create=not self.read_only)
            if self.legacy_jsonl is not None and self.legacy_jsonl.exists():
                entries = self._migrate(store, entries)
        self._entries = entries
        return entries

    def _migrate(self, store: Any, entries: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Merge the legacy JSONL journal into the store once (the store's own entries win)."""
        assert self.legacy_jsonl is not None
        meta_key = f"migrated:{self.namespace}:{self.legacy_jsonl.resolve()}"
        legacy = read_jsonl_journal(self.legacy_jsonl)
        if self.read_only:
            return {**legacy, **entries}
        if store.get_meta(meta_key):
            return entries
        for ref, entry in legacy.items():
            if ref not in entries:
                store.put(self.namespace, ref, entry)
                entries[ref] = entry
        store.set_meta(meta_key, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        return entries

    def get(self, ref: str) -> dict[str, Any] | None:
        """The merged state of ``ref`` (a copy), or None if the journal does not know it."""
        with self._lock:
            entry = self._load().get(ref)
            return json.loads(json.dumps(entry)) if entry is not None else None

    def entries(self) -> list[dict[str, Any]]:
        """Copies of every entry (for the end-of-run pass over drafts still to book)."""
        with self._lock:
            return json.loads(json.dumps(list(self._load().values())))

    def record(self, ref: str, *, add_sales: dict[str, Any] | None = None, **fields: Any) -> None:
        """Merge ``fields`` into the entry of ``ref`` and make it durable before returning."""
        stamped = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **fields}
        with self._lock:
            entries = self._load()
            entry = entries.setdefault(ref, {"ref": ref})
            _merge(entry, json.loads(json.dumps(stamped, default=str)), add_sales)
            if self.read_only or self._store() is None:
                return
            self._store().put(self.namespace, ref, entry)


def process_lock_for_tests_release_all() -> None:
    """Drop every run lock this process holds (tests that simulate a second process in-process)."""
    with _PROCESS_LOCKS_GUARD:
        for lock in _PROCESS_LOCKS.values():
            with contextlib.suppress(Exception):
                lock.release()
        _PROCESS_LOCKS.clear()
