"""Contact state of account (spec tag ``ContactStateOfAccount``): a contact's movements on debtors (56000)
and creditors (63000), read from the same entries ``/entries`` serves: invoices and reminders raise the
balance, credit notes and payments lower it; purchases the other way. ``Income`` = invoiced minus
credited, ``Expenses`` = purchased minus purchase credit notes (DKK). ``from``/``to`` (YYYY-MM-DD) limit the
period; ``hideClosed=true`` hides entries of paid documents and of payments. PDF and e-mail (a mailout of
type StateOfAccount, never sent) too."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from .. import chart, ledger
from .. import validate as v
from ..amounts import r2
from ..api_common import find_row, get_ci, json_body, org_data
from ..errors import DineroError, json_response
from ..listing import arg, parse_bool
from ..orgdata import OrgData
from ..timeutil import parse_date
from .common import blueprint, ok, pdf, record_mailout

bp = blueprint("state_of_account")
ACCOUNTS = (chart.RECEIVABLES_ACCOUNT, chart.PAYABLES_ACCOUNT)
CLOSED = ("Paid", "OverPaid", "Overpaid")
CATEGORY = {
    "Invoice": ("sales", "invoice"),
    "CreditNote": ("sales", "creditnote"),
    "Reminder": ("sales", "invoice"),
    "Purchases": ("purchases", "voucher"),
    "PurchaseCreditNote": ("purchases", "creditnote"),
    "ManualVoucher": ("manual", "voucher"),
    "Payment": ("notSet", "cash"),
}


def _day(name: str) -> str | None:
    raw = arg(request.args, name)
    if not raw:
        return None
    day = parse_date(raw[:10])
    if day is None:
        raise DineroError(400, 44, "Invalid format", {name: "Use YYYY-MM-DD."})
    return day.isoformat()


def _date_time(day: str) -> str:
    """An entry's day as Dinero's offset-less midnight timestamp (``ContactStateOfAccountEntry.Date`` is
    ``format: date-time`` in the spec; the entries' own ``Date`` is a bare ``YYYY-MM-DD``)."""
    return day if "T" in day else f"{day[:10]}T00:00:00"


def _closed(org: OrgData, voucher_guid: str | None, vtype: str | None) -> bool:
    if vtype == "Payment":
        return True
    for name, field in (
        ("invoices", "PaymentStatus"),
        ("creditnotes", "PaymentStatus"),
        ("purchase_vouchers", "Status"),
    ):
        table = org.table(name)
        row = table.find(voucher_guid)
        if row is not None:
            return table.cols[field][row] in CLOSED
    return False


def state_of(
    org: OrgData, contact_guid: str, start: str | None, end: str | None, hide: bool
) -> dict[str, Any]:
    """The ``ContactStateOfAccount`` of a contact."""
    contact = contact_guid.lower()
    found: list[dict[str, Any]] = []
    for source in ledger.booked_sources(org, start, end):
        table = org.table(source[0])
        if "ContactGuid" not in table.cols or (table.cols["ContactGuid"][source[1]] or "").lower() != contact:
            continue  # only documents of the contact touch its debtor/creditor entries (fast on 100 000)
        for e in ledger.entries_of(org, source):
            if e["AccountNumber"] in ACCOUNTS and (e["ContactGuid"] or "").lower() == contact:
                found.append(e)
    for e in ledger.extra_entries(org, start, end):
        if e["AccountNumber"] in ACCOUNTS and (e["ContactGuid"] or "").lower() == contact:
            found.append(e)
    found.sort(key=lambda e: (e["Date"], e["VoucherNumber"] or 0))
    balance = income = expenses = 0.0
    rows = []
    for e in found:
        vtype = e["VoucherType"]
        balance += e["Amount"]
        if vtype in ("Invoice", "CreditNote"):
            income += e["Amount"]
        elif vtype in ("Purchases", "PurchaseCreditNote"):
            expenses -= e["Amount"]
        closed = _closed(org, e["VoucherGuid"], vtype)
        if hide and closed:
            continue
        category, klass = CATEGORY.get(vtype or "", ("notSet", "notSet"))
        rows.append(
            {
                "RelatedVoucherGuid": e["VoucherGuid"],
                "RelatedVoucherNumber": None if e["VoucherNumber"] is None else str(e["VoucherNumber"]),
                # The spec types it date-time (Dinero answers ``2024-11-20T00:00:00``), not a bare date.
                "Date": _date_time(e["Date"]),
                "DecayDate": None,
                "Description": e["Description"],
                "Type": vtype,
                "Amount": e["Amount"],
                "Balance": r2(balance),
                "Status": "closed" if closed else "open",
                "RelatedVoucherCategory": category,
                "RelatedVoucherClass": klass,
                "Currency": "DKK",
            }
        )
    return {"ContactGuid": contact_guid, "Income": r2(income), "Expenses": r2(expenses), "Entries": rows}


def _contact(guid: str) -> tuple[OrgData, str]:
    org = org_data()
    contacts = org.table("contacts")
    return org, contacts.cols["ContactGuid"][find_row(contacts, guid)]


@bp.get("/v1/<org>/state-of-account/<guid>")
def state_of_account(guid: str) -> Response:
    """``ContactStateOfAccount``."""
    org, contact = _contact(guid)
    hide = bool(parse_bool(request.args, "hideClosed", False))
    return json_response(state_of(org, contact, _day("from"), _day("to"), hide))


@bp.get("/v1/<org>/state-of-account/<guid>/pdf")
def state_of_account_pdf(guid: str) -> Response:
    """The state of account as PDF."""
    _contact(guid)
    return pdf()


@bp.post("/v1/<org>/state-of-account/<guid>/email")
def state_of_account_email(guid: str) -> Response:
    """``ContactStateOfAccountMailoutModel``: recorded as a mailout of the contact; bare 200."""
    org, contact = _contact(guid)
    body = json_body()
    errors = v.Errors()
    v.boolean(body, "CCToSender", errors)
    v.boolean(body, "HideClosed", errors)
    errors.raise_if_any()
    contacts = org.table("contacts")
    receiver = get_ci(body, "Receiver") or contacts.cols["Email"][contacts.find(contact)]
    if not receiver:
        raise DineroError(
            400, 42, "Validation Error", {"Receiver": "No receiver and the contact has no e-mail."}
        )
    record_mailout(
        org,
        contact,
        "StateOfAccount",
        sender=get_ci(body, "Sender") or org.info.get("Email"),
        receiver=receiver,
        subject=get_ci(body, "Subject") or f"Kontoudtog fra {org.info['Name']}",
        message=get_ci(body, "Message"),
        cc=bool(get_ci(body, "CCToSender") or False),
    )
    return ok()
