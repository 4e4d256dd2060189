"""Shared machinery of the resource modules: blueprints, GUID lookups across voucher kinds, Timestamps
(code 58 when stale, a new one on every write), ledger entries stored for payments, reminders, purchase
credit notes and ledger items (``OrgData.extra_entries``, which ``/entries``, ``/entries/changes``, primo and
the reports read), and mailouts (every e-mail, SMS, e-invoice and reminder send is recorded, never sent)."""

from __future__ import annotations

import base64
from typing import Any

from flask import Blueprint, Response, request

from .. import ledger
from ..api_common import find_row, get_ci, org_data
from ..errors import DineroError, NotFound, json_response
from ..mutations import bump
from ..orgdata import OrgData
from ..store import Table
from ..timeutil import now_str
from ..write_common import body_or_empty, check_timestamp, refuse_deleted

PREFIX = "api_res_"
FAKE_PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
SALES_TABLES = ("invoices", "creditnotes", "tradeoffers")


def blueprint(name: str) -> Blueprint:
    """A blueprint of the API (authenticated, quota-counted, run under the state lock by app.py)."""
    return Blueprint(PREFIX + name, __name__)


def next_counter(org: OrgData, name: str) -> int:
    """The next value of a per-organization counter (created at 0)."""
    org.counters[name] = org.counters.get(name, 0) + 1
    return org.counters[name]


def next_version(org: OrgData) -> str:
    """A ledger-item ``Version`` (base64 of a rowversion, e.g. ``AAAAAGAAAAE=``, as Dinero's look)."""
    org.counters["rowversion"] += 1
    return base64.b64encode(org.counters["rowversion"].to_bytes(8, "big")).decode()


def row_of(org: OrgData, table_name: str, guid: str, *, live: bool = False) -> tuple[Table, int]:
    """``(table, row)`` of a GUID (HTML 404 when unknown; code 65 when deleted and ``live``)."""
    table = org.table(table_name)
    row = find_row(table, guid)
    if live:
        refuse_deleted(table, row, "Guid")
    return table, row


def find_sales_document(org: OrgData, guid: str) -> tuple[str, Table, int]:
    """An invoice, credit note or trade offer by GUID (HTML 404 when none)."""
    for name in SALES_TABLES:
        table = org.table(name)
        row = table.find(guid)
        if row is not None:
            return name, table, row
    raise NotFound()


def body_timestamp(body: dict[str, Any]) -> str | None:
    """The ``Timestamp`` of a body: a string, or a nested ``TimestampObject`` (``{"Timestamp": {...}}``)."""
    value = get_ci(body, "Timestamp")
    if isinstance(value, dict):
        value = get_ci(value, "Timestamp")
    return value if isinstance(value, str) and value else None


def check_given(table: Table, row: int, given: str | None, *, required: bool) -> None:
    """Refuse a missing (when required) or stale Timestamp (code 58), as every other write does."""
    field = "TimeStamp" if "TimeStamp" in table.cols else "Timestamp"
    if given is None:
        if required:
            raise DineroError(400, 42, "Validation Error", {"Timestamp": "The Timestamp field is required."})
        return  # an optional Timestamp left out: nothing to compare (nor to fault)
    check_timestamp(table, row, given, field)


def current_timestamp(table: Table, row: int) -> str:
    """The row's Timestamp (``TimeStamp`` on sales documents)."""
    field = "TimeStamp" if "TimeStamp" in table.cols else "Timestamp"
    return table.cols[field][row]


def require_booked(table: Table, row: int, what: str = "document") -> None:
    """Code 45 for an operation that needs a booked document."""
    if table.cols["Status"][row] == "Draft":
        raise DineroError(400, 45, "Invalid request", {"message": f"The {what} must be booked first."})


def body_list() -> list[dict[str, Any]]:
    """A JSON array body of objects (code 44 otherwise)."""
    data = request.get_json(silent=True)
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
        raise DineroError(400, 44, "Invalid format", {"body": "The request body must be a JSON array"})
    return data


def optional_body() -> dict[str, Any]:
    """The JSON object body, or {}."""
    return body_or_empty()


def pdf() -> Response:
    """A (tiny, valid) PDF."""
    return Response(FAKE_PDF, mimetype="application/pdf")


def ok() -> Response:
    """Dinero's bare 200."""
    return Response(b"", status=200)


# -- stored entries ----------------------------------------------------------------------------------------
def post_entries(
    org: OrgData,
    postings: list[tuple[int, float, str | None]],
    *,
    voucher_guid: str,
    date: str,
    vtype: str,
    description: str,
    number: Any = None,
    contact: str | None = None,
    file_guid: str | None = None,
    descriptions: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Write balanced postings as ledger entries (refused when they do not sum to zero);
    ``descriptions``: one per posting instead of ``description``."""
    total = round(sum(p[1] for p in postings), 2)
    if abs(total) > 0.005:
        raise DineroError(400, 42, "Validation Error", {"Lines": f"The postings do not balance ({total})."})
    now = now_str()
    start = sum(1 for e in org.extra_entries if e.get("VoucherGuid") == voucher_guid)
    out = []
    for k, (account, amount, vat) in enumerate(postings):
        if not round(amount, 2):
            continue
        entry = ledger._entry(  # same shape and naming as the derived entries
            account,
            amount,
            vat,
            date=date,
            number=number,
            guid=voucher_guid,
            file_guid=file_guid,
            vtype=vtype,
            description=descriptions[k] if descriptions else description,
            contact=contact,
            index=start + k,
            org=org,
        )
        entry["_ChangedAt"] = now
        org.extra_entries.append(entry)
        out.append(entry)
    org.touch()
    return out


def reverse_entries(org: OrgData, voucher_guid: str, description: str) -> int:
    """Offset every stored entry of a voucher (booked entries are never removed), dated today."""
    now = now_str()
    mine = [e for e in org.extra_entries if e.get("VoucherGuid") == voucher_guid]
    net: dict[int, float] = {}
    for e in mine:
        net[e["AccountNumber"]] = net.get(e["AccountNumber"], 0.0) + e["Amount"]
    first = mine[0] if mine else {}
    postings = [(acc, -amount, None) for acc, amount in sorted(net.items()) if round(amount, 2)]
    if postings:
        post_entries(
            org,
            postings,
            voucher_guid=voucher_guid,
            date=now[:10],
            vtype=first.get("VoucherType") or "Payment",
            description=f"Annullering: {description}",
            number=first.get("VoucherNumber"),
            contact=first.get("ContactGuid"),
        )
    return len(postings)


# -- mailouts ----------------------------------------------------------------------------------------------
def record_mailout(
    org: OrgData,
    voucher_guid: str,
    kind: str,
    *,
    sender: str | None,
    receiver: str | None,
    subject: str | None,
    message: str | None,
    cc: bool = False,
    sms: bool = False,
) -> dict[str, Any]:
    """Store one send (never leaves the machine) as a ``VoucherMailoutReadModel``."""
    now = now_str()
    record = {
        "Id": next_counter(org, "mailout"),
        "VoucherGuid": voucher_guid.lower(),
        "Date": now,
        "SeenAt": None,
        "Sender": sender,
        "Receiver": receiver,
        "Subject": subject,
        "Message": message,
        "DownloadCount": 0,
        "PrintCount": 0,
        "Type": kind,
        "Status": "Sent",
        "LatestEvent": "Sent",
        "IsSmsMessage": sms,
        "CCToSender": cc,
        "CreatedAt": now,
        "UpdatedAt": now,
        "DeletedAt": None,
    }
    org.table("mailouts").add(record)
    org.touch()
    return record


def mark_sent(org: OrgData, table: Table, row: int, kind: str) -> None:
    """The document's ``MailOutStatus``/``LatestMailOutType`` after a send (a write: new Timestamp)."""
    bump(org, table, row, {"MailOutStatus": "Sent", "LatestMailOutType": kind})


def mailouts_of(org: OrgData, voucher_guid: str) -> Response:
    """``GET .../mailouts``: the voucher's sends (``changesSince``); SMS too unless ``includeSms=false`` (the
    spec's default is true)."""
    from ..listing import parse_bool, parse_since

    since = parse_since(request.args)
    include_sms = parse_bool(request.args, "includeSms", True)
    table = org.table("mailouts")
    fields = [f for f in table.fields if f not in ("VoucherGuid", "CreatedAt", "UpdatedAt", "DeletedAt")]
    out = []
    for row in table.rows():
        if table.cols["VoucherGuid"][row] != voucher_guid.lower():
            continue
        if table.cols["IsSmsMessage"][row] and not include_sms:
            continue
        if since and table.cols["UpdatedAt"][row] < since:
            continue
        out.append(table.get(row, fields))
    return json_response(out)


def contact_of(org: OrgData, contact_guid: str | None) -> dict[str, Any]:
    """A contact's stored fields ({} when none)."""
    if not contact_guid:
        return {}
    contacts = org.table("contacts")
    row = contacts.find(contact_guid)
    return contacts.get(row) if row is not None else {}


def mail_template(org: OrgData, table: Table, row: int, label: str, *, v2: bool = False) -> dict[str, Any]:
    """A ``MailoutTemplateReadModel`` for a sales document."""
    contact = contact_of(org, table.cols["ContactGuid"][row])
    number = table.cols["Number"][row]
    out = {
        "Sender": org.info.get("Email"),
        "Receiver": contact.get("Email"),
        "Subject": f"{label} {number} fra {org.info['Name']}",
        "Message": f"Hej {contact.get('Name') or ''}\n\nHer er {label.lower()} {number}.\n\n[link-to-pdf]\n\n"
        f"Venlig hilsen\n{org.info['Name']}",
        "AddVoucherAsPdfAttachment": True,
    }
    if v2:
        out = {"SendAsSms": False, "SmsReceiverPhoneNumber": contact.get("Phone"), **out}
    return out


def send_mail(
    org: OrgData, table: Table, row: int, kind: str, label: str, *, booked_only: bool = True
) -> Response:
    """``POST .../email`` of a sales document: checks, mailout, ``{Recipients: [{Email}]}``."""
    body = optional_body()
    check_given(table, row, body_timestamp(body), required=False)
    refuse_deleted(table, row, "Guid")
    if booked_only:
        require_booked(table, row)
    template = mail_template(org, table, row, label)
    receiver = get_ci(body, "Receiver") or template["Receiver"]
    if not receiver:
        raise DineroError(
            400, 42, "Validation Error", {"Receiver": "No receiver given and the contact has no e-mail."}
        )
    cc = bool(get_ci(body, "CcToSender") or False)
    sender = get_ci(body, "Sender") or template["Sender"]
    record_mailout(
        org,
        table.cols["Guid"][row],
        kind,
        sender=sender,
        receiver=receiver,
        subject=get_ci(body, "Subject") or template["Subject"],
        message=get_ci(body, "Message") or template["Message"],
        cc=cc,
    )
    mark_sent(org, table, row, kind)
    recipients = [{"Email": r.strip()} for r in str(receiver).split(",") if r.strip()]
    if cc and sender:
        recipients.append({"Email": sender})
    return json_response({"Recipients": recipients})


def send_electronic(org: OrgData, table: Table, row: int, kind: str) -> Response:
    """``POST /v3/.../e-invoice|e-creditNote``: needs the contact's EAN (or CVR) number; recorded as a
    mailout of ``kind``."""
    body = optional_body()
    check_given(table, row, body_timestamp(body), required=False)
    refuse_deleted(table, row, "Guid")
    require_booked(table, row)
    mean = get_ci(body, "PaymentMeanEnum")
    if mean is not None and str(mean) not in ("Domestic", "International", "FIK"):
        raise DineroError(400, 42, "Validation Error", {"PaymentMeanEnum": "Domestic, International or FIK"})
    contact = contact_of(org, table.cols["ContactGuid"][row])
    receiver = contact.get("EanNumber") or contact.get("VatNumber")
    if not receiver:
        raise DineroError(
            400,
            42,
            "Validation Error",
            {"EanNumber": "The contact needs an EAN or CVR number to receive electronic documents."},
        )
    record_mailout(
        org,
        table.cols["Guid"][row],
        kind,
        sender=org.info.get("VatNumber"),
        receiver=receiver,
        subject=get_ci(body, "OrderReference"),
        message=get_ci(body, "AttPerson"),
    )
    mark_sent(org, table, row, kind)
    return ok()


__all__ = ["DineroError", "NotFound", "bump", "json_response", "now_str", "org_data"]
