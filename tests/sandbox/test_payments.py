"""Payments in detail: foreign currency (the debtor settles to exactly zero, the DKK difference is an
exchange difference), the remainder written off as a fee, and the seeded paid invoices (their historic
payment is accounted for, so a new payment makes them OverPaid, not Paid twice)."""

from __future__ import annotations

from dinero_sandbox.testing import SandboxServer

from .conftest import Api
from .scenarios import BANK, DEBTORS, LINE, account_sum, booked_invoice, code_of, contact, ok, pay


def test_foreign_currency_payment_settles_the_debtor_at_the_invoice_rate(
    sandbox: SandboxServer, api: Api
) -> None:
    customer = contact(api, CountryKey="DE")
    inv = booked_invoice(api, customer, Currency="EUR")  # 1000 EUR incl. VAT at 7.46
    path = f"/v1/{{org}}/invoices/{inv['Guid']}/payments"
    body = {
        "Timestamp": inv["TimeStamp"],
        "DepositAccountNumber": BANK,
        "RemainderIsFee": False,
        "Description": "SEPA",
        "Amount": 7500,
    }
    assert "AmountInForeignCurrency" in api.post(path, body).json()["validationErrors"]
    paid = pay(api, path, inv["TimeStamp"], 7500, AmountInForeignCurrency=1000)
    assert ok(api.get(f"/v1/{{org}}/invoices/{inv['Guid']}"))["PaymentStatus"] == "Paid"
    entries = [e for e in sandbox.dump(100000, "entries") if e["ContactGuid"] == customer]
    assert account_sum(entries, DEBTORS) == 0.0
    payment = [e for e in entries if e["VoucherGuid"] == paid["RelatedVoucherGuid"]]
    assert {e["AccountNumber"]: e["Amount"] for e in payment} == {BANK: 7500.0, DEBTORS: -7460.0, 9100: -40.0}


def test_remainder_as_fee_closes_the_invoice_and_books_the_fee(sandbox: SandboxServer, api: Api) -> None:
    inv = booked_invoice(api)
    paid = pay(
        api, f"/v1/{{org}}/invoices/{inv['Guid']}/payments", inv["TimeStamp"], 990, RemainderIsFee=True
    )
    assert ok(api.get(f"/v1/{{org}}/invoices/{inv['Guid']}"))["PaymentStatus"] == "Paid"
    assert ok(api.get(f"/v2/{{org}}/invoices/{inv['Guid']}/payments"))["RemainingAmount"] == 0.0
    entries = [e for e in sandbox.dump(100000, "entries") if e["VoucherGuid"] == paid["RelatedVoucherGuid"]]
    assert account_sum(entries, 6400) == 10.0 and account_sum(entries, DEBTORS) == -1000.0


def test_a_seeded_paid_invoice_counts_its_historic_payment(sandbox: SandboxServer, api: Api) -> None:
    seeded = next(
        i for i in sandbox.dump(100000, "invoices") if i["PaymentStatus"] == "Paid" and i["Currency"] == "DKK"
    )
    state = ok(api.get(f"/v2/{{org}}/invoices/{seeded['Guid']}/payments"))
    assert state["RemainingAmount"] == 0.0 and state["PaidAmount"] == seeded["TotalInclVat"]
    pay(api, f"/v1/{{org}}/invoices/{seeded['Guid']}/payments", seeded["TimeStamp"], 10)
    assert ok(api.get(f"/v1/{{org}}/invoices/{seeded['Guid']}"))["PaymentStatus"] == "OverPaid"


def test_payments_are_refused_on_drafts_and_need_a_deposit_account(sandbox: SandboxServer, api: Api) -> None:
    draft = ok(api.post("/v1/{org}/invoices", {"ContactGuid": contact(api), "ProductLines": [LINE]}))
    body = {
        "Timestamp": draft["TimeStamp"],
        "DepositAccountNumber": BANK,
        "RemainderIsFee": False,
        "Description": "x",
        "Amount": 10,
    }
    assert code_of(api.post(f"/v1/{{org}}/invoices/{draft['Guid']}/payments", body)) == 45
    inv = booked_invoice(api)
    wrong = {**body, "Timestamp": inv["TimeStamp"], "DepositAccountNumber": 1000}
    response = api.post(f"/v1/{{org}}/invoices/{inv['Guid']}/payments", wrong)
    assert code_of(response) == 42 and "DepositAccountNumber" in response.json()["validationErrors"]
    assert not [p for p in sandbox.dump(100000, "payments") if p["VoucherGuid"] == inv["Guid"]]
