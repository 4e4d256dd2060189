"""The whole sandbox state: organizations' data, tokens, quota, request log and faults, behind one lock
(handlers take ``state.lock`` while they read or change data)."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from typing import Any

from .auth import TokenStore
from .behaviours import Behaviours
from .constants import DEFAULT_QUOTA_REQUESTS, DEFAULT_QUOTA_WINDOW, TOKEN_TTL_SECONDS
from .faults import FaultSet
from .orgdata import OrgData
from .quota import Quota
from .seed import build_all

LOG_LIMIT = 200_000


class RequestLog:
    """Every request the sandbox answered (bounded), with running counters.

    A request is logged when it is answered, so one held by a ``slow``/``slow_answer`` fault is logged
    after its client gave up -- perhaps during the client's next run. ``in_flight`` counts API requests
    received and not yet logged: a test waits for 0 before it reads the log of a finished run (otherwise
    a late answer of one run is counted as a request of the next).
    """

    def __init__(self) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)
        self._next_id = 1
        self._in_flight = 0
        self._by_status: Counter[str] = Counter()
        self._by_route: Counter[str] = Counter()
        self._lock = threading.Lock()

    def begin(self) -> None:
        """An API request was received (it is logged, or :meth:`abandon` ed, when it ends)."""
        with self._lock:
            self._in_flight += 1

    def abandon(self) -> None:
        """A received request ended without being logged (an exception past every handler)."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def add(self, *, begun: bool = False, **entry: Any) -> None:
        """Record one request (``begun``: it was counted by :meth:`begin`)."""
        with self._lock:
            if begun:
                self._in_flight = max(0, self._in_flight - 1)
            entry["id"] = self._next_id
            self._next_id += 1
            self._entries.append(entry)
            self._by_status[str(entry["status"])] += 1
            self._by_route[entry.pop("route")] += 1

    def entries(self, since: int = 0) -> list[dict[str, Any]]:
        """Entries with id greater than ``since``."""
        with self._lock:
            return [dict(e) for e in self._entries if e["id"] > since]

    def stats(self) -> dict[str, Any]:
        """Totals by status and by route."""
        with self._lock:
            return {
                "in_flight": self._in_flight,
                "total": sum(self._by_status.values()),
                "by_status": dict(self._by_status),
                "by_route": dict(self._by_route),
            }

    def clear(self) -> None:
        """Forget everything (ids keep increasing)."""
        with self._lock:
            self._entries.clear()
            self._by_status.clear()
            self._by_route.clear()


class SandboxState:
    """Data and behaviour switches of one sandbox server."""

    def __init__(
        self,
        seed_size: str = "demo",
        quota_requests: int = DEFAULT_QUOTA_REQUESTS,
        quota_window: float = DEFAULT_QUOTA_WINDOW,
        behaviours: Behaviours | None = None,
    ) -> None:
        self.lock = threading.RLock()
        #: How this instance plays the facts nobody verified (dinero_sandbox/behaviours.py); a reset
        #: restores the starting choice.
        self.starting_behaviours = (behaviours or Behaviours()).copy()
        self.behaviours = self.starting_behaviours.copy()
        self.seed_size = seed_size
        started = time.perf_counter()
        self.orgs: dict[str, OrgData] = build_all(seed_size)
        self.seed_seconds = time.perf_counter() - started
        self.tokens = TokenStore(TOKEN_TTL_SECONDS)
        self.quota = Quota(quota_requests, quota_window)
        self.log = RequestLog()
        self.faults = FaultSet()

    def reset(self, seed_size: str | None = None) -> None:
        """Re-seed every organization, clear the log, quota counters and faults, restore the default token
        lifetime (tokens already issued stay valid)."""
        with self.lock:
            size = seed_size or self.seed_size
            started = time.perf_counter()
            self.orgs = build_all(size)
            self.seed_seconds = time.perf_counter() - started
            self.seed_size = size
            self.tokens.ttl = TOKEN_TTL_SECONDS
            self.behaviours = self.starting_behaviours.copy()
            self.log.clear()
            self.quota.clear()
            self.faults.clear()
