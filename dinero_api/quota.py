"""The request quota shared by every process that talks to one Dinero organization.

Dinero allows ~100 requests per minute per (client id, organization) (REFERENCE §5.3). A tap and a
target of one pipeline run at the same time and share that budget, so the throttle state lives outside
the process: a SQLite file in a cache directory (default), or Redis for several machines. The key is
(API host, client id, organization): a sandbox run never shares a bucket with a run against Dinero.

The store is a *sliding-window log* of slot stamps, checked and extended in one atomic step:

* SQLite: one ``BEGIN IMMEDIATE`` transaction (SQLite's own file lock serialises processes; there is no
  separate lock file that could be deleted independently of the data);
* Redis: one Lua script, stamped with the Redis server's clock (machines with skewed clocks agree);
* memory: a lock (one process only).

Guarantees and how they are kept:

* **The slot is taken as late as possible.** :class:`~dinero_api.session.DineroSession` fetches the
  access token first and takes the slot right before sending; it reports the measured delay from slot to
  answer (an upper bound of the delay to Dinero counting the request), and the throttle widens its window
  by the largest recent delay (at least :func:`default_safety_margin`, at most 5 % of the window).
* **A request late to Dinero is counted when it got there.** A request answered (or lost) later than the
  margin has its slot moved to that moment (:meth:`QuotaThrottle.record_unanswered`).
* **No clock anyone sets.** The SQLite store keeps its own time (:func:`_store_now`: the machine's boot
  clock between checks), the memory store the monotonic clock: a wall clock stepped forward or back
  neither empties nor freezes the window. (Redis stamps with the Redis server's clock.)
* **One key per organization, whatever the spelling** (:func:`canonical_organization`,
  :func:`canonical_host`): ``0100000`` and ``100000`` share one quota.
* **One store per key, always.** A SQLite store whose file was removed or replaced (a cache cleaner
  deleting the directory, a file copied over it) is detected inside the transaction (the path no longer
  names the file we hold open), re-opened, and the stamps of the current window are carried over from the
  old file, so no process ever counts in a store the others no longer use.
* **The quota learns Dinero's real limit.** A 429 that arrives although the window held no more than the
  configured requests means Dinero's limit is lower (some integrations get 60/min, not 100):
  :meth:`QuotaThrottle.report_rate_limited` adopts the limit Dinero's 429 body names ("maximum admitted
  60 per 1m"), or, without one, the number of requests in the window minus one; the limit is stored in
  the shared store (for every process on the key, kept :data:`LEARNED_LIMIT_TTL_SECONDS`) and in the
  process (for the rest of its life), and logged once.
* **An outage of the store never lets a request through.** Redis unreachable (or restarting, or its
  script cache emptied) makes :meth:`QuotaThrottle.acquire` wait and reconnect for up to
  ``outage_seconds``; then it raises :class:`~dinero_api.errors.DineroQuotaStoreError`, one line naming
  the backend (its password removed).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import logging
import math
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from dinero_api.errors import DineroQuotaStoreError

__all__ = [
    "DEFAULT_OUTAGE_SECONDS",
    "LEARNED_LIMIT_TTL_SECONDS",
    "QuotaThrottle",
    "canonical_host",
    "canonical_organization",
    "describe_backend",
    "get_throttle",
    "parse_quota_message",
]

logger = logging.getLogger(__name__)

#: How long a store outage (Redis restarting, unreachable) is waited out before the run stops.
DEFAULT_OUTAGE_SECONDS = 60.0
#: How long a limit learned from a 429 stays in the shared store (a later run tries the configured one).
LEARNED_LIMIT_TTL_SECONDS = 6 * 3600.0
_DELAY_SAMPLES = 20
_TRIM_EVERY_SECONDS = 10.0
_KEEP_SECONDS = 600.0  # stamps older than max(this, 2 windows) are deleted
_QUOTA_MESSAGE = re.compile(r"maximum\s+admitted\s+(\d+)\s+per\s+(\d*(?:\.\d+)?)\s*([smhd])", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def default_safety_margin(window_seconds: float) -> float:
    """Smallest widening of the window: 2 % of it, between 0.25 s and 2 s.

    The slot is stamped when it is taken, Dinero counts the request when it arrives; the measured send
    delay widens the window further when it is larger (see :meth:`QuotaThrottle.record_send_delay`).
    """
    return min(max(0.25, 0.02 * window_seconds), 2.0)


def parse_quota_message(text: str | None) -> tuple[int, float] | None:
    """(requests, period seconds) from Dinero's 429 body ``maximum admitted 100 per 1m``; else None."""
    if not text:
        return None
    match = _QUOTA_MESSAGE.search(text)
    if not match:
        return None
    amount = float(match.group(2)) if match.group(2) else 1.0
    period = amount * _UNIT_SECONDS[match.group(3).lower()]
    if period <= 0:
        return None
    return int(match.group(1)), period


_ASCII_DIGITS = re.compile(r"[0-9]+")


def canonical_host(netloc: str) -> str:
    """The API host as the quota key names it: ``api.dinero.dk`` for ``API.Dinero.dk:443``,
    ``api.dinero.dk.``, ``user@api.dinero.dk`` or ``api.dinero.dk:80``.

    Two configs reaching one Dinero with different spellings of its host must count in one store: Dinero
    counts per (client id, organization) whatever host name the request used. Only the default ports are
    dropped (either scheme's: the same host on 80 and 443 is the same Dinero); any other port stays (a
    sandbox on another port is another server).
    """
    text = netloc.strip().lower().rpartition("@")[2]
    if text.startswith("["):  # IPv6 literal: [::1]:8080
        host, _, rest = text.partition("]")
        host, port = host + "]", rest.lstrip(":")
    else:
        host, _, port = text.partition(":")
    host = host.rstrip(".")
    return host if port in ("", "80", "443") else f"{host}:{port}"


def canonical_organization(organization_id: str | None) -> str:
    """The organization as the quota key names it: ``100000`` for ``100000``, ``0100000`` or `` 100000 ``.

    Dinero's organization id is a number; a path with leading zeros names the same organization, so two
    configs spelling it differently must share one quota. (Only the key: requests keep the id as
    configured, and so do the ids the target derives from it.)
    """
    org = (organization_id or "").strip()
    if not org:
        return "-"
    return str(int(org)) if _ASCII_DIGITS.fullmatch(org) else org


def describe_backend(backend: str) -> str:
    """The backend for messages: a Redis URL without its password, a directory as given."""
    if not backend.startswith(("redis://", "rediss://", "unix://")):
        return backend
    parts = urlsplit(backend)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if parts.username:
        host = f"{parts.username}@{host}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass
class _Decision:
    """Outcome of one atomic check: ``wait`` None = slot taken; ``learned`` = limit in the store."""

    wait: float | None
    learned: int | None
    handle: Any = None  # the slot taken (for :meth:`_Store.restamp`)


class _Store(Protocol):
    """One key's sliding-window log, penalty and learned limit; every method is atomic."""

    def take(self, limit: int, span: float) -> _Decision: ...

    def count(self, span: float) -> int: ...

    def restamp(self, handle: Any) -> None:
        """Move the slot ``handle`` to now (the request was answered late: Dinero may have counted it
        only now); a slot no longer found is stamped anew (counted twice rather than not at all)."""
        ...

    def block(self, until_delay: float, learned: int | None) -> None: ...

    def paused_for(self) -> float: ...

    def close(self) -> None: ...


def _wait_for(stamps: list[float], limit: int, span: float, now: float) -> float:
    """Seconds until fewer than ``limit`` of the sorted ``stamps`` are inside the window."""
    excess = len(stamps) - limit  # >= 0: the (excess)th oldest stamp must leave the window
    return max(stamps[excess] + span - now, 0.001)


# ------------------------------------------------------------------------------------------------ memory
class _MemoryStore:
    """One process's log, on the monotonic clock (a wall-clock jump cannot empty or freeze the window)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamps: collections.deque[float] = collections.deque()
        self._blocked = 0.0
        self._learned: tuple[int, float] | None = None

    def _learned_now(self, now: float) -> int | None:
        if self._learned is None or self._learned[1] <= now:
            return None
        return self._learned[0]

    def take(self, limit: int, span: float) -> _Decision:
        with self._lock:
            now = time.monotonic()
            learned = self._learned_now(now)
            if self._blocked > now:
                return _Decision(self._blocked - now, learned)
            while self._stamps and self._stamps[0] <= now - max(span, _KEEP_SECONDS):
                self._stamps.popleft()
            effective = min(limit, learned or limit)
            inside = [s for s in self._stamps if s > now - span]
            if len(inside) < effective:
                self._stamps.append(now)
                return _Decision(None, learned, now)
            return _Decision(_wait_for(inside, effective, span, now), learned)

    def count(self, span: float) -> int:
        with self._lock:
            now = time.monotonic()
            return sum(1 for s in self._stamps if s > now - span)

    def restamp(self, handle: Any) -> None:
        with self._lock:
            with contextlib.suppress(ValueError):
                self._stamps.remove(handle)
            self._stamps.append(time.monotonic())  # the latest stamp: the deque stays sorted

    def block(self, until_delay: float, learned: int | None) -> None:
        with self._lock:
            now = time.monotonic()
            self._blocked = max(self._blocked, now + until_delay)
            if learned is not None:
                current = self._learned_now(now)
                self._learned = (min(learned, current or learned), now + LEARNED_LIMIT_TTL_SECONDS)

    def paused_for(self) -> float:
        with self._lock:
            return max(0.0, self._blocked - time.monotonic())

    def close(self) -> None:
        pass


# ------------------------------------------------------------------------------------------------ SQLite
def _boot_id() -> str:
    """This machine's boot id (Linux; shared by its containers), or "" where there is none."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


_BOOT_ID = _boot_id()


def _since_boot() -> float:
    """Seconds since boot on a clock no one can set (``CLOCK_BOOTTIME``: counts suspend too), the same
    for every process of the machine."""
    clock = getattr(time, "CLOCK_BOOTTIME", None)
    if clock is not None:
        with contextlib.suppress(OSError):
            return time.clock_gettime(clock)
    return time.monotonic()


def _store_now(conn: sqlite3.Connection) -> float:
    """The store's clock, advanced inside the caller's write transaction: never by the wall clock alone.

    The stamps once were ``time.time()``: a wall clock set forward by a minute (an NTP step, a VM resumed,
    an administrator) made every stamp look a window old, so every process got a whole new quota at once
    (twice Dinero's limit in one real minute); set back by an hour, every stamp sat in the future and
    every process waited that hour. Now the store keeps its own time: the last reading plus the time
    elapsed since it on the machine's boot clock, which no one sets. Only when the last reading came from
    another boot (a reboot, or a file shared with another machine) does the wall clock tell the elapsed
    time, and never backwards. A file from an older version (no clock yet) starts at the wall clock, the
    time its stamps are in.

    A boot the file has seen before continues from its own last reading (table ``boots``) on its own boot
    clock, not from the wall-clock difference: two machines with skewed wall clocks sharing the file took
    turns, and each switch to the machine whose clock runs ahead added the skew once more -- the store's
    time ran ahead without bound and every stamp looked a window old. Now a skew counts once per boot.
    """
    wall, since_boot = time.time(), _since_boot()
    row = conn.execute("SELECT now, wall, boot, since_boot FROM clock WHERE id = 0").fetchone()
    mine = (
        conn.execute("SELECT now, since_boot FROM boots WHERE boot = ?", (_BOOT_ID,)).fetchone()
        if _BOOT_ID
        else None
    )
    if row is None:
        now = wall
    else:
        last_now, last_wall, last_boot, last_since_boot = row
        if _BOOT_ID and last_boot == _BOOT_ID:
            now = float(last_now) + max(0.0, since_boot - last_since_boot)
        elif mine is not None:  # this boot's own time line: real time elapsed since its last reading
            now = max(float(last_now), float(mine[0]) + max(0.0, since_boot - float(mine[1])))
        else:
            now = float(last_now) + max(0.0, wall - last_wall)
    conn.execute(
        "INSERT OR REPLACE INTO clock (id, now, wall, boot, since_boot) VALUES (0, ?, ?, ?, ?)",
        (now, wall, _BOOT_ID, since_boot),
    )
    if _BOOT_ID:
        conn.execute(
            "INSERT OR REPLACE INTO boots (boot, now, since_boot) VALUES (?, ?, ?)",
            (_BOOT_ID, now, since_boot),
        )
        if mine is None:  # a new boot: forget boots not seen for a day (reboots, machines gone)
            conn.execute("DELETE FROM boots WHERE now < ?", (now - 86400,))
    return now


class _SQLiteStore:
    """The log in one SQLite file; every check-and-insert is a ``BEGIN IMMEDIATE`` transaction.

    The file's identity (device, inode) is checked *inside* each transaction: holding SQLite's write
    lock on the file the path names means every other process counting on this key waits for us.
    """

    def __init__(self, path: Path, description: str) -> None:
        self.path = path
        self.description = description
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None
        self._last_trim = 0.0
        self._span = 60.0  # the window (plus margin) of the last take: how long forgotten stamps count
        self.reopened = 0  # how often a replaced store was re-opened (for tests and logs)
        self._open()

    def _open(self) -> None:
        """Open (creating) the file the path names; retried briefly while a cleaner is removing it.

        Rollback-journal mode, not WAL: WAL's locks live in a ``-shm`` file that a cache cleaner can delete
        under running processes (two lock files, no mutual exclusion); a rollback journal locks the
        database file itself, whose identity every transaction checks. ``synchronous=OFF``: the store
        only has to survive a process crash (the journal covers that), not a power cut.
        """
        last: BaseException | None = None
        for attempt in range(6):
            conn: sqlite3.Connection | None = None
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                conn = sqlite3.connect(
                    str(self.path), timeout=60, isolation_level=None, check_same_thread=False
                )
                conn.execute("PRAGMA journal_mode=TRUNCATE")
                conn.execute("PRAGMA synchronous=OFF")
                conn.execute("CREATE TABLE IF NOT EXISTS stamps (ts REAL NOT NULL)")
                conn.execute("CREATE INDEX IF NOT EXISTS stamps_ts ON stamps (ts)")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value REAL NOT NULL, "
                    "expires REAL NOT NULL)"
                )
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS clock (id INTEGER PRIMARY KEY CHECK (id = 0), "
                    "now REAL NOT NULL, wall REAL NOT NULL, boot TEXT NOT NULL, since_boot REAL NOT NULL)"
                )
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS boots (boot TEXT PRIMARY KEY, now REAL NOT NULL, "
                    "since_boot REAL NOT NULL)"
                )
                st = os.stat(self.path)
            except (OSError, sqlite3.Error) as exc:
                last = exc
                if conn is not None:
                    with contextlib.suppress(sqlite3.Error):
                        conn.close()
                time.sleep(0.02 * 2**attempt)
                continue
            self._conn = conn
            self._identity = (st.st_dev, st.st_ino)
            return
        assert last is not None
        raise DineroQuotaStoreError(
            f"Quota store {self.description} cannot be opened ({_reason(last)}): make the directory "
            "writable or set quota_backend / quota_cache_dir to one that is."
        )

    def _same_file(self) -> bool:
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == self._identity

    def _transaction(self, body: Callable[[sqlite3.Connection, float], Any]) -> Any:
        """Run ``body(conn, now)`` under SQLite's write lock on the file the path names right now.

        The identity check comes before the lock (a removed file may refuse writes: SQLite's
        ``READONLY_DBMOVED``) and again under it (the file may be replaced in between); an error on a
        file that is no longer the store's moves to the new one instead of failing the run.
        """
        with self._lock:
            if self._conn is None:  # closed after its organization was done (close()): open it again
                self._open()
            failures = 0
            for _ in range(12):
                if not self._same_file():
                    try:
                        self._replace()
                    except sqlite3.Error as exc:
                        raise DineroQuotaStoreError(
                            f"Quota store {self.description} was replaced and the new file cannot be used "
                            f"({_reason(exc)}); no request was sent without a quota slot."
                        ) from None
                assert self._conn is not None
                conn = self._conn
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    if not self._same_file():
                        conn.execute("ROLLBACK")
                        continue
                    result = body(conn, _store_now(conn))
                    conn.execute("COMMIT")
                    return result
                except sqlite3.Error as exc:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    if not self._same_file():
                        continue
                    failures += 1
                    if failures >= 4:  # not a cleaner at work: the store itself is failing
                        raise DineroQuotaStoreError(
                            f"Quota store {self.description} failed ({_reason(exc)}); no request was sent "
                            "without a quota slot."
                        ) from None
                    time.sleep(0.05 * failures)  # a cleaner may be halfway through the directory
            raise DineroQuotaStoreError(
                f"Quota store {self.description} keeps being replaced under the running process; stopping "
                "rather than counting requests in a store other processes may not see. Exclude the quota "
                "directory from cache cleaners."
            )

    def _replace(self) -> None:
        """The path names another file (or none): carry this window's stamps over, then use that file."""
        old = self._conn
        assert old is not None
        carried: list[float] = []
        meta: list[tuple[str, float, float]] = []
        clock: tuple[Any, ...] | None = None
        try:
            # The old file's own time line (read, not advanced: nothing is written to a removed file).
            clock = old.execute("SELECT now, wall, boot, since_boot FROM clock WHERE id = 0").fetchone()
            then = float(clock[0]) if clock is not None else time.time()
            carried = [
                r[0] for r in old.execute("SELECT ts FROM stamps WHERE ts > ?", (then - _KEEP_SECONDS,))
            ]
            meta = list(old.execute("SELECT name, value, expires FROM meta WHERE expires > ?", (then,)))
            readable = True
        except sqlite3.Error:
            readable = False
        with contextlib.suppress(sqlite3.Error):
            old.close()
        self._conn = None
        self._open()
        self.reopened += 1
        conn = self._conn
        assert conn is not None
        conn.execute("BEGIN IMMEDIATE")
        try:
            if clock is not None:
                # The new file continues the old one's time line, so the stamps carried over (by every
                # process, each with the same values) keep their ages and are not counted twice.
                conn.execute(
                    "INSERT OR IGNORE INTO clock (id, now, wall, boot, since_boot) VALUES (0, ?, ?, ?, ?)",
                    tuple(clock),
                )
            now = _store_now(conn)
            for ts in carried:
                conn.execute(
                    "INSERT INTO stamps (ts) SELECT ? WHERE NOT EXISTS (SELECT 1 FROM stamps WHERE ts = ?)",
                    (ts, ts),
                )
            for name, value, expires in meta:
                _merge_meta(conn, name, value, expires, now)
            if not readable:
                # Nothing could be carried over: pause one whole window, after which no forgotten request
                # can count any more.
                _merge_meta(conn, "blocked_until", now + self._span, now + self._span, now)
            conn.execute("COMMIT")
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        logger.warning(
            "Quota store %s was removed or replaced while in use (a cache cleaner?); re-opened it and "
            "%s, so every process keeps counting in one store.",
            self.description,
            f"carried over {len(carried)} request stamps"
            if readable
            else f"paused {self._span:.1f} s (the old file could not be read)",
        )

    def take(self, limit: int, span: float) -> _Decision:
        self._span = span

        def body(conn: sqlite3.Connection, now: float) -> _Decision:
            learned = _meta(conn, "learned_limit", now)
            blocked = _meta(conn, "blocked_until", now)
            learned_int = int(learned) if learned is not None else None
            if blocked is not None and blocked > now:
                return _Decision(blocked - now, learned_int)
            if now - self._last_trim > _TRIM_EVERY_SECONDS:
                self._last_trim = now
                conn.execute("DELETE FROM stamps WHERE ts <= ?", (now - max(2 * span, _KEEP_SECONDS),))
                conn.execute("DELETE FROM meta WHERE expires <= ?", (now,))
            effective = min(limit, learned_int or limit)
            since = now - span
            inside = conn.execute("SELECT count(*) FROM stamps WHERE ts > ?", (since,)).fetchone()[0]
            if inside < effective:
                row = conn.execute("INSERT INTO stamps (ts) VALUES (?)", (now,)).lastrowid
                return _Decision(None, learned_int, (self._identity, row))
            # The (inside - effective)th oldest stamp of the window must leave it first.
            leaving = conn.execute(
                "SELECT ts FROM stamps WHERE ts > ? ORDER BY ts LIMIT 1 OFFSET ?", (since, inside - effective)
            ).fetchone()[0]
            return _Decision(max(leaving + span - now, 0.001), learned_int)

        return self._transaction(body)

    def count(self, span: float) -> int:
        return self._transaction(
            lambda conn, now: conn.execute(
                "SELECT count(*) FROM stamps WHERE ts > ?", (now - span,)
            ).fetchone()[0]
        )

    def restamp(self, handle: Any) -> None:
        identity, row = handle

        def body(conn: sqlite3.Connection, now: float) -> None:
            moved = 0
            if identity == self._identity:  # same file: the row is ours (trims keep 10 minutes at least)
                moved = conn.execute("UPDATE stamps SET ts = max(ts, ?) WHERE rowid = ?", (now, row)).rowcount
            if not moved:
                conn.execute("INSERT INTO stamps (ts) VALUES (?)", (now,))

        self._transaction(body)

    def block(self, until_delay: float, learned: int | None) -> None:
        def body(conn: sqlite3.Connection, now: float) -> None:
            if until_delay > 0:
                _merge_meta(conn, "blocked_until", now + until_delay, now + until_delay, now)
            if learned is not None:
                _merge_meta(conn, "learned_limit", float(learned), now + LEARNED_LIMIT_TTL_SECONDS, now)

        self._transaction(body)

    def paused_for(self) -> float:
        return self._transaction(lambda conn, now: max(0.0, (_meta(conn, "blocked_until", now) or now) - now))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None


def _meta(conn: sqlite3.Connection, name: str, now: float) -> float | None:
    row = conn.execute("SELECT value FROM meta WHERE name = ? AND expires > ?", (name, now)).fetchone()
    return float(row[0]) if row else None


def _merge_meta(conn: sqlite3.Connection, name: str, value: float, expires: float, now: float) -> None:
    """``blocked_until`` only grows, ``learned_limit`` only shrinks (while unexpired at ``now``)."""
    pick = "max" if name == "blocked_until" else "min"
    conn.execute(
        "INSERT INTO meta (name, value, expires) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
        f"value = CASE WHEN meta.expires > ? THEN {pick}(meta.value, excluded.value) "
        "ELSE excluded.value END, expires = max(meta.expires, excluded.expires)",
        (name, value, expires, now),
    )


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


# ------------------------------------------------------------------------------------------------ Redis
_TAKE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local keep = tonumber(ARGV[3])
local epoch = redis.call('GET', KEYS[3])
-- The window's own key carries a marker (member 'epoch', score 0: never counted nor trimmed): a window
-- evicted or expired on its own (volatile-lru picks exactly the keys with a TTL) is a lost window too.
if (not epoch) or (not redis.call('ZSCORE', KEYS[1], 'epoch')) then
  redis.call('SET', KEYS[3], ARGV[6])
  redis.call('ZADD', KEYS[1], 0, 'epoch')
  redis.call('EXPIRE', KEYS[1], math.ceil(keep))
  epoch = ARGV[6]
end
if epoch ~= ARGV[5] then return {'epoch', epoch, ''} end
local limit = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local learned = false
local lu = tonumber(redis.call('HGET', KEYS[2], 'learned_until') or '0')
if lu > now then learned = tonumber(redis.call('HGET', KEYS[2], 'learned')) end
local learned_out = learned and tostring(learned) or ''
local blocked = tonumber(redis.call('HGET', KEYS[2], 'blocked_until') or '0')
if blocked > now then return {'wait', tostring(blocked - now), learned_out} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '(0', now - keep)
local effective = limit
if learned and learned < effective then effective = learned end
local inside = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - span), '+inf', 'WITHSCORES')
local n = #inside / 2
if n < effective then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(keep))
  return {'taken', tostring(now), learned_out}
end
local oldest = tonumber(inside[2 * (n - effective) + 2])
local wait = oldest + span - now
if wait < 0.001 then wait = 0.001 end
return {'wait', tostring(wait), learned_out}
"""

_RESTAMP_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', KEYS[1], now, ARGV[1])
return tostring(now)
"""

_RESTORE_LUA = """
for i = 1, #ARGV, 2 do redis.call('ZADD', KEYS[1], tonumber(ARGV[i]), ARGV[i + 1]) end
return #ARGV / 2
"""

_PAUSED_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local blocked = tonumber(redis.call('HGET', KEYS[1], 'blocked_until') or '0')
if blocked > now then return tostring(blocked - now) end
return '0'
"""

_COUNT_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
return redis.call('ZCOUNT', KEYS[1], '(' .. (now - tonumber(ARGV[1])), '+inf')
"""

_BLOCK_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local delay = tonumber(ARGV[1])
if delay > 0 then
  local until_ = now + delay
  local old = tonumber(redis.call('HGET', KEYS[1], 'blocked_until') or '0')
  if until_ > old then redis.call('HSET', KEYS[1], 'blocked_until', tostring(until_)) end
end
if ARGV[2] ~= '' then
  local learned = tonumber(ARGV[2])
  local lu = tonumber(redis.call('HGET', KEYS[1], 'learned_until') or '0')
  local old = tonumber(redis.call('HGET', KEYS[1], 'learned') or '0')
  if lu > now and old > 0 and old < learned then learned = old end
  local lu_new = tostring(now + tonumber(ARGV[3]))
  redis.call('HSET', KEYS[1], 'learned', tostring(learned), 'learned_until', lu_new)
end
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])))
return 1
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class _RedisStore:
    """The log in a Redis sorted set, checked and extended by one Lua script (Redis's clock).

    Connection failures, a server still loading its data and an emptied script cache (``NoScriptError``
    after a restart; the script is sent again) are waited out for ``outage_seconds``, reconnecting; then
    :class:`DineroQuotaStoreError` stops the run. No request is ever sent without a slot recorded in Redis.

    A Redis restarted without its data (or flushed), or one that evicted the window's key under memory
    pressure, would forget the current window. An *epoch* tells: it is kept in its own key and as a
    marker member of the window's sorted set, and the script answers ``epoch`` when either is missing
    (a new epoch is set then) or the epoch differs from the one this process last saw,
    and the process puts its own stamps of the window back (idempotent: each stamp has a unique member)
    before taking a slot, so together the processes rebuild the window.
    """

    def __init__(self, url: str, key: str, description: str, outage_seconds: float) -> None:
        try:
            import redis  # optional dependency: pip install dinero-singer[redis]
        except ImportError:
            raise DineroQuotaStoreError(
                f"Quota backend {description} needs the redis package: pip install 'dinero-singer[redis]'."
            ) from None
        self._redis = redis
        self.description = description
        self.outage_seconds = outage_seconds
        self._keys = [key, key + ":meta", key + ":epoch"]
        try:
            self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        except ValueError as exc:
            raise DineroQuotaStoreError(
                f"Quota backend {description} is not a valid Redis URL ({exc})."
            ) from None
        self._take = self._client.register_script(_TAKE_LUA)
        self._restore = self._client.register_script(_RESTORE_LUA)
        self._restamp = self._client.register_script(_RESTAMP_LUA)
        self._count = self._client.register_script(_COUNT_LUA)
        self._paused = self._client.register_script(_PAUSED_LUA)
        self._block = self._client.register_script(_BLOCK_LUA)
        self._lock = threading.Lock()
        self._epoch = ""
        self._own: collections.deque[tuple[float, str]] = collections.deque()  # this process's stamps
        self._outage_logged = False

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        redis = self._redis
        retryable = (
            redis.exceptions.ConnectionError,  # includes BusyLoadingError (a restart loading its data)
            redis.exceptions.TimeoutError,
            redis.exceptions.NoScriptError,
            redis.exceptions.TryAgainError,
            redis.exceptions.ReadOnlyError,
        )
        started = time.monotonic()
        delay = 0.1
        while True:
            try:
                result = fn()
            except retryable as exc:
                waited = time.monotonic() - started
                if waited >= self.outage_seconds:
                    raise DineroQuotaStoreError(
                        f"Quota backend {self.description} unreachable for {waited:.0f} s "
                        f"({type(exc).__name__}); no request was sent without a quota slot. Start Redis (or "
                        "fix quota_backend) and run again."
                    ) from None
                if not self._outage_logged:
                    self._outage_logged = True
                    logger.warning(
                        "Quota backend %s unreachable (%s) while %s; waiting up to %.0f s for it to come "
                        "back (quota_backend_outage_seconds). No request is sent meanwhile.",
                        self.description,
                        type(exc).__name__,
                        what,
                        self.outage_seconds,
                    )
                with contextlib.suppress(Exception):
                    self._client.connection_pool.disconnect()
                time.sleep(min(delay, max(0.01, self.outage_seconds - waited)))
                delay = min(delay * 2, 1.0)
                continue
            except redis.exceptions.RedisError as exc:
                raise DineroQuotaStoreError(
                    f"Quota backend {self.description} refused {what} ({type(exc).__name__}: {exc})."
                ) from None
            if self._outage_logged:
                self._outage_logged = False
                logger.warning(
                    "Quota backend %s is reachable again after %.1f s.",
                    self.description,
                    time.monotonic() - started,
                )
            return result

    def take(self, limit: int, span: float) -> _Decision:
        keep = max(2 * span, _KEEP_SECONDS)
        with self._lock:
            for _ in range(3):
                member = uuid.uuid4().hex
                args = [limit, repr(span), repr(keep), member, self._epoch, uuid.uuid4().hex]
                kind, value, learned = (
                    _text(v)
                    for v in self._call("taking a slot", lambda a=args: self._take(keys=self._keys, args=a))
                )
                learned_int = int(float(learned)) if learned else None
                if kind == "taken":
                    now = float(value)
                    self._own.append((now, member))
                    while self._own and self._own[0][0] <= now - keep:
                        self._own.popleft()
                    return _Decision(None, learned_int, member)
                if kind == "wait":
                    return _Decision(float(value), learned_int)
                # A new epoch: Redis lost the window (restart without data, flush), or this is our first call.
                if self._epoch and self._own:
                    flat: list[Any] = []
                    for stamp, own_member in self._own:
                        flat += [repr(stamp), own_member]
                    self._call("restoring stamps", lambda f=flat: self._restore(keys=self._keys[:1], args=f))
                    logger.warning(
                        "Quota backend %s lost its data (restarted or flushed); put back this process's %d "
                        "requests of the current window.",
                        self.description,
                        len(self._own),
                    )
                self._epoch = value
        raise DineroQuotaStoreError(f"Quota backend {self.description} keeps losing its data; stopping.")

    def restamp(self, handle: Any) -> None:
        now = float(
            _text(self._call("moving a slot", lambda: self._restamp(keys=self._keys[:1], args=[handle])))
        )
        with self._lock:
            self._own.append((now, handle))  # a restore after a lost window puts the later stamp back

    def count(self, span: float) -> int:
        return int(self._call("counting", lambda: self._count(keys=self._keys[:1], args=[repr(span)])))

    def block(self, until_delay: float, learned: int | None) -> None:
        args = [
            repr(max(until_delay, 0.0)),
            "" if learned is None else str(learned),
            repr(LEARNED_LIMIT_TTL_SECONDS),
        ]
        self._call("recording a 429", lambda: self._block(keys=self._keys[1:2], args=args))

    def paused_for(self) -> float:
        return float(_text(self._call("reading the pause", lambda: self._paused(keys=self._keys[1:2]))))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._client.close()


# ------------------------------------------------------------------------------------------------ throttle
class QuotaThrottle:
    """Blocks until one more request to Dinero fits in the quota of ``key`` = (client_id, org).

    Thread-safe; with the SQLite or Redis backend also correct across processes sharing the key.

    Args:
        key: (client_id, organization_id); the org may be ``"-"`` for organization-free routes.
        requests: requests allowed per window (the configured limit; a learned lower one wins).
        window_seconds: window length.
        backend: directory for the SQLite file, ``redis://...`` URL, or ``"memory"``.
        api_host: host of the API the requests go to; part of the store key.
        safety_margin: smallest widening of the window (default :func:`default_safety_margin`).
        outage_seconds: how long an unreachable store is waited out before the run stops.
    """

    def __init__(
        self,
        key: tuple[str, str],
        requests: int = 100,
        window_seconds: float = 60.0,
        backend: str = "~/.cache/dinero-singer",
        *,
        api_host: str = "",
        safety_margin: float | None = None,
        outage_seconds: float = DEFAULT_OUTAGE_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests < 1:
            raise ValueError("requests must be >= 1")
        if window_seconds <= 0:
            raise ValueError("window_seconds must be > 0")
        key = (key[0].strip(), canonical_organization(key[1]))
        self.key = key
        self.api_host = canonical_host(api_host)
        self.requests = requests
        self.window_seconds = window_seconds
        self.base_margin = default_safety_margin(window_seconds) if safety_margin is None else safety_margin
        self.backend = backend
        self.description = describe_backend(backend)
        self._sleep = sleep
        self._delays: collections.deque[float] = collections.deque(maxlen=_DELAY_SAMPLES)
        self._slot = threading.local()  # the slot this thread took last (its request is on its way)
        self._delay_lock = threading.Lock()
        self._learned: int | None = None  # lowest limit this process learned or adopted
        self._learned_logged = False
        digest = hashlib.sha256(f"{self.api_host}\0{key[0]}\0{key[1]}".encode()).hexdigest()[:24]
        self.path: Path | None = None  # the SQLite file, when that backend is used
        self._store: _Store
        if backend == "memory":
            self._store = _MemoryStore()
        elif backend.startswith(("redis://", "rediss://", "unix://")):
            self._store = _RedisStore(
                backend, f"dinero-singer:quota:{digest}", self.description, outage_seconds
            )
        else:
            self.path = Path(backend).expanduser() / f"quota-{digest}.sqlite"
            self._store = _SQLiteStore(self.path, str(self.path))

    def __repr__(self) -> str:
        return (
            f"QuotaThrottle(org={self.key[1]!r}, host={self.api_host!r}, {self.limit} per "
            f"{self.window_seconds:g}s +{self.safety_margin:g}s, backend={self.description!r})"
        )

    # ------------------------------------------------------------------------------------------
    @property
    def safety_margin(self) -> float:
        """Seconds the window is widened by: the largest recent send delay, within [base, 5 % window].

        The delay is measured up to Dinero's answer headers, so it includes Dinero's own processing and
        overestimates the delay to Dinero *counting* the request; the cap keeps that overestimate from
        costing more than 5 % of the quota (a request that takes longer than 3 s of a 60 s window just to
        reach Dinero is not a case the margin has to cover).
        """
        with self._delay_lock:
            measured = max(self._delays, default=0.0)
        cap = max(self.base_margin, 0.05 * self.window_seconds)
        return min(max(self.base_margin, measured), cap)

    @property
    def limit(self) -> int:
        """Requests per window this process currently allows itself (configured, or learned lower)."""
        return min(self.requests, self._learned or self.requests)

    def paused_for(self) -> float:
        """Seconds every process on the key still pauses after a 429 (0 when none; for log lines)."""
        try:
            return self._store.paused_for()
        except DineroQuotaStoreError:
            return 0.0

    def record_send_delay(self, seconds: float) -> None:
        """Tell the throttle how long this thread's last request took from its slot to Dinero's answer (an
        upper bound of the delay before Dinero counted it); the window is widened to cover it, and a
        request later than the margin has its slot moved to now (:meth:`record_unanswered`)."""
        if seconds >= 0 and math.isfinite(seconds):
            with self._delay_lock:
                self._delays.append(seconds)
        self.record_unanswered(seconds)

    def record_unanswered(self, seconds: float) -> None:
        """This thread's last request ended ``seconds`` after its slot, answered or not (a timeout, a
        reset): when that is longer than the margin, Dinero may have counted it only just now, so its
        slot moves to now and stays in the window a whole window from now.

        The slot used to stay where it was taken, covered only by the margin (capped at 5 % of the
        window): a request that reached Dinero 3 s late (a stalled connect) was still counted there when
        the next window's requests arrived, and drew a 429.
        """
        handle = getattr(self._slot, "handle", None)
        self._slot.handle = None
        if handle is None or not (seconds > self.base_margin):
            return
        with contextlib.suppress(DineroQuotaStoreError):  # a failing store stops the next acquire anyway
            self._store.restamp(handle)

    def acquire(self) -> float:
        """Block until a request may be sent and take its slot; return the seconds waited.

        Raises :class:`DineroQuotaStoreError` when the store cannot be used (never sends without a slot).
        """
        started = time.monotonic()
        while True:
            decision = self._store.take(self.limit, self.window_seconds + self.safety_margin)
            self._adopt(decision.learned)
            if decision.wait is None:
                self._slot.handle = decision.handle
                return time.monotonic() - started
            self._sleep(decision.wait)

    def _adopt(self, learned: int | None) -> None:
        if learned is None or learned >= self.limit:
            return
        self._learned = learned
        if not self._learned_logged:
            self._learned_logged = True
            logger.info(
                "Quota for organization %s: using %d requests per %g s, learned from Dinero's 429 by another "
                "process (quota_requests is %d).",
                self.key[1],
                learned,
                self.window_seconds,
                self.requests,
            )

    def report_rate_limited(self, retry_after: float | None = None, message: str | None = None) -> float:
        """Dinero answered 429: pause every process on the key, and learn a lower limit when the window
        held no more requests than we allow ourselves. Returns the imposed pause (s).

        The pause is ``Retry-After`` or, without it, one window plus the margin. The limit learned is the
        one Dinero's body names (scaled to our window), or the requests counted in our window minus one.
        """
        span = self.window_seconds + self.safety_margin
        pause = float(retry_after) if retry_after is not None and retry_after >= 0 else span
        before = self.limit
        learned: int | None = None
        try:
            observed = self._store.count(span)
        except DineroQuotaStoreError:
            observed = 0
        stated = parse_quota_message(message)
        if stated is not None:
            allowed, period = stated
            # A lower limit over the same period, or the same limit over a longer one (scaled down).
            scaled = (
                allowed
                if period <= self.window_seconds * 1.01
                else math.floor(allowed * self.window_seconds / period)
            )
            if scaled < before and observed > scaled:
                learned = max(1, scaled)
        elif before // 2 < observed - 1 < before:
            # No limit named: the window held `observed` requests and the last one was refused. Only
            # when we used most of our quota; a 429 after a few requests means another client used it.
            learned = observed - 1
        self._store.block(pause, learned)
        if learned is not None:
            self._learned = min(learned, self._learned or learned)
            self._learned_logged = True
            logger.warning(
                "Dinero answered 429 with %d requests in the last %.1f s although quota_requests allows %d: "
                "its real limit for organization %s is lower. Using %d per %g s for the rest of this run and "
                "for every process on this quota key (quota_requests: %d avoids this 429).",
                observed,
                span,
                before,
                self.key[1],
                self.limit,
                self.window_seconds,
                self.limit,
            )
        else:
            logger.warning(
                "Dinero answered 429 (quota exceeded) for organization %s: pausing all requests on this key "
                "for %.1f s",
                self.key[1],
                pause,
            )
        return pause

    def close(self) -> None:
        """Release the store's connection (the shared state stays for other processes); the next use
        opens it again. A process syncing hundreds of organizations closes each one's when it is done,
        so it does not hold hundreds of files open."""
        self._store.close()


_REGISTRY: dict[tuple[Any, ...], QuotaThrottle] = {}
_REGISTRY_LOCK = threading.Lock()


def get_throttle(
    client_id: str,
    organization_id: str | None,
    *,
    requests: int,
    window_seconds: float,
    backend: str,
    api_host: str = "",
    outage_seconds: float = DEFAULT_OUTAGE_SECONDS,
) -> QuotaThrottle:
    """The process-wide throttle for (api_host, client_id, organization_id) (created on first use).

    The key is canonical (:func:`canonical_host`, :func:`canonical_organization`): configs that spell one
    organization or one API host differently share one quota.

    Keyed by process id too, so a forked child never reuses its parent's SQLite connection.
    """
    org = canonical_organization(organization_id)
    reg_key = (
        os.getpid(),
        canonical_host(api_host),
        client_id.strip(),
        org,
        requests,
        float(window_seconds),
        backend,
    )
    with _REGISTRY_LOCK:
        throttle = _REGISTRY.get(reg_key)
        if throttle is None:
            throttle = QuotaThrottle(
                (client_id, org),
                requests=requests,
                window_seconds=window_seconds,
                backend=backend,
                api_host=api_host,
                outage_seconds=outage_seconds,
            )
            _REGISTRY[reg_key] = throttle
        return throttle
