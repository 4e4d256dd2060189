"""Retry rules of DineroSession: which answers are retried, how often, and what the caller sees."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import requests
from pytest_httpserver import HTTPServer
from token_endpoints import (
    API_KEY,
    CLIENT_SECRET,
    DineroTokens,
    answer_before_the_api_default,
    api_requests,
    token_requests,
)
from werkzeug import Request, Response

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
from dinero_api.session import NOT_REPLAYABLE_HEADER, RETRY_SAFE_HEADER
from tests.harness import wait_until

PATH = "/v1/100000/contacts/abc"
OK = {"ContactGuid": "abc"}
QUOTA_TEXT = "API calls quota exceeded! (...)"


def _api_calls(server: HTTPServer, path: str = PATH) -> list[Request]:
    return api_requests(server, path)


def _timed(arrivals: list[float], status: int, body: Any, headers: dict[str, str] | None = None) -> Any:
    """A handler answering ``status``/``body`` that notes when the request arrived (``httpserver.log``
    has no timestamps)."""

    def handler(request: Request) -> Response:
        arrivals.append(time.monotonic())
        text = body if isinstance(body, str) else json.dumps(body)
        return Response(text, status=status, headers=headers)

    return handler


def _slow(seconds: float, body: Any) -> Any:
    """A handler that answers only after ``seconds``: the slowness is what the test is about."""

    def handler(request: Request) -> Response:
        time.sleep(seconds)
        return Response(json.dumps(body), content_type="application/json")

    return handler


class RecordingThrottle(QuotaThrottle):
    """Memory-backed throttle that records how long it was asked to sleep."""

    def __init__(self, window: float = 60.0) -> None:
        self.sleeps: list[float] = []
        super().__init__(("c", "o"), 1000, window, "memory", sleep=self._sleep_and_record)

    def _sleep_and_record(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        threading.Event().wait(seconds)


# Scripted answers are oneshot handlers: several for one path answer in the order registered, while the
# token requests in between go to the token endpoints (an *ordered* handler would insist on being next).

# -- 401 -----------------------------------------------------------------------------------------


def test_401_refreshes_the_token_once_and_retries(
    httpserver: HTTPServer, dinero: DineroTokens, api_config: dict, make_client: Any
) -> None:
    client = make_client(api_config)
    client.get_json(PATH)
    dinero.revoke_tokens()  # the token expired server-side
    assert client.get_json(PATH)["ok"] is True
    assert len(token_requests(httpserver)) == 2
    assert [r.headers["Authorization"] for r in _api_calls(httpserver)] == [
        "Bearer access-1",
        "Bearer access-1",
        "Bearer access-2",
    ]
    assert client.stats.token_refreshes == 1


def test_401_after_refresh_is_fatal_and_never_loops(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    httpserver.expect_oneshot_request(PATH, method="GET").respond_with_json(
        {"code": 41, "message": "Unauthorized"}, status=401
    )
    httpserver.expect_oneshot_request(PATH, method="GET").respond_with_json({}, status=401)
    client = make_client(api_config)
    with pytest.raises(DineroAuthError) as info:
        client.get_json(PATH)
    assert len(_api_calls(httpserver)) == 2
    assert len(token_requests(httpserver)) == 2
    assert "GET /v1/100000/contacts/abc" in str(info.value) and "401" in str(info.value)
    assert API_KEY not in str(info.value) and "access-" not in str(info.value)


def test_403_is_fatal_at_once(httpserver: HTTPServer, api_config: dict, make_client: Any) -> None:
    httpserver.expect_oneshot_request(PATH, method="GET").respond_with_json(
        {"code": 90, "message": "No active Pro subscription"}, status=403
    )
    client = make_client(api_config)
    with pytest.raises(DineroAuthError) as info:
        client.get_json(PATH)
    assert len(_api_calls(httpserver)) == 1
    assert info.value.code == 90 and "No active Pro subscription" in str(info.value)


# -- 429 -----------------------------------------------------------------------------------------


def test_429_waits_retry_after_and_retries(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    body = "API calls quota exceeded! maximum admitted 100 per 1m."
    arrivals: list[float] = []
    httpserver.expect_oneshot_request(PATH, method="GET").respond_with_handler(
        _timed(arrivals, 429, body, {"Retry-After": "1"})
    )
    httpserver.expect_oneshot_request(PATH, method="GET").respond_with_handler(_timed(arrivals, 200, OK))
    throttle = RecordingThrottle()
    client = make_client(api_config, throttle=throttle)
    assert client.get_json(PATH) == OK
    first, second = arrivals
    assert second - first >= 0.95  # honoured Retry-After: 1
    assert sum(throttle.sleeps) >= 0.95
    assert client.stats.rate_limited == 1 and client.stats.retries == 0  # not a failure
    assert client.stats.quota_wait_seconds >= 0.95


def test_429_without_retry_after_waits_for_the_window(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    arrivals: list[float] = []
    httpserver.expect_oneshot_request(PATH, method="GET").respond_with_handler(
        _timed(arrivals, 429, QUOTA_TEXT)
    )
    httpserver.expect_oneshot_request(PATH, method="GET").respond_with_handler(_timed(arrivals, 200, OK))
    throttle = RecordingThrottle(window=0.5)
    client = make_client(api_config, throttle=throttle)
    client.get_json(PATH)
    first, second = arrivals
    assert second - first >= 0.5


def test_429_forever_gives_up_after_the_total_wait(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    httpserver.expect_request(PATH, method="GET").respond_with_data(
        QUOTA_TEXT, status=429, headers={"Retry-After": "0.4"}
    )
    answer_before_the_api_default(httpserver)
    client = make_client({**api_config, "max_rate_limit_wait_seconds": 1}, throttle=RecordingThrottle())
    with pytest.raises(DineroRateLimited) as info:
        client.get_json(PATH)
    assert "API calls quota exceeded!" in str(info.value)
    assert len(_api_calls(httpserver)) == 2  # 0.4 <= 1 < 0.4 + 1 (a second 429 pauses at least 1 s)


# -- 5xx / timeouts ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_5xx_is_retried_with_backoff_for_idempotent_methods(
    httpserver: HTTPServer, api_config: dict, make_client: Any, method: str
) -> None:
    httpserver.expect_oneshot_request(PATH, method=method).respond_with_data("busy", status=503)
    httpserver.expect_oneshot_request(PATH, method=method).respond_with_json(
        {"code": 50, "message": "Error"}, status=500
    )
    httpserver.expect_oneshot_request(PATH, method=method).respond_with_json(OK)
    client = make_client(api_config)
    response = client.request(method, PATH)
    assert response.json() == OK
    assert len(_api_calls(httpserver)) == 3
    assert client.stats.retries == 2
    assert client.stats.by_status() == {"503": 1, "500": 1, "200": 1}


def test_5xx_exhausting_retries_quotes_dinero(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    httpserver.expect_request(PATH, method="GET").respond_with_json(
        {"code": 50, "message": "AAARGH!"}, status=500
    )
    answer_before_the_api_default(httpserver)
    client = make_client(api_config)  # max_retries 3
    with pytest.raises(DineroServerError) as info:
        client.get_json(PATH)
    assert len(_api_calls(httpserver)) == 4
    assert "code 50" in str(info.value) and "AAARGH!" in str(info.value)


def test_timeout_is_retried_for_get(httpserver: HTTPServer, api_config: dict, make_client: Any) -> None:
    httpserver.expect_oneshot_request(PATH, method="GET").respond_with_handler(_slow(0.6, {"slow": True}))
    httpserver.expect_oneshot_request(PATH, method="GET").respond_with_json(OK)
    client = make_client({**api_config, "request_timeout": 0.2})
    assert client.get_json(PATH) == OK
    assert client.stats.retries == 1
    assert client.stats.by_status() == {"error": 1, "200": 1}
    # The slow request is logged when its answer is finally sent, after the client gave up on it.
    wait_until(lambda: len(_api_calls(httpserver)) == 2, what="both GETs in httpserver.log")


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
    httpserver: HTTPServer, api_config: dict, make_client: Any, status: int, body: Any, error: type
) -> None:
    handler = httpserver.expect_request(PATH, method="PUT")
    if isinstance(body, str):
        handler.respond_with_data(body, status=status, content_type="text/html")
    else:
        handler.respond_with_json(body, status=status)
    answer_before_the_api_default(httpserver)
    client = make_client(api_config)
    with pytest.raises(error):
        client.put_json(PATH, {"Name": "x"})
    assert len(_api_calls(httpserver)) == 1
    assert client.stats.retries == 0


# -- POST: never replayed unless safe ------------------------------------------------------------


def test_post_5xx_is_an_unknown_outcome_not_a_retry(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_json(
        {"code": 50, "message": "Error"}, status=500
    )
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_json(OK)
    client = make_client(api_config)
    with pytest.raises(DineroUnknownOutcome) as info:
        client.post_json(PATH, {"Name": "x"})
    assert len(_api_calls(httpserver)) == 1
    assert "POST /v1/100000/contacts/abc" in str(info.value)


def test_post_timeout_is_an_unknown_outcome(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_handler(_slow(0.6, {"created": True}))
    client = make_client({**api_config, "request_timeout": 0.2})
    with pytest.raises(DineroUnknownOutcome):
        client.post_json(PATH, {"Name": "x"})
    # The slow POST is logged once its answer is sent; a replay would have been logged before it.
    wait_until(lambda: _api_calls(httpserver), what="the slow POST in httpserver.log")
    assert len(_api_calls(httpserver)) == 1


def test_retry_safe_post_is_retried_and_the_marker_is_not_sent(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_data("bad gateway", status=502)
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_json(OK)
    client = make_client(api_config)
    assert client.post_json(PATH, {"Guid": "client-chosen"}, retry_safe=True) == OK
    calls = _api_calls(httpserver)
    assert len(calls) == 2
    assert all(RETRY_SAFE_HEADER.lower() not in {k.lower() for k, _ in c.headers.items()} for c in calls)


def test_a_put_with_a_timestamp_is_never_replayed_after_a_5xx(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    """A replayed PUT after a late commit carries a stale Timestamp: Dinero refuses it (code 58) and
    counts the refusal against the integration. The caller re-reads instead (target_dinero.exactly_once)."""
    httpserver.expect_oneshot_request(PATH, method="PUT").respond_with_data("bad gateway", status=502)
    httpserver.expect_oneshot_request(PATH, method="PUT").respond_with_json(OK)
    client = make_client(api_config)
    with pytest.raises(DineroUnknownOutcome):
        client.put_json(PATH, {"Name": "x", "Timestamp": "0000A1"}, replayable=False)
    calls = _api_calls(httpserver)
    assert len(calls) == 1
    assert NOT_REPLAYABLE_HEADER.lower() not in {k.lower() for k, _ in calls[0].headers.items()}


def test_post_that_never_left_is_retried_then_reported_as_connection_error(
    api_config: dict, make_client: Any
) -> None:
    with socket_closed_port() as port:
        client = make_client({**api_config, "api_url": f"http://127.0.0.1:{port}", "max_retries": 2})
        with pytest.raises(DineroConnectionError):
            client.post_json("/v1/{org}/contacts", {"Name": "x"})
    assert client.stats.by_status() == {"error": 3}  # refused connections: nothing was created


# -- misc ----------------------------------------------------------------------------------------


def test_bearer_token_is_only_sent_to_the_api_host(api_config: dict, make_client: Any) -> None:
    with HTTPServer(host="127.0.0.1", port=0) as other:
        other.expect_request("/elsewhere").respond_with_data("ok")
        client = make_client(api_config)
        client.session.get(other.url_for("/elsewhere"), timeout=5)
        ((seen, _),) = other.log
        assert "Authorization" not in seen.headers


def test_session_is_thread_safe(httpserver: HTTPServer, api_config: dict, make_client: Any) -> None:
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
    assert client.stats.requests == 40 and len(_api_calls(httpserver)) == 40
    assert len(token_requests(httpserver)) == 1


def test_sdk_style_prepared_request_is_sent_with_the_bearer_token(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    """singer-sdk prepares a request itself and calls session.send(prepared, timeout=...)."""
    client = make_client(api_config)
    prepared = client.session.prepare_request(requests.Request("GET", httpserver.url_for(PATH)))
    response = client.session.send(prepared, timeout=300)
    assert response.status_code == 200
    assert _api_calls(httpserver)[0].headers["Authorization"].startswith("Bearer ")
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


@pytest.mark.parametrize(
    "retry_after", ["99999999", "inf", "Fri, 31 Dec 9999 23:59:59 GMT"], ids=["years", "inf", "year-9999"]
)
def test_an_absurd_retry_after_pauses_the_quota_key_no_longer_than_a_request_may_wait(
    httpserver: HTTPServer, api_config: dict, make_client: Any, retry_after: str
) -> None:
    """A ``Retry-After`` of years (a proxy's, a gateway's) is honoured only up to
    ``max_rate_limit_wait_seconds``: the pause it puts on the shared quota key -- which every process and
    every later run on the key waits out before its first request -- never outlasts what one request
    waits in total before giving up, and the request is answered after that wait."""
    httpserver.expect_oneshot_request(PATH, method="GET").respond_with_data(
        QUOTA_TEXT, status=429, headers={"Retry-After": retry_after}
    )
    httpserver.expect_request(PATH, method="GET").respond_with_json(OK)
    answer_before_the_api_default(httpserver)
    config = {**api_config, "max_rate_limit_wait_seconds": 1}
    client = make_client(config)
    answers: list[Any] = []

    def call() -> None:
        try:
            answers.append(client.get_json(PATH))
        except Exception as exc:  # asserted below
            answers.append(exc)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    wait_until(lambda: bool(answers) or client.throttle.paused_for() > 0, timeout=10)
    assert client.throttle.paused_for() <= 1.0  # the key is not blocked for years
    worker.join(timeout=10)
    assert answers == [OK]
