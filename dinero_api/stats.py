"""Thread-safe counters of what a DineroClient sent and how long it waited."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

__all__ = ["RequestStats"]


class RequestStats:
    """Counts requests by method and status, 429s, retries, token refreshes and quota wait time.

    Every attempt that reached the server is counted (a retried GET counts once per attempt);
    transport failures (timeouts, resets) are counted under the status ``"error"``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_method_status: Counter[tuple[str, str]] = Counter()
        self._retries = 0
        self._rate_limited = 0
        self._token_refreshes = 0
        self._quota_wait_seconds = 0.0

    def record_response(self, method: str, status: int | str) -> None:
        """Count one attempt answered with ``status`` (or ``"error"`` for a transport failure)."""
        with self._lock:
            self._by_method_status[(method.upper(), str(status))] += 1
            if str(status) == "429":
                self._rate_limited += 1

    def record_retry(self) -> None:
        """Count one backoff retry (5xx, timeout or reset)."""
        with self._lock:
            self._retries += 1

    def record_token_refresh(self) -> None:
        """Count one token refresh forced by a 401."""
        with self._lock:
            self._token_refreshes += 1

    def add_quota_wait(self, seconds: float) -> None:
        """Add time spent blocked in the quota throttle."""
        if seconds > 0:
            with self._lock:
                self._quota_wait_seconds += seconds

    @property
    def requests(self) -> int:
        """Total attempts sent (all methods and statuses, including transport failures)."""
        with self._lock:
            return sum(self._by_method_status.values())

    @property
    def retries(self) -> int:
        """Backoff retries after 5xx/timeouts/resets."""
        with self._lock:
            return self._retries

    @property
    def rate_limited(self) -> int:
        """Number of 429 answers received."""
        with self._lock:
            return self._rate_limited

    @property
    def token_refreshes(self) -> int:
        """Token refreshes forced by a 401."""
        with self._lock:
            return self._token_refreshes

    @property
    def quota_wait_seconds(self) -> float:
        """Seconds spent waiting for a quota slot (including waits imposed by 429 answers)."""
        with self._lock:
            return self._quota_wait_seconds

    def by_status(self) -> dict[str, int]:
        """Attempts per status code (as strings, e.g. ``{"200": 12, "429": 1}``)."""
        with self._lock:
            out: Counter[str] = Counter()
            for (_, status), n in self._by_method_status.items():
                out[status] += n
            return dict(out)

    def by_method(self) -> dict[str, dict[str, int]]:
        """Attempts per method and status, e.g. ``{"GET": {"200": 3}}``."""
        with self._lock:
            out: dict[str, dict[str, int]] = {}
            for (method, status), n in self._by_method_status.items():
                out.setdefault(method, {})[status] = n
            return out

    def snapshot(self) -> dict[str, Any]:
        """A JSON-friendly copy of all counters (for logs and benchmarks)."""
        return {
            "requests": self.requests,
            "by_method": self.by_method(),
            "by_status": self.by_status(),
            "rate_limited": self.rate_limited,
            "retries": self.retries,
            "token_refreshes": self.token_refreshes,
            "quota_wait_seconds": round(self.quota_wait_seconds, 3),
        }

    def __repr__(self) -> str:
        return f"RequestStats({self.snapshot()})"
