"""The shared client against the offline sandbox (fixtures from tests/conftest.py)."""

from __future__ import annotations

import json
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from quota_workers import send_requests

from dinero_api.auth import ApiKeyTokenProvider, RefreshTokenProvider
from dinero_api.client import DineroClient
from dinero_api.envelope import iter_pages
from dinero_api.errors import DineroAuthError, DineroRateLimited, DineroUnknownOutcome, DineroValidationError
from dinero_api.filters import query_filter
from dinero_api.settings import DineroSettings
from tests.harness import wait_until

ORG = "100000"


def client_for(config: dict[str, Any], **overrides: Any) -> DineroClient:
    """A client with its own token provider (no sharing between tests)."""
    settings = DineroSettings.from_config({**config, **overrides})
    provider_cls = ApiKeyTokenProvider if settings.auth_flow == "api_key" else RefreshTokenProvider
    return DineroClient(settings, token_provider=provider_cls(settings))


@pytest.fixture
def fast_settings(sandbox_settings: dict[str, Any]) -> dict[str, Any]:
    return {**sandbox_settings, "retry_backoff_seconds": 0.01, "max_retries": 3}


def test_lists_every_live_contact(sandbox: Any, fast_settings: dict[str, Any]) -> None:
    client = client_for(fast_settings)
    pages = iter_pages(client.get_json, "/v1/{org}/contacts", {"fields": "ContactGuid,Name"}, page_size=20)
    rows = [row for page in pages for row in page]
    live = [c for c in sandbox.dump(ORG, "contacts") if not c.get("DeletedAt")]
    assert sorted(r["ContactGuid"] for r in rows) == sorted(c["ContactGuid"] for c in live)


def test_refresh_token_flow_with_rotation(
    sandbox: Any, fast_settings: dict[str, Any], tmp_path: Path
) -> None:
    config = {k: v for k, v in fast_settings.items() if k != "api_key"}
    token_file = tmp_path / "token.json"
    client = client_for(
        config,
        refresh_token="sandbox-refresh-token",
        token_url=sandbox.connect_token_url,
        token_file=str(token_file),
    )
    assert client.get_json("/v1/organizations")
    first_rt = json.loads(token_file.read_text())["refresh_token"]
    sandbox.expire_tokens()
    assert client.get_json("/v1/{org}/accountingyears") is not None
    second_rt = json.loads(token_file.read_text())["refresh_token"]
    assert first_rt != second_rt and "sandbox-refresh-token" not in (first_rt, second_rt)
    assert client.stats.token_refreshes == 1


def test_expired_token_is_refreshed_once(sandbox: Any, fast_settings: dict[str, Any]) -> None:
    client = client_for(fast_settings)
    client.get_json("/v1/{org}/vatTypes")
    sandbox.expire_tokens()
    client.get_json("/v1/{org}/vatTypes")
    assert client.stats.by_status() == {"200": 2, "401": 1}


def test_wrong_api_key_is_a_clear_error(sandbox: Any, fast_settings: dict[str, Any]) -> None:
    client = client_for(fast_settings, api_key="not-the-right-key")
    with pytest.raises(DineroAuthError) as info:
        client.get_json("/v1/{org}/contacts")
    assert "not-the-right-key" not in str(info.value) and "sandbox-secret" not in str(info.value)


def test_quota_429_is_waited_out(sandbox: Any, fast_settings: dict[str, Any]) -> None:
    sandbox.set_quota(5, 1.0)
    client = client_for(fast_settings)  # configured for 100/min: too generous for this sandbox
    for _ in range(8):
        client.get_json("/v1/{org}/contacts", {"pageSize": 1})
    assert client.stats.rate_limited >= 1
    assert client.stats.by_status()["200"] == 8


def test_matching_quota_sends_no_429_even_from_two_processes(
    sandbox: Any, fast_settings: dict[str, Any]
) -> None:
    sandbox.set_quota(5, 1.0)
    config = {**fast_settings, "quota_requests": 5, "quota_window_seconds": 1.0}
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager, ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        start = manager.Barrier(2)
        futures = [pool.submit(send_requests, config, "/v1/{org}/vatTypes", 6, start) for _ in range(2)]
        snapshots = [f.result(timeout=60) for f in futures]
    assert sum(s["rate_limited"] for s in snapshots) == 0
    assert sandbox.stats()["by_status"].get("429", 0) == 0


def test_page_size_above_1000_is_dinero_error_43(sandbox: Any, fast_settings: dict[str, Any]) -> None:
    client = client_for(fast_settings)
    with pytest.raises(DineroValidationError) as info:
        client.get_json("/v1/{org}/contacts", {"pageSize": 1001})
    assert info.value.code == 43 and "GET /v1/100000/contacts" in str(info.value)


def test_server_faults_get_retried_for_reads_only(sandbox: Any, fast_settings: dict[str, Any]) -> None:
    client = client_for(fast_settings)
    sandbox.set_fault("5xx", count=2, path_contains="/contacts", method="GET")
    assert client.get_json("/v1/{org}/contacts", {"pageSize": 1})
    assert client.stats.retries == 2
    sandbox.set_fault("5xx", count=1, path_contains="/contacts", method="POST")
    with pytest.raises(DineroUnknownOutcome):
        client.post_json(
            "/v1/{org}/contacts", {"Name": "Ny Kunde ApS", "CountryKey": "DK", "IsPerson": False}
        )


@pytest.mark.parametrize("mode", ["reset", "truncated", "non_json"])
def test_broken_read_answers_are_fetched_again(
    sandbox: Any, fast_settings: dict[str, Any], mode: str
) -> None:
    client = client_for(fast_settings)
    sandbox.set_fault(mode, count=1, path_contains="/vatTypes")
    assert isinstance(client.get_json("/v1/{org}/vatTypes"), list)
    assert client.stats.retries == 1


def test_filter_value_with_quote_and_semicolon_finds_the_contact(
    sandbox: Any, fast_settings: dict[str, Any]
) -> None:
    name = "O'Brien; Søn & Co"
    sandbox.mutate(ORG, "contacts", "create", fields={"Name": name, "IsPerson": False, "CountryKey": "DK"})
    client = client_for(fast_settings)
    body = client.get_json(
        "/v1/{org}/contacts",
        {"fields": "Name,ContactGuid", "queryFilter": query_filter(endpoint="/v1/{org}/contacts", Name=name)},
    )
    assert [row["Name"] for row in body["Collection"]] == [name]


def test_a_429_that_keeps_saying_retry_after_0_is_not_a_429_loop(
    sandbox: Any, fast_settings: dict[str, Any]
) -> None:
    """A 429 whose ``Retry-After`` is 0 (or 1) and keeps coming back: each further 429 of the request
    pauses longer (1, 2, 4 ... s, up to a window), so ``max_rate_limit_wait_seconds`` bounds the 429s sent.
    The old session resent at once every time: the pause added 0 s to the total, so it never gave up and
    Dinero saw a 429 loop at full speed (here: all 200 armed 429s, then an answer)."""
    sandbox.set_fault("429", count=200, retry_after=0, path_contains="/vatTypes")
    client = client_for(fast_settings, max_rate_limit_wait_seconds=8)
    with pytest.raises(DineroRateLimited):
        client.get_json("/v1/{org}/vatTypes")
    refused = [r for r in sandbox.requests() if "/vatTypes" in r["path"] and r["status"] == 429]
    assert 2 <= len(refused) <= 6, len(refused)  # pauses 0 + 1 + 2 + 4 <= 8 < 0 + 1 + 2 + 4 + 8


def test_a_request_that_reaches_dinero_late_is_counted_when_it_got_there(
    sandbox: Any, fast_settings: dict[str, Any]
) -> None:
    """One request of a full window reaches Dinero 3 s after its slot (a stalled connect, a congested
    link: the sandbox's ``slow`` fault counts it after the delay, as Dinero counts on arrival). The window
    used to release its slot one window after the slot (plus a margin capped at 5 % of the window), so
    the next window's requests met it still counted at Dinero: a 429. Its stamp now moves to its answer,
    the latest moment Dinero can have counted it."""
    sandbox.set_quota(4, 4.0)
    client = client_for(fast_settings, quota_requests=4, quota_window_seconds=4.0)
    client.session.token_provider.get_token()  # the token first: no API request
    sandbox.set_fault("slow", count=1, seconds=3, path_contains="/vatTypes")
    late = threading.Thread(target=client.get_json, args=("/v1/{org}/vatTypes",))
    late.start()
    wait_until(lambda: sandbox.stats()["in_flight"] >= 1, timeout=30)  # its slot is taken, it is on its way
    for _ in range(3 + 4):  # the rest of this window, then a whole next one
        client.get_json("/v1/{org}/accountingyears")
    late.join(timeout=30)
    statuses = [r["status"] for r in sandbox.requests() if "/v1/" in r["path"]]
    assert statuses.count(200) == 8
    assert 429 not in statuses, statuses
