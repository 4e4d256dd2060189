"""The quota throttle: never more than N requests in any window, across threads and processes."""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fake_dinero import FakeDinero
from quota_workers import send_requests, take_slots

from dinero_api.quota import QuotaThrottle, get_throttle


def max_in_any_window(stamps: list[float], window: float) -> int:
    """Largest number of stamps inside any half-open interval [t, t + window)."""
    stamps = sorted(stamps)
    best, start = 0, 0
    for end, t in enumerate(stamps):
        while t - stamps[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_window_counter_helper() -> None:
    assert max_in_any_window([0, 0.5, 0.99, 1.0, 1.5], 1.0) == 3
    assert max_in_any_window([0, 1, 2], 1.0) == 1


def test_threads_in_one_process_respect_the_quota(tmp_path: Path) -> None:
    throttle = QuotaThrottle(("client", "100000"), 5, 0.5, str(tmp_path))
    stamps: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(3):
            throttle.acquire()
            with lock:
                stamps.append(time.time())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stamps) == 12
    assert max_in_any_window(stamps, 0.5) <= 5


def test_acquire_reports_the_wait(tmp_path: Path) -> None:
    throttle = QuotaThrottle(("client", "100000"), 2, 0.3, "memory")
    waits = [throttle.acquire() for _ in range(3)]
    assert waits[0] < 0.25 and waits[1] < 0.25
    assert waits[2] >= 0.2  # the third had to wait for the first to leave the window


def test_two_processes_sharing_a_key_never_exceed_the_quota(tmp_path: Path) -> None:
    requests, window, per_process, processes = 10, 1.0, 8, 3
    start_at = time.time() + 1.5  # after the children have started
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=ctx) as pool:
        futures = [
            pool.submit(
                take_slots,
                str(tmp_path),
                ("dinero-sandbox", "100000"),
                requests,
                window,
                per_process,
                start_at,
            )
            for _ in range(processes)
        ]
        results = [f.result(timeout=60) for f in futures]
    stamps = [t for r in results for t in r]
    assert len(stamps) == per_process * processes
    assert max_in_any_window(stamps, window) <= requests
    assert all(len(r) == per_process for r in results)


def test_other_keys_are_independent(tmp_path: Path) -> None:
    a = QuotaThrottle(("client", "100000"), 1, 30, str(tmp_path))
    b = QuotaThrottle(("client", "100001"), 1, 30, str(tmp_path))
    assert a.acquire() < 5 and b.acquire() < 5  # a full org does not block another (that would be 30 s)


def test_a_429_pauses_every_process_on_the_key(tmp_path: Path) -> None:
    tap = QuotaThrottle(("client", "100000"), 100, 60, str(tmp_path))
    target = QuotaThrottle(("client", "100000"), 100, 60, str(tmp_path))  # as in another process
    reported = time.monotonic()
    tap.report_rate_limited(retry_after=1.0)
    target.acquire()
    assert time.monotonic() - reported >= 0.95  # measured from the report, not from acquire's own start


def test_get_throttle_is_shared_per_key(tmp_path: Path) -> None:
    kwargs: dict[str, Any] = {"requests": 5, "window_seconds": 1.0, "backend": str(tmp_path)}
    assert get_throttle("c", "1", **kwargs) is get_throttle("c", "1", **kwargs)
    assert get_throttle("c", "1", **kwargs) is not get_throttle("c", "2", **kwargs)


def test_processes_sending_http_requests_stay_under_the_quota(
    fake_dinero: FakeDinero, api_config: dict, tmp_path: Path
) -> None:
    """End to end: two processes (tap and target, say) share one organization's quota."""
    requests, window = 5, 0.5
    config = {**api_config, "quota_requests": requests, "quota_window_seconds": window}
    path = "/v1/100000/contacts/abc"
    start_at = time.time() + 1.5
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        futures = [pool.submit(send_requests, config, path, 8, start_at) for _ in range(2)]
        snapshots = [f.result(timeout=60) for f in futures]
    arrivals = [r.ts for r in fake_dinero.api_requests() if r.path == path]
    assert len(arrivals) == 16
    assert max_in_any_window(arrivals, window) <= requests
    assert sum(s["quota_wait_seconds"] for s in snapshots) > 0  # they really had to share


@pytest.mark.skipif("not __import__('os').environ.get('DINERO_TEST_REDIS_URL')")
def test_redis_backend_shares_the_quota() -> None:
    import os

    url = os.environ["DINERO_TEST_REDIS_URL"]
    key = ("client", f"redis-test-{time.time()}")
    a = QuotaThrottle(key, 3, 0.5, url)
    b = QuotaThrottle(key, 3, 0.5, url)
    stamps = []
    for throttle in (a, b, a, b, a, b):
        throttle.acquire()
        stamps.append(time.time())
    assert max_in_any_window(stamps, 0.5) <= 3
