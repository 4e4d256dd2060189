"""The quota throttle: never more than N requests in any window, across threads and processes."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from quota_workers import send_requests, take_slots
from redis_server import RedisServer, free_port, redis_available
from token_endpoints import answer_before_the_api_default, api_requests, json_response
from werkzeug import Request, Response

from dinero_api.errors import DineroQuotaStoreError
from dinero_api.quota import QuotaThrottle, get_throttle, parse_quota_message


def max_in_any_window(stamps: list[float], window: float) -> int:
    """Largest number of stamps inside any half-open interval [t, t + window)."""
    stamps = sorted(stamps)
    best, start = 0, 0
    for end, t in enumerate(stamps):
        while t - stamps[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_window_counter_helper_finds_the_busiest_window() -> None:
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
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ProcessPoolExecutor(max_workers=processes, mp_context=ctx) as pool:
        start = manager.Barrier(processes)
        futures = [
            pool.submit(
                take_slots,
                str(tmp_path),
                ("dinero-sandbox", "100000"),
                requests,
                window,
                per_process,
                start,
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
    assert 0.5 < target.paused_for() <= 1.0
    target.acquire()
    assert time.monotonic() - reported >= 0.95  # measured from the report, not from acquire's own start
    assert target.paused_for() == 0


def test_get_throttle_is_shared_per_key(tmp_path: Path) -> None:
    kwargs: dict[str, Any] = {"requests": 5, "window_seconds": 1.0, "backend": str(tmp_path)}
    assert get_throttle("c", "1", **kwargs) is get_throttle("c", "1", **kwargs)
    assert get_throttle("c", "1", **kwargs) is not get_throttle("c", "2", **kwargs)


def test_processes_sending_http_requests_stay_under_the_quota(
    httpserver: HTTPServer, api_config: dict, tmp_path: Path
) -> None:
    """End to end: two processes (tap and target, say) share one organization's quota."""
    requests, window = 5, 0.5
    config = {**api_config, "quota_requests": requests, "quota_window_seconds": window}
    path = "/v1/100000/contacts/abc"
    arrivals: list[float] = []  # when Dinero saw each request (httpserver.log has no timestamps)

    def note_arrival(request: Request) -> Response:
        arrivals.append(time.time())
        return json_response({"ContactGuid": "abc"})

    httpserver.expect_request(path, method="GET").respond_with_handler(note_arrival)
    answer_before_the_api_default(httpserver)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        start = manager.Barrier(2)
        futures = [pool.submit(send_requests, config, path, 8, start) for _ in range(2)]
        snapshots = [f.result(timeout=60) for f in futures]
    assert len(api_requests(httpserver, path)) == len(arrivals) == 16
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


# -- store key, replaced stores, learned limits, measured send delay ----------------------------------------
def _slots_now(throttle: QuotaThrottle, count: int) -> None:
    for _ in range(count):
        assert throttle.acquire() < 0.5


def test_the_quota_key_includes_the_api_host(tmp_path: Path) -> None:
    """A sandbox run and a run against Dinero with the same client and organization never share a bucket."""
    dinero = QuotaThrottle(("c", "1"), 1, 30, str(tmp_path), api_host="api.dinero.dk")
    sandbox = QuotaThrottle(("c", "1"), 1, 30, str(tmp_path), api_host="127.0.0.1:8765")
    _slots_now(dinero, 1)
    assert sandbox.acquire() < 5  # the full Dinero bucket would keep it waiting 30 s
    assert dinero.path != sandbox.path


class _WouldWait(Exception):
    """Raised by a throttle's sleep: the request was held back (its window is full)."""


def _refuse_to_sleep(seconds: float) -> None:
    raise _WouldWait(seconds)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"organization_id": "100000"}, {"organization_id": "0100000"}),
        ({"api_url": "https://api.dinero.dk"}, {"api_url": "https://API.Dinero.dk:443/"}),
        ({"api_url": "https://api.dinero.dk"}, {"api_url": "https://api.dinero.dk./"}),
    ],
    ids=["leading-zero", "host-case-and-port", "host-trailing-dot"],
)
def test_two_configs_naming_one_organization_share_one_quota(
    tmp_path: Path, first: dict[str, Any], second: dict[str, Any]
) -> None:
    """A tap and a target (or two Airflow tasks) whose configs spell the same organization, API host or
    client id differently must count in one store: Dinero counts per (client id, organization), whatever
    the spelling. With the raw spelling in the key (the old code) each had its own full quota, so
    together they could send twice Dinero's limit in one minute."""
    from dinero_api.settings import DineroSettings

    base = {
        "client_id": "dinero-client",
        "client_secret": "secret",
        "api_key": "key",
        "organization_id": "100000",
        "api_url": "https://api.dinero.dk",
        "quota_backend": str(tmp_path),
    }
    throttles = []
    for overrides in (first, second):
        settings = DineroSettings.from_config({**base, **overrides})
        throttles.append(
            QuotaThrottle(
                (settings.client_id, settings.organization_id or "-"),
                2,
                60,
                settings.quota_backend,
                api_host=settings.api_host,
                sleep=_refuse_to_sleep,
            )
        )
    tap, target = throttles
    tap.acquire()
    tap.acquire()  # the organization's window is full
    with pytest.raises(_WouldWait):
        target.acquire()


def test_one_throttle_object_per_canonical_key_in_a_process(tmp_path: Path) -> None:
    """The process-wide registry is keyed canonically too: one organization, one throttle object."""
    spellings = (("100000", "api.dinero.dk"), ("0100000", "API.dinero.dk:443"))
    tap, target = (
        get_throttle("c", org, requests=2, window_seconds=60, backend=str(tmp_path), api_host=host)
        for org, host in spellings
    )
    assert tap is target


def test_other_ports_and_organizations_keep_their_own_quota(tmp_path: Path) -> None:
    """Canonical keys merge spellings only: another port (another server) or organization stays apart."""
    full = QuotaThrottle(("c", "100000"), 1, 60, str(tmp_path), api_host="127.0.0.1:8765")
    full.acquire()
    for key, host in ((("c", "100000"), "127.0.0.1:8766"), (("c", "1000000"), "127.0.0.1:8765")):
        other = QuotaThrottle(key, 1, 60, str(tmp_path), api_host=host, sleep=_refuse_to_sleep)
        assert other.acquire() < 5


@pytest.mark.parametrize("how", ["directory removed", "file replaced"])
def test_a_replaced_store_is_reopened_and_keeps_the_window(tmp_path: Path, how: str) -> None:
    """A cache cleaner removes the quota directory (or a file is put in its place) under a running process:
    the process notices, moves to the new file with the window's stamps, and a process that starts on the
    new file sees them -- never two stores counting one organization at once."""
    directory = tmp_path / "quota"
    running = QuotaThrottle(("c", "1"), 3, 30, str(directory))
    _slots_now(running, 2)
    assert running.path is not None
    if how == "directory removed":
        shutil.rmtree(directory)
    else:
        fresh = directory / "fresh.sqlite"
        fresh.write_bytes(b"")
        os.replace(fresh, running.path)
    _slots_now(running, 1)  # the third slot of the window, taken in the new file
    newcomer = QuotaThrottle(("c", "1"), 3, 30, str(directory))
    sleeps: list[float] = []
    newcomer._sleep = lambda seconds: (sleeps.append(seconds), (_ for _ in ()).throw(TimeoutError()))
    with pytest.raises(TimeoutError):
        newcomer.acquire()  # the window is full: it must be told to wait ~30 s
    assert sleeps and sleeps[0] > 20


def test_parse_quota_message() -> None:
    assert parse_quota_message("API calls quota exceeded! maximum admitted 100 per 1m.") == (100, 60.0)
    assert parse_quota_message("API calls quota exceeded! maximum admitted 6 per 0.5s.") == (6, 0.5)
    assert parse_quota_message("maximum admitted 5000 per 1h") == (5000, 3600.0)
    assert parse_quota_message("Too many requests") is None
    assert parse_quota_message(None) is None


def test_a_429_naming_a_lower_limit_is_learned_by_every_process_on_the_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Configured for 5 per window, Dinero says 3: both processes on the key use 3 from then on."""
    tap = QuotaThrottle(("c", "1"), 5, 30, str(tmp_path))
    target = QuotaThrottle(("c", "1"), 5, 30, str(tmp_path))  # as in another process
    _slots_now(tap, 4)  # Dinero refused the 4th: its limit is 3
    with caplog.at_level(logging.WARNING, logger="dinero_api.quota"):
        tap.report_rate_limited(0, "API calls quota exceeded! maximum admitted 3 per 30s.")
    assert tap.limit == 3
    assert [r for r in caplog.records if "real limit" in r.getMessage()]
    sleeps: list[float] = []
    target._sleep = lambda seconds: (sleeps.append(seconds), (_ for _ in ()).throw(TimeoutError()))
    with pytest.raises(TimeoutError):
        target.acquire()  # 4 in the window already, more than 3: it waits (configured 5 would let it in)
    assert target.limit == 3


def test_a_429_without_a_limit_backs_off_to_the_requests_dinero_let_through(tmp_path: Path) -> None:
    throttle = QuotaThrottle(("c", "1"), 10, 30, str(tmp_path))
    _slots_now(throttle, 8)  # the 8th was refused
    throttle.report_rate_limited(0, "Too many requests")
    assert throttle.limit == 7


def test_a_429_after_a_few_requests_teaches_nothing(tmp_path: Path) -> None:
    """Another client burning the organization's quota is waited out, not mistaken for a lower limit."""
    throttle = QuotaThrottle(("c", "1"), 100, 30, str(tmp_path))
    _slots_now(throttle, 2)
    throttle.report_rate_limited(0, "API calls quota exceeded! maximum admitted 100 per 30s.")
    throttle.report_rate_limited(0, "Too many requests")
    assert throttle.limit == 100


def test_the_measured_send_delay_widens_the_window(tmp_path: Path) -> None:
    throttle = QuotaThrottle(("c", "1"), 10, 60, "memory")
    assert throttle.safety_margin == pytest.approx(1.2)
    throttle.record_send_delay(2.5)  # a request took 2.5 s from its slot to Dinero's answer
    assert throttle.safety_margin == pytest.approx(2.5)
    throttle.record_send_delay(60)
    assert throttle.safety_margin == pytest.approx(3.0)  # capped at 5 % of the window


# -- Redis outages -------------------------------------------------------------------------------------------
needs_redis = pytest.mark.skipif(not redis_available(), reason="redis-server is not installed")


@needs_redis
def test_redis_unreachable_stops_with_one_line_naming_the_backend() -> None:
    port = free_port()
    throttle = QuotaThrottle(
        ("c", "1"), 5, 1, f"redis://:hunter2-secret@127.0.0.1:{port}/0", outage_seconds=0.5
    )
    started = time.monotonic()
    with pytest.raises(DineroQuotaStoreError) as info:
        throttle.acquire()
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert f"Quota backend redis://127.0.0.1:{port}/0 unreachable" in message
    assert "hunter2" not in message and "\n" not in message


@needs_redis
def test_a_redis_restart_is_waited_out_and_the_window_rebuilt() -> None:
    """Redis dies and comes back empty (scripts and data gone) while a window is full: the throttle waits
    for it, reloads its scripts, puts its stamps back, and still makes the next request wait."""
    with RedisServer() as server:
        throttle = QuotaThrottle(("c", "1"), 3, 3, server.url, outage_seconds=30)
        started = time.monotonic()
        _slots_now(throttle, 3)
        server.stop()
        restarter = threading.Timer(1.0, server.start)
        restarter.start()
        throttle.acquire()
        waited = time.monotonic() - started
        restarter.join()
        # Redis came back empty after ~1 s; the three stamps were put back, so the fourth slot still came
        # only when they left the 3 s window (an emptied store would have let it through at once).
        assert waited >= 3.0


@needs_redis
def test_a_flushed_redis_script_cache_is_reloaded() -> None:
    import redis

    with RedisServer() as server:
        throttle = QuotaThrottle(("c", "1"), 100, 60, server.url, outage_seconds=5)
        _slots_now(throttle, 1)
        redis.Redis.from_url(server.url).script_flush()
        _slots_now(throttle, 1)


@pytest.mark.parametrize("backend", ["sqlite", "memory"])
def test_a_wall_clock_set_forward_does_not_empty_the_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """The machine's clock is set forward by two minutes (an NTP step, a VM resumed) right after the
    window filled. Dinero's minute has not passed, so the next request must still wait. The store used to
    stamp slots with the wall clock: the jump made every stamp look two minutes old, and every process on
    the key got a whole new quota at once (twice Dinero's limit in one real minute)."""
    store = str(tmp_path) if backend == "sqlite" else "memory"
    throttle = QuotaThrottle(("c", "100000"), 2, 60, store, sleep=_refuse_to_sleep)
    throttle.acquire()
    throttle.acquire()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 120)
    with pytest.raises(_WouldWait) as held:
        throttle.acquire()
    assert float(held.value.args[0]) > 55  # the window's real remainder, not the jump
    if backend == "sqlite":  # another process opening the store sees the same full window
        other = QuotaThrottle(("c", "100000"), 2, 60, store, sleep=_refuse_to_sleep)
        with pytest.raises(_WouldWait):
            other.acquire()


@pytest.mark.parametrize("backend", ["sqlite", "memory"])
def test_a_wall_clock_set_back_does_not_freeze_the_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """The clock is set back by an hour after a request: the next slot comes when the window (0.5 s)
    has passed. With wall-clock stamps the stamp sat an hour in the future and every process on the key
    waited that hour before its next request."""
    store = str(tmp_path) if backend == "sqlite" else "memory"
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if seconds > 5:
            raise _WouldWait(seconds)
        threading.Event().wait(seconds)

    throttle = QuotaThrottle(("c", "100000"), 1, 0.5, store, sleep=sleep)
    throttle.acquire()
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 3600)
    assert throttle.acquire() < 5
    assert max(waits) <= 1.0


@needs_redis
def test_an_evicted_redis_window_is_rebuilt_not_taken_for_an_empty_one() -> None:
    """Redis under memory pressure evicts keys: with ``volatile-lru`` (a common cache setting) exactly the
    window's sorted set, the one key with a TTL, while the epoch key (no TTL) stays. The throttle took the
    epoch for proof that the window was intact, so an evicted window silently became an empty one and
    every process got a new full quota. The epoch now lives in the window's own key: evicting the window
    evicts the epoch, and each process puts its stamps back before taking a slot."""
    import redis

    with RedisServer() as server:
        throttle = QuotaThrottle(("c", "1"), 3, 60, server.url, outage_seconds=5, sleep=_refuse_to_sleep)
        _slots_now(throttle, 3)
        client = redis.Redis.from_url(server.url)
        window_keys = [k for k in client.keys("dinero-singer:quota:*") if client.ttl(k) > 0]
        assert window_keys, "the window's key carries a TTL (what volatile-* eviction picks from)"
        for key in window_keys:
            if client.type(key) == b"zset":
                client.delete(key)  # what eviction does to it
        with pytest.raises(_WouldWait):
            throttle.acquire()


@pytest.mark.parametrize("backend", ["sqlite", "memory", "redis"])
def test_a_late_answer_moves_its_slot_to_the_answer(tmp_path: Path, backend: str) -> None:
    """A request answered 1 s after its slot (longer than the 0.25 s margin) may have been counted by
    Dinero only then: its slot now leaves the window one window after the answer, not after the slot."""
    if backend == "redis" and not redis_available():
        pytest.skip("redis-server is not installed")
    with contextlib.ExitStack() as stack:
        store = {"sqlite": str(tmp_path), "memory": "memory"}.get(backend) or stack.enter_context(
            RedisServer()
        ).url
        throttle = QuotaThrottle(("c", "1"), 1, 10, store, safety_margin=0.25, sleep=_refuse_to_sleep)
        throttle.acquire()
        time.sleep(1.0)  # the request is on its way (not a timing margin: the assertion allows 0.5 s)
        throttle.record_send_delay(1.0)
        with pytest.raises(_WouldWait) as held:
            throttle.acquire()
        assert float(held.value.args[0]) > 9.75  # 10.25 from the answer; from the slot it was <= 9.25


def test_two_machines_with_skewed_wall_clocks_sharing_the_file_never_run_its_clock_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two machines share the quota file (a network directory), machine A's wall clock 30 s ahead of B's.
    Their requests alternate within one real second after the window filled: Dinero's minute has not
    passed, so every further request must wait. The store's clock used to take the wall-clock difference
    as the time elapsed whenever the last reading came from the other machine: each switch from B to A
    added the 30 s skew again, so four switches ran the store two minutes ahead, every stamp looked a
    window old, and both machines got a whole new quota at once."""
    from dinero_api import quota

    real_wall, real_boot = time.time, quota._since_boot
    machines = {"a": (30.0, 5000.0), "b": (0.0, 7.0)}  # wall-clock skew, boot clock offset

    def be(name: str) -> None:
        skew, boot = machines[name]
        monkeypatch.setattr(quota, "_BOOT_ID", f"machine-{name}")
        monkeypatch.setattr(time, "time", lambda: real_wall() + skew)
        monkeypatch.setattr(quota, "_since_boot", lambda: real_boot() + boot)

    be("a")
    a = QuotaThrottle(("c", "100000"), 2, 60, str(tmp_path), sleep=_refuse_to_sleep)
    a.acquire()
    be("b")
    b = QuotaThrottle(("c", "100000"), 2, 60, str(tmp_path), sleep=_refuse_to_sleep)
    b.acquire()
    for turn in range(8):
        be("ab"[turn % 2])
        with pytest.raises(_WouldWait) as held:
            (a, b)[turn % 2].acquire()
        assert float(held.value.args[0]) > 25, turn  # the window's real remainder (less one skew at most)
