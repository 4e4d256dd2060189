"""Retry rules of DineroSession: which answers are retried, how often, and what the caller sees."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests
from fake_dinero import API_KEY, CLIENT_SECRET, FakeDinero, Scripted

from dinero_api.errors import (
    DineroAuthError,
    DineroConnectionError,
    DineroNotFound,
    DineroRateLimited,
    DineroServerError,
    DineroTimestampConflict,
    DineroUnknownOutcome,
    DineroValidationError,
)
from dinero_api.quota import QuotaThrottle
from dinero_api.session import RETRY_SAFE_HEADER

PATH = "/v1/100000/contacts/abc"
OK = Scripted(200, {"ContactGuid": "abc"})


def _api_calls(fake: FakeDinero, path: str = PATH) -> list[Any]:
    return [r for r in fake.api_requests() if r.path == path]


class RecordingThrottle(QuotaThrottle):
    """Memory-backed throttle that records how long it was asked to sleep."""

    def __init__(self, window: float = 60.0) -> None:
        self.sleeps: list[float] = []
        super().__init__(("c", "o"), 1000, window, "memory", sleep=self._sleep_and_record)

    def _sleep_and_record(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        threading.Event().wait(seconds)


# -- 401 -----------------------------------------------------------------------------------------


def test_401_refreshes_the_token_once_and_retries(
    fake_dinero: FakeDinero, api_config: dict, make_client: Any
) -> None:
    client = make_client(api_config)
    client.get_json(PATH)
    fake_dinero.revoke_tokens()  # the token expired server-side
    assert client.get_json(PATH)["ok"] is True
    assert len(fake_dinero.token_requests()) == 2
    assert [r.headers["Authorization"] for r in _api_calls(fake_dinero)] == [
        "Bearer access-1",
        "Bearer access-1",
        "Bearer access-2",
    ]
    assert client.stats.token_refreshes == 1


def test_401_after_refresh_is_fatal_and_never_loops(
    fake_dinero: FakeDinero, api_config: dict, make_client: Any
) -> None:
    fake_dinero.enqueue(
        "GET", PATH, Scripted(401, {"code": 41, "message": "Unauthorized"}), Scripted(401, {})
    )
    client = make_client(api_config)
    with pytest.raises(DineroAuthError) as info:
        client.get_json(PATH)
    assert len(_api_calls(fake_dinero)) == 2
    assert len(fake_dinero.token_requests()) == 2
    assert "GET /v1/100000/contacts/abc" in str(info.value) and "401" in str(info.value)
    assert API_KEY not in str(info.value) and "access-" not in str(info.value)


def test_403_is_fatal_at_once(fake_dinero: FakeDinero, api_config: dict, make_client: Any) -> None:
    fake_dinero.enqueue("GET", PATH, Scripted(403, {"code": 90, "message": "No active Pro subscription"}))
    client = make_client(api_config)
    with pytest.raises(DineroAuthError) as info:
        client.get_json(PATH)
    assert len(_api_calls(fake_dinero)) == 1
    assert info.value.code == 90 and "No active Pro subscription" in str(info.value)


# -- 429 -----------------------------------------------------------------------------------------


def test_429_waits_retry_after_and_retries(
    fake_dinero: FakeDinero, api_config: dict, make_client: Any
) -> None:
    body = "API calls quota exceeded! maximum admitted 100 per 1m."
    fake_dinero.enqueue("GET", PATH, Scripted(429, body, {"Retry-After": "1"}), OK)
    throttle = RecordingThrottle()
    client = make_client(api_config, throttle=throttle)
    assert client.get_json(PATH) == {"ContactGuid": "abc"}
    first, second = _api_calls(fake_dinero)
    assert second.ts - first.ts >= 0.95  # honoured Retry-After: 1
    assert sum(throttle.sleeps) >= 0.95
    assert client.stats.rate_limited == 1 and client.stats.retries == 0  # not a failure
    assert client.stats.quota_wait_seconds >= 0.95


def test_429_without_retry_after_waits_for_the_window(
    fake_dinero: FakeDinero, api_config: dict, make_client: Any
) -> None:
    fake_dinero.enqueue("GET", PATH, Scripted(429, "API calls quota exceeded! (...)"), OK)
    throttle = RecordingThrottle(window=0.5)
    client = make_client(api_config, throttle=throttle)
    client.get_json(PATH)
    first, second = _api_calls(fake_dinero)
    assert second.ts - first.ts >= 0.5


def test_429_forever_gives_up_after_the_total_wait(
    fake_dinero: FakeDinero, api_config: dict, make_client: Any
) -> None:
    fake_dinero.default("GET", PATH, Scripted(429, "API calls quota exceeded! (...)", {"Retry-After": "0.4"}))
    client = make_client({**api_config, "max_rate_limit_wait_seconds": 1}, throttle=RecordingThrottle())
    with pytest.raises(DineroRateLimited) as info:
        client.get_json(PATH)
    assert "API calls quota exceeded!" in str(info.value)
    assert len(_api_calls(fake_dinero)) == 3  # 0.4 + 0.4 <= 1 < 1.2


# -- 5xx / timeouts ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_5xx_is_retried_with_backoff_for_idempotent_methods(
    fake_dinero: FakeDinero, api_config: dict, make_client: Any, method: str
) -> None:
    fake_dinero.enqueue(
        method, PATH, Scripted(503, "busy"), Scripted(500, {"code": 50, "message": "Error"}), OK
    )
    client = make_client(api_config)
    response = client.request(method, PATH)
    assert response.json() == {"ContactGuid": "abc"}
    assert len(_api_calls(fake_dinero)) == 3
    assert client.stats.retries == 2
    assert client.stats.by_status() == {"503": 1, "500": 1, "200": 1}


def test_5xx_exhausting_retries_quotes_dinero(
    fake_dinero: FakeDinero, api_config: dict, make_client: Any
) -> None:
    fake_dinero.default("GET", PATH, Scripted(500, {"code": 50, "message": "AAARGH!"}))
    client = make_client(api_config)  # max_retries 3
    with pytest.raises(DineroServerError) as info:
        client.get_json(PATH)
    assert len(_api_calls(fake_dinero)) == 4
    assert "code 50" in str(info.value) and "AAARGH!" in str(info.value)


def test_timeout_is_retried_for_get(fake_dinero: FakeDinero, api_config: dict, make_client: Any) -> None:
    fake_dinero.enqueue("GET", PATH, Scripted(200, {"slow": True}, delay=0.6), OK)
    client = make_client({**api_config, "request_timeout": 0.2})
    assert client.get_json(PATH) == {"ContactGuid": "abc"}
    assert client.stats.retries == 1
    assert client.stats.by_status() == {"error": 1, "200": 1}


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"code": 45, "message": "Invoices must have at least one invoice line"}, DineroValidationError),
        (400, {"code": 58, "message": "Timestamp out of date"}, DineroTimestampConflict),
        (404, "<html><head><title>Not Found</title></head><body>...</body></html>", DineroNotFound),
        (409, {"code": 45, "message": "Conflict"}, DineroValidationError),
        (422, {"code": 42, "message": "Validation Error"}, DineroValidationError),
    ],
)
def test_client_errors_are_not_retried(
    fake_dinero: FakeDinero, api_config: dict, make_client: Any, status: int, body: Any, error: type
) -> None:
    content_type = "text/html" if isinstance(body, str) else None
    fake_dinero.default("PUT", PATH, Scripted(status, body, content_type=content_type))
    client = make_client(api_config)
    with pytest.raises(error):
        client.put_json(PATH, {"Name": "x"})
    assert len(_api_calls(fake_dinero)) == 1
    assert client.stats.retries == 0


# -- POST: never replayed unless safe ------------------------------------------------------------


def test_post_5xx_is_an_unknown_outcome_not_a_retry(
    fake_dinero: FakeDinero, api_config: dict, make_client: Any
) -> None:
    fake_dinero.enqueue("POST", PATH, Scripted(500, {"code": 50, "message": "Error"}), OK)
    client = make_client(api_config)
    with pytest.raises(DineroUnknownOutcome) as info:
        client.post_json(PATH, {"Name": "x"})
    assert len(_api_calls(fake_dinero)) == 1
    assert "POST /v1/100000/contacts/abc" in str(info.value)


def test_post_timeout_is_an_unknown_outcome(
    fake_dinero: FakeDinero, api_config: dict, make_client: Any
) -> None:
    fake_dinero.enqueue("POST", PATH, Scripted(200, {"created": True}, delay=0.6))
    client = make_client({**api_config, "request_timeout": 0.2})
    with pytest.raises(DineroUnknownOutcome):
        client.post_json(PATH, {"Name": "x"})
    assert len(_api_calls(fake_dinero)) == 1


def test_retry_safe_post_is_retried_and_the_marker_is_not_sent(
    fake_dinero: FakeDinero, api_config: dict, make_client: Any
) -> None:
    fake_dinero.enqueue("POST", PATH, Scripted(502, "bad gateway"), OK)
    client = make_client(api_config)
    assert client.post_json(PATH, {"Guid": "client-chosen"}, retry_safe=True) == {"ContactGuid": "abc"}
    calls = _api_calls(fake_dinero)
    assert len(calls) == 2
    assert all(RETRY_SAFE_HEADER.lower() not in {k.lower() for k in c.headers} for c in calls)


def test_post_that_never_left_is_retried_then_reported_as_connection_error(
    fake_dinero: FakeDinero, api_config: dict, make_client: Any
) -> None:
    with socket_closed_port() as port:
        client = make_client({**api_config, "api_url": f"http://127.0.0.1:{port}", "max_retries": 2})
        with pytest.raises(DineroConnectionError):
            client.post_json("/v1/{org}/contacts", {"Name": "x"})
    assert client.stats.by_status() == {"error": 3}  # refused connections: nothing was created


# -- misc ----------------------------------------------------------------------------------------


def test_bearer_token_is_only_sent_to_the_api_host(
    fake_dinero: FakeDinero, api_config: dict, make_client: Any
) -> None:
    other = FakeDinero()
    try:
        client = make_client(api_config)
        client.session.get(f"{other.url}/elsewhere", timeout=5)
        (seen,) = other.api_requests()
        assert "Authorization" not in seen.headers
    finally:
        other.close()


def test_session_is_thread_safe(fake_dinero: FakeDinero, api_config: dict, make_client: Any) -> None:
    client = make_client(api_config)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                client.get_json(PATH)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert client.stats.requests == 40 and len(_api_calls(fake_dinero)) == 40
    assert len(fake_dinero.token_requests()) == 1


def test_session_works_for_sdk_style_prepared_requests(
    fake_dinero: FakeDinero, api_config: dict, make_client: Any
) -> None:
    """singer-sdk prepares a request itself and calls session.send(prepared, timeout=...)."""
    client = make_client(api_config)
    prepared = client.session.prepare_request(requests.Request("GET", f"{fake_dinero.url}{PATH}"))
    response = client.session.send(prepared, timeout=300)
    assert response.status_code == 200
    assert _api_calls(fake_dinero)[0].headers["Authorization"].startswith("Bearer ")
    assert CLIENT_SECRET not in repr(client)


class socket_closed_port:
    """Context manager yielding a local port with nothing listening."""

    def __enter__(self) -> int:
        import socket

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        return self.port

    def __exit__(self, *exc: object) -> None:
        return None
