"""Read endpoints of the Dinero API (REFERENCE.md §2): organizations, reference data, paged lists,
detail GETs, entries and files."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, request

from . import chart, ledger, models
from .api_common import find_row, org_data, state
from .behaviours import check_deleted_detail, count_before_filters, upload_dates_swapped
from .constants import DEFAULT_FILES_PAGE_SIZE, MAX_ENTRY_CHANGES_DAYS
from .errors import DineroError, json_response
from .listing import arg, envelope, parse_bool, parse_fields, parse_paging, parse_query_filter, parse_since
from .queries import OFFER_SORTS, SALES_SORTS, Query, parse_sales_extras, select
from .timeutil import fmt_dt, parse_date, parse_date_or_datetime

bp = Blueprint("api_read", __name__)

FAKE_PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


# -- organizations and reference data -------------------------------------------------------------------
@bp.get("/v1/organizations")
def organizations() -> Response:
    """Bare array of the organizations the token reaches."""
    from flask import g

    spec = models.LIST_SPECS["organizations"]
    projection = parse_fields(arg(request.args, "fields"), spec)
    orgs = state().orgs
    visible = [o for oid, o in sorted(orgs.items()) if g.token.org in (None, oid)]
    return json_response([projection.apply(o.info) for o in visible])


@bp.get("/v1.1/organizations")
def organizations_v11() -> Response:
    """``OrganizationReadModelV2[]``: the v1 fields without Type/IsPro/IsPayingPro (not in the v2 model),
    plus company type, role and subscription flags."""
    from flask import g

    out = []
    for oid, o in sorted(state().orgs.items()):
        if g.token.org in (None, oid):
            out.append(
                {
                    **{k: v for k, v in o.info.items() if k not in ("Type", "IsPro", "IsPayingPro")},
                    "CompanyTypeKey": "PrivateLimitedCompany",
                    "RoleKey": "Owner",
                    "Subscription": {
                        "HasPro": True,
                        "HasPayingPro": True,
                        "HasStarterPlus": False,
                        "HasTotal": False,
                        "HasYfs": False,
                    },
                }
            )
    return json_response(out)


@bp.get("/v1/<org>/accountingyears")
def accounting_years() -> Response:
    """Bare array of accounting years."""
    return json_response([dict(y) for y in org_data().accounting_years])


@bp.get("/v1/<org>/vattypes")
def vat_types() -> Response:
    """Bare array of VAT types."""
    return json_response([{"VatCode": v.code, "Name": v.name, "VatRate": v.rate} for v in chart.VAT_TYPES])


@bp.get("/v1/<org>/accounts/<kind>")
def accounts(kind: str) -> Response:
    """Bare arrays of entry, purchase (2000-9399) or deposit accounts."""
    if kind not in ("entry", "purchase", "deposit"):
        from .errors import NotFound

        raise NotFound()
    spec = models.LIST_SPECS[f"accounts/{kind}"]
    projection = parse_fields(arg(request.args, "fields"), spec)
    table = org_data().table("accounts")
    category = arg(request.args, "categoryFilter") if kind == "entry" else None
    out = []
    for row in table.rows():
        number = table.cols["AccountNumber"][row]
        if kind == "deposit" and not table.cols["_IsDeposit"][row]:
            continue
        if kind == "purchase" and not 2000 <= number <= 9399:
            continue
        if category and (table.cols["Category"][row] or "").lower() != category.lower():
            continue
        out.append(projection.apply(table.get(row, projection.canonical_fields)))
    return json_response(out)


# -- paged lists -----------------------------------------------------------------------------------------
def _paged(
    table_names: list[str],
    spec_name: str,
    default_order: str,
    *,
    sales: bool = False,
    offers: bool = False,
    deleted_default: bool | None = False,
) -> Response:
    spec = models.LIST_SPECS[spec_name]
    args = request.args
    projection = parse_fields(arg(args, "fields"), spec)
    page, size = parse_paging(args)
    conditions = tuple(parse_query_filter(arg(args, "queryFilter") or "", spec))
    extras: dict[str, Any] = {}
    if sales:
        extras = parse_sales_extras(args, SALES_SORTS, ("VoucherNumber", "VoucherDate"), with_dates=True)
    elif offers:
        extras = parse_sales_extras(args, OFFER_SORTS, ("TradeOfferNumber",), with_dates=False)
    query = Query(
        deleted_only=parse_bool(args, "deletedOnly", deleted_default),
        since=parse_since(args),
        conditions=conditions,
        free_text=arg(args, "freeTextSearch") or None,
        **extras,
    )
    org = org_data()
    tables = [org.table(n) for n in table_names]
    refs = select(tables, query, spec.field_map, spec.free_text, default_order)
    columns = [spec.field_map.get(f, f) for f in projection.canonical_fields]
    rows = []
    for table, row in refs[page * size : (page + 1) * size]:
        values = table.get(row, columns)
        rows.append({out: values[spec.field_map.get(c, c)] for out, c in projection.pairs})
    total = len(refs)
    if count_before_filters():  # behaviours.result_without_filter: the list's rows before any filter
        everything = Query(deleted_only=deleted_default, since=None, conditions=())
        total = len(select(tables, everything, spec.field_map, (), default_order))
    return json_response(envelope(rows, page, size, total))


@bp.get("/v1/<org>/contacts")
def contacts_list() -> Response:
    """Contacts, ordered by UpdatedAt (deleted ones only with deletedOnly=true)."""
    return _paged(["contacts"], "contacts", "UpdatedAt")


@bp.get("/v2/<org>/contacts")
def contacts_list_v2() -> Response:
    """Contacts v2: without deletedOnly, deleted and live contacts together."""
    return _paged(["contacts"], "contacts", "UpdatedAt", deleted_default=None)


@bp.get("/v1/<org>/products")
def products_list() -> Response:
    """Products, ordered by UpdatedAt."""
    return _paged(["products"], "products", "UpdatedAt")


@bp.get("/v1/<org>/invoices")
def invoices_list() -> Response:
    """Invoices (deleted ones only with deletedOnly=true)."""
    return _paged(["invoices"], "invoices", "Number", sales=True)


@bp.get("/v1/<org>/sales")
def sales_list() -> Response:
    """Invoices and credit notes together (``Type``)."""
    return _paged(["invoices", "creditnotes"], "sales", "Number", sales=True)


@bp.get("/v1/<org>/sales/creditnotes")
def creditnotes_list() -> Response:
    """Sales credit notes."""
    return _paged(["creditnotes"], "creditnotes", "Number", sales=True)


@bp.get("/v1/<org>/tradeoffers")
def tradeoffers_list() -> Response:
    """Trade offers."""
    return _paged(["tradeoffers"], "tradeoffers", "Number", offers=True)


# -- details ---------------------------------------------------------------------------------------------
_WHAT = {
    "contacts": "contact",
    "products": "product",
    "invoices": "invoice",
    "creditnotes": "credit note",
    "tradeoffers": "trade offer",
    "manual_vouchers": "voucher",
    "purchase_vouchers": "voucher",
}


def _detail(table_name: str, guid: str, fields: tuple[str, ...] | None) -> dict[str, Any]:
    table = org_data().table(table_name)
    row = find_row(table, guid)
    deleted_at = table.cols["DeletedAt"][row] if "DeletedAt" in table.cols else None
    check_deleted_detail(deleted_at, _WHAT[table_name])
    # "ok": the read model as it is -- with its DeletedAt where it has one; the manual and purchase voucher
    # read models have none (``additionalProperties: false`` in the spec), so none is invented for them.
    return table.get(row, list(fields) if fields else None)


@bp.get("/v1/<org>/contacts/<guid>")
def contact_get(guid: str) -> Response:
    """One contact."""
    return json_response(_detail("contacts", guid, models.CONTACT_FIELDS))


@bp.get("/v1/<org>/products/<guid>")
def product_get(guid: str) -> Response:
    """One product."""
    return json_response(_detail("products", guid, models.PRODUCT_FIELDS))


def _pdf_or_json(table_name: str, guid: str, fields: tuple[str, ...]) -> Response:
    record = _detail(table_name, guid, fields)
    if "application/octet-stream" in (request.headers.get("Accept") or ""):
        if record.get("Status") == "Draft":
            raise DineroError(
                400, 45, "Invalid request", {"guid": "Only booked documents can be downloaded as PDF"}
            )
        return Response(FAKE_PDF, mimetype="application/octet-stream")
    return json_response(record)


@bp.get("/v1/<org>/invoices/<guid>")
def invoice_get(guid: str) -> Response:
    """One invoice with ProductLines, TotalLines and TimeStamp (or its PDF)."""
    return _pdf_or_json("invoices", guid, models.INVOICE_DETAIL_FIELDS)


@bp.get("/v1/<org>/sales/creditnotes/<guid>")
def creditnote_get(guid: str) -> Response:
    """One credit note."""
    return _pdf_or_json("creditnotes", guid, models.CREDITNOTE_DETAIL_FIELDS)


@bp.get("/v1/<org>/tradeoffers/<guid>")
def tradeoffer_get(guid: str) -> Response:
    """One trade offer."""
    return _pdf_or_json("tradeoffers", guid, models.TRADEOFFER_DETAIL_FIELDS)


@bp.get("/v1/<org>/vouchers/manuel/<guid>")
def manual_voucher_get(guid: str) -> Response:
    """One manual voucher (with ``Timestamp``)."""
    return json_response(_detail("manual_vouchers", guid, models.MANUAL_VOUCHER_DETAIL_FIELDS))


@bp.get("/v1/<org>/vouchers/purchase/<guid>")
def purchase_voucher_get(guid: str) -> Response:
    """One purchase voucher (with ``Timestamp``)."""
    return json_response(_detail("purchase_vouchers", guid, models.PURCHASE_VOUCHER_DETAIL_FIELDS))


# -- entries ---------------------------------------------------------------------------------------------
def _stream_json_array(items: Iterator[dict[str, Any]]) -> Response:
    def generate() -> Iterator[str]:
        yield "["
        first = True
        buffer = []
        for item in items:
            buffer.append(("" if first else ",") + json.dumps(item, ensure_ascii=False))
            first = False
            if len(buffer) >= 500:
                yield "".join(buffer)
                buffer = []
        if buffer:
            yield "".join(buffer)
        yield "]"

    return Response(generate(), mimetype="application/json")


def _locked_entries(
    org: Any, sources: list[ledger.Source], head: list[dict[str, Any]], tail: list[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    lock = state().lock  # resolved now: the generator runs after the request context is gone
    return _entries_chunks(lock, org, sources, head, tail)


def _entries_chunks(
    lock: Any, org: Any, sources: list[ledger.Source], head: list[dict[str, Any]], tail: list[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    yield from head
    for start in range(0, len(sources), 200):
        with lock:
            chunk = [e for s in sources[start : start + 200] for e in ledger.entries_of(org, s)]
        yield from chunk
    yield from tail


@bp.get("/v1/<org>/entries")
def entries() -> Response:
    """Bare array of booked entries in [fromDate, toDate] (one accounting year; primo by default)."""
    org = org_data()
    args = request.args
    start = parse_date_or_datetime(arg(args, "fromDate") or "")
    end = parse_date_or_datetime(arg(args, "toDate") or "")
    if start is None or end is None:
        raise DineroError(
            400,
            45,
            "Invalid request",
            {"fromDate": "fromDate and toDate are required (YYYY-MM-DD or date-time)"},
        )
    if end < start:
        raise DineroError(400, 45, "Invalid request", {"toDate": "toDate is before fromDate"})
    from_day, to_day = start.date().isoformat(), end.date().isoformat()
    year_from, year_to = org.year_of(from_day), org.year_of(to_day)
    if year_from is None or year_to is None:
        raise DineroError(
            400, 47, "Accounting year not found", {"fromDate": "No accounting year covers the period"}
        )
    if year_from is not year_to:
        raise DineroError(
            400, 45, "Invalid request", {"fromDate": "The period cannot cross accounting years"}
        )
    include_primo = parse_bool(args, "includePrimo", True)
    primo = (
        ledger.primo_entries(org, year_from) if include_primo and from_day <= year_from["FromDate"] else []
    )
    sources = ledger.booked_sources(org, from_day, to_day)
    tail = ledger.extra_entries(org, from_day, to_day)
    return _stream_json_array(_locked_entries(org, sources, primo, tail))


@bp.get("/v1/<org>/entries/changes")
def entries_changes() -> Response:
    """Bare array of entries changed in [changesFrom, changesTo] (at most 31 days)."""
    org = org_data()
    args = request.args
    start = parse_date_or_datetime(arg(args, "changesFrom") or "")
    end = parse_date_or_datetime(arg(args, "changesTo") or "")
    if start is None or end is None:
        raise DineroError(
            400, 45, "Invalid request", {"changesFrom": "changesFrom and changesTo are required (date-time)"}
        )
    if end < start:
        raise DineroError(400, 45, "Invalid request", {"changesTo": "changesTo is before changesFrom"})
    if end - start > timedelta(days=MAX_ENTRY_CHANGES_DAYS):
        raise DineroError(
            400,
            45,
            "Invalid request",
            {"changesTo": f"The window may span at most {MAX_ENTRY_CHANGES_DAYS} days"},
        )
    since, until = fmt_dt(start), fmt_dt(end)
    sources = ledger.changed_sources(org, since, until)
    tail = ledger.extra_entries(org, since=since, until=until)
    primo: list[dict[str, Any]] = []
    if parse_bool(args, "includePrimo", True):
        changed_days = [ledger.voucher_date(org, s) for s in sources] + [e["Date"] for e in tail]
        for year in org.accounting_years[1:]:
            if any(day < year["FromDate"] for day in changed_days):
                primo.extend(ledger.primo_entries(org, year))
    return _stream_json_array(_locked_entries(org, sources, primo, tail))


# -- files -----------------------------------------------------------------------------------------------
@bp.get("/v1/<org>/files")
def files_list() -> Response:
    """Bare array of visible files (attached, or uploaded through Dinero's web archive), paged."""
    args = request.args
    spec = models.LIST_SPECS["files"]
    projection = parse_fields(arg(args, "fields"), spec)
    page, size = parse_paging(args, DEFAULT_FILES_PAGE_SIZE)
    status = (arg(args, "fileStatus") or "All").lower()
    if status not in ("all", "used", "unused"):
        raise DineroError(400, 44, "Invalid format", {"fileStatus": "All, Used or Unused"})
    extensions = {
        e.strip().lower().lstrip(".") for e in (arg(args, "extensions") or "").split(",") if e.strip()
    }
    after = _slash_date(args, "uploadedAfter")
    before = _slash_date(args, "uploadedBefore")
    if upload_dates_swapped():
        after, before = before, after
    table = org_data().table("files")
    out = []
    for row in table.rows():
        linked = table.value(row, "Linked") or []
        if not (linked or table.cols["_Visible"][row]):
            continue
        if (status == "used" and not linked) or (status == "unused" and linked):
            continue
        ext = (table.cols["Extension"][row] or "").lower().lstrip(".")
        if extensions and ext not in extensions:
            continue
        uploaded = table.cols["UploadedAt"][row][:10]
        if (after and uploaded < after) or (before and uploaded > before):
            continue
        out.append(row)
    out.sort(key=lambda r: (table.cols["UploadedAt"][r], r))
    rows = [
        projection.apply(table.get(r, projection.canonical_fields))
        for r in out[page * size : (page + 1) * size]
    ]
    return json_response(rows)


def _slash_date(args: Any, name: str) -> str | None:
    """A ``yyyy/MM/dd`` day (the spec's format for these two parameters only) as ``YYYY-MM-DD``; any other
    spelling -- ``2026-11-02`` included -- is refused, so a client sending the wrong one is told."""
    raw = arg(args, name)
    if not raw:
        return None
    day = parse_date(raw.replace("/", "-")) if _SLASH_DATE.match(raw) else None
    if day is None:
        raise DineroError(400, 44, "Invalid format", {name: f"{raw!r}: use yyyy/MM/dd"})
    return day.isoformat()


_SLASH_DATE = re.compile(r"^\d{4}/\d{2}/\d{2}$")


@bp.get("/v1/<org>/files/<guid>")
def file_download(guid: str) -> Response:
    """The bytes of a file."""
    org = org_data()
    table = org.table("files")
    row = find_row(table, guid)
    data = org.file_bytes.get(table.cols["FileGuid"][row].lower()) or FAKE_PDF
    return Response(data, mimetype="application/octet-stream")
