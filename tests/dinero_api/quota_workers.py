"""Functions run in child processes by the cross-process quota tests (importable by `spawn`).

The processes are lined up with a barrier (a ``multiprocessing.Manager().Barrier``), not a start time:
however long a child takes to start, all of them begin competing for the quota together.
"""

from __future__ import annotations

import time
from typing import Any


def take_slots(
    backend: str, key: tuple[str, str], requests: int, window: float, count: int, start: Any
) -> list[float]:
    """Acquire ``count`` quota slots and return the wall-clock time right after each acquisition."""
    from dinero_api.quota import QuotaThrottle

    throttle = QuotaThrottle(key, requests, window, backend)
    start.wait(timeout=120)  # line the processes up
    stamps = []
    for _ in range(count):
        throttle.acquire()
        stamps.append(time.time())
    throttle.close()
    return stamps


def send_requests(config: dict[str, Any], path: str, count: int, start: Any) -> dict[str, Any]:
    """Send ``count`` GETs through a DineroClient (own process, own token) and return its stats."""
    from dinero_api.client import DineroClient
    from dinero_api.settings import DineroSettings

    client = DineroClient(DineroSettings.from_config(config))
    client.get_json(path)  # token and first slot before lining up
    start.wait(timeout=120)
    for _ in range(count - 1):
        client.get_json(path)
    client.close()
    return client.stats.snapshot()
