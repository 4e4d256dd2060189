"""Requests the tap spends: one per page (page count = ceil(rows / page_size)), no empty-page request on
envelope lists even at exact multiples of the page size, and detail calls only where lists lack data."""

from __future__ import annotations

import math

import pytest

from tests.tap.helpers import run_tap

ORG = "100000"


def _requests_to(log, path_suffix: str) -> list[dict]:
    return [r for r in log if r["path"] == f"/v1/{ORG}/{path_suffix}"]


def _live_and_deleted(sandbox, collection: str) -> tuple[int, int]:
    rows = sandbox.dump(ORG, collection)
    deleted = sum(1 for r in rows if r.get("DeletedAt"))
    return len(rows) - deleted, deleted


@pytest.mark.parametrize("page_size", [7, 1000])
def test_one_request_per_page_and_no_empty_page(sandbox, tap_config, sandbox_requests, page_size):
    result = run_tap(
        {**tap_config, "page_size": page_size}, streams=["contacts", "products", "invoices", "files"]
    )
    log = sandbox_requests()
    assert all(r["status"] == 200 for r in log)

    for stream, collection, route in [
        ("contacts", "contacts", "contacts"),
        ("products", "products", "products"),
        ("invoices", "invoices", "invoices"),
    ]:
        live, deleted = _live_and_deleted(sandbox, collection)
        assert len(result.stream(stream)) == live + deleted
        calls = _requests_to(log, route)
        normal = [c for c in calls if c["params"].get("deletedOnly") != "true"]
        deletion = [c for c in calls if c["params"].get("deletedOnly") == "true"]
        assert len(normal) == max(1, math.ceil(live / page_size)), stream
        # the deletion pass cannot trust the count: it stops on a short page only
        assert len(deletion) == deleted // page_size + 1, stream
        assert [int(c["params"]["page"]) for c in normal] == list(range(len(normal)))
        assert {c["params"]["pageSize"] for c in calls} == {str(page_size)}
        assert all(c["params"]["fields"].startswith(("ContactGuid", "ProductGuid", "Guid")) for c in calls)

    files = len(result.stream("files"))
    # /files is a bare array without a count: a last page that is exactly full needs one more request
    assert len(_requests_to(log, "files")) == files // page_size + 1


def test_exact_multiple_of_page_size_ends_without_extra_request(sandbox, tap_config, sandbox_requests):
    live, _ = _live_and_deleted(sandbox, "contacts")
    page_size = next(size for size in range(5, live) if live % size == 0)
    result = run_tap({**tap_config, "page_size": page_size, "include_deleted": False}, streams=["contacts"])
    assert len(result.stream("contacts")) == live
    calls = _requests_to(sandbox_requests(), "contacts")
    assert len(calls) == live // page_size
    assert all("deletedOnly" not in c["params"] for c in calls)


def test_exact_multiple_after_a_mutation(sandbox, tap_config, sandbox_requests):
    # grow the product list to exactly two pages of 12 live rows and check the paging ends on the count
    live, _ = _live_and_deleted(sandbox, "products")
    for i in range(24 - live):
        sandbox.mutate(ORG, "products", "create", fields={"Name": f"Extra {i}", "BaseAmountValue": 10.0})
    result = run_tap({**tap_config, "page_size": 12, "include_deleted": False}, streams=["products"])
    assert len(result.stream("products")) == 24
    assert len(_requests_to(sandbox_requests(), "products")) == 2


def test_detail_calls_only_for_live_changed_documents(sandbox, tap_config, sandbox_requests):
    result = run_tap(tap_config, streams=["invoices", "invoice_lines"])
    live = {i["Guid"] for i in result.stream("invoices") if not i["DeletedAt"]}
    details = [r for r in sandbox_requests() if r["path"].startswith(f"/v1/{ORG}/invoices/")]
    assert sorted(r["path"].rsplit("/", 1)[1] for r in details) == sorted(live)
    # per 1000 invoice rows: 1 list request (+1 deletion pass) + one detail per invoice
    assert len(_requests_to(sandbox_requests(), "invoices")) == 2


def test_lines_off_means_no_detail_calls(sandbox, tap_config, sandbox_requests):
    result = run_tap({**tap_config, "include_lines": False}, streams=["invoices", "sales_credit_notes"])
    assert result.stream("invoices")
    assert not [r for r in sandbox_requests() if "/invoices/" in r["path"] or "/creditnotes/" in r["path"]]


def test_include_deleted_false_skips_the_deletion_pass(sandbox, tap_config, sandbox_requests):
    result = run_tap({**tap_config, "include_deleted": False}, streams=["contacts"])
    assert result.stream("contacts")
    assert all(c["DeletedAt"] is None and c["_sdc_deleted_at"] is None for c in result.stream("contacts"))
    assert all("deletedOnly" not in r["params"] for r in sandbox_requests())
