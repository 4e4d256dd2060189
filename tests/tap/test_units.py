"""Offline unit tests of the tap's building blocks: paging rule, change-filter format, voucher routing,
settings schema and catalog (no server needed)."""

from __future__ import annotations

import datetime as dt
import decimal
import json

import pytest
import requests

from dinero_api.dates import format_change_filter, parse_api_datetime
from tap_dinero.pagination import DineroPaginator, page_records
from tap_dinero.schemas import load_schema, schema_names
from tap_dinero.tap import TapDinero
from tap_dinero.voucher_types import MANUAL, PURCHASE, voucher_kind

CONFIG = {
    "client_id": "dinero-sandbox",
    "client_secret": "s3cret-value",
    "api_key": "key-value-1",
    "organization_id": "100000",
}


def _response(body: object) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = json.dumps(body).encode()
    return response


def _envelope(n: int, total: int | None) -> dict:
    pagination = {"MaxPageSizeAllowed": 1000, "PageSize": 3, "Result": n, "Page": 0}
    if total is not None:
        pagination["ResultWithoutFilter"] = total
    return {"Collection": [{"i": i} for i in range(n)], "Pagination": pagination}


def _pages_requested(page_sizes: list[int], page_size: int, total: int | None, trust: bool = True) -> int:
    paginator = DineroPaginator(page_size, trust_total=trust)
    requested = 0
    for n in page_sizes:
        requested += 1
        paginator.advance(_response(_envelope(n, total)))
        if paginator.finished:
            break
    return requested


def test_short_page_ends_paging():
    assert _pages_requested([3, 3, 1], 3, total=None) == 3


def test_exact_multiple_stops_on_count_without_empty_page():
    assert _pages_requested([3, 3, 0], 3, total=6) == 2


def test_exact_multiple_without_trusted_count_asks_one_more_page():
    assert _pages_requested([3, 3, 0], 3, total=6, trust=False) == 3
    # bare arrays (files) have no count at all
    paginator = DineroPaginator(2)
    paginator.advance(_response([{"a": 1}, {"a": 2}]))
    assert not paginator.finished and paginator.current_value == 1


def test_trusted_count_stops_paging_once_the_rows_read_reach_it():
    # ResultWithoutFilter counts the rows before any filter: once the rows read reach it, nothing is left
    # (so a count smaller than the rows read stops paging too, safely); below it, full pages keep going.
    assert _pages_requested([3, 3, 2], 3, total=4) == 2  # 6 >= 4: stops after the second full page
    assert _pages_requested([3, 3, 2], 3, total=100) == 3


def test_page_records_reads_envelope_bare_array_and_money_as_decimal():
    rows = page_records(_response({"collection": [{"Amount": 1.1}], "pagination": {}}))
    assert rows == [{"Amount": decimal.Decimal("1.1")}]
    assert page_records(_response([{"x": 1}])) == [{"x": 1}]


def test_change_filter_format_is_utc_whole_seconds():
    moment = dt.datetime(2024, 3, 1, 12, 30, 59, 999999, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert format_change_filter(moment) == "2024-03-01T11:30:59Z"
    assert parse_api_datetime("2017-05-19T14:20:47.407") == dt.datetime(
        2017, 5, 19, 14, 20, 47, 407000, tzinfo=dt.timezone.utc
    )
    assert parse_api_datetime("2017-05-19T14:20:47Z").tzinfo is not None
    assert parse_api_datetime("garbage") is None
    # an upper bound rounds up so an inclusive window keeps a change made within its last second
    assert format_change_filter(moment, round_up=True) == "2024-03-01T11:31:00Z"
    exact = dt.datetime(2024, 3, 1, 11, 31, tzinfo=dt.timezone.utc)
    assert format_change_filter(exact, round_up=True) == "2024-03-01T11:31:00Z"


@pytest.mark.parametrize(
    ("voucher_type", "kind"),
    [
        ("ManualVoucher", MANUAL),
        ("Manuel", MANUAL),
        ("Purchases", PURCHASE),
        ("purchase voucher", PURCHASE),
        ("Invoice", None),
        ("CreditNote", None),
        (None, None),
    ],
)
def test_voucher_types_route_to_their_kind(voucher_type, kind):
    assert voucher_kind(voucher_type) == kind


def test_schemas_load_and_mark_money_dates_and_keys():
    assert {"contact", "invoice", "entry", "manual_voucher", "file"} <= set(schema_names())
    invoice = load_schema("invoice")["properties"]
    assert invoice["TotalInclVat"]["type"] == ["number", "null"]  # lists may omit it, old rows lack it
    assert invoice["Date"]["format"] == "date"
    assert invoice["UpdatedAt"]["format"] == "date-time"
    assert "null" in invoice["DeletedAt"]["type"]
    assert invoice["Guid"]["type"] == "string"
    with pytest.raises(KeyError):
        load_schema("nope")


def test_settings_mark_secrets_and_merge_shared_schema():
    properties = TapDinero.config_jsonschema["properties"]
    for name in ("client_secret", "api_key", "refresh_token"):
        assert properties[name].get("secret") is True
    for name in (
        "organization_ids",
        "start_date",
        "page_size",
        "lookback_seconds",
        "include_deleted",
        "include_lines",
        "entries_start_date",
        "entries_window_days",
        "quota_requests",
        "api_url",
    ):
        assert name in properties
    assert properties["page_size"]["maximum"] == 1000
    assert properties["page_size"]["default"] == 1000


def test_catalog_declares_replication_methods_and_keys():
    catalog = {entry["tap_stream_id"]: entry for entry in TapDinero(config=CONFIG).catalog_dict["streams"]}
    incremental = {"contacts", "products", "invoices", "sales_credit_notes", "trade_offers", "entries"}
    for name, entry in catalog.items():
        expected = "INCREMENTAL" if name in incremental else "FULL_TABLE"
        assert entry["replication_method"] == expected, name
        assert entry["key_properties"], name
    assert catalog["contacts"]["replication_key"] == "UpdatedAt"
    assert catalog["invoice_lines"]["key_properties"] == ["organization_id", "InvoiceGuid", "LinePosition"]
    assert "_sdc_deleted_at" in catalog["invoices"]["schema"]["properties"]


def test_include_lines_false_drops_line_streams():
    names = set(TapDinero(config={**CONFIG, "include_lines": False}).streams)
    assert not names & {"invoice_lines", "credit_note_lines", "trade_offer_lines"}
    assert "invoices" in names


def test_organization_ids_override_single_id():
    tap = TapDinero(config={**CONFIG, "organization_ids": ["100001", "100000", "100001"]})
    assert tap.organization_ids == ["100001", "100000"]
    assert tap.streams["contacts"].partitions == [
        {"organization_id": "100001"},
        {"organization_id": "100000"},
    ]
    assert tap.streams["organizations"].partitions is None


def _error_response(status: int, body: dict) -> requests.Response:
    response = _response(body)
    response.status_code = status
    response.url = "http://dinero.test/v1/100000/invoices/abc?fields=x"
    response.request = requests.Request("GET", response.url).prepare()
    return response


def test_client_errors_become_fatal_with_dinero_code_and_message():
    from singer_sdk.exceptions import FatalAPIError

    stream = TapDinero(config=CONFIG).streams["invoices"]
    body = {"code": 43, "message": "Limit Exceeded", "validationErrors": {"pageSize": "max 1000"}}
    with pytest.raises(FatalAPIError, match="code 43") as failure:
        stream.validate_response(_error_response(400, body))
    assert "pageSize: max 1000" in str(failure.value) and "fields=x" not in str(failure.value)


def test_detail_rows_are_cut_to_the_schema():
    stream = TapDinero(config=CONFIG).streams["manual_vouchers"]
    response = _response({"Guid": "g", "TotalInclVat": 1, "TotalExclVat": 1, "SomethingNew": True})
    assert list(stream.parse_response(response)) == [{"Guid": "g", "TotalInclVat": 1, "TotalExclVat": 1}]
