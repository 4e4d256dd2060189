"""Normal upstream traffic, end to end, as real shops and payment providers send it: WooCommerce prices as
text with four decimals and quantities as text, shipping, free and fully discounted lines, VAT rounded per
line by the shop (its payment is øre above Dinero's total), Stripe amounts in minor units, a EUR order paid
at the day's rate, re-runs, and a booked order re-sent with only its comment changed. None of it may be
rejected, and Dinero holds each amount once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.harness import (
    invoices_by_reference,
    live_payments,
    make_target_config,
    read_rejects,
    run_target,
)
from tests.harness import record_message as record
from tests.harness import schema_message as schema
from tests.harness import state_message as state

#: A WooCommerce-like order (REST API v3 shape): prices are text, four decimals when the shop is set so.
WOO_MAPS: dict[str, Any] = {
    "woo_orders": {
        "ExternalReference": "'WOO-' + str(id)",
        "Date": "date_created[:10]",
        "Book": "True",
        "Currency": "currency",
        "Comment": "customer_note",
        "Address": "billing.get('address_1')",
        "Contact": "{'Name': billing['first_name'] + ' ' + billing['last_name'], 'Email': billing['email'], "
        "'CountryKey': billing['country']}",
        "ProductLines": "[{'Description': li['name'], 'Quantity': li['quantity'], "
        "'BaseAmountValue': li['price'], 'Discount': li.get('discount', 0), 'AccountNumber': 1000} "
        "for li in line_items] + [{'Description': s['method_title'], 'Quantity': 1, "
        "'BaseAmountValue': s['total'], 'AccountNumber': 1000} for s in shipping_lines]",
        "Payments": "[{'ExternalReference': 'woo-pay-' + str(id), "
        "'Amount': float('%.2f' % (float(total) * float(rate))), "
        "'AmountInForeignCurrency': float(total) if currency != 'DKK' else None, "
        "'PaymentDate': date_paid[:10]}] if date_paid else None",
    },
}


def woo_order(n: int, **over: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "id": n,
        "date_created": "2026-11-02T10:00:00",
        "date_paid": "2026-11-02T10:01:00",
        "currency": "DKK",
        "rate": "1",
        "customer_note": "",
        "billing": {
            "first_name": "Anne",
            "last_name": f"Kunde{n}",
            "email": f"woo{n}@example.dk",
            "country": "DK",
        },
        # 3 x 7.99 net: the shop rounds VAT per line (2.00 each): 29.97; Dinero 23.97 * 1.25 = 29.96
        "line_items": [
            {"name": "Kaffe", "quantity": "3", "price": "7.9900"},
            {"name": "Gratis prøve", "quantity": 1.0, "price": "0.0000"},
            {"name": "Gave (100 % rabat)", "quantity": 1, "price": "40.0000", "discount": 100},
        ],
        "shipping_lines": [{"method_title": "GLS", "total": "39.20"}],  # 49.00 incl. VAT
        "total": "78.97",
    }
    order.update(over)
    return order


def messages(rows: list[dict[str, Any]], stream: str = "woo_orders") -> list[dict[str, Any]]:
    return [
        schema(stream, ("id",), {k: {} for k in rows[0]}),
        *(record(stream, r) for r in rows),
        state({"bookmarks": {stream: len(rows)}}),
    ]


@pytest.fixture
def woo_config(sandbox_settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    streams = {"woo_orders": {"load_as": "invoice", "deposit_account": 55000}}
    return make_target_config(sandbox_settings, tmp_path, streams, stream_maps=WOO_MAPS)


def test_woocommerce_orders_load_paid_and_rerun_three_times(sandbox: Any, woo_config: dict[str, Any]) -> None:
    rows = [woo_order(1), woo_order(2, customer_note="Ring på")]
    for _ in range(3):
        run = run_target(sandbox, woo_config, messages(rows))
        assert run.error is None, run.stderr
        assert read_rejects(Path(woo_config["rejects_file"])) == []
    invoices = invoices_by_reference(sandbox, "WOO-")
    assert set(invoices) == {"WOO-1", "WOO-2"}
    for inv in invoices.values():
        assert inv["Status"] == "Booked"
        assert inv["TotalInclVat"] == pytest.approx(78.96)
        assert [p["Amount"] for p in live_payments(sandbox, inv["Guid"])] == [pytest.approx(78.97)]


def test_booked_order_resent_with_only_its_note_or_address_changed_is_not_rejected(
    sandbox: Any, woo_config: dict[str, Any]
) -> None:
    """Shops re-send an order when anything on it changes: a customer note, the address. A booked invoice
    cannot change, but what it books did not: the re-sent record is counted skipped_booked (summary note),
    not rejected against max_rejects and not written. Only money (TotalInclVat), Date and Currency make a
    booked invoice 'changed content' (test_target_booked_changed.py)."""
    first = run_target(sandbox, woo_config, messages([woo_order(3)]))
    assert first.error is None, first.stderr
    changed = woo_order(
        3,
        customer_note="Kunden ringede: lad pakken stå",
        billing={
            "first_name": "Anne",
            "last_name": "Kunde3",
            "email": "woo3@example.dk",
            "country": "DK",
            "address_1": "Nygade 4",
        },
    )
    again = run_target(sandbox, woo_config, messages([changed]))
    assert again.error is None, again.stderr
    assert read_rejects(Path(woo_config["rejects_file"])) == []
    assert again.writes == []
    assert again.counts("woo_orders").get("skipped_booked") == 1


def test_eur_order_paid_at_the_days_rate_is_registered(sandbox: Any, woo_config: dict[str, Any]) -> None:
    rows = [
        woo_order(
            4,
            currency="EUR",
            rate="7.4612",
            billing={
                "first_name": "Hans",
                "last_name": "Müller",
                "email": "woo4@example.de",
                "country": "DE",
            },
        )
    ]
    for _ in range(2):
        run = run_target(sandbox, woo_config, messages(rows))
        assert run.error is None, run.stderr
        assert read_rejects(Path(woo_config["rejects_file"])) == []
    inv = invoices_by_reference(sandbox, "WOO-4")["WOO-4"]
    assert inv["Currency"] == "EUR"
    assert len(live_payments(sandbox, inv["Guid"])) == 1


STRIPE_MAPS: dict[str, Any] = {
    "stripe_invoices": {
        "ExternalReference": "number",
        "Date": "created",
        "Book": "True",
        "Contact": "{'Name': customer_name, 'Email': customer_email, 'CountryKey': 'DK'}",
        "ProductLines": "[{'Description': ln['description'], 'Quantity': ln['quantity'], "
        "'BaseAmountValue': ln['amount'] / 100 / ln['quantity'], 'AccountNumber': 1000} for ln in lines]",
    },
    "stripe_charges": {
        "InvoiceExternalReference": "invoice",
        "Amount": "(amount - fee) / 100",
        "RemainderIsFee": "fee > 0",
        "PaymentDate": "created[:10]",
        "Description": "'Stripe ' + id",
    },
}


def test_stripe_minor_units_split_lines_and_card_fee(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    streams = {
        "stripe_invoices": {"load_as": "invoice"},
        "stripe_charges": {
            "load_as": "invoice_payment",
            "deposit_account": 55910,
            "create_deposit_account": True,
        },
    }
    config = make_target_config(sandbox_settings, tmp_path, streams, stream_maps=STRIPE_MAPS)
    inv = {
        "id": "in_1",
        "number": "ABO-9001",
        "created": "2026-11-02",
        "customer_name": "Lise",
        "customer_email": "lise@example.dk",
        # 3 seats, 100.00 net for the line (Stripe: øre): 33.333...33 each, 125.00 incl. VAT
        "lines": [{"description": "3 pladser", "quantity": 3, "amount": 10000}],
    }
    charge = {
        "id": "ch_1",
        "invoice": "ABO-9001",
        "amount": 12500,
        "fee": 218,
        "created": "2026-11-03T08:00:00",
    }
    msgs = [
        schema("stripe_invoices", ("id",), {k: {} for k in inv}),
        record("stripe_invoices", inv),
        schema("stripe_charges", ("id",), {k: {} for k in charge}),
        record("stripe_charges", charge),
        state({"bookmarks": {}}),
    ]
    for _ in range(3):
        run = run_target(sandbox, config, msgs)
        assert run.error is None, run.stderr
        assert read_rejects(Path(config["rejects_file"])) == []
    held = invoices_by_reference(sandbox, "ABO-9001")["ABO-9001"]
    assert held["TotalInclVat"] == pytest.approx(125.0)
    assert held["PaymentStatus"] == "Paid"
    assert [p["Amount"] for p in live_payments(sandbox, held["Guid"])] == [pytest.approx(122.82)]


def test_free_order_marked_paid_books_its_invoice_and_registers_no_payment(
    sandbox: Any, woo_config: dict[str, Any]
) -> None:
    """A 100 % coupon makes an order cost nothing; the shop marks it paid and its export lists a payment of
    0.00. The whole order was rejected ("Amount must be positive") and its invoice never booked: a free
    order is normal traffic. A 0.00 payment moves no money: the invoice is booked, no payment registered,
    re-runs write nothing; a paid order beside it loads as before."""
    free = woo_order(
        8,
        line_items=[{"name": "Gave", "quantity": 1, "price": "40.0000", "discount": 100}],
        shipping_lines=[],
        total="0.00",
    )
    for _ in range(2):
        run = run_target(sandbox, woo_config, messages([free, woo_order(9)]))
        assert run.error is None, run.stderr
        assert read_rejects(Path(woo_config["rejects_file"])) == []
    invoices = invoices_by_reference(sandbox, "WOO-")
    assert invoices["WOO-8"]["Status"] == "Booked"
    assert invoices["WOO-8"]["TotalInclVat"] == pytest.approx(0.0)
    assert live_payments(sandbox, invoices["WOO-8"]["Guid"]) == []
    assert [p["Amount"] for p in live_payments(sandbox, invoices["WOO-9"]["Guid"])] == [pytest.approx(78.97)]


@pytest.mark.parametrize(("price", "shop_total"), [("7.9700", "29.88"), ("7.9900", "29.97")])
def test_shop_rounding_vat_per_line_with_rounding_account_ends_paid_to_the_ore(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path, price: str, shop_total: str
) -> None:
    """A shop rounding VAT per line charges øre less (3 x 7.97 net: 29.88, Dinero 29.89) or more (3 x 7.99:
    29.97, Dinero 29.96) than Dinero's total. Without a stated total the first invoice stays open by 0.01
    for good (reminders for an øre). Mapping the order's total to TotalInclVat with a rounding_account
    (as the README's shop recipe says) books the customer's total and the payment settles it exactly."""
    maps = {"woo_orders": {**WOO_MAPS["woo_orders"], "TotalInclVat": "float(total)"}}
    streams = {"woo_orders": {"load_as": "invoice", "deposit_account": 55000, "rounding_account": 1010}}
    config = make_target_config(sandbox_settings, tmp_path, streams, stream_maps=maps)
    order = woo_order(10, line_items=[{"name": "K", "quantity": "3", "price": price}], shipping_lines=[])
    order["total"] = shop_total
    for _ in range(2):
        run = run_target(sandbox, config, messages([order]))
        assert run.error is None, run.stderr
    held = invoices_by_reference(sandbox, "WOO-10")["WOO-10"]
    assert held["TotalInclVat"] == pytest.approx(float(shop_total))
    assert held["PaymentStatus"] == "Paid"
    assert len(live_payments(sandbox, held["Guid"])) == 1


def test_expense_listing_a_zero_payment_books_and_registers_only_real_money(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    """An expense tool lists a supplier bill's payments, one of them 0.00 (a voided bank transfer left in
    the list). The bill was rejected whole ('Amount must be positive'); now the 0.00 entry is left out and
    the real payment is registered once, also on re-runs."""
    import json

    from tests.target.test_target_commerce_pipeline import PIPELINE_MAPS, SAMPLES

    streams = {"expenses": {"load_as": "purchase_voucher", "deposit_account": 55000}}
    config = make_target_config(
        sandbox_settings, tmp_path, streams, stream_maps={"expenses": PIPELINE_MAPS["expenses"]}
    )
    rows = [json.loads(line) for line in (SAMPLES / "expenses.jsonl").read_text().splitlines() if line]
    bill = next(r for r in rows if r.get("paid"))
    bill = {**bill, "paid": [{"id": "bt-void", "amount": "0.00", "date": "2026-11-06"}, *bill["paid"]]}
    msgs = [
        schema("expenses", ("id",), {k: {} for k in bill}),
        record("expenses", bill),
        state({"bookmarks": {}}),
    ]
    for _ in range(2):
        run = run_target(sandbox, config, msgs)
        assert run.error is None, run.stderr
        assert read_rejects(Path(config["rejects_file"])) == []
    payments = [
        p for p in sandbox.dump("100000", "payments") if "EXP-PAY-" in str(p.get("ExternalReference"))
    ]
    assert [(p["ExternalReference"], p["Amount"]) for p in payments if not p.get("DeletedAt")] == [
        ("EXP-PAY-" + bill["paid"][1]["id"], float(bill["paid"][1]["amount"]))
    ]
