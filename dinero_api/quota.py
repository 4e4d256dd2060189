"""The request quota shared by every process that talks to one Dinero organization.

Dinero allows ~100 requests per minute per (client id, organization) (REFERENCE §5.3). A tap and a
target of one pipeline run at the same time and share that budget, so the throttle state lives
outside the process: a SQLite file in a cache directory (default), or Redis for several machines.

Storage and policy come from pyrate-limiter 4.5: ``SQLiteBucket`` (with its ``filelock`` file lock
and WAL journal), ``RedisBucket`` (atomic Lua check-and-insert) or ``InMemoryBucket``, all with the
``SlidingWindowLog`` algorithm. We do *not* use ``Limiter.try_acquire`` for the waiting, because
neither of its modes is correct across processes:

* blocking mode sleeps and then advances the item's timestamp by the planned sleep instead of reading
  the clock again (``item.timestamp += sleep_ms``); a late wake-up or a wait for the file lock (which
  polls every 50 ms) therefore records the request *earlier* than it was actually sent, and another
  process may be let in early -- more than N requests in a real window;
* non-blocking mode takes the file lock with timeout 0 and reports a lock held for a millisecond by
  another process as "rate limited".

So :meth:`QuotaThrottle.acquire` is a short loop around the bucket: take the (cross-process) lock,
stamp the item with the current time *under the lock*, ``put_decision`` it, and on refusal sleep the
``retry_after_ms`` the algorithm computed, then try again with a fresh stamp. The window is widened by
a small safety margin so that the delay between taking a slot and the request reaching Dinero cannot
push N+1 requests into one real window.

After a 429 (Dinero's window may be fixed while ours slides, or its limit lower than configured)
:meth:`QuotaThrottle.report_rate_limited` blocks every process on the key until ``Retry-After``
elapses, or, without that header, for a whole window (by then every request we have recorded, and
any fixed window Dinero may use, has rolled over).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from pyrate_limiter import AbstractBucket, InMemoryBucket, Rate, RateItem, RedisBucket, SQLiteBucket

__all__ = ["QuotaThrottle", "get_throttle"]

logger = logging.getLogger(__name__)

_ITEM_NAME = "dinero"
_LEAK_EVERY_SECONDS = 10.0


def default_safety_margin(window_seconds: float) -> float:
    """Extra window length guarding against send delay: 2 % of the window, between 0.25 s and 2 s.

    The slot is stamped when it is taken, Dinero counts the request when it arrives; a request that
    is slow to leave (a busy machine, a slow connect) must not let the next window's first request
    arrive inside the current one. 0.25 s covers a loaded 2-core machine; on Dinero's 60 s window
    the margin is 1.2 s (2 % of the quota).
    """
    return min(max(0.25, 0.02 * window_seconds), 2.0)


class _Penalty(Protocol):
    """Shared 'blocked until' time (epoch seconds) set after a 429."""

    def until(self) -> float: ...

    def extend(self, until: float) -> None: ...

    def close(self) -> None: ...


class _MemoryPenalty:
    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()

    def until(self) -> float:
        with self._lock:
            return self._until

    def extend(self, until: float) -> None:
        with self._lock:
            self._until = max(self._until, until)

    def close(self) -> None:
        pass


class _SQLitePenalty:
    """One-row table next to the bucket's table; ``max()`` in the upsert keeps it monotonic."""

    def __init__(self, db_path: Path) -> None:
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            str(db_path), timeout=30, isolation_level=None, check_same_thread=False
        )
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS blocked (id INTEGER PRIMARY KEY CHECK (id = 1), until REAL NOT NULL)"
        )

    def until(self) -> float:
        with self._lock:
            if self._conn is None:
                return 0.0
            row = self._conn.execute("SELECT until FROM blocked WHERE id = 1").fetchone()
            return float(row[0]) if row else 0.0

    def extend(self, until: float) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.execute(
                    "INSERT INTO blocked (id, until) VALUES (1, ?) "
                    "ON CONFLICT(id) DO UPDATE SET until = max(until, excluded.until)",
                    (until,),
                )

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class _RedisPenalty:
    def __init__(self, client: Any, key: str) -> None:
        self._client = client
        self._key = key

    def until(self) -> float:
        value = self._client.get(self._key)
        return float(value) if value else 0.0

    def extend(self, until: float) -> None:
        # Read-compare-write is not atomic; a lost race only shortens a penalty that the next 429
        # would set again, which is acceptable here.
        if until > self.until():
            ttl_ms = max(1, int((until - time.time()) * 1000) + 1000)
            self._client.set(self._key, repr(until), px=ttl_ms)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._client.close()


class QuotaThrottle:
    """Blocks until one more request to Dinero fits in the quota of ``key`` = (client_id, org).

    Thread-safe; with the SQLite or Redis backend also correct across processes sharing the key.

    Args:
        key: (client_id, organization_id); the org may be ``"-"`` for organization-free routes.
        requests: requests allowed per window.
        window_seconds: window length.
        backend: directory for the SQLite file, ``redis://...`` URL, or ``"memory"``.
        safety_margin: seconds added to the window (default :func:`default_safety_margin`).
    """

    def __init__(
        self,
        key: tuple[str, str],
        requests: int = 100,
        window_seconds: float = 60.0,
        backend: str = "~/.cache/dinero-singer",
        *,
        safety_margin: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests < 1:
            raise ValueError("requests must be >= 1")
        if window_seconds <= 0:
            raise ValueError("window_seconds must be > 0")
        self.key = key
        self.requests = requests
        self.window_seconds = window_seconds
        self.safety_margin = default_safety_margin(window_seconds) if safety_margin is None else safety_margin
        self.backend = backend
        self._sleep = sleep
        self._thread_lock = threading.Lock()
        self._last_leak = time.monotonic()
        digest = hashlib.sha256(f"{key[0]}\0{key[1]}".encode()).hexdigest()[:24]
        rates = [Rate(requests, max(1, round((window_seconds + self.safety_margin) * 1000)))]
        self._process_lock: Any = None
        self.path: Path | None = None  # the SQLite file, when that backend is used
        self._bucket: AbstractBucket
        self._penalty: _Penalty
        if backend == "memory":
            self._bucket = InMemoryBucket(rates)
            self._penalty = _MemoryPenalty()
        elif backend.startswith(("redis://", "rediss://", "unix://")):
            import redis  # optional dependency: pip install dinero-singer[redis]

            client = redis.Redis.from_url(backend)
            bucket_key = f"dinero-singer:quota:{digest}"
            self._bucket = RedisBucket.init(rates, client, bucket_key)
            self._penalty = _RedisPenalty(client, bucket_key + ":blocked-until")
        else:
            directory = Path(backend).expanduser()
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            db_path = directory / f"quota-{digest}.sqlite"
            bucket = SQLiteBucket.init_from_file(
                rates, table="requests", db_path=str(db_path), use_file_lock=True
            )
            self._bucket = bucket
            # filelock.FileLock (thread-local, re-entrant): serialises processes *and* threads.
            self._process_lock = bucket.limiter_lock()
            self._penalty = _SQLitePenalty(db_path)
            self.path = db_path

    def __repr__(self) -> str:
        return (
            f"QuotaThrottle(org={self.key[1]!r}, {self.requests} per {self.window_seconds:g}s "
            f"+{self.safety_margin:g}s, backend={self.backend!r})"
        )

    # ------------------------------------------------------------------------------------------
    def _try_take(self) -> float | None:
        """Take a slot now (None) or return the seconds to wait before trying again."""
        with self._thread_lock:
            lock = self._process_lock if self._process_lock is not None else contextlib.nullcontext()
            with lock:
                # Stamp under the lock so stamps are ordered like the inserts, across processes.
                item = RateItem(_ITEM_NAME, self._bucket.now())
                decision = self._bucket.put_decision(item)
                if decision.allowed:
                    return None
                wait_ms = decision.retry_after_ms
                if wait_ms is None:
                    wait_ms = self._bucket.waiting(item)
        return max(int(wait_ms), 1) / 1000.0  # type: ignore[arg-type]

    def _maybe_leak(self) -> None:
        now = time.monotonic()
        if now - self._last_leak < max(_LEAK_EVERY_SECONDS, self.window_seconds):
            return
        self._last_leak = now
        with self._thread_lock:
            lock = self._process_lock if self._process_lock is not None else contextlib.nullcontext()
            try:
                with lock:
                    self._bucket.leak(self._bucket.now())
            except Exception:  # cleanup only; never fail a request because of it
                logger.debug("quota leak failed", exc_info=True)

    def acquire(self) -> float:
        """Block until a request may be sent; return the seconds waited."""
        started = time.monotonic()
        while True:
            blocked = self._penalty.until() - time.time()
            if blocked > 0:
                self._sleep(blocked)
                continue
            wait = self._try_take()
            if wait is None:
                break
            self._sleep(wait)
        self._maybe_leak()
        return time.monotonic() - started

    def report_rate_limited(self, retry_after: float | None = None) -> float:
        """Tell every process on this key that Dinero answered 429; return the imposed pause (s).

        With ``Retry-After`` we pause that long; without it, for one window plus the margin.
        """
        if retry_after is not None and retry_after >= 0:
            pause = float(retry_after)
        else:
            pause = self.window_seconds + self.safety_margin
        self._penalty.extend(time.time() + pause)
        logger.warning(
            "Dinero answered 429 (quota exceeded) for organization %s: pausing all requests on this key "
            "for %.1f s",
            self.key[1],
            pause,
        )
        return pause

    def close(self) -> None:
        """Release the bucket's connection (the shared state stays for other processes)."""
        self._penalty.close()
        with contextlib.suppress(Exception):
            self._bucket.close()


_REGISTRY: dict[tuple[Any, ...], QuotaThrottle] = {}
_REGISTRY_LOCK = threading.Lock()


def get_throttle(
    client_id: str,
    organization_id: str | None,
    *,
    requests: int,
    window_seconds: float,
    backend: str,
) -> QuotaThrottle:
    """The process-wide throttle for (client_id, organization_id) (created on first use).

    Keyed by process id too, so a forked child never reuses its parent's SQLite connection.
    """
    org = organization_id or "-"
    reg_key = (os.getpid(), client_id, org, requests, float(window_seconds), backend)
    with _REGISTRY_LOCK:
        throttle = _REGISTRY.get(reg_key)
        if throttle is None:
            throttle = QuotaThrottle(
                (client_id, org), requests=requests, window_seconds=window_seconds, backend=backend
            )
            _REGISTRY[reg_key] = throttle
        return throttle
