"""dinero_api.envelope.iter_pages over the client's get_json: the pages requested and the rows yielded."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from token_endpoints import answer_before_the_api_default, api_requests, json_response
from werkzeug import Request, Response

from dinero_api.envelope import iter_pages
from dinero_api.errors import DineroAPIError, DineroConfigError
from dinero_api.settings import DineroSettings

CONTACTS = "/v1/100000/contacts"
ACCOUNTS = "/v1/100000/accounts/entry"


def rows(n: int) -> list[dict[str, Any]]:
    return [{"ContactGuid": f"g-{i:04d}", "Name": f"Kunde {i}"} for i in range(n)]


def pages_requested(server: HTTPServer, path: str) -> list[tuple[str, str]]:
    return [(r.args["page"], r.args["pageSize"]) for r in api_requests(server, path)]


def serve_list(
    server: HTTPServer,
    path: str,
    rows: list[dict[str, Any]],
    *,
    envelope: bool = True,
    ignore_paging: bool = False,
) -> None:
    """Serve ``rows`` at GET ``path`` with Dinero's page/pageSize semantics (0-based pages), in Dinero's
    envelope or as a bare array; ``ignore_paging`` answers every page with all rows, as some endpoints do."""

    def handler(request: Request) -> Response:
        page = int(request.args.get("page", 0))
        size = int(request.args.get("pageSize", 100))
        chunk = rows if ignore_paging else rows[page * size : (page + 1) * size]
        if not envelope:
            return json_response(chunk)
        pagination = {
            "MaxPageSizeAllowed": 1000,
            "PageSize": size,
            "Result": len(chunk),
            "ResultWithoutFilter": len(rows),
            "Page": page,
        }
        return json_response({"Collection": chunk, "Pagination": pagination})

    server.expect_request(path, method="GET").respond_with_handler(handler)
    answer_before_the_api_default(server)


def test_envelope_pages_stop_on_the_short_page(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    serve_list(httpserver, CONTACTS, rows(25))
    client = make_client(api_config)
    fields = {"fields": "Name,ContactGuid"}
    got = list(iter_pages(client.get_json, "/v1/{org}/contacts", fields, page_size=10))
    assert [len(p) for p in got] == [10, 10, 5]
    assert [r["ContactGuid"] for p in got for r in p] == [r["ContactGuid"] for r in rows(25)]
    assert pages_requested(httpserver, CONTACTS) == [("0", "10"), ("1", "10"), ("2", "10")]  # no empty page
    assert all(r.args["fields"] == "Name,ContactGuid" for r in api_requests(httpserver))


def test_exact_multiple_stops_on_the_trusted_count(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    serve_list(httpserver, CONTACTS, rows(20))
    client = make_client(api_config)
    assert [len(p) for p in iter_pages(client.get_json, "/v1/{org}/contacts", page_size=10)] == [10, 10]
    assert len(pages_requested(httpserver, CONTACTS)) == 2  # ResultWithoutFilter says nothing is left


def test_exact_multiple_without_trusting_the_count_reads_one_empty_page(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    serve_list(httpserver, CONTACTS, rows(20))
    client = make_client(api_config)
    pages = iter_pages(client.get_json, "/v1/{org}/contacts", page_size=10, trust_total=False)
    assert [len(p) for p in pages] == [10, 10]
    assert len(pages_requested(httpserver, CONTACTS)) == 3


def test_bare_array_lists_page_until_a_short_page(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    serve_list(httpserver, "/v1/100000/files", rows(7), envelope=False)
    client = make_client(api_config)
    assert [len(p) for p in iter_pages(client.get_json, "/v1/{org}/files", page_size=5)] == [5, 2]


def test_endpoint_ignoring_paging_does_not_loop(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    serve_list(httpserver, ACCOUNTS, rows(10), envelope=False, ignore_paging=True)
    client = make_client(api_config)
    assert [len(p) for p in iter_pages(client.get_json, "/v1/{org}/accounts/entry", page_size=10)] == [10]
    assert len(pages_requested(httpserver, ACCOUNTS)) == 2


def test_page_size_setting_over_1000_is_refused(api_config: dict) -> None:
    with pytest.raises(DineroConfigError, match="code 43"):
        DineroSettings.from_config({**api_config, "page_size": 1500})


@pytest.mark.parametrize("body", [None, {"ContactGuid": "g-1"}])
def test_an_answer_that_is_no_list_is_an_error_not_an_empty_list(body: Any) -> None:
    """A look-up that took an empty body for "no match" would create the object a second time."""
    with pytest.raises(DineroAPIError, match="unexpected list shape"):
        next(iter_pages(lambda _path, _params: body, "/v1/{org}/contacts", page_size=100))
