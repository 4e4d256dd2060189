"""Requests the tap spends: one per page (page count = ceil(rows / page_size)), no empty-page request on
envelope lists even at exact multiples of the page size, and detail calls only where lists lack data."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from tap_dinero.tap import TapDinero
from tests.harness import run_tap

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
    assert result.error is None, result.error
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
    assert result.error is None, result.error
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
    assert result.error is None, result.error
    assert len(result.stream("products")) == 24
    assert len(_requests_to(sandbox_requests(), "products")) == 2


def _detail_gets(log, route: str) -> Counter:
    """Detail GETs per document Guid of ``route`` (e.g. ``invoices``)."""
    prefix = f"/v1/{ORG}/{route}/"
    return Counter(r["path"][len(prefix) :] for r in log if r["path"].startswith(prefix))


@pytest.mark.parametrize(
    ("stream", "lines_stream", "route", "parent_key"),
    [
        ("invoices", "invoice_lines", "invoices", "InvoiceGuid"),
        ("sales_credit_notes", "credit_note_lines", "sales/creditnotes", "CreditNoteGuid"),
        ("trade_offers", "trade_offer_lines", "tradeoffers", "TradeOfferGuid"),
    ],
)
def test_one_detail_get_per_live_document_feeds_record_and_line_stream(
    sandbox, tap_config, sandbox_requests, stream, lines_stream, route, parent_key
):
    result = run_tap(tap_config, streams=[stream, lines_stream])
    assert result.error is None
    live = {d["Guid"]: d for d in result.stream(stream) if not d["DeletedAt"]}
    deleted = [d for d in result.stream(stream) if d["DeletedAt"]]
    log = sandbox_requests()

    # exactly one detail GET per live changed document, none for deleted ones
    assert _detail_gets(log, route) == Counter(live.keys())
    # 1 list request + 1 deletion pass (per 1000 rows) + one detail per live document, nothing else
    assert len([r for r in log if r["path"].startswith("/v")]) == 2 + len(live)

    # the record carries the detail's lines and totals; the line stream emits the same lines
    lines_by_document: dict[str, list[dict]] = {}
    for line in sorted(result.stream(lines_stream), key=lambda r: r["LinePosition"]):
        lines_by_document.setdefault(line[parent_key], []).append(line)
    for guid, document in live.items():
        assert document["ProductLines"], guid
        assert document["TotalLines"][-1]["Type"] == "Total"
        assert document["TotalLines"][-1]["TotalAmount"] == document["TotalInclVat"]
        assert document["ShowLinesInclVat"] is False
        emitted = [
            {
                k: v
                for k, v in line.items()
                if k not in (parent_key, "LinePosition", "organization_id", "_sdc_synced_at")
            }
            for line in lines_by_document.get(guid, [])
        ]
        assert emitted == document["ProductLines"], guid
        assert {line["_sdc_synced_at"] for line in lines_by_document.get(guid, [])} <= {
            document["_sdc_synced_at"]
        }
    assert set(lines_by_document) <= set(live)
    assert all("ProductLines" not in d for d in deleted)


def test_records_carry_lines_without_the_line_stream_selected(sandbox, tap_config, sandbox_requests):
    result = run_tap(tap_config, streams=["invoices"])
    assert result.error is None, result.error
    live = [i for i in result.stream("invoices") if not i["DeletedAt"]]
    assert all(i["ProductLines"] for i in live)
    assert "invoice_lines" not in result.records
    assert _detail_gets(sandbox_requests(), "invoices") == Counter(i["Guid"] for i in live)


def test_documents_a_stream_map_filters_out_are_not_read_in_detail(sandbox, tap_config, sandbox_requests):
    newest = sorted(sandbox.dump(ORG, "invoices"), key=lambda i: i["UpdatedAt"])[-5:]
    wanted = [i["Guid"] for i in newest if not i["DeletedAt"]]
    config = {
        **tap_config,
        "include_deleted": False,
        "stream_maps": {"invoices": {"__filter__": f"Guid in {wanted!r}"}},
    }
    result = run_tap(config, streams=["invoices", "invoice_lines"])
    assert result.error is None, result.error
    assert sorted(i["Guid"] for i in result.stream("invoices")) == sorted(wanted)
    assert {line["InvoiceGuid"] for line in result.stream("invoice_lines")} == set(wanted)
    assert _detail_gets(sandbox_requests(), "invoices") == Counter(wanted)


def test_lines_off_means_no_detail_calls(sandbox, tap_config, sandbox_requests):
    result = run_tap({**tap_config, "include_lines": False}, streams=["invoices", "sales_credit_notes"])
    assert result.error is None, result.error
    assert result.stream("invoices")
    for stream in ("invoices", "sales_credit_notes"):
        assert all(not {"ProductLines", "TotalLines"} & set(d) for d in result.stream(stream))
    assert not [r for r in sandbox_requests() if "/invoices/" in r["path"] or "/creditnotes/" in r["path"]]


def test_a_detail_that_vanished_is_skipped_not_fatal(sandbox, tap_config, sandbox_requests):
    tap = TapDinero(config=tap_config)
    stream = tap.streams["invoices"]
    context = {"organization_id": ORG}
    gone = "00000000-0000-4000-8000-000000000000"
    assert stream.read_detail(context, gone) is None  # the sandbox answers 404
    live = next(i for i in sandbox.dump(ORG, "invoices") if not i["DeletedAt"])
    assert stream.read_detail(context, live["Guid"])["ProductLines"] == live["ProductLines"]
    assert [r["status"] for r in sandbox_requests() if r["path"].startswith("/v")] == [404, 200]


def test_include_deleted_false_skips_the_deletion_pass(sandbox, tap_config, sandbox_requests):
    result = run_tap({**tap_config, "include_deleted": False}, streams=["contacts"])
    assert result.error is None, result.error
    assert result.stream("contacts")
    assert all(c["DeletedAt"] is None and c["_sdc_deleted_at"] is None for c in result.stream("contacts"))
    assert all("deletedOnly" not in r["params"] for r in sandbox_requests())
