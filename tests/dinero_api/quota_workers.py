"""Functions run in child processes by the cross-process quota tests (importable by `spawn`)."""

from __future__ import annotations

import time
from typing import Any


def take_slots(
    backend: str, key: tuple[str, str], requests: int, window: float, count: int, start_at: float
) -> list[float]:
    """Acquire ``count`` quota slots and return the wall-clock time right after each acquisition."""
    from dinero_api.quota import QuotaThrottle

    throttle = QuotaThrottle(key, requests, window, backend)
    time.sleep(max(0.0, start_at - time.time()))  # line the processes up
    stamps = []
    for _ in range(count):
        throttle.acquire()
        stamps.append(time.time())
    throttle.close()
    return stamps


def send_requests(config: dict[str, Any], path: str, count: int, start_at: float) -> dict[str, Any]:
    """Send ``count`` GETs through a DineroClient (own process, own token) and return its stats."""
    from dinero_api.client import DineroClient
    from dinero_api.settings import DineroSettings

    client = DineroClient(DineroSettings.from_config(config))
    client.get_json(path)  # token and first slot before lining up
    time.sleep(max(0.0, start_at - time.time()))
    for _ in range(count - 1):
        client.get_json(path)
    client.close()
    return client.stats.snapshot()
