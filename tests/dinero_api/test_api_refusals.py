"""The refusal breaker of the shared client (dinero_api.refusals): which answers count, what resets the
count, and that a tripped client sends nothing more. Dinero revokes integrations that provoke many 4xx
answers, so a run must stop rather than send request after refused request.

Guarantee: Dinero's refusals stop the run (README).
"""

from __future__ import annotations

from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from token_endpoints import api_requests

from dinero_api.cli import ExitCode, classify
from dinero_api.errors import DineroConfigError, DineroGone, DineroValidationError
from dinero_api.refusals import DineroRefusalsExceeded, endpoint_of
from dinero_api.settings import DineroSettings

CREATE = "/v1/100000/invoices"
LOOKUP = "/v1/100000/contacts/3f1c1a52-1d8e-4f0a-9d6c-0f1f2a3b4c5d"
REFUSED = {"code": 42, "message": "Validation Error", "validationErrors": {"AccountNumber": "Account 1 gone"}}


def _refuse_creates(httpserver: HTTPServer, status: int = 400, body: Any = REFUSED, times: int = 10) -> None:
    for _ in range(times):  # one-shot handlers go before the token fixture's catch-all API handler
        httpserver.expect_oneshot_request(CREATE, method="POST").respond_with_json(body, status=status)


def _creates(httpserver: HTTPServer) -> int:
    return len(api_requests(httpserver, CREATE))


def test_stops_after_the_limit_with_one_line_naming_the_last_refusal(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    _refuse_creates(httpserver)
    for _ in range(5):
        httpserver.expect_oneshot_request(LOOKUP, method="GET").respond_with_json({"ContactGuid": "x"})
    client = make_client({**api_config, "max_consecutive_refusals": 3})
    for attempt in range(3):
        with pytest.raises(DineroValidationError):  # the refused request itself is answered as usual
            client.post_json(CREATE, {"Guid": "a"})
        if attempt < 2:
            client.get_json(LOOKUP)  # a successful look-up of another endpoint does not reset the count
    with pytest.raises(DineroRefusalsExceeded) as info:
        client.post_json(CREATE, {"Guid": "a"})
    with pytest.raises(DineroRefusalsExceeded):
        client.get_json(LOOKUP)  # tripped: nothing more is sent, reads included
    assert _creates(httpserver) == 3
    assert len(api_requests(httpserver, LOOKUP)) == 2
    code, line = classify(info.value)
    assert code == ExitCode.REFUSED
    assert "\n" not in line
    assert "refused 3 requests in a row" in line and "POST /v1/100000/invoices" in line
    assert "HTTP 400" in line and "Dinero error code 42" in line and "Account 1 gone" in line
    assert "max_consecutive_refusals" in line


def test_a_success_on_the_endpoint_resets_the_count(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    answers = iter([400, 400, 200] * 4)

    def handler(request: Any) -> Any:
        from werkzeug import Response

        status = next(answers)
        body = '{"Guid": "g"}' if status == 200 else '{"code": 42, "message": "Validation Error"}'
        return Response(body, status=status, content_type="application/json")

    for _ in range(12):
        httpserver.expect_oneshot_request(CREATE, method="POST").respond_with_handler(handler)
    client = make_client({**api_config, "max_consecutive_refusals": 3})
    for status in [400, 400, 200] * 4:
        if status == 200:
            client.post_json(CREATE, {})
        else:
            with pytest.raises(DineroValidationError):
                client.post_json(CREATE, {})
    assert _creates(httpserver) == 12  # never 3 refusals in a row: never stopped


@pytest.mark.parametrize(
    ("status", "body"), [(404, "<html>Not found</html>"), (400, {"code": 63, "message": "Deleted"})]
)
def test_not_there_answers_are_look_ups_not_refusals(
    httpserver: HTTPServer, api_config: dict, make_client: Any, status: int, body: Any
) -> None:
    for _ in range(5):
        if isinstance(body, dict):
            httpserver.expect_oneshot_request(LOOKUP).respond_with_json(body, status=status)
        else:
            page = httpserver.expect_oneshot_request(LOOKUP)
            page.respond_with_data(body, status=status, content_type="text/html")
    client = make_client({**api_config, "max_consecutive_refusals": 2})
    for _ in range(5):
        with pytest.raises(DineroGone):
            client.get_json(LOOKUP)
    assert len(api_requests(httpserver, LOOKUP)) == 5


def test_an_excused_refusal_does_not_count(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    """The exactly-once protocol's "Guid taken" (its look-up found the object) is an expected answer."""
    _refuse_creates(httpserver, status=409, body={"code": 42, "message": "Guid taken"})
    client = make_client({**api_config, "max_consecutive_refusals": 2})
    for _ in range(5):
        with pytest.raises(DineroValidationError) as info:
            client.post_json(CREATE, {"Guid": "a"})
        client.excuse_refusal(info.value)
    assert _creates(httpserver) == 5


def test_endpoints_mask_ids() -> None:
    assert endpoint_of("post", "/v1/100000/invoices/3f1c1a52-1d8e-4f0a-9d6c-0f1f2a3b4c5d/book") == (
        "POST /v1/*/invoices/*/book"
    )


def test_the_limit_is_a_bounded_setting(api_config: dict) -> None:
    assert DineroSettings.from_config(api_config).max_consecutive_refusals == 10
    with pytest.raises(DineroConfigError, match="max_consecutive_refusals"):
        DineroSettings.from_config({**api_config, "max_consecutive_refusals": 0})
    with pytest.raises(DineroConfigError, match="revokes integrations"):
        DineroSettings.from_config({**api_config, "max_consecutive_refusals": 1000})


SPREAD = ["/v1/100000/contacts", "/v1/100000/products", "/v1/100000/vouchers/manuel", "/v1/100000/invoices"]


def test_refusals_spread_over_endpoints_stop_the_run_too(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    """Every write refused, each on another endpoint (an organization whose chart Dinero no longer has:
    contacts, products, vouchers, invoices all refused), with successful look-ups in between: the count
    was per endpoint only, so a run could send the limit to each of a dozen endpoints (here: never
    tripping). ``limit`` refusals in a row with no write accepted stop it, whatever their endpoints."""
    for path in SPREAD:
        httpserver.expect_oneshot_request(path, method="POST").respond_with_json(REFUSED, status=400)
    httpserver.expect_request(LOOKUP, method="GET").respond_with_json({"ContactGuid": "x"})
    client = make_client({**api_config, "max_consecutive_refusals": 3})
    for path in SPREAD[:3]:
        client.get_json(LOOKUP)  # a read's success does not make the refusals less of a storm
        with pytest.raises(DineroValidationError):
            client.post_json(path, {"Name": "x"})
    with pytest.raises(DineroRefusalsExceeded) as info:
        client.post_json(SPREAD[3], {"Name": "x"})
    assert [len(api_requests(httpserver, path)) for path in SPREAD] == [1, 1, 1, 0]
    code, line = classify(info.value)
    assert code == ExitCode.REFUSED and "\n" not in line
    assert "refused 3 requests in a row to 3 endpoints" in line and "no write accepted" in line


def test_an_accepted_write_resets_the_count_across_endpoints(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    """Refused records between accepted writes are about those records (bad data), not a storm: the run
    goes on, and the per-endpoint count still watches each endpoint. (A guard of the rule above.)"""
    for path in SPREAD[1:]:
        httpserver.expect_oneshot_request(path, method="POST").respond_with_json(REFUSED, status=400)
    client = make_client({**api_config, "max_consecutive_refusals": 3})
    for path in (SPREAD[1], SPREAD[2], SPREAD[0], SPREAD[3], SPREAD[0]):
        if path == SPREAD[0]:
            client.post_json(path, {"Name": "x"})  # accepted (the token fixture's API answers 200)
        else:
            with pytest.raises(DineroValidationError):
                client.post_json(path, {"Name": "x"})
    assert [len(api_requests(httpserver, path)) for path in SPREAD] == [2, 1, 1, 1]
