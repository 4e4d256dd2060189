"""Reminders - "rykkere" (spec tag ``Reminders``) of a booked, unpaid invoice:
``/v1/{org}/invoices/{voucherGuid}/reminders`` list, create (the invoice's current Timestamp required; the
invoice changes), get, update / delete / book (the reminder's own Timestamp), ``next`` and ``fetch``
(previews, nothing stored; their Timestamp is the invoice's, the one a create needs), e-mail template,
e-mail and ``e-reminder`` (mailouts, never sent).

Amounts (DKK, the sandbox's choice where Dinero's rules are not documented): fee 100 kr. (``WithFee``),
interest 0.7 % of the outstanding amount per started month overdue (``WithInterestFee``), compensation fee
310 kr. once per invoice, for companies only (``WithCompensationFee``). Each reminder carries the
accumulated fees of the booked ones before it. Booking writes the new fees as entries (debtors 56000
debited, 9000 Renteindtægter credited; ``VoucherType: Reminder``), and the invoice's outstanding amount
(``GET /v2/.../payments``) grows by them."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from flask import Response, request

from .. import chart
from .. import validate as v
from ..amounts import r2
from ..api_common import get_ci, json_body, org_data
from ..errors import DineroError, NotFound, json_response
from ..listing import parse_since
from ..mutations import bump
from ..orgdata import OrgData
from ..store import Table
from ..timeutil import now_str
from . import payments
from .common import (
    blueprint,
    body_timestamp,
    check_given,
    contact_of,
    mark_sent,
    ok,
    optional_body,
    record_mailout,
    require_booked,
    row_of,
)

bp = blueprint("reminders")
FEE = 100.0
COMPENSATION_FEE = 310.0
MONTHLY_INTEREST = 0.007
INCOME_ACCOUNT = 9000
VIEW_FIELDS = (
    "Id",
    "IsDraft",
    "IsDeleted",
    "Number",
    "InvoiceTotalInclVatAmount",
    "FeeAmount",
    "InterestAmount",
    "CompensationFeeAvailable",
    "CompensationFeeAmount",
    "AccumulatedFeesAndInterestAmount",
    "PaidAmount",
    "ReminderTotalInclVatAmount",
    "Timestamp",
    "Date",
    "Title",
    "Description",
    "WithDebtCollectionWarning",
    "WithFee",
    "WithInterestFee",
    "WithCompensationFee",
)


def _kr(amount: float | None) -> str | None:
    if amount is None:
        return None
    whole, frac = f"{amount:,.2f}".split(".")
    return f"{whole.replace(',', '.')},{frac} kr."


def view(record: dict[str, Any]) -> dict[str, Any]:
    """``ReminderViewModel`` (amounts with their ``...Text`` renderings)."""
    out = {k: record.get(k) for k in VIEW_FIELDS}
    for name in (
        "InvoiceTotalInclVatAmount",
        "FeeAmount",
        "InterestAmount",
        "CompensationFeeAmount",
        "AccumulatedFeesAndInterestAmount",
        "PaidAmount",
        "ReminderTotalInclVatAmount",
    ):
        out[name + "Text"] = _kr(record.get(name))
    out["DebtCollectionNoticeText"] = (
        "Betales beløbet ikke, sendes sagen til inkasso." if record.get("WithDebtCollectionWarning") else None
    )
    return out


def _invoice(org: OrgData, guid: str) -> tuple[Table, int]:
    table, row = row_of(org, "invoices", guid)
    return table, row


def _live(org: OrgData, invoice_guid: str) -> list[int]:
    table = org.table("reminders")
    return [
        r
        for r in table.rows()
        if table.cols["VoucherGuid"][r] == invoice_guid.lower() and not table.cols["IsDeleted"][r]
    ]


def compute(org: OrgData, row: int, spec: dict[str, Any], *, exclude: int | None = None) -> dict[str, Any]:
    """A reminder's amounts for an invoice row and the chosen options."""
    invoices = org.table("invoices")
    guid = invoices.cols["Guid"][row].lower()
    reminders = org.table("reminders")
    earlier = [r for r in _live(org, guid) if r != exclude]
    booked = [r for r in earlier if not reminders.cols["IsDraft"][r]]
    accumulated_before = max(
        (reminders.cols["AccumulatedFeesAndInterestAmount"][r] for r in booked), default=0.0
    )
    info = payments.summary(org, "invoice", row)
    outstanding = r2(info["RemainingAmount"] - accumulated_before)
    day = spec["Date"]
    due = invoices.cols["PaymentDate"][row] or day
    overdue_days = (date.fromisoformat(day) - date.fromisoformat(due)).days
    months = max(1, math.ceil(overdue_days / 30)) if overdue_days > 0 else 0
    contact = contact_of(org, invoices.cols["ContactGuid"][row])
    comp_available = not contact.get("IsPerson") and not any(
        reminders.cols["CompensationFeeAmount"][r] for r in booked
    )
    fee = FEE if spec["WithFee"] else 0.0
    interest = r2(outstanding * MONTHLY_INTEREST * months) if spec["WithInterestFee"] else 0.0
    compensation = COMPENSATION_FEE if spec["WithCompensationFee"] and comp_available else 0.0
    accumulated = r2(accumulated_before + fee + interest + compensation)
    return {
        **spec,
        "Number": len(earlier) + 1,
        "InvoiceTotalInclVatAmount": invoices.cols["TotalInclVatInDkk"][row],
        "FeeAmount": fee,
        "InterestAmount": interest,
        "CompensationFeeAvailable": comp_available,
        "CompensationFeeAmount": compensation,
        "AccumulatedFeesAndInterestAmount": accumulated,
        "PaidAmount": info["PaidAmount"],
        "ReminderTotalInclVatAmount": r2(outstanding + accumulated),
    }


def _spec(body: dict[str, Any]) -> dict[str, Any]:
    errors = v.Errors()
    day = v.date_field(body, "Date", errors)
    if day is None and not errors.items:
        errors.add("Date", "The Date field is required.")
    out = {
        "Date": day,
        "Title": v.text(body, "Title", errors, max_len=255),
        "Description": v.text(body, "Description", errors, max_len=5000),
    }
    for flag in ("WithDebtCollectionWarning", "WithFee", "WithInterestFee", "WithCompensationFee"):
        out[flag] = bool(v.boolean(body, flag, errors, req=True))
    errors.raise_if_any()
    if not out["Title"]:
        out["Title"] = "Rykker"
    return out


def _reminder(org: OrgData, invoice_guid: str, reminder_id: int) -> tuple[Table, int]:
    _invoice(org, invoice_guid)
    table = org.table("reminders")
    row = table.find(f"{invoice_guid}:{reminder_id}".lower())
    if row is None:
        raise NotFound()
    return table, row


def _outstanding_check(org: OrgData, row: int) -> None:
    invoices = org.table("invoices")
    require_booked(invoices, row, "invoice")
    if payments.summary(org, "invoice", row)["RemainingAmount"] <= 0:
        raise DineroError(
            400, 45, "Invalid request", {"message": "The invoice is paid; nothing to remind of."}
        )


@bp.get("/v1/<org>/invoices/<voucher_guid>/reminders")
def list_reminders(voucher_guid: str) -> Response:
    """The invoice's reminders (``changesSince``), deleted ones included (``IsDeleted``)."""
    org = org_data()
    table, row = _invoice(org, voucher_guid)
    since = parse_since(request.args)
    reminders = org.table("reminders")
    guid = table.cols["Guid"][row].lower()
    out = [
        view(reminders.get(r))
        for r in reminders.rows()
        if reminders.cols["VoucherGuid"][r] == guid and (not since or reminders.cols["UpdatedAt"][r] >= since)
    ]
    return json_response(out)


@bp.post("/v1/<org>/invoices/<voucher_guid>/reminders")
def create_reminder(voucher_guid: str) -> Response:
    """Add a draft reminder (the invoice's Timestamp required) -> ``ReminderViewModel``."""
    org = org_data()
    invoices, row = _invoice(org, voucher_guid)
    body = json_body()
    check_given(invoices, row, body_timestamp(body), required=True)
    _outstanding_check(org, row)
    record = compute(org, row, _spec(body))
    reminder_id = org.counters.get("reminder", 0) + 1
    org.counters["reminder"] = reminder_id
    guid = invoices.cols["Guid"][row].lower()
    now = now_str()
    record.update(
        Key=f"{guid}:{reminder_id}",
        Id=reminder_id,
        VoucherGuid=guid,
        IsDraft=True,
        IsDeleted=False,
        Timestamp=org.next_timestamp(),
        CreatedAt=now,
        UpdatedAt=now,
        DeletedAt=None,
    )
    org.table("reminders").add(record)
    bump(org, invoices, row)
    return json_response(view(record))


@bp.get("/v1/<org>/invoices/<voucher_guid>/reminders/<int:reminder_id>")
def get_reminder(voucher_guid: str, reminder_id: int) -> Response:
    """``ReminderViewModel``."""
    table, row = _reminder(org_data(), voucher_guid, reminder_id)
    return json_response(view(table.get(row)))


@bp.put("/v1/<org>/invoices/<voucher_guid>/reminders/<int:reminder_id>")
def update_reminder(voucher_guid: str, reminder_id: int) -> Response:
    """Change a draft reminder (its Timestamp required) -> ``ReminderViewModel``."""
    org = org_data()
    table, row = _reminder(org, voucher_guid, reminder_id)
    body = json_body()
    check_given(table, row, body_timestamp(body), required=True)
    if not table.cols["IsDraft"][row] or table.cols["IsDeleted"][row]:
        raise DineroError(400, 45, "Invalid request", {"message": "Only draft reminders can be changed."})
    _, irow = _invoice(org, voucher_guid)
    changes = compute(org, irow, _spec(body), exclude=row)
    changes.pop("Number", None)
    bump(org, table, row, changes)
    return json_response(view(table.get(row)))


@bp.delete("/v1/<org>/invoices/<voucher_guid>/reminders/<int:reminder_id>")
def delete_reminder(voucher_guid: str, reminder_id: int) -> Response:
    """Delete a draft reminder (its Timestamp required); bare 200."""
    org = org_data()
    table, row = _reminder(org, voucher_guid, reminder_id)
    check_given(table, row, body_timestamp(optional_body()), required=True)
    if not table.cols["IsDraft"][row] or table.cols["IsDeleted"][row]:
        raise DineroError(400, 45, "Invalid request", {"message": "Only draft reminders can be deleted."})
    now = now_str()
    bump(org, table, row, {"IsDeleted": True, "DeletedAt": now}, when=now)
    return ok()


@bp.post("/v1/<org>/invoices/<voucher_guid>/reminders/<int:reminder_id>/book")
def book_reminder(voucher_guid: str, reminder_id: int) -> Response:
    """Book a draft reminder: its fees become entries and part of the outstanding amount."""
    org = org_data()
    table, row = _reminder(org, voucher_guid, reminder_id)
    body = json_body()
    check_given(table, row, body_timestamp(body), required=True)
    if not table.cols["IsDraft"][row] or table.cols["IsDeleted"][row]:
        raise DineroError(400, 45, "Invalid request", {"message": "Only draft reminders can be booked."})
    invoices, irow = _invoice(org, voucher_guid)
    fees = r2(
        (table.cols["FeeAmount"][row] or 0.0)
        + (table.cols["InterestAmount"][row] or 0.0)
        + (table.cols["CompensationFeeAmount"][row] or 0.0)
    )
    if fees:
        from .common import post_entries

        post_entries(
            org,
            [(chart.RECEIVABLES_ACCOUNT, fees, None), (INCOME_ACCOUNT, -fees, None)],
            voucher_guid=f"{invoices.cols['Guid'][irow].lower()[:24]}{reminder_id:012d}",
            date=table.cols["Date"][row],
            vtype="Reminder",
            description=f"Rykker {table.cols['Number'][row]} for faktura {invoices.cols['Number'][irow]}",
            number=invoices.cols["Number"][irow],
            contact=invoices.cols["ContactGuid"][irow],
        )
    bump(org, table, row, {"IsDraft": False})
    payments.settle(org, "invoice", irow)
    return json_response(view(table.get(row)))


@bp.get("/v1/<org>/invoices/<voucher_guid>/reminders/next")
def next_reminder(voucher_guid: str) -> Response:
    """A preview of the next reminder (today, with fee), nothing stored."""
    org = org_data()
    invoices, row = _invoice(org, voucher_guid)
    spec = {
        "Date": date.today().isoformat(),
        "Title": "Rykker",
        "Description": None,
        "WithDebtCollectionWarning": False,
        "WithFee": True,
        "WithInterestFee": False,
        "WithCompensationFee": False,
    }
    record = compute(org, row, spec)
    record.update(Id=None, IsDraft=True, IsDeleted=False, Timestamp=invoices.cols["TimeStamp"][row])
    return json_response(view(record))


@bp.post("/v1/<org>/invoices/<voucher_guid>/reminders/fetch")
def fetch_reminder(voucher_guid: str) -> Response:
    """``ReminderFetchModel`` -> the reminder it would create, nothing stored."""
    org = org_data()
    invoices, row = _invoice(org, voucher_guid)
    record = compute(org, row, _spec(json_body()))
    record.update(Id=None, IsDraft=True, IsDeleted=False, Timestamp=invoices.cols["TimeStamp"][row])
    return json_response(view(record))


def _latest(org: OrgData, invoice_guid: str) -> tuple[Table, int]:
    table = org.table("reminders")
    rows = _live(org, invoice_guid)
    if not rows:
        raise DineroError(400, 45, "Invalid request", {"message": "The invoice has no reminder to send."})
    return table, rows[-1]


@bp.get("/v1/<org>/invoices/<voucher_guid>/reminders/email/template")
def reminder_email_template(voucher_guid: str) -> Response:
    """``MailoutTemplateReadModel`` of the latest reminder."""
    org = org_data()
    invoices, row = _invoice(org, voucher_guid)
    table, rrow = _latest(org, invoices.cols["Guid"][row])
    contact = contact_of(org, invoices.cols["ContactGuid"][row])
    return json_response(
        {
            "Sender": org.info.get("Email"),
            "Receiver": contact.get("Email"),
            "Subject": f"{table.cols['Title'][rrow]} - faktura {invoices.cols['Number'][row]}",
            "Message": f"Vi mangler betaling af faktura {invoices.cols['Number'][row]}. "
            f"Samlet beløb: {_kr(table.cols['ReminderTotalInclVatAmount'][rrow])}\n\n[link-to-pdf]",
            "AddVoucherAsPdfAttachment": True,
        }
    )


@bp.post("/v1/<org>/invoices/<voucher_guid>/reminders/email")
def reminder_email(voucher_guid: str) -> Response:
    """Send the latest reminder by e-mail (a mailout of type Reminder) -> ``{Recipients}``."""
    org = org_data()
    invoices, row = _invoice(org, voucher_guid)
    body = optional_body()
    check_given(invoices, row, body_timestamp(body), required=False)
    table, rrow = _latest(org, invoices.cols["Guid"][row])
    contact = contact_of(org, invoices.cols["ContactGuid"][row])
    receiver = get_ci(body, "Receiver") or contact.get("Email")
    if not receiver:
        raise DineroError(
            400, 42, "Validation Error", {"Receiver": "No receiver and the contact has no e-mail."}
        )
    record_mailout(
        org,
        invoices.cols["Guid"][row],
        "Reminder",
        sender=get_ci(body, "Sender") or org.info.get("Email"),
        receiver=receiver,
        subject=get_ci(body, "Subject") or table.cols["Title"][rrow],
        message=get_ci(body, "Message"),
        cc=bool(get_ci(body, "CcToSender") or False),
    )
    mark_sent(org, invoices, row, "Reminder")
    return json_response(
        {"Recipients": [{"Email": r.strip()} for r in str(receiver).split(",") if r.strip()]}
    )


@bp.post("/v1/<org>/invoices/<voucher_guid>/reminders/<int:reminder_id>/e-reminder")
def reminder_ean(voucher_guid: str, reminder_id: int) -> Response:
    """Send a reminder electronically to an EAN number (a mailout of type EReminder); bare 200."""
    org = org_data()
    table, rrow = _reminder(org, voucher_guid, reminder_id)
    invoices, row = _invoice(org, voucher_guid)
    body = optional_body()
    check_given(table, rrow, body_timestamp(body), required=False)
    ean = get_ci(body, "ReceiverEanNumber") or contact_of(org, invoices.cols["ContactGuid"][row]).get(
        "EanNumber"
    )
    if not ean:
        raise DineroError(400, 42, "Validation Error", {"ReceiverEanNumber": "An EAN number is required."})
    record_mailout(
        org,
        invoices.cols["Guid"][row],
        "ElectronicInvoiceReminder",
        sender=org.info.get("VatNumber"),
        receiver=str(ean),
        subject=table.cols["Title"][rrow],
        message=get_ci(body, "AttPerson"),
    )
    mark_sent(org, invoices, row, "Reminder")
    return ok()
