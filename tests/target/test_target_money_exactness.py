"""Money exactness attacks on target-dinero: amounts Dinero would hold differently from the record, or
money written off or moved without the record saying so, are rejected before any write."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.harness import (
    ORDERS,
    ORG,
    PAYMENTS,
    live,
    live_payments,
    make_target_config,
    read_rejects,
    run_target,
)
from tests.harness import shop_streams as streams
from tests.harness import stream_messages as msgs
from tests.target.test_target_payments_refunds import invoices, order


@pytest.fixture
def config(sandbox_settings: dict[str, Any], tmp_path: Any) -> dict[str, Any]:
    return make_target_config(sandbox_settings, tmp_path, streams())


def test_remainder_is_fee_never_writes_off_an_unpaid_balance(sandbox: Any, config: dict[str, Any]) -> None:
    """A partial payment carrying RemainderIsFee would close the invoice and book the unpaid balance as a
    fee (Dinero writes off whatever is left). Up to max_remainder_fee_share (10 %) of the total it is a
    fee and is paid; beyond it the record is rejected with the amounts and nothing is paid."""
    rows = [
        order(1, Payments=[{"Amount": 25.0, "RemainderIsFee": True}]),  # 100.00 of 125.00 left: refused
        order(2, Payments=[{"Amount": 120.0, "RemainderIsFee": True}]),  # 5.00 card fee (4 %): paid
        order(3),
        order(4),
    ]
    first = run_target(sandbox, config, msgs(ORDERS, rows))
    held = invoices(sandbox)
    assert live_payments(sandbox, held["PAY-1"]["Guid"]) == []
    assert held["PAY-1"]["PaymentStatus"] == "Booked"
    assert [p["Amount"] for p in live_payments(sandbox, held["PAY-2"]["Guid"])] == [120.0]
    assert held["PAY-2"]["PaymentStatus"] == "Paid"
    rejects = read_rejects(Path(config["rejects_file"]))
    assert [r["record"]["ExternalReference"] for r in rejects] == ["PAY-1"], rejects
    assert rejects[0]["field"] == "RemainderIsFee"
    assert "write off 100.00" in rejects[0]["reason"] and "max_remainder_fee_share" in rejects[0]["reason"]
    assert first.error is not None  # max_rejects 0: the rejected record makes the run fail

    # invoice_payment records on invoices booked by an earlier run: the same rule, read from Dinero
    payments = [
        {"id": "ch_3", "InvoiceExternalReference": "PAY-3", "Amount": 1.0, "RemainderIsFee": True},
        {"id": "ch_4", "InvoiceExternalReference": "PAY-4", "Amount": 122.5, "RemainderIsFee": True},
    ]
    second = run_target(sandbox, config, msgs(PAYMENTS, payments))
    held = invoices(sandbox)
    assert live_payments(sandbox, held["PAY-3"]["Guid"]) == []
    assert held["PAY-3"]["PaymentStatus"] == "Booked"
    assert held["PAY-4"]["PaymentStatus"] == "Paid"  # 2.50 written off
    reasons = [r["reason"] for r in read_rejects(Path(config["rejects_file"])) if r["stream"] == PAYMENTS]
    assert len(reasons) == 1 and "write off 124.00" in reasons[0], reasons
    assert second.error is not None


def test_max_remainder_fee_share_zero_never_writes_a_remainder_off(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Any
) -> None:
    config = make_target_config(
        sandbox_settings, tmp_path, streams(**{ORDERS: {**streams()[ORDERS], "max_remainder_fee_share": 0}})
    )
    run_target(
        sandbox, config, msgs(ORDERS, [order(1, Payments=[{"Amount": 124.99, "RemainderIsFee": True}])])
    )
    held = invoices(sandbox)
    assert live_payments(sandbox, held["PAY-1"]["Guid"]) == []
    assert "write off 0.01" in read_rejects(Path(config["rejects_file"]))[0]["reason"]


@pytest.mark.parametrize("load_as", ["manual_voucher", "ledger_item"])
def test_voucher_lines_without_a_balancing_account_balance_with_the_vat_dinero_adds(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path, load_as: str
) -> None:
    """Lines without a balancing account must post zero together. A sales-VAT line's Amount is its net
    (Dinero adds the VAT), so -100 on sales account 1000 (U25 by default) posts -125: with +100 on the
    bank it does not balance -- 25.00 of VAT with no counterpart -- and is rejected before any request;
    with +125 it balances and loads (booked, the manual voucher's postings sum to zero)."""
    stream = f"open_{load_as}"
    config = make_target_config(
        sandbox_settings, tmp_path, {stream: {"load_as": load_as, "book": True}}, max_rejects=5
    )

    def voucher(n: int, bank: float, **sale: Any) -> dict[str, Any]:
        lines = [
            {"AccountNumber": 1000, "Amount": -100, "Description": "sale", **sale},
            {"AccountNumber": 55000, "Amount": bank, "Description": "bank"},
        ]
        return {"id": n, "ExternalReference": f"OPEN-{n}", "VoucherDate": "2026-11-03", "Lines": lines}

    rows = [
        voucher(1, 100),  # account's default U25: posts -125 + 100
        voucher(2, 125),
        voucher(3, 100, AccountVatCode="U25"),
        voucher(4, 100, AccountVatCode="none"),  # no VAT: -100 + 100
    ]
    result = run_target(sandbox, config, msgs(stream, rows))
    rejects = read_rejects(Path(config["rejects_file"]))
    assert sorted(r["record"]["ExternalReference"] for r in rejects) == ["OPEN-1", "OPEN-3"], rejects
    assert all("post -25.00 in all" in r["reason"] and "25.00 VAT" in r["reason"] for r in rejects), rejects
    sent = " ".join(str(r.get("body")) for r in result.writes)
    assert "OPEN-1" not in sent and "OPEN-3" not in sent
    if load_as == "manual_voucher":
        held = {v["ExternalReference"]: v for v in live(sandbox.dump(ORG, "manual_vouchers"))}
        assert {"OPEN-2", "OPEN-4"} <= set(held) and not {"OPEN-1", "OPEN-3"} & set(held)
        for ref in ("OPEN-2", "OPEN-4"):
            posted = sum(Decimal(str(line["AmountInclVatValue"])) for line in held[ref]["Lines"])
            assert posted == 0, held[ref]["Lines"]


def test_a_payment_beyond_the_balance_is_rejected_unless_overpayment_is_allowed(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    """Dinero takes a payment larger than what is owed and marks the invoice OverPaid. A record's
    Payments past its total (an amount in øre, a payment listed twice) are rejected before anything is
    written; an invoice_payment beyond the balance Dinero reports (the same money under another
    reference) is rejected without a POST; allow_overpayment registers both."""
    config = make_target_config(sandbox_settings, tmp_path, streams(), max_rejects=10)
    rows = [
        order(1, Payments=[{"Amount": 100.0}, {"Amount": 100.0}]),  # 200.00 on 125.00
        order(2, Payments=[{"Amount": 12500}]),  # øre, not kroner
        order(3, Payments=[{"Amount": 100.0}]),
        order(4, Payments=[{"Amount": 125.0}]),
        order(5),
    ]
    # an invoice booked in this run, paid from another stream: the balance is its total (no read)
    late = [{"id": "ch_5", "InvoiceExternalReference": "PAY-5", "Amount": 200.0}]
    first = run_target(sandbox, config, msgs(ORDERS, rows) + msgs(PAYMENTS, late))
    assert not [r for r in first.api_requests if r["path"].endswith("/payments") and r["method"] == "GET"]
    held = invoices(sandbox)
    assert live_payments(sandbox, held["PAY-5"]["Guid"]) == []
    assert "PAY-1" not in held and "PAY-2" not in held  # rejected before any write
    assert held["PAY-3"]["PaymentStatus"] in ("Booked", "Overdue")  # 25.00 owed
    assert held["PAY-4"]["PaymentStatus"] == "Paid"
    rejects = read_rejects(Path(config["rejects_file"]))
    assert [(r["record"].get("ExternalReference", r["record"]["id"]), r["field"]) for r in rejects] == [
        ("PAY-1", "Payments"),
        ("PAY-2", "Payments"),
        ("ch_5", "Amount"),
    ]
    assert "of 200.00 is more than the 125.00 still owed" in rejects[2]["reason"]
    assert "add up to 200.00, more than the invoice's total 125.00" in rejects[0]["reason"]

    # the same 100.00 again under the charge's own reference: 25.00 is owed, nothing is paid
    again = [{"id": "ch_3", "InvoiceExternalReference": "PAY-3", "Amount": 100.0}]
    second = run_target(sandbox, config, msgs(PAYMENTS, again))
    assert not [r for r in second.writes if r["path"].endswith("/payments")]
    assert [p["Amount"] for p in live_payments(sandbox, held["PAY-3"]["Guid"])] == [100.0]
    reason = read_rejects(Path(config["rejects_file"]))[-1]["reason"]
    assert "of 100.00 is more than the 25.00 still owed" in reason, reason

    allowed = make_target_config(
        sandbox_settings,
        tmp_path,
        streams(**{PAYMENTS: {**streams()[PAYMENTS], "allow_overpayment": True}}),
        rejects_file=str(tmp_path / "allowed.jsonl"),
    )
    third = run_target(sandbox, allowed, msgs(PAYMENTS, again))
    assert third.error is None, third.stderr
    assert sorted(p["Amount"] for p in live_payments(sandbox, held["PAY-3"]["Guid"])) == [100.0, 100.0]
    assert invoices(sandbox)["PAY-3"]["PaymentStatus"] == "OverPaid"


def test_amount_text_and_digits_reach_dinero_as_the_record_says_or_are_rejected(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    """ "1.250" is 1250 in Danish notation and 1.25 in English; 19.999999999999999999 arrives in Dinero as
    20.0 (a double); "1_000" and "1.234,50" are no plain number. Each is rejected naming its field, before
    any request about it; plain text (" 99.95 ", "2", "1e1") loads with exactly its value."""
    invoices_stream, vouchers_stream = "shop_orders", "journal"
    config = make_target_config(
        sandbox_settings,
        tmp_path,
        {invoices_stream: {"load_as": "invoice"}, vouchers_stream: {"load_as": "manual_voucher"}},
        max_rejects=20,
    )

    def invoice(n: int, quantity: Any, price: Any) -> dict[str, Any]:
        line = {"Description": "Te", "Quantity": quantity, "BaseAmountValue": price, "AccountNumber": 1000}
        return {"id": n, "ExternalReference": f"TXT-{n}", "Date": "2026-11-02", "ProductLines": [line]}

    def voucher(n: int, amount: Any) -> dict[str, Any]:
        line = {"AccountNumber": 2000, "BalancingAccountNumber": 55000, "Amount": amount, "Description": "x"}
        return {"id": n, "ExternalReference": f"JTXT-{n}", "VoucherDate": "2026-11-03", "Lines": [line]}

    bad_invoices = [
        invoice(1, "1.000", 100),  # Danish 1000 pieces
        invoice(2, 1, "1.250"),  # Danish 1250 kr
        invoice(3, 1, Decimal("19.999999999999999999")),
        invoice(4, 1, "1_000"),
        invoice(5, 1, "1.234,50"),
    ]
    bad_vouchers = [voucher(1, "1.250"), voucher(2, "12.500"), voucher(3, "1,234.50")]
    good = [invoice(9, "2", " 99.95 "), invoice(10, "1e1", 5)]
    messages = msgs(invoices_stream, bad_invoices + good) + msgs(
        vouchers_stream, [*bad_vouchers, voucher(9, "1.25")]
    )
    result = run_target(sandbox, config, messages)

    rejects = read_rejects(Path(config["rejects_file"]))
    assert sorted((r["record"]["ExternalReference"], r["field"]) for r in rejects) == [
        ("JTXT-1", "Lines[0].Amount"),
        ("JTXT-2", "Lines[0].Amount"),
        ("JTXT-3", "Lines[0].Amount"),
        ("TXT-1", "ProductLines[0].Quantity"),
        ("TXT-2", "ProductLines[0].BaseAmountValue"),
        ("TXT-3", "ProductLines[0].BaseAmountValue"),
        ("TXT-4", "ProductLines[0].BaseAmountValue"),
        ("TXT-5", "ProductLines[0].BaseAmountValue"),
    ], rejects
    sent = " ".join(str(r.get("body")) for r in result.writes)
    assert not any(f"TXT-{n}'" in sent for n in range(1, 6)), sent
    held = {i["ExternalReference"]: i for i in live(sandbox.dump(ORG, "invoices"))}
    assert held["TXT-9"]["TotalExclVat"] == 199.9 and held["TXT-10"]["TotalExclVat"] == 50.0
    vouchers = {v["ExternalReference"]: v for v in live(sandbox.dump(ORG, "manual_vouchers"))}
    assert not {"JTXT-1", "JTXT-2", "JTXT-3"} & set(vouchers)
    assert vouchers["JTXT-9"]["Lines"][0]["AmountInclVatValue"] == 1.25


def test_a_foreign_payment_whose_dkk_amount_is_not_its_rate_is_rejected(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    """On a EUR invoice (7.46 DKK/EUR) Dinero settles AmountInForeignCurrency at the invoice's rate and
    books the DKK difference as an exchange gain or loss. 100 DKK for 100 EUR, or the two swapped, is a
    mapping error that would book about 646 DKK of exchange loss (or 5 500 of gain): rejected, nothing
    paid. 760 DKK for 100 EUR (7.60: a real exchange difference) is paid."""
    config = make_target_config(sandbox_settings, tmp_path, streams(), max_rejects=10)
    invoice = next(
        i
        for i in live(sandbox.dump(ORG, "invoices"))
        if i["Currency"] == "EUR" and i["Status"] == "Booked" and i["PaymentStatus"] in ("Booked", "Overdue")
    )

    def pay(n: int, dkk: float, eur: float) -> dict[str, Any]:
        return {
            "id": f"eur-{n}",
            "InvoiceGuid": invoice["Guid"],
            "Amount": dkk,
            "AmountInForeignCurrency": eur,
        }

    run_target(sandbox, config, msgs(PAYMENTS, [pay(1, 100, 100), pay(2, 100, 746), pay(3, 760, 100)]))
    paid = live_payments(sandbox, invoice["Guid"])
    assert [(p["Amount"], p["AmountInVoucherCurrency"]) for p in paid if not p.get("_Seeded")] == [
        (760.0, 100.0)
    ]
    rejects = read_rejects(Path(config["rejects_file"]))
    assert [r["record"]["id"] for r in rejects] == ["eur-1", "eur-2"]
    assert "1.0000 DKK per EUR, the invoice's rate is 7.4600" in rejects[0]["reason"], rejects[0]["reason"]
    assert "register that payment in Dinero" in rejects[0]["reason"]  # what to do with a real rate

    # an invoice booked in this run with such a payment: its rate is read, nothing is paid
    eur_order = order(7, Currency="EUR", Payments=[{"Amount": 125, "AmountInForeignCurrency": 125}])
    run_target(sandbox, config, msgs(ORDERS, [eur_order]))
    held = invoices(sandbox)["PAY-7"]
    assert held["Status"] == "Booked" and live_payments(sandbox, held["Guid"]) == []
    assert "AmountInForeignCurrency 125" in read_rejects(Path(config["rejects_file"]))[-1]["reason"]


def test_a_credit_note_line_credits_what_its_type_and_discount_say(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    """A Text line carries no amount (Dinero's own credit notes have them; tap-dinero copies them with
    their Quantity and price): sent as a Product line it would credit 50.00 more than the record means.
    A Discount outside 0-100 % would credit more than the line (negative discount) or turn the line
    into a charge: rejected before any write, as on invoices."""
    config = make_target_config(sandbox_settings, tmp_path, streams(), max_rejects=10)
    assert run_target(
        sandbox, config, msgs(ORDERS, [order(n, Payments=[{"Amount": 125.0}]) for n in (1, 2, 3)])
    )
    product = {
        "Description": "Te (returneret)",
        "Quantity": 1,
        "BaseAmountValue": 40.0,
        "AccountNumber": 1000,
    }
    text = {
        "Description": "Returneret i butik",
        "Quantity": 1,
        "BaseAmountValue": 50.0,
        "AccountNumber": 1000,
    }
    notes = [
        {
            "id": "re_1",
            "InvoiceExternalReference": "PAY-1",
            "Book": True,
            "ProductLines": [product, {**text, "LineType": "Text"}],
            "Payment": {"Amount": 50.0},
        },
        {
            "id": "re_2",
            "InvoiceExternalReference": "PAY-2",
            "Book": True,
            "ProductLines": [{**product, "Discount": -50}],
        },
        {
            "id": "re_3",
            "InvoiceExternalReference": "PAY-3",
            "Book": True,
            "ProductLines": [{**product, "Discount": 150}],
        },
    ]
    run_target(sandbox, config, msgs("order_refunds", notes))
    held = invoices(sandbox)
    credited = {
        str(n["CreditNoteFor"]).lower(): n
        for n in live(sandbox.dump(ORG, "creditnotes"))
        if n.get("CreditNoteFor")
    }
    note = credited[held["PAY-1"]["Guid"].lower()]
    assert note["TotalInclVat"] == 50.0  # 40.00 + 25 % VAT; the text line credits nothing
    assert [line["LineType"] for line in note["ProductLines"]] == ["Product", "Text"]
    assert [p["Amount"] for p in live_payments(sandbox, note["Guid"])] == [50.0]
    assert held["PAY-2"]["Guid"].lower() not in credited and held["PAY-3"]["Guid"].lower() not in credited
    rejects = read_rejects(Path(config["rejects_file"]))
    assert [(r["record"]["id"], r["field"]) for r in rejects] == [
        ("re_2", "ProductLines[0].Discount"),
        ("re_3", "ProductLines[0].Discount"),
    ]


def test_a_purchase_voucher_whose_payments_pass_its_total_is_rejected(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    """A supplier's bill of 125.00 with Payments of 12 500 (øre) or 125 + 125 would be marked overpaid:
    rejected before anything is written; 100 + 25 is paid and the bill is Paid."""
    from tests.target.test_target_purchases_cashbook import BILLS, bill, bills_held

    config = make_target_config(
        sandbox_settings,
        tmp_path,
        {BILLS: {"load_as": "purchase_voucher", "book": True, "deposit_account": 55000}},
        max_rejects=10,
    )
    credit = {
        "PurchaseType": "credit",
        "PaymentDate": "2026-11-20",
        "Contact": {"Name": "Papirgrossisten A/S", "Email": "ap@papir.example", "CountryKey": "DK"},
    }
    rows = [
        bill(1, **credit, Payments=[{"Amount": 12500}]),
        bill(2, **credit, Payments=[{"Amount": 125.0}, {"Amount": 125.0}]),
        bill(3, **credit, Payments=[{"Amount": 100.0}, {"Amount": 25.0}]),
    ]
    result = run_target(sandbox, config, msgs(BILLS, rows))
    held = bills_held(sandbox)
    assert set(held) == {"BILL-3"} and held["BILL-3"][0]["Status"] == "Paid"
    rejects = read_rejects(Path(config["rejects_file"]))
    assert [(r["record"]["id"], r["field"]) for r in rejects] == [(1, "Payments"), (2, "Payments")]
    assert "add up to 12500.00, more than the voucher's total 125.00" in rejects[0]["reason"]
    assert not [r for r in result.writes if "BILL-1" in str(r.get("body")) or "BILL-2" in str(r.get("body"))]


def _per_line_vat_order(n: int, **over: Any) -> dict[str, Any]:
    """An order as a web shop that rounds VAT per line (WooCommerce's default) totals it: three lines of
    7.98 excl. VAT are 3 x 9.98 = 29.94 to the customer; Dinero rounds the VAT once on the sum (23.94 ->
    5.99 or 5.98) and holds 29.93 or 29.92."""
    line = {"Description": "Te", "Quantity": 1, "BaseAmountValue": 7.98, "AccountNumber": 1000}
    return order(n, ProductLines=[dict(line) for _ in range(3)], **over)


def test_a_payment_an_ore_past_dinero_s_total_is_registered_not_rejected(
    sandbox: Any, config: dict[str, Any]
) -> None:
    """The customer paid the shop's total, which Dinero's rounding puts 1-2 øre above the invoice's: that
    is money received, not a duplicate or an amount in øre. It is registered (Dinero marks the invoice
    OverPaid by the øre) -- rejecting it left the whole order, or its payment, out of Dinero."""
    rows = [_per_line_vat_order(1, Payments=[{"Amount": 29.94}]), _per_line_vat_order(2)]
    first = run_target(sandbox, config, msgs(ORDERS, rows))
    assert first.error is None, first.stderr
    held = invoices(sandbox)
    assert [p["Amount"] for p in live_payments(sandbox, held["PAY-1"]["Guid"])] == [29.94]
    # the same on an invoice from an earlier run (what is owed read from Dinero), from the payments stream
    later = [{"id": "ch_2", "InvoiceExternalReference": "PAY-2", "Amount": 29.94}]
    second = run_target(sandbox, config, msgs(PAYMENTS, later))
    assert second.error is None, second.stderr
    assert [p["Amount"] for p in live_payments(sandbox, held["PAY-2"]["Guid"])] == [29.94]
    assert read_rejects(Path(config["rejects_file"])) == []


def test_a_remainder_written_off_as_a_fee_leaves_nothing_owed_in_the_same_run(
    sandbox: Any, config: dict[str, Any]
) -> None:
    """RemainderIsFee closes the invoice (Dinero writes the rest off): a later payment in the same run --
    the fee amount under another reference -- is a payment on a paid invoice, rejected, not registered
    as an overpayment because the run still counted the written-off 5.00 as owed."""
    rows = [order(1, Payments=[{"Amount": 120.0, "RemainderIsFee": True}])]
    late = [{"id": "ch_1", "InvoiceExternalReference": "PAY-1", "Amount": 5.0}]
    run_target(sandbox, config, msgs(ORDERS, rows) + msgs(PAYMENTS, late))
    held = invoices(sandbox)
    assert [p["Amount"] for p in live_payments(sandbox, held["PAY-1"]["Guid"])] == [120.0]
    assert held["PAY-1"]["PaymentStatus"] == "Paid"
    rejects = read_rejects(Path(config["rejects_file"]))
    assert [(r["record"]["id"], r["field"]) for r in rejects] == [("ch_1", "Amount")], rejects


def test_the_rate_of_an_invoice_booked_in_the_run_costs_one_list_read_per_payment(
    sandbox: Any, config: dict[str, Any]
) -> None:
    """A foreign-currency payment's rate is checked against its invoice's, which only a list row carries:
    for an invoice this run booked the target knows its reference, so the row is asked for directly --
    not after reading the invoice back first to learn its reference (a request per payment more)."""
    rows = [
        order(n, Currency="EUR", Payments=[{"Amount": 932.5, "AmountInForeignCurrency": 125}])
        for n in range(1, 4)
    ]
    first = run_target(sandbox, config, msgs(ORDERS, rows))
    assert first.error is None, first.stderr
    held = invoices(sandbox)
    assert {r["PaymentStatus"] for r in held.values()} == {"Paid"}
    detail_reads = [
        r
        for r in first.api_requests
        if r["method"] == "GET" and any(r["path"].endswith(f"/invoices/{i['Guid']}") for i in held.values())
    ]
    assert detail_reads == []


def test_a_card_fee_past_the_share_on_a_small_invoice_is_rejected_saying_how_to_allow_it(
    sandbox: Any, config: dict[str, Any]
) -> None:
    """A fixed card fee (1.80 + 1.5 %) on an order of 20.00 is 2.10, 10.5 % of it: past the default share,
    so rejected -- and the reason says which setting lets such fees through, not only that it is refused."""
    small = order(
        1,
        ProductLines=[{"Description": "Te", "Quantity": 1, "BaseAmountValue": 16.0, "AccountNumber": 1000}],
        Payments=[{"Amount": 17.9, "RemainderIsFee": True}],
    )
    run_target(sandbox, config, msgs(ORDERS, [small]))
    reason = read_rejects(Path(config["rejects_file"]))[0]["reason"]
    assert "write off 2.10" in reason and "raise streams.orders.max_remainder_fee_share" in reason, reason
