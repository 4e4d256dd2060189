"""Purchase credit notes (spec tag ``PurchaseCreditNote``): create (draft; client-chosen ``Guid`` honoured,
an existing one -> 400 code 42), read, update (Timestamp), delete, book. Booking writes the reverse of a
credit purchase: the expense accounts and purchase VAT are credited, creditors (63000) debited
(``VoucherType: PurchaseCreditNote``), numbered in the voucher series (``CreditNoteNumber``); a purchase
voucher it is ``CreditNoteFor`` has its remaining amount lowered (status Paid when fully credited).
Deleting a booked one offsets its entries. ``generate-creditnote`` on a purchase voucher creates one."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from flask import Response

from .. import chart
from .. import validate as v
from ..api_common import get_ci, json_body, org_data
from ..errors import DineroError, json_response
from ..mutations import bump
from ..orgdata import OrgData
from ..store import Table
from ..timeutil import now_str
from ..vouchers import purchase_read_line, purchase_totals
from ..write_common import client_label, refuse_deleted
from ..writes_sales import ensure_year
from ..writes_vouchers import link_file
from . import payments
from .common import blueprint, body_timestamp, check_given, ok, post_entries, reverse_entries, row_of

bp = blueprint("purchase_credit_notes")
READ_FIELDS = (
    "Guid",
    "CreditNoteFor",
    "FileGuid",
    "CreditNoteNumber",
    "ContactGuid",
    "Date",
    "Currency",
    "Lines",
    "Timestamp",
    "Status",
    "BookedByType",
    "BookedByUsername",
    "BookingTime",
    "Totals",
)


def lines_of(org: OrgData, raw: Any, errors: v.Errors) -> list[dict[str, Any]]:
    """``PurchaseVoucherLineCreateModel[]`` -> read lines (Amount is the VAT-inclusive gross)."""
    if not isinstance(raw, list) or not raw:
        errors.add("Lines", "At least one line is required.")
        return []
    out = []
    for k, line in enumerate(raw):
        prefix = f"Lines[{k}]."
        if not isinstance(line, dict):
            errors.add(f"Lines[{k}]", "A line must be an object.")
            continue
        before = len(errors.items)
        amount = v.number(line, "Amount", errors, prefix=prefix, req=True)
        acc = v.account(org, line, "AccountNumber", errors, prefix=prefix, req=True)
        vat = v.vat_code(line, "VatCode", errors, prefix=prefix)
        desc = v.text(line, "Description", errors, prefix=prefix, max_len=1000)
        if len(errors.items) == before:
            out.append(
                purchase_read_line(
                    {"Description": desc, "AccountNumber": acc, "Amount": amount, "VatCode": vat}, org.account
                )
            )
    return out


def fields_of(org: OrgData, body: dict[str, Any]) -> dict[str, Any]:
    """Validated fields of a create/update body."""
    errors = v.Errors()
    lines = lines_of(org, get_ci(body, "Lines"), errors)
    credit_for = v.guid(body, "CreditNoteFor", errors)
    if credit_for:
        vouchers = org.table("purchase_vouchers")
        row = vouchers.find(credit_for)
        if row is None or vouchers.cols["DeletedAt"][row] is not None:
            errors.add("CreditNoteFor", f"Purchase voucher {credit_for} does not exist.")
    contact = v.guid(body, "ContactGuid", errors)
    if contact and org.table("contacts").find(contact) is None:
        errors.add("ContactGuid", f"Contact {contact} does not exist.")
    file_guid = v.text(body, "FileGuid", errors, max_len=64)
    if file_guid and org.table("files").find(file_guid) is None:
        errors.add("FileGuid", f"File {file_guid} does not exist.")
    fields = {
        "CreditNoteFor": credit_for,
        "ContactGuid": contact,
        "FileGuid": file_guid,
        "Date": v.date_field(body, "Date", errors) or date.today().isoformat(),
        "Currency": (v.text(body, "Currency", errors, max_len=3) or "DKK").upper(),
    }
    errors.raise_if_any()
    _, _, totals = purchase_totals(lines)
    fields.update(Lines=lines, Totals=totals)
    return fields


def create(org: OrgData, fields: dict[str, Any], guid: str | None = None) -> dict[str, Any]:
    """Store a draft purchase credit note."""
    guid = guid or str(uuid.uuid4())
    table = org.table("purchase_creditnotes")
    if table.find(guid) is not None or org.table("purchase_vouchers").find(guid) is not None:
        raise DineroError(
            400, 42, "Validation Error", {"Guid": f"An object with Guid {guid} already exists."}
        )
    now = now_str()
    record = {
        "Guid": guid,
        "CreditNoteNumber": None,
        "Timestamp": org.next_timestamp(),
        "Status": "Draft",
        "BookedByType": None,
        "BookedByUsername": None,
        "BookingTime": None,
        "CreatedAt": now,
        "UpdatedAt": now,
        "DeletedAt": None,
        "_BookedAt": None,
        **fields,
    }
    table.add(record)
    link_file(org, fields.get("FileGuid"), guid, None)
    org.touch()
    return record


def _out(table: Table, row: int) -> Response:
    """``PurchaseCreditNoteReadModel``; its ``Date`` is ``format: date-time`` in the spec, so the stored day
    is answered as Dinero's offset-less midnight (``2024-11-20T00:00:00``)."""
    record = table.get(row, list(READ_FIELDS))
    day = record.get("Date")
    if isinstance(day, str) and len(day) == 10:
        record["Date"] = f"{day}T00:00:00"
    return json_response(record)


@bp.post("/v1/<org>/vouchers/purchase/creditnotes")
def creditnote_create() -> Response:
    """Create a draft -> ``{Guid, TimeStamp}``."""
    org = org_data()
    body = json_body()
    errors = v.Errors()
    chosen = v.guid(body, "Guid", errors)
    errors.raise_if_any()
    record = create(org, fields_of(org, body), chosen)
    return json_response({"Guid": record["Guid"], "TimeStamp": record["Timestamp"]})


@bp.get("/v1/<org>/vouchers/purchase/creditnotes/<guid>")
def creditnote_get(guid: str) -> Response:
    """``PurchaseCreditNoteReadModel``."""
    table, row = row_of(org_data(), "purchase_creditnotes", guid)
    return _out(table, row)


@bp.put("/v1/<org>/vouchers/purchase/creditnotes/<guid>")
def creditnote_update(guid: str) -> Response:
    """Replace a draft (Timestamp required) -> ``{Guid, TimeStamp}``."""
    org = org_data()
    table, row = row_of(org, "purchase_creditnotes", guid, live=True)
    body = json_body()
    check_given(table, row, body_timestamp(body), required=True)
    if table.cols["Status"][row] != "Draft":
        raise DineroError(400, 45, "Invalid request", {"message": "Only drafts can be updated."})
    fields = fields_of(org, body)
    bump(org, table, row, fields)
    link_file(org, fields.get("FileGuid"), table.cols["Guid"][row], None)
    return json_response({"Guid": table.cols["Guid"][row], "TimeStamp": table.cols["Timestamp"][row]})


@bp.delete("/v1/<org>/vouchers/purchase/creditnotes/<guid>")
def creditnote_delete(guid: str) -> Response:
    """Delete (a booked one gets offsetting entries); bare 200."""
    org = org_data()
    table, row = row_of(org, "purchase_creditnotes", guid, live=True)
    check_given(table, row, body_timestamp(json_body(required=False)), required=False)
    booked = table.cols["_BookedAt"][row] is not None
    if booked:
        reverse_entries(org, table.cols["Guid"][row], f"Kreditnota {table.cols['CreditNoteNumber'][row]}")
    now = now_str()
    bump(org, table, row, {"DeletedAt": now}, when=now)
    if booked:
        _settle_voucher(org, table.cols["CreditNoteFor"][row])
    return ok()


def _settle_voucher(org: OrgData, voucher_guid: str | None) -> None:
    if not voucher_guid:
        return
    vouchers = org.table("purchase_vouchers")
    vrow = vouchers.find(voucher_guid)
    if vrow is None or vouchers.cols["Status"][vrow] == "Draft":
        return
    if (vouchers.cols["PurchaseType"][vrow] or "").lower() == "cash":
        return
    payments.settle(org, "purchase", vrow)


@bp.post("/v1/<org>/vouchers/purchase/creditnotes/<guid>/book")
def creditnote_book(guid: str) -> Response:
    """Book -> the read model (CreditNoteNumber assigned, entries written)."""
    org = org_data()
    table, row = row_of(org, "purchase_creditnotes", guid)
    body = json_body()
    errors = v.Errors()
    given = v.timestamp(body, errors)
    number = v.integer(body, "Number", errors)
    errors.raise_if_any()
    refuse_deleted(table, row, "Guid")
    check_given(table, row, given, required=True)
    if table.cols["Status"][row] != "Draft":
        raise DineroError(400, 45, "Invalid request", {"message": "The credit note is already booked."})
    ensure_year(org, table.cols["Date"][row], "Date")
    if number is None:
        number = org.next_number("voucher")
    elif number <= 0:
        raise DineroError(400, 42, "Validation Error", {"Number": "The number must be positive."})
    lines = table.value(row, "Lines") or []
    postings: list[tuple[int, float, str | None]] = []
    gross = 0.0
    for line in lines:
        postings.append((line["AccountNumber"], -line["AmountExclVatValue"], line.get("VatCode")))
        if line["VatAmountValue"]:
            postings.append((chart.PURCHASE_VAT_ACCOUNT, -line["VatAmountValue"], None))
        gross += line["AmountInclVatValue"]
    postings.append((chart.PAYABLES_ACCOUNT, round(gross, 2), None))
    guid_value = table.cols["Guid"][row]
    post_entries(
        org,
        postings,
        voucher_guid=guid_value,
        date=table.cols["Date"][row],
        vtype="PurchaseCreditNote",
        description=", ".join(x.get("Description") or "" for x in lines) or "Kreditnota (køb)",
        number=number,
        contact=table.cols["ContactGuid"][row],
        file_guid=table.cols["FileGuid"][row],
    )
    now = now_str()
    bump(
        org,
        table,
        row,
        {
            "CreditNoteNumber": number,
            "Status": "Booked",
            "BookedByType": "API",
            "BookedByUsername": client_label(),
            "BookingTime": now,
            "_BookedAt": now,
        },
        when=now,
    )
    link_file(org, table.cols["FileGuid"][row], guid_value, number)
    _settle_voucher(org, table.cols["CreditNoteFor"][row])
    return _out(table, row)
