"""Payments of every voucher kind, and what they do to the books.

* invoice (``POST /v1/{org}/invoices/{guid}/payments``): bank (``DepositAccountNumber``) debited, debtors
  (56000) credited; the invoice becomes ``Paid`` when payments plus booked credit notes for it reach its
  total, ``OverPaid`` above it (``RemainderIsFee``: the remainder is written off to 6400 Gebyrer and the
  invoice is ``Paid``), else ``Booked`` (``Overdue`` after its PaymentDate). A foreign-currency payment
  settles the debtor at the invoice's rate; a different DKK ``Amount`` is an exchange difference (9100).
  Its ``ExchangeRate`` is the payment's own (``Amount`` / ``AmountInForeignCurrency`` x 100).
* sales credit note (refund): debtors debited, bank credited.
* credit purchase voucher (``/v1/{org}/purchase-vouchers/{id}/payments``): creditors (63000) debited, bank
  credited; purchase credit note: bank debited, creditors credited. Their ``Status`` moves the same way.

Deleting a payment offsets its entries (never removes them) and moves the status back. Every payment and
deletion is a write of the voucher: its Timestamp must be current (else code 58) and changes.

Seeded documents that the seed marks paid carry no payment rows; the first payment operation on one stores
its historic payment (``_Seeded``, no entries, as the seed's ledger has none) so totals stay consistent.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from .. import chart
from .. import validate as v
from ..amounts import r2
from ..errors import DineroError
from ..mutations import bump
from ..orgdata import OrgData
from ..store import Table
from ..timeutil import now_str
from .common import post_entries, reverse_entries

# kind -> (table, side): side +1 = money comes in (customer pays / supplier refunds)
KINDS: dict[str, tuple[str, int]] = {
    "invoice": ("invoices", 1),
    "creditnote": ("creditnotes", -1),
    "purchase": ("purchase_vouchers", -1),
    "purchase_creditnote": ("purchase_creditnotes", 1),
}
FEE_ACCOUNT = 6400
EXCHANGE_ACCOUNT = 9100  # exchange differences of foreign-currency payments (result)


def _counter_account(kind: str) -> int:
    return chart.RECEIVABLES_ACCOUNT if kind in ("invoice", "creditnote") else chart.PAYABLES_ACCOUNT


def _status_field(kind: str) -> str:
    return "PaymentStatus" if kind in ("invoice", "creditnote") else "Status"


def total_of(org: OrgData, kind: str, row: int) -> float:
    """The voucher's total including VAT, in its own currency."""
    table = org.table(KINDS[kind][0])
    if kind in ("invoice", "creditnote"):
        return float(table.cols["TotalInclVat"][row] or 0.0)
    totals = table.value(row, "VoucherTotals" if kind == "purchase" else "Totals") or []
    return float(next((t["Total"] for t in totals if t.get("Type") == "Total"), 0.0))


def rate_of(org: OrgData, kind: str, row: int) -> float:
    """DKK per unit of the voucher's currency."""
    table = org.table(KINDS[kind][0])
    if kind in ("invoice", "creditnote"):
        total = table.cols["TotalInclVat"][row] or 0.0
        return (table.cols["TotalInclVatInDkk"][row] / total) if total else 1.0
    return 1.0


def credited(org: OrgData, kind: str, row: int) -> float:
    """Booked credit notes against an invoice / purchase voucher (their totals, voucher currency)."""
    if kind == "invoice":
        table, total_field, status_field = org.table("creditnotes"), "TotalInclVat", "Status"
    elif kind == "purchase":
        table, total_field, status_field = org.table("purchase_creditnotes"), None, "Status"
    else:
        return 0.0
    guid = org.table(KINDS[kind][0]).cols["Guid"][row].lower()
    out = 0.0
    for r in table.rows():
        if (table.cols["CreditNoteFor"][r] or "").lower() != guid or table.cols["DeletedAt"][r] is not None:
            continue
        if table.cols[status_field][r] == "Draft":
            continue
        out += (table.cols[total_field][r] if total_field else total_of(org, "purchase_creditnote", r)) or 0.0
    return r2(out)


def payments_of(org: OrgData, kind: str, row: int) -> list[int]:
    """Rows of the live payments of a voucher (storing a seeded historic payment first, see module doc)."""
    _ensure_seeded_payment(org, kind, row)
    table = org.table("payments")
    guid = org.table(KINDS[kind][0]).cols["Guid"][row].lower()
    return [
        r for r in table.rows() if table.cols["VoucherGuid"][r] == guid and table.cols["DeletedAt"][r] is None
    ]


def _ensure_seeded_payment(org: OrgData, kind: str, row: int) -> None:
    table = org.table(KINDS[kind][0])
    init = table.column("_PaymentsInit")
    if init[row]:
        return
    init[row] = True
    status = table.cols[_status_field(kind)][row]
    if status not in ("Paid", "OverPaid", "Overpaid"):
        return
    if kind == "purchase" and (table.cols["PurchaseType"][row] or "").lower() == "cash":
        return  # cash purchases are paid by their own entries
    total = total_of(org, kind, row) - credited(org, kind, row)
    amount = r2(total * (1.01 if status != "Paid" else 1.0))
    day = (table.cols["Date"] if "Date" in table.cols else table.cols["VoucherDate"])[row]
    _store(
        org,
        kind,
        row,
        amount,
        r2(amount * rate_of(org, kind, row)),
        chart.BANK_ACCOUNT,
        day,
        "Indbetaling",
        None,
        False,
        seeded=True,
    )


def _payment_rate(org: OrgData, kind: str, row: int, amount_voucher: float, amount_dkk: float) -> float:
    """``PaymentReadModel.ExchangeRate``: DKK per 100 units of the payment's currency, the payment's own.

    Dinero's spec: "The exchange rate for the payment currency to DKK, defaults to 100 when currency is
    DKK", and ``AmountInForeignCurrency`` "together with Amount will be used to calculate exchange rate"
    -- the rate of the payment (``Amount`` / ``AmountInForeignCurrency``), not the invoice's: a payment
    at another rate than the invoice's (an exchange difference) keeps the DKK amount the bank received
    readable as ``Amount x ExchangeRate / 100``. Its precision is not documented; the sandbox keeps the
    quotient as a double (rounding it to two decimals would lose øre on large amounts).
    """
    if rate_of(org, kind, row) == 1.0 or not amount_voucher:
        return 100.0
    return float(Decimal(repr(amount_dkk)) / Decimal(repr(amount_voucher)) * 100)


def _store(
    org: OrgData,
    kind: str,
    row: int,
    amount_voucher: float,
    amount_dkk: float,
    deposit: int,
    day: str,
    description: str,
    external: str | None,
    remainder_fee: bool,
    *,
    seeded: bool = False,
) -> dict[str, Any]:
    table = org.table(KINDS[kind][0])
    now = now_str()
    record = {
        "Guid": str(uuid.uuid4()),
        "VoucherGuid": table.cols["Guid"][row].lower(),
        "VoucherKind": kind,
        "DepositAccountNumber": deposit,
        "Currency": (table.cols["Currency"] if "Currency" in table.cols else table.cols["CurrencyKey"])[row]
        or "DKK",
        "ExchangeRate": _payment_rate(org, kind, row, amount_voucher, amount_dkk),
        "PaymentClass": "Payment",
        "RelatedVoucherId": str(uuid.uuid4()),
        "ExternalReference": external,
        "PaymentDate": day,
        "Description": description,
        "Amount": amount_dkk,
        "AmountInVoucherCurrency": amount_voucher,
        "RemainderIsFee": remainder_fee,
        "CreatedAt": now,
        "UpdatedAt": now,
        "DeletedAt": None,
        "_Seeded": seeded,
    }
    org.table("payments").add(record)
    return record


def summary(org: OrgData, kind: str, row: int) -> dict[str, Any]:
    """``InvoicePaymentsModel``: payments, paid and remaining amounts (voucher currency)."""
    rows = payments_of(org, kind, row)
    table = org.table("payments")
    paid = r2(sum(table.cols["AmountInVoucherCurrency"][r] for r in rows))
    total = total_of(org, kind, row)
    fee = any(table.cols["RemainderIsFee"][r] for r in rows)
    reminder_fees = _reminder_fees(org, kind, row)
    remaining = r2(total + reminder_fees - credited(org, kind, row) - paid)
    return {
        "Payments": [read_model(table, r) for r in rows],
        "RemainingAmount": 0.0 if fee and remaining > 0 else remaining,
        "PaidAmount": paid,
        "InvoiceTotalIncludingReminderExpenses": r2(total + reminder_fees),
        "RemainderAsFeeAvailable": 0 < remaining < 100,
    }


def _reminder_fees(org: OrgData, kind: str, row: int) -> float:
    """Fees and interest of the latest booked reminder (each reminder carries the accumulated sum)."""
    if kind != "invoice":
        return 0.0
    reminders = org.table("reminders")
    guid = org.table("invoices").cols["Guid"][row].lower()
    return max(
        (
            reminders.cols["AccumulatedFeesAndInterestAmount"][r] or 0.0
            for r in reminders.rows()
            if reminders.cols["VoucherGuid"][r] == guid
            and not reminders.cols["IsDraft"][r]
            and not reminders.cols["IsDeleted"][r]
        ),
        default=0.0,
    )


def read_model(table: Table, row: int) -> dict[str, Any]:
    """``PaymentReadModel``."""
    return {
        "Guid": table.cols["Guid"][row],
        "DepositAccountNumber": table.cols["DepositAccountNumber"][row],
        "Currency": table.cols["Currency"][row],
        "ExchangeRate": table.cols["ExchangeRate"][row],
        "PaymentClass": table.cols["PaymentClass"][row],
        "RelatedVoucherId": table.cols["RelatedVoucherId"][row],
        "ExternalReference": table.cols["ExternalReference"][row],
        "PaymentDate": table.cols["PaymentDate"][row],
        "Description": table.cols["Description"][row],
        "Amount": table.cols["AmountInVoucherCurrency"][row],
    }


def settle(org: OrgData, kind: str, row: int, changes: dict[str, Any] | None = None) -> None:
    """Recompute the voucher's payment status and mark it changed (new Timestamp)."""
    table = org.table(KINDS[kind][0])
    info = summary(org, kind, row)
    remaining = info["RemainingAmount"]
    due = table.cols["PaymentDate"][row] if "PaymentDate" in table.cols else None
    if abs(remaining) < 0.005:
        status = "Paid"
    elif remaining < 0:
        status = "OverPaid" if kind in ("invoice", "creditnote") else "Overpaid"
    elif due and due < date.today().isoformat() and kind in ("invoice", "purchase"):
        status = "Overdue"
    else:
        status = "Booked"
    bump(org, table, row, {**(changes or {}), _status_field(kind): status})


def add_payment(org: OrgData, kind: str, row: int, body: dict[str, Any]) -> dict[str, Any]:
    """Validate and register a payment; write its entries; settle the status. Returns the payment."""
    table = org.table(KINDS[kind][0])
    if table.cols["Status"][row] == "Draft":
        raise DineroError(400, 45, "Invalid request", {"message": "Only booked vouchers can be paid."})
    if kind == "purchase" and (table.cols["PurchaseType"][row] or "").lower() == "cash":
        raise DineroError(400, 45, "Invalid request", {"message": "Cash purchases are paid when booked."})
    errors = v.Errors()
    amount = v.number(body, "Amount", errors, req=True)
    deposit = v.account(org, body, "DepositAccountNumber", errors, req=True)
    description = v.text(body, "Description", errors, req=True, max_len=255)
    fee = v.boolean(body, "RemainderIsFee", errors, req=True)
    foreign = v.number(body, "AmountInForeignCurrency", errors)
    external = v.text(body, "ExternalReference", errors, max_len=128)
    day = v.date_field(body, "PaymentDate", errors) or date.today().isoformat()
    if amount is not None and amount <= 0:
        errors.add("Amount", "The Amount must be positive.")
    if deposit is not None:
        accounts = org.table("accounts")
        arow = accounts.find(str(deposit))
        is_deposit = arow is not None and accounts.cols["_IsDeposit"][arow]
        if not is_deposit and deposit != chart.CASH_ACCOUNT:
            errors.add("DepositAccountNumber", f"Account {deposit} is not a deposit account.")
    rate = rate_of(org, kind, row)
    if rate != 1.0 and foreign is None:
        errors.add("AmountInForeignCurrency", "Required when the voucher is not in DKK.")
    errors.raise_if_any()
    assert amount is not None and deposit is not None
    in_voucher = foreign if foreign is not None else amount
    before = summary(org, kind, row)
    payment = _store(
        org, kind, row, r2(in_voucher), r2(amount), deposit, day, description or "", external, bool(fee)
    )
    side = KINDS[kind][1]
    counter = _counter_account(kind)
    contact = table.cols["ContactGuid"][row]
    number_field = next(f for f in ("Number", "VoucherNumber", "CreditNoteNumber") if f in table.cols)
    number = table.cols[number_field][row]
    # the debtor/creditor is settled at the voucher's own rate; a different DKK amount is an exchange
    # difference (so a fully paid foreign invoice leaves its debtor at exactly zero)
    settled_dkk = r2(in_voucher * rate) if foreign is not None else r2(amount)
    postings: list[tuple[int, float, str | None]] = [
        (deposit, side * amount, None),
        (counter, -side * settled_dkk, None),
        (EXCHANGE_ACCOUNT, -side * r2(amount - settled_dkk), None),
    ]
    remaining_after = r2(before["RemainingAmount"] - in_voucher)
    if fee and remaining_after > 0:
        fee_dkk = r2(remaining_after * rate)
        postings += [(FEE_ACCOUNT, side * fee_dkk, None), (counter, -side * fee_dkk, None)]
    post_entries(
        org,
        postings,
        voucher_guid=payment["RelatedVoucherId"],
        date=day,
        vtype="Payment",
        description=f"Betaling: {description}",
        number=number,
        contact=contact,
    )
    settle(org, kind, row)
    return payment


def delete_payment(org: OrgData, kind: str, row: int, payment_guid: str) -> None:
    """Delete a payment: offset its entries, settle the status (HTML 404 when unknown)."""
    from ..errors import NotFound

    payments = org.table("payments")
    prow = payments.find(payment_guid)
    guid = org.table(KINDS[kind][0]).cols["Guid"][row].lower()
    if prow is None or payments.cols["VoucherGuid"][prow] != guid or payments.cols["DeletedAt"][prow]:
        raise NotFound()
    now = now_str()
    payments.update(prow, {"DeletedAt": now, "UpdatedAt": now})
    reverse_entries(org, payments.cols["RelatedVoucherId"][prow], payments.cols["Description"][prow] or "")
    settle(org, kind, row)
