"""Invoice and sales credit note writes: create (draft; a client-chosen ``Guid`` is honoured), update
with Timestamp (``PUT /v1.2/...``), delete (drafts), book (assigns ``Number``, creates entries).

Uncertain fact (REFERENCE.md §7.5): a second ``POST`` with a ``Guid`` that already exists is refused
(never a duplicate); how is switchable (``dinero_sandbox/behaviours.py``, ``guid_taken``): 400 code 42
naming ``Guid`` (default), 400 code 45 with a general message, 409, or a 500.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response

from . import models
from . import validate as v
from .amounts import invoice_line, invoice_totals, public_lines, r2
from .api_common import find_row, get_ci, json_body, org_data
from .behaviours import guid_taken_error
from .constants import DRAFT_NUMBER
from .errors import DineroError, json_response
from .mutations import bump
from .orgdata import OrgData
from .timeutil import now_str
from .write_common import body_or_empty, check_timestamp, ok_empty, refuse_deleted

bp = Blueprint("api_write_sales", __name__)

RATES_TO_DKK = {"DKK": 1.0, "EUR": 7.46, "USD": 6.9, "GBP": 8.6, "SEK": 0.65, "NOK": 0.63}
KINDS = {
    "invoices": ("Invoice", "Faktura", models.INVOICE_DETAIL_FIELDS),
    "creditnotes": ("CreditNote", "Kreditnota", models.CREDITNOTE_DETAIL_FIELDS),
}


def _lines(org: OrgData, body: dict[str, Any], errors: v.Errors, show_incl: bool) -> list[dict[str, Any]]:
    raw = get_ci(body, "ProductLines")
    if not isinstance(raw, list) or not raw:
        errors.add("ProductLines", "At least one product line is required.")
        return []
    products = org.table("products")
    out = []
    for k, line in enumerate(raw):
        prefix = f"ProductLines[{k}]."
        if not isinstance(line, dict):
            errors.add(f"ProductLines[{k}]", "A product line must be an object.")
            continue
        before = len(errors.items)
        line_type = v.choice(line, "LineType", ("Product", "Text"), errors, prefix=prefix, default="Product")
        product_guid = v.guid(line, "ProductGuid", errors, prefix=prefix)
        product = None
        if product_guid:
            row = products.find(product_guid)
            if row is None or products.cols["DeletedAt"][row] is not None:
                errors.add(prefix + "ProductGuid", f"Product {product_guid} does not exist.")
            else:
                product = products.get(row)
        acc = v.account(org, line, "AccountNumber", errors, prefix=prefix, req=True)
        base = v.number(line, "BaseAmountValue", errors, prefix=prefix, req=True)
        # The spec requires Discount, but real Dinero takes lines without it: eikster-dk/dinero-go sends
        # `discount,omitempty` (so never a zero discount) and its TestSaveInvoice_integration creates an
        # invoice that way against Dinero (invoices/invoices.go, invoices/save_test.go). Missing means 0.
        discount = v.number(line, "Discount", errors, prefix=prefix, lo=0, hi=100)
        qty = v.number(line, "Quantity", errors, prefix=prefix, req=True)
        unit = v.choice(line, "Unit", v.UNITS, errors, prefix=prefix)
        if line_type == "Product" and get_ci(line, "Unit") is None:
            errors.add(prefix + "Unit", "The Unit field is required for product lines.")
        desc = v.text(line, "Description", errors, prefix=prefix, max_len=2000)
        if not product_guid and not desc:
            errors.add(
                prefix + "Description", "The Description field is required when no ProductGuid is given."
            )
        comments = v.text(line, "Comments", errors, prefix=prefix, max_len=2000)
        if len(errors.items) > before:
            continue
        account = org.account(acc)
        out.append(
            invoice_line(
                base=base or 0.0,
                quantity=qty or 0.0,
                discount=discount or 0.0,
                account=acc or 0,
                account_name=account["Name"] if account else None,
                vat_code=account.get("VatCode") if account else None,
                unit=unit,
                description=desc or (product["Name"] if product else ""),
                product_guid=product_guid,
                comments=comments,
                line_type=line_type or "Product",
                show_incl_vat=show_incl,
            )
        )
    return out


def _document(org: OrgData, body: dict[str, Any], kind: str) -> dict[str, Any]:
    """Validated scalar fields and nested lines of an invoice/credit note create or update body."""
    errors = v.Errors()
    show_incl = bool(v.boolean(body, "ShowLinesInclVat", errors, default=False))
    lines = _lines(org, body, errors, show_incl)
    contact_guid = v.guid(body, "ContactGuid", errors)
    contact = None
    if contact_guid:
        contacts = org.table("contacts")
        row = contacts.find(contact_guid)
        if row is None or contacts.cols["DeletedAt"][row] is not None:
            errors.add("ContactGuid", f"Contact {contact_guid} does not exist.")
        else:
            contact = contacts.get(row)
    currency = (v.text(body, "Currency", errors, max_len=3) or "DKK").upper()
    if currency not in RATES_TO_DKK:
        errors.add("Currency", f"Currency {currency!r} is not supported.")
    language = v.choice(body, "Language", v.LANGUAGES, errors, default="da-DK")
    day = v.date_field(body, "Date", errors) or date.today().isoformat()
    condition = v.choice(body, "PaymentConditionType", v.PAYMENT_CONDITIONS, errors)
    days = v.integer(body, "PaymentConditionNumberOfDays", errors)
    if condition in ("NettoCash", "Paid") and days is not None:
        errors.add("PaymentConditionNumberOfDays", f"Must be empty with PaymentConditionType {condition}.")
    fields: dict[str, Any] = {
        "ExternalReference": v.text(body, "ExternalReference", errors, max_len=128),
        "Description": v.text(body, "Description", errors, max_len=255),
        "Comment": v.text(body, "Comment", errors, max_len=5000),
        "Address": v.text(body, "Address", errors, max_len=1000),
        "InvoiceTemplateId": v.guid(body, "InvoiceTemplateId", errors),
        "IsMobilePayInvoiceEnabled": bool(
            v.boolean(body, "IsMobilePayInvoiceEnabled", errors, default=False)
        ),
        "IsPensoPayEnabled": bool(v.boolean(body, "IsPensoPayEnabled", errors, default=False)),
    }
    v.number(body, "ReminderFee", errors, lo=0, hi=100)
    credit_for = None
    if kind == "creditnotes":
        credit_for = v.guid(body, "CreditNoteFor", errors)
        if credit_for and org.table("invoices").find(credit_for) is None:
            errors.add("CreditNoteFor", f"Invoice {credit_for} does not exist.")
    errors.raise_if_any()
    if condition is None:
        condition = (contact or {}).get("PaymentConditionType") or "Netto"
        if days is None and condition not in ("NettoCash", "Paid"):
            days = (contact or {}).get("PaymentConditionNumberOfDays")
            days = 8 if days is None else days
    totals = invoice_totals(lines, currency)
    rate = RATES_TO_DKK[currency]
    english = language == "en-GB"
    label = KINDS[kind][0] if english else KINDS[kind][1]
    payment_date = None
    if kind == "invoices":
        payment_date = (date.fromisoformat(day) + timedelta(days=days or 0)).isoformat()
    fields.update(
        {
            "ContactGuid": contact_guid,
            "ContactName": contact["Name"] if contact else None,
            "Currency": currency,
            "Language": language,
            "Date": day,
            "ShowLinesInclVat": show_incl,
            "PaymentConditionType": condition,
            "PaymentConditionNumberOfDays": days or 0,
            "PaymentDate": payment_date,
            "TotalExclVat": totals["TotalExclVat"],
            "TotalVatableAmount": totals["TotalVatableAmount"],
            "TotalInclVat": totals["TotalInclVat"],
            "TotalNonVatableAmount": totals["TotalNonVatableAmount"],
            "TotalVat": totals["TotalVat"],
            "TotalExclVatInDkk": r2(totals["TotalExclVat"] * rate),
            "TotalInclVatInDkk": r2(totals["TotalInclVat"] * rate),
            "ProductLines": public_lines(lines),
            "TotalLines": totals["TotalLines"],
        }
    )
    if fields["Description"] is None:
        fields["Description"] = label
    if fields["Address"] is None and contact:
        fields["Address"] = (
            f"{contact.get('Street') or ''}\n{contact.get('ZipCode') or ''} {contact.get('City') or ''}"
        )
    if kind == "creditnotes":
        fields["CreditNoteFor"] = credit_for
    return fields


def _create(kind: str) -> Response:
    org = org_data()
    body = json_body()
    errors = v.Errors()
    chosen = v.guid(body, "Guid", errors)
    errors.raise_if_any()
    fields = _document(org, body, kind)
    guid = chosen or str(uuid.uuid4())
    if org.table("invoices").find(guid) is not None or org.table("creditnotes").find(guid) is not None:
        raise guid_taken_error("Guid", guid)  # answer shape: behaviours.guid_taken
    now = now_str()
    record = {
        "Guid": guid,
        "CreatedAt": now,
        "UpdatedAt": now,
        "DeletedAt": None,
        "Number": DRAFT_NUMBER,
        "Status": "Draft",
        "PaymentStatus": "Draft",
        "MailOutStatus": "NotSent",
        "LatestMailOutType": "None",
        "IsSentToDebtCollection": False,
        "FikCode": None,
        "DepositAccountNumber": None,
        "TimeStamp": org.next_timestamp(),
        "Type": KINDS[kind][0],
        "_BookedAt": None,
        **fields,
    }
    org.table(kind).add(record)
    org.touch()
    return json_response({"Guid": guid, "TimeStamp": record["TimeStamp"]})


def _update(kind: str, guid: str) -> Response:
    org = org_data()
    table = org.table(kind)
    row = find_row(table, guid)
    body = json_body()
    errors = v.Errors()
    given = v.timestamp(body, errors)
    errors.raise_if_any()
    refuse_deleted(table, row, "Guid")
    check_timestamp(table, row, given, "TimeStamp")
    if table.cols["Status"][row] != "Draft":
        raise DineroError(400, 45, "Invalid request", {"message": "A booked document cannot be updated."})
    bump(org, table, row, _document(org, body, kind))
    return json_response({"Guid": table.cols["Guid"][row], "TimeStamp": table.cols["TimeStamp"][row]})


def _delete(kind: str, guid: str) -> Response:
    org = org_data()
    table = org.table(kind)
    row = find_row(table, guid)
    refuse_deleted(table, row, "Guid")
    given = get_ci(body_or_empty(), "Timestamp")
    if given is not None:
        check_timestamp(table, row, str(given), "TimeStamp")
    if table.cols["Status"][row] != "Draft":
        raise DineroError(
            400, 45, "Invalid request", {"message": "A booked document cannot be deleted; credit it instead."}
        )
    now = now_str()
    bump(org, table, row, {"DeletedAt": now}, when=now)
    table.update(row, {"DeletedAt": table.cols["UpdatedAt"][row]})
    return ok_empty()


def ensure_year(org: OrgData, day: str, field: str) -> None:
    """The accounting year of ``day`` must exist; booking in the year after the last one creates it."""
    if org.year_of(day) is not None:
        return
    last = org.accounting_years[-1]
    if day > last["ToDate"] and int(day[:4]) == int(last["Name"]) + 1:
        year = day[:4]
        org.accounting_years.append(
            {
                "Name": year,
                "FromDate": f"{year}-01-01",
                "ToDate": f"{year}-12-31",
                "SalarySumTaxStateEnum": "None",
            }
        )
        return
    raise DineroError(400, 47, "Accounting year not found", {field: f"No accounting year covers {day}."})


def _book(kind: str, guid: str) -> Response:
    org = org_data()
    table = org.table(kind)
    row = find_row(table, guid)
    body = json_body()
    errors = v.Errors()
    given = v.timestamp(body, errors)
    number = v.integer(body, "Number", errors)
    errors.raise_if_any()
    refuse_deleted(table, row, "Guid")
    check_timestamp(table, row, given, "TimeStamp")
    if table.cols["Status"][row] != "Draft":
        raise DineroError(400, 45, "Invalid request", {"message": "The document is already booked."})
    if not table.cols["ContactGuid"][row]:
        raise DineroError(400, 42, "Validation Error", {"ContactGuid": "A contact is required for booking."})
    ensure_year(org, table.cols["Date"][row], "Date")
    series = "invoice" if kind == "invoices" else "creditnote"
    if number is not None:
        taken = any(
            n == number and s != "Draft"
            for n, s in zip(table.cols["Number"], table.cols["Status"], strict=True)
        )
        if taken or number <= 0:
            raise DineroError(
                400, 42, "Validation Error", {"Number": f"The number {number} is already taken."}
            )
        org.counters[series] = max(org.counters[series], number)
    else:
        number = org.next_number(series)
    now = now_str()
    bump(
        org,
        table,
        row,
        {"Number": number, "Status": "Booked", "PaymentStatus": "Booked", "_BookedAt": now},
        when=now,
    )
    table.update(row, {"_BookedAt": table.cols["UpdatedAt"][row]})
    record = table.get(row, list(KINDS[kind][2]))
    if kind == "creditnotes":
        record = as_invoice_read_model(record)
    return json_response(record)


#: ``InvoiceReadModel`` fields a credit note has no value for, with the value a credit note implies.
_INVOICE_ONLY_DEFAULTS = {
    "IsMobilePayInvoiceEnabled": False,
    "IsPensoPayEnabled": False,
    "IsSentToDebtCollection": False,
    "PaymentConditionNumberOfDays": 0,
}


def as_invoice_read_model(record: dict[str, Any]) -> dict[str, Any]:
    """A booked credit note in the shape the spec gives the book answer: ``InvoiceReadModel`` (REFERENCE.md
    §3: ``POST .../creditnotes/{guid}/book`` -> ``InvoiceReadModel``, as the public clients read it) -- the
    invoice fields it shares, the invoice-only ones at their credit-note values, no ``CreditNoteFor``."""
    out = {name: record.get(name) for name in models.INVOICE_DETAIL_FIELDS}
    for name, default in _INVOICE_ONLY_DEFAULTS.items():
        if out.get(name) is None:
            out[name] = default
    return out


@bp.post("/v1/<org>/invoices")
def invoice_create() -> Response:
    """Create a draft invoice -> ``{Guid, TimeStamp}``."""
    return _create("invoices")


@bp.put("/v1.2/<org>/invoices/<guid>")
def invoice_update(guid: str) -> Response:
    """Replace a draft invoice (Timestamp required) -> ``{Guid, TimeStamp}``."""
    return _update("invoices", guid)


@bp.delete("/v1/<org>/invoices/<guid>")
def invoice_delete(guid: str) -> Response:
    """Delete a draft invoice (optional Timestamp)."""
    return _delete("invoices", guid)


@bp.post("/v1/<org>/invoices/<guid>/book")
def invoice_book(guid: str) -> Response:
    """Book a draft invoice -> the InvoiceReadModel."""
    return _book("invoices", guid)


@bp.post("/v1/<org>/sales/creditnotes")
def creditnote_create() -> Response:
    """Create a draft credit note."""
    return _create("creditnotes")


@bp.put("/v1.2/<org>/sales/creditnotes/<guid>")
def creditnote_update(guid: str) -> Response:
    """Replace a draft credit note."""
    return _update("creditnotes", guid)


@bp.delete("/v1/<org>/sales/creditnotes/<guid>")
def creditnote_delete(guid: str) -> Response:
    """Delete a draft credit note."""
    return _delete("creditnotes", guid)


@bp.post("/v1/<org>/sales/creditnotes/<guid>/book")
def creditnote_book(guid: str) -> Response:
    """Book a credit note."""
    return _book("creditnotes", guid)
