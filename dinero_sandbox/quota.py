"""Dinero's request quota: N requests per window of W seconds per (client id, organization); over it,
HTTP 429 with the plain-text body ``API calls quota exceeded! maximum admitted N per P.`` and a
``Retry-After`` header (whole seconds). The window is a sliding log; refused requests are not counted.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

from .constants import DEFAULT_QUOTA_REQUESTS, DEFAULT_QUOTA_WINDOW


def period_text(window: float) -> str:
    """``1m`` for 60 s, ``1h`` for 3600 s, else seconds (``1s``, ``0.5s``)."""
    if window >= 3600 and window % 3600 == 0:
        return f"{int(window // 3600)}h"
    if window >= 60 and window % 60 == 0:
        return f"{int(window // 60)}m"
    return f"{window:g}s"


class Quota:
    """Sliding-window request counter per key; thread-safe."""

    def __init__(self, requests: int = DEFAULT_QUOTA_REQUESTS, window: float = DEFAULT_QUOTA_WINDOW) -> None:
        self.requests = requests
        self.window = window
        self._hits: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def configure(self, requests: int, window: float) -> None:
        """Change the limit (and forget past requests)."""
        with self._lock:
            self.requests = requests
            self.window = window
            self._hits.clear()

    def clear(self) -> None:
        """Forget past requests."""
        with self._lock:
            self._hits.clear()

    def hit(self, key: tuple[str, str]) -> int | None:
        """Count a request; None when admitted, else the Retry-After seconds."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) < self.requests:
                hits.append(now)
                return None
            return max(1, math.ceil(hits[0] + self.window - now))

    def message(self) -> str:
        """The 429 body."""
        return f"API calls quota exceeded! maximum admitted {self.requests} per {period_text(self.window)}."

    def usage(self) -> dict[str, int]:
        """Requests inside the current window per key (for the inspection API)."""
        now = time.monotonic()
        with self._lock:
            return {
                f"{k[0]}/{k[1]}": sum(1 for t in v if t > now - self.window) for k, v in self._hits.items()
            }
