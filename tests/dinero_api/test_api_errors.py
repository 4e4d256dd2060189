"""Error messages quote what Dinero said and the request, and never a secret."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from dinero_api.errors import (
    DineroAPIError,
    DineroAuthError,
    DineroGone,
    DineroNotFound,
    DineroRateLimited,
    DineroServerError,
    DineroTimestampConflict,
    DineroValidationError,
    raise_for_response,
    register_secret,
)

# Bodies as published (REFERENCE examples/): validation error, item deleted, token invalid_grant.
VALIDATION_400 = {
    "code": 45,
    "message": "Invoices must have at least one invoice line",
    "languageSpecificMessages": [{"property": "line", "message": "Whooho"}],
    "validationErrors": {"message": "bla bla"},
    "weirdProperty": {},
}
ITEM_DELETED = {
    "code": 65,
    "message": "Item is deleted",
    "validationErrors": {"message": "Invalid InvoiceGuid, the invoice is deleted."},
    "languageSpecificMessages": [
        {"property": "message", "message": "Da objektet er blevet slettet, kan du ikke rette i det."}
    ],
    "errorMessageList": [{"Code": "message", "Message": "Invalid InvoiceGuid, the invoice is deleted."}],
}
NESTED_INVALID_GRANT = {"message": '{ "error": "invalid_grant" }'}


def make_response(
    status: int,
    body: Any,
    *,
    method: str = "POST",
    url: str = "https://api.dinero.dk/v1/100000/invoices",
    content_type: str | None = None,
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    if isinstance(body, (dict, list)):
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json; charset=utf-8"
    else:
        response._content = (body or "").encode()
        response.headers["Content-Type"] = content_type or "text/plain"
    response.encoding = "utf-8"
    response.url = url
    response.request = requests.Request(
        method, url, headers={"Authorization": "Bearer secret-access-token"}
    ).prepare()
    return response


def error_of(response: requests.Response) -> DineroAPIError:
    with pytest.raises(DineroAPIError) as info:
        raise_for_response(response)
    return info.value


def test_success_does_not_raise() -> None:
    raise_for_response(make_response(200, {"ok": True}))
    raise_for_response(make_response(201, ""))


def test_validation_error_quotes_code_message_validation_and_request() -> None:
    err = error_of(make_response(400, VALIDATION_400))
    assert isinstance(err, DineroValidationError)
    assert (err.code, err.dinero_message) == (45, "Invoices must have at least one invoice line")
    assert err.validation_errors == {"message": "bla bla"}
    text = str(err)
    assert "POST /v1/100000/invoices" in text and "HTTP 400" in text
    assert "code 45" in text and "Invoices must have at least one invoice line" in text and "bla bla" in text


def test_item_deleted_error_quotes_code_message_and_request() -> None:
    err = error_of(make_response(400, ITEM_DELETED, method="PUT"))
    assert err.code == 65 and "the invoice is deleted" in str(err) and "PUT /v1/100000/invoices" in str(err)


@pytest.mark.parametrize(
    ("status", "body"),
    [(400, ITEM_DELETED), (400, {**ITEM_DELETED, "code": 63}), (404, {"message": "Not found"})],
    ids=["code-65", "code-63", "http-404"],
)
def test_every_way_dinero_says_deleted_is_one_exception_type(status: int, body: dict[str, Any]) -> None:
    err = error_of(make_response(status, body, method="GET"))
    assert isinstance(err, DineroGone)
    assert not isinstance(err, DineroValidationError)  # a deleted object is not a refusal of our data


def test_other_validation_errors_are_not_gone() -> None:
    assert not isinstance(error_of(make_response(400, VALIDATION_400)), DineroGone)


def test_timestamp_conflict_has_its_own_class() -> None:
    err = error_of(make_response(400, {"code": 58, "message": "Timestamp out of date"}))
    assert isinstance(err, DineroTimestampConflict) and isinstance(err, DineroValidationError)


def test_oauth_errors_including_the_nested_shape() -> None:
    url = "https://authz.dinero.dk/dineroapi/oauth/token"
    err = error_of(make_response(401, {"error": "invalid_client"}, url=url))
    assert isinstance(err, DineroAuthError) and err.oauth_error == "invalid_client"
    err = error_of(make_response(400, NESTED_INVALID_GRANT, url=url))
    assert err.oauth_error == "invalid_grant" and "invalid_grant" in str(err)


def test_html_404_is_summarised_not_dumped() -> None:
    html = "<!DOCTYPE html><html><head><title>404 - File or directory not found.</title></head>" + "x" * 5000
    err = error_of(make_response(404, html, method="GET", content_type="text/html"))
    assert isinstance(err, DineroNotFound)
    assert "HTML page: 404 - File or directory not found." in str(err)
    assert "xxxxx" not in str(err)


def test_plain_text_429_and_500() -> None:
    err = error_of(make_response(429, "API calls quota exceeded! maximum admitted 100 per 1m.", method="GET"))
    assert isinstance(err, DineroRateLimited) and "API calls quota exceeded!" in str(err)
    err = error_of(make_response(500, {"code": 50, "message": "AAARGH!"}, method="GET"))
    assert isinstance(err, DineroServerError) and "AAARGH!" in str(err)


def test_query_string_headers_and_tokens_are_never_quoted() -> None:
    url = "https://api.dinero.dk/v1/100000/contacts?queryFilter=Email+eq+'private@example.dk'&x=y"
    err = error_of(
        make_response(400, {"code": 46, "message": "Invalid filter format"}, method="GET", url=url)
    )
    text = str(err)
    assert (
        "GET /v1/100000/contacts" in text and "private@example.dk" not in text and "queryFilter" not in text
    )
    assert "secret-access-token" not in text and "Bearer" not in text


def test_registered_secrets_are_redacted_from_echoed_bodies() -> None:
    register_secret("api-key-that-leaks-123")
    err = error_of(make_response(400, {"code": 42, "message": "Unknown key api-key-that-leaks-123"}))
    assert "api-key-that-leaks-123" not in str(err) and "***" in str(err)


def test_garbage_bodies_never_crash_the_parser() -> None:
    for body in ("", "{not json", "[1, 2]", '{"code": "x", "validationErrors": [1]}'):
        err = error_of(make_response(400, body, content_type="application/json"))
        assert "HTTP 400" in str(err)
