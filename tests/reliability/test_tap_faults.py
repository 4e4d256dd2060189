"""The tap under every sandbox fault mode: a run either completes with exactly the sandbox's records, or
fails with a clear error and leaves a state from which the next run completes with nothing missing.

Guarantee: at-least-once extraction (docs/GUARANTEES.md).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests

from dinero_sandbox.constants import DEMO_API_KEY, DEMO_API_KEY_2, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from tests.harness import ORG, run_tap

from .helpers import ORG_SECOND, copy_problems

#: Streams read in the fault runs: paged envelope lists with a deletion pass, detail children, the
#: per-year ledger, vouchers reached through it.
STREAMS = ("contacts", "products", "invoices", "invoice_lines", "entries", "manual_vouchers")

#: (mode, options, path the fault hits, HTTP method). Transient faults: the run must complete.
TRANSIENT = [
    ("5xx", {"count": 3, "status": 503}, "/contacts", "GET"),
    ("5xx", {"count": 2, "status": 500}, "/invoices/", "GET"),
    ("5xx", {"count": 2, "status": 502}, "/entries", "GET"),
    ("5xx", {"count": 2, "status": 503}, "/oauth/token", "POST"),
    ("reset", {"count": 2}, "/invoices", "GET"),
    ("reset", {"count": 1}, "/vouchers/manuel/", "GET"),
    ("slow", {"count": 1, "seconds": 1.2}, "/contacts", "GET"),
    ("slow", {"count": 1, "seconds": 1.2}, "/oauth/token", "POST"),
    ("truncated", {"count": 2}, "/invoices", "GET"),
    ("truncated", {"count": 1}, "/accountingyears", "GET"),
    ("non_json", {"count": 2}, "/contacts", "GET"),
    ("non_json", {"count": 1, "status": 502}, "/entries", "GET"),
    ("429", {"count": 2, "retry_after": 1}, "/invoices", "GET"),
    ("expire_tokens", {"count": 1}, "/invoices/", "GET"),
    ("expire_tokens", {"count": 1}, "/products", "GET"),
]
#: Faults that outlast the client's retries: the run must fail clearly and the next run resume.
PERSISTENT = [
    ("5xx", {"count": 1000, "status": 500}, "/invoices", "GET"),
    ("reset", {"count": 1000}, "/entries", "GET"),
    ("non_json", {"count": 1000}, "/contacts", "GET"),
    ("truncated", {"count": 1000}, "/invoices/", "GET"),
    ("slow", {"count": 4, "seconds": 0.8}, "/products", "GET"),
    ("5xx", {"count": 1000, "status": 503}, "/oauth/token", "POST"),
]


def _config(fast_settings: dict[str, Any]) -> dict[str, Any]:
    """The smaller demo organization (one detail request per invoice stays cheap), pages of 10 so every
    list is read in several pages, and a short timeout for the slow faults."""
    return {
        **fast_settings,
        "api_key": DEMO_API_KEY_2,
        "organization_id": ORG_SECOND,
        "page_size": 10,
        "request_timeout": 0.5,
    }


def _arm(sandbox, mode: str, options: dict[str, Any], path: str, method: str) -> None:
    if "token" in path:
        # tokens are cached per process: make the cached one stale so the run has to ask for a new one
        sandbox.expire_tokens()
    sandbox.set_fault(mode, path_contains=path, method=method, **options)


def _case_id(case: tuple[str, dict[str, Any], str, str]) -> str:
    mode, options, path, _ = case
    return f"{mode}-{options.get('count')}-{path.strip('/').replace('/', '_')}"


@pytest.mark.parametrize("case", TRANSIENT, ids=_case_id)
def test_transient_fault_still_yields_exactly_the_sandbox_records(sandbox, fast_settings, case) -> None:
    mode, options, path, method = case
    _arm(sandbox, mode, options, path, method)

    run = run_tap(_config(fast_settings), streams=STREAMS)

    assert sandbox.faults()[0]["fired"] >= 1, "the fault never hit the tap"
    assert run.error is None, f"{mode} on {path} made the run fail: {run.error!r}"
    assert copy_problems(sandbox, ORG_SECOND, [run], STREAMS) == {}
    for stream in ("contacts", "invoices"):
        key = "ContactGuid" if stream == "contacts" else "Guid"
        keys = [r[key] for r in run.stream(stream)]
        assert len(keys) == len(set(keys)), f"{stream}: a retried page emitted rows twice"


@pytest.mark.parametrize("case", PERSISTENT, ids=_case_id)
def test_persistent_fault_fails_clearly_and_the_next_run_completes(sandbox, fast_settings, case) -> None:
    mode, options, path, method = case
    _arm(sandbox, mode, options, path, method)
    config = _config(fast_settings)

    failed = run_tap(config, streams=STREAMS)

    assert failed.error is not None, f"{mode} on {path} beyond the retries should fail the run"
    message = _error_text(failed.error)
    assert "Dinero" in message and (path.strip("/").split("/")[0] in message), message
    if "token" in path:  # an outage of the token endpoint is not a refusal of the credentials
        assert "not a refusal of the credentials" in message and "Check client_id" not in message, message
    sandbox.clear_faults()
    resumed = run_tap(config, streams=STREAMS, state=failed.last_state)
    assert resumed.error is None, resumed.error
    assert copy_problems(sandbox, ORG_SECOND, [failed, resumed], STREAMS) == {}


def _error_text(error: BaseException) -> str:
    """The error and its causes, as a user would read them in the log."""
    parts = []
    seen: BaseException | None = error
    while seen is not None and len(parts) < 5:
        parts.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or seen.__context__
    return " <- ".join(parts)


@pytest.mark.parametrize(
    ("path", "inserts", "updates"), [("/contacts", 2, 2), ("/invoices", 2, 1), ("/products", 1, 3)]
)
def test_records_changed_while_paging_are_not_lost(sandbox, fast_settings, path, inserts, updates) -> None:
    """Rows inserted/updated between two page requests shift later rows across page boundaries: no row
    that existed when the run started may be lost, and the next run picks up what changed."""
    config = {**fast_settings, "page_size": 10}  # the larger organization: many pages per list
    streams = ("contacts", "products", "invoices")
    sandbox.set_fault(
        "insert_while_paging", path_contains=path, method="GET", inserts=inserts, updates=updates
    )
    stored_before = {
        stream: {r[key] for r in sandbox.dump(ORG, collection)}
        for stream, (collection, key) in (
            ("contacts", ("contacts", "ContactGuid")),
            ("products", ("products", "ProductGuid")),
            ("invoices", ("invoices", "Guid")),
        )
    }

    first = run_tap(config, streams=streams)

    assert sandbox.faults()[0]["fired"] == 1
    assert first.error is None, first.error
    for stream, keys in stored_before.items():
        key = "ContactGuid" if stream == "contacts" else "ProductGuid" if stream == "products" else "Guid"
        lost = keys - {r[key] for r in first.stream(stream)}
        assert not lost, f"{stream}: rows that existed before the run were never emitted: {sorted(lost)}"
    second = run_tap(config, streams=streams, state=first.last_state)
    assert second.error is None, second.error
    assert copy_problems(sandbox, ORG, [first, second], streams) == {}


def test_429_storm_from_another_client_on_the_same_org_only_slows_the_tap(sandbox, fast_settings) -> None:
    """Another integration instance (same client id and organization, not sharing our throttle) burns
    the quota: the tap gets 429s, waits them out and still reads everything."""
    sandbox.set_quota(10, 1.0)
    # list requests only (no detail GET per document): the storm, not the document count, sets the pace
    config = {**fast_settings, "quota_requests": 10, "quota_window_seconds": 1.0, "include_lines": False}
    streams = ("contacts", "products", "invoices", "sales_credit_notes", "trade_offers")
    token = requests.post(
        sandbox.token_url,
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        data={
            "grant_type": "password",
            "scope": "read write",
            "username": DEMO_API_KEY,
            "password": DEMO_API_KEY,
        },
        timeout=10,
    ).json()["access_token"]
    stop = threading.Event()

    def storm() -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token}"
            deadline = time.monotonic() + 2.5
            while not stop.is_set() and time.monotonic() < deadline:
                session.get(f"{sandbox.url}/v1/{ORG}/vatTypes", timeout=5)

    rogue = threading.Thread(target=storm, daemon=True)
    rogue.start()
    try:
        run = run_tap(config, streams=streams)
    finally:
        stop.set()
        rogue.join(timeout=10)

    assert run.error is None, run.error
    assert copy_problems(sandbox, ORG, [run], streams) == {}
    log = sandbox.requests()
    tap_requests = [r for r in log if "/vatTypes" not in r["path"] and r["path"].startswith("/v1/")]
    assert any(r["status"] == 429 for r in tap_requests), "the storm never reached the tap"
    assert {r["status"] for r in tap_requests} <= {200, 429}


def test_tokens_expiring_during_the_run_are_renewed(sandbox, fast_settings) -> None:
    """Access tokens that live one second: a run spanning several lifetimes renews them itself."""
    sandbox.set_token_ttl(1.0)
    sandbox.expire_tokens()  # the process's cached token was issued with the default lifetime
    sandbox.set_quota(12, 1.0)
    config = {
        **fast_settings,
        "quota_requests": 12,
        "quota_window_seconds": 1.0,
        "page_size": 20,
        "include_lines": False,  # list requests only: ~25 of them, about two seconds at this quota
    }
    streams = ("contacts", "products", "invoices", "sales_credit_notes", "trade_offers")

    run = run_tap(config, streams=streams)

    assert run.error is None, run.error
    assert copy_problems(sandbox, ORG, [run], streams) == {}
    log = sandbox.requests()
    grants = [r for r in log if r["path"].endswith("/oauth/token")]
    assert len(grants) >= 2, "the run should have outlived its first token"
    assert "429" not in {str(r["status"]) for r in log}
