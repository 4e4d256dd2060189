"""Several processes sharing one organization key -- a tap, two targets and a plain client -- never
exceed the quota together: with a short window the sandbox answers no 429 and its log shows no window
holding more requests than the quota.

The same holds when tokens are slow to come, when a cache cleaner removes or replaces the SQLite store
under running processes, when Dinero's real limit is lower than configured (learned from its 429), and
across Redis outages (waited out, never a request without a slot; a long outage stops with one line).

Guarantee: the quota is never exceeded (docs/GUARANTEES.md).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dinero_sandbox.constants import DEMO_API_KEY_2
from tests.dinero_api.redis_server import RedisServer, free_port, redis_available
from tests.harness import (
    ORG,
    REPO,
    TAP_CODE,
    TARGET_CODE,
    record_message,
    schema_message,
    singer_lines,
    state_message,
    tap_catalog,
    wait_until,
    write_json,
)

from .helpers import ORG_SECOND, max_in_any_window

QUOTA, WINDOW = 15, 1.0
CLIENT_CODE = """
import json, sys
from dinero_api.client import DineroClient
from dinero_api.settings import DineroSettings
client = DineroClient(DineroSettings.from_config(json.load(open(sys.argv[1]))))
for _ in range(12):
    client.get_json("/v1/{org}/vatTypes")
"""


def _invoice(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "ExternalReference": f"QUOTA-{n}",
        "ContactGuid": None,
        "ProductLines": [
            {"Description": "x", "Quantity": 1, "BaseAmountValue": 10 + n, "AccountNumber": 1000}
        ],
    }


def _voucher(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "ExternalReference": f"QUOTA-V{n}",
        "VoucherDate": "2026-11-03",
        "Lines": [{"AccountNumber": 5000, "BalancingAccountNumber": 55000, "Amount": 20 + n}],
    }


def test_tap_targets_and_a_client_share_the_quota_without_a_429(
    sandbox, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    sandbox.set_quota(QUOTA, WINDOW)
    shared = {
        **sandbox_settings,
        "api_key": DEMO_API_KEY_2,
        "organization_id": ORG_SECOND,
        "quota_requests": QUOTA,
        "quota_window_seconds": WINDOW,
        "quota_cache_dir": str(tmp_path / "quota"),  # one quota for every process, as on one machine
    }
    catalog = tap_catalog(
        shared,
        (
            "accounting_years",
            "vat_types",
            "entry_accounts",
            "contacts",
            "products",
            "invoices",
            "trade_offers",
        ),
        tmp_path / "catalog.json",
    )
    tap_config = write_json(tmp_path / "tap.json", shared)
    target_config = write_json(
        tmp_path / "target.json",
        {
            **shared,
            "streams": {"orders": {"load_as": "invoice"}, "journal": {"load_as": "manual_voucher"}},
            "rejects_file": str(tmp_path / "rejects.jsonl"),
            "ledger_file": str(tmp_path / "ledger.jsonl"),
        },
    )
    inputs = {
        "orders": singer_lines(
            [
                schema_message("orders"),
                *(record_message("orders", _invoice(n)) for n in range(8)),
                state_message({}),
            ]
        ),
        "journal": singer_lines(
            [
                schema_message("journal"),
                *(record_message("journal", _voucher(n)) for n in range(6)),
                state_message({}),
            ]
        ),
    }
    started = []
    started.append(
        subprocess.Popen(
            [sys.executable, "-c", TAP_CODE, "--config", str(tap_config), "--catalog", str(catalog)],
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "tap.log").open("wb"),
            cwd=REPO,
        )
    )
    for name, text in inputs.items():
        proc = subprocess.Popen(
            [sys.executable, "-c", TARGET_CODE, "--config", str(target_config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / f"{name}.log").open("wb"),
            cwd=REPO,
        )
        assert proc.stdin is not None
        proc.stdin.write(text.encode())
        proc.stdin.close()
        started.append(proc)
    started.append(
        subprocess.Popen(
            [sys.executable, "-c", CLIENT_CODE, str(tap_config)],
            stderr=(tmp_path / "client.log").open("wb"),
            cwd=REPO,
        )
    )
    codes = [proc.wait(timeout=180) for proc in started]
    logs = {p.name: p.read_text(errors="replace")[-2000:] for p in tmp_path.glob("*.log")}
    assert codes == [0, 0, 0, 0], logs

    counted = [r for r in sandbox.requests() if r["path"].startswith("/v") and r["org"] == ORG_SECOND]
    print(f"{len(counted)} requests from 4 processes under {QUOTA} per {WINDOW} s")
    assert len(counted) >= 5 * QUOTA, "the processes must need several windows, or the test proves nothing"
    assert [r for r in counted if r["status"] == 429] == []
    assert max_in_any_window([r["ts"] for r in counted], WINDOW) <= QUOTA


# ------------------------------------------------------------------------------------------------------
# Processes that only send requests (one DineroClient each), for the quota's hard cases
# ------------------------------------------------------------------------------------------------------
LOOP_CODE = """
import json, sys
from dinero_api.client import DineroClient
from dinero_api.errors import DineroError
from dinero_api.settings import DineroSettings
try:
    client = DineroClient(DineroSettings.from_config(json.load(open(sys.argv[1]))))
    for _ in range(int(sys.argv[2])):
        client.get_json("/v1/{org}/vatTypes")
except DineroError as exc:
    print(exc, file=sys.stderr)
    sys.exit(3)
"""


def _start_loop(config_path: Path, count: int, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", LOOP_CODE, str(config_path), str(count)],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        cwd=REPO,
    )


def _api_requests(sandbox, org: str = ORG) -> list[dict[str, Any]]:
    return [r for r in sandbox.requests() if r["path"].startswith("/v") and r["org"] == org]


def _logs(tmp_path: Path) -> dict[str, str]:
    return {p.name: p.read_text(errors="replace") for p in tmp_path.glob("*.log")}


def _loop_config(sandbox_settings: dict[str, Any], tmp_path: Path, **over: Any) -> Path:
    config = {
        **sandbox_settings,
        "quota_cache_dir": str(tmp_path / "quota"),
        "retry_backoff_seconds": 0.05,
        "request_timeout": 10,
        **over,
    }
    config.pop("token_url")  # the default follows api_url (the sandbox)
    return write_json(tmp_path / "loop.json", config)


def _clean_cache(directory: Path, aside: Path) -> None:
    """What a cache cleaner does to the quota directory: it is gone from its path in one step.

    Renamed aside first, then deleted: ``shutil.rmtree`` on the live path races with the running
    processes (a journal file made between its unlinks and its ``rmdir`` fails it with "Directory not
    empty"); the processes open files by path, so nothing new lands in the renamed directory.
    """
    os.rename(directory, aside)
    shutil.rmtree(aside)


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_four_processes_with_a_slow_token_endpoint_never_send_over_the_quota(
    sandbox, sandbox_settings: dict[str, Any], tmp_path: Path, backend: str
) -> None:
    """Tokens live one second and every token answer takes 0.6 s: each process fetches tokens all the
    time. The slot is taken after the token, so no request reaches the sandbox later than its slot
    allows: 0 x 429 and no window over the quota (SQLite and Redis quota stores)."""
    if backend == "redis" and not redis_available():
        pytest.skip("redis-server is not installed")
    quota, window = 8, 1.0
    sandbox.set_quota(quota, window)
    sandbox.set_token_ttl(1.0)
    sandbox.set_fault("slow", count=100_000, path_contains="/oauth/token", seconds=0.6)
    with contextlib.ExitStack() as stack:
        extra = {}
        if backend == "redis":
            extra["quota_backend"] = stack.enter_context(RedisServer()).url
        config = _loop_config(
            sandbox_settings, tmp_path, quota_requests=quota, quota_window_seconds=window, **extra
        )
        procs = [_start_loop(config, 15, tmp_path / f"p{i}.log") for i in range(4)]
        codes = [p.wait(timeout=240) for p in procs]
    assert codes == [0] * 4, _logs(tmp_path)

    counted = _api_requests(sandbox)
    tokens = [r for r in sandbox.requests() if r["path"].endswith("/oauth/token")]
    print(f"{len(counted)} requests, {len(tokens)} slow token requests, 4 processes, {quota} per {window} s")
    assert [r for r in counted if r["status"] == 429] == []
    assert len(counted) == 60 and len(tokens) >= 12  # tokens were fetched throughout the run
    assert max_in_any_window([r["ts"] for r in counted], window) <= quota


def test_a_quota_store_replaced_under_running_processes_stays_one_store(
    sandbox, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    """A cache cleaner removes the quota directory twice and a file is copied over the store while four
    processes share it (one started after the first removal): they keep counting in one store."""
    quota, window = 10, 1.0
    sandbox.set_quota(quota, window)
    config = _loop_config(sandbox_settings, tmp_path, quota_requests=quota, quota_window_seconds=window)
    directory = tmp_path / "quota"
    procs = [_start_loop(config, 30, tmp_path / f"p{i}.log") for i in range(3)]

    def wait_for_requests(n: int) -> None:
        wait_until(lambda: len(_api_requests(sandbox)) >= n, timeout=60, what=f"{n} requests")

    wait_for_requests(15)
    _clean_cache(directory, tmp_path / "removed-1")
    # The fourth process starts once the running ones have moved to the re-created store. One started in
    # the instant between the removal and their next request would count alone in the new file until
    # they carry their stamps over (README, Guarantees: the limit of this promise).
    wait_until(
        lambda: any("re-opened it" in text for text in _logs(tmp_path).values()),
        timeout=60,
        what="a process to notice the removed store",
    )
    procs.append(_start_loop(config, 30, tmp_path / "p3.log"))
    wait_for_requests(45)
    (store,) = directory.glob("quota-*.sqlite")
    fresh = directory / "copied-over.sqlite"
    fresh.write_bytes(b"")
    os.replace(fresh, store)  # an empty file copied over the store
    wait_for_requests(75)
    _clean_cache(directory, tmp_path / "removed-2")
    codes = [p.wait(timeout=240) for p in procs]
    logs = _logs(tmp_path)
    assert codes == [0] * 4, logs

    counted = _api_requests(sandbox)
    assert len(counted) == 120
    assert [r for r in counted if r["status"] == 429] == []
    assert max_in_any_window([r["ts"] for r in counted], window) <= quota
    assert any("re-opened it" in text for text in logs.values())


def test_the_quota_learns_a_lower_real_limit_for_every_process(
    sandbox, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    """The plugins are configured for 10 per second, the sandbox allows 6 (as Dinero allows some
    integrations 60/min, not 100): the first 429s teach every process the real limit; after that no
    window sees a 429."""
    configured, real, window = 10, 6, 1.0
    sandbox.set_quota(real, window)
    config = _loop_config(sandbox_settings, tmp_path, quota_requests=configured, quota_window_seconds=window)
    procs = [_start_loop(config, 20, tmp_path / f"p{i}.log") for i in range(3)]
    codes = [p.wait(timeout=240) for p in procs]
    logs = _logs(tmp_path)
    assert codes == [0] * 3, logs

    counted = _api_requests(sandbox)
    refused = [r["ts"] for r in counted if r["status"] == 429]
    admitted = [r["ts"] for r in counted if r["status"] != 429]
    print(f"{len(admitted)} admitted, {len(refused)} x 429 at {[round(t - refused[0], 2) for t in refused]}")
    assert len(admitted) == 60
    assert 1 <= len(refused) <= 3  # in flight when the first 429 came; each process learns once
    assert refused[-1] - refused[0] < 2 * window  # then no 429 in any following window
    assert admitted[-1] - refused[-1] > 5 * window  # ... of which there were many
    learned = [line for text in logs.values() for line in text.splitlines() if "real limit" in line]
    assert 1 <= len(learned) <= 3, logs
    assert max_in_any_window([t for t in admitted if t > refused[-1]], window) <= real


# ------------------------------------------------------------------------------------------------------
# Redis outages (a real redis-server on a free loopback port, stopped and restarted by the test)
# ------------------------------------------------------------------------------------------------------
needs_redis = pytest.mark.skipif(not redis_available(), reason="redis-server is not installed")


@needs_redis
def test_a_short_redis_outage_is_waited_out_and_no_request_goes_without_a_slot(
    sandbox, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    quota, window = 10, 1.0
    sandbox.set_quota(quota, window)
    with RedisServer() as server:
        config = _loop_config(
            sandbox_settings,
            tmp_path,
            quota_requests=quota,
            quota_window_seconds=window,
            quota_backend=server.url,
            quota_backend_outage_seconds=30,
        )
        procs = [_start_loop(config, 40, tmp_path / f"p{i}.log") for i in range(2)]
        wait_until(lambda: len(_api_requests(sandbox)) >= 20, timeout=60, what="20 requests")
        stopped = time.time()
        server.stop()  # its data and its scripts are gone
        # The outage itself is what is under test, so it is a fixed length: 2 s in which no request may
        # be sent (there is no condition to poll for -- the processes must do nothing).
        time.sleep(2.0)
        restarted = time.time()
        server.start()
        codes = [p.wait(timeout=240) for p in procs]
    logs = _logs(tmp_path)
    assert codes == [0, 0], logs

    counted = _api_requests(sandbox)
    assert len(counted) == 80
    assert [r for r in counted if r["status"] == 429] == []
    assert [r for r in counted if stopped + 0.5 < r["ts"] < restarted] == []  # none without a slot
    assert max_in_any_window([r["ts"] for r in counted], window) <= quota
    assert all(f"Quota backend {server.url} unreachable" in text for text in logs.values()), logs


@needs_redis
def test_a_long_redis_outage_stops_every_process_with_one_line(
    sandbox, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    with RedisServer() as server:
        config = _loop_config(
            sandbox_settings,
            tmp_path,
            quota_requests=10,
            quota_window_seconds=1.0,
            quota_backend=server.url,
            quota_backend_outage_seconds=2,
        )
        procs = [_start_loop(config, 200, tmp_path / f"p{i}.log") for i in range(2)]
        wait_until(lambda: len(_api_requests(sandbox)) >= 10, timeout=60, what="10 requests")
        stopped = time.time()
        server.stop()
        codes = [p.wait(timeout=60) for p in procs]
        ended = time.time()
    logs = _logs(tmp_path)
    assert codes == [3, 3], logs
    assert ended - stopped < 30
    for text in logs.values():
        assert f"Quota backend {server.url} unreachable for " in text.strip().splitlines()[-1], text
    assert [r for r in _api_requests(sandbox) if r["ts"] > stopped + 0.5] == []


@needs_redis
@pytest.mark.parametrize("tool", ["tap", "target"])
def test_redis_unreachable_at_start_is_one_clear_line(
    sandbox, sandbox_settings: dict[str, Any], tmp_path: Path, tool: str
) -> None:
    url = f"redis://:pw-secret-9f8e7d@127.0.0.1:{free_port()}/0"
    config = {
        **sandbox_settings,
        "quota_backend": url,
        "quota_backend_outage_seconds": 1,
        "max_retries": 0,
    }
    args = [sys.executable, "-c", TAP_CODE, "--config"]
    stdin = b""
    if tool == "tap":
        catalog = tap_catalog(sandbox_settings, ("vat_types",), tmp_path / "catalog.json")
        extra = ["--catalog", str(catalog)]
    else:
        args[2] = TARGET_CODE
        config.update(
            streams={"journal": {"load_as": "manual_voucher"}}, rejects_file=str(tmp_path / "r.jsonl")
        )
        stdin = singer_lines(
            [schema_message("journal"), record_message("journal", _voucher(1)), state_message({})]
        ).encode()
        extra = []
    result = subprocess.run(
        [*args, str(write_json(tmp_path / "c.json", config)), *extra],
        input=stdin,
        capture_output=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode != 0
    assert f"Quota backend redis://127.0.0.1:{url.rsplit(':', 1)[1]} unreachable" in stderr, stderr[-3000:]
    assert "pw-secret" not in stderr + result.stdout.decode(errors="replace")
    assert _api_requests(sandbox) == []
