"""The README's stream-map recipes, run on sample upstream records (tests/target/samples/): a web-shop
order with transactions and refunds, Stripe-like invoices and charges. Dinero ends up holding the invoices
paid, the refunds as booked credit notes, each payment once -- and a re-run writes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.harness import ORG, make_target_config, read_rejects, run_target
from tests.harness import record_message as record
from tests.harness import schema_message as schema
from tests.harness import state_message as state

SAMPLES = Path(__file__).parent / "samples"

#: The recipes as printed in README.md ("Recipes: web-shop orders, payments and refunds").
STREAM_MAPS: dict[str, Any] = {
    "shop_orders": {
        "ExternalReference": "'SHOP-' + str(id)",
        "Date": "created_at[:10]",
        "Currency": "record.get('currency') or 'DKK'",
        "Book": "True",
        "Contact": "{'Name': customer['first_name'] + ' ' + customer['last_name'], "
        "'Email': customer['email'], 'CountryKey': 'DK'}",
        # what was charged: the items, the shipping (shipping_lines) and a discount code (total_discounts)
        "ProductLines": "[{'Description': li['title'], 'Quantity': li['quantity'], "
        "'BaseAmountValue': float(li['price']) / 1.25, 'AccountNumber': 1000} for li in line_items] + "
        "[{'Description': s['title'], 'Quantity': 1, 'BaseAmountValue': float(s['price']) / 1.25, "
        "'AccountNumber': 1000} for s in record.get('shipping_lines') or []] + "
        "([{'Description': 'Rabat', 'Quantity': 1, "
        "'BaseAmountValue': -float(record.get('total_discounts')) / 1.25, 'AccountNumber': 1000}] "
        "if float(record.get('total_discounts') or 0) else [])",
        "Payments": "[{'ExternalReference': 'shop-tx-' + str(t['id']), 'Amount': float(t['amount']), "
        "'PaymentDate': t['processed_at'][:10]} for t in transactions "
        "if t['kind'] in ('sale', 'capture') and t['status'] == 'success']",
    },
    "shop_refunds": {
        # a refund without a successful refund transaction moved no money (a restock, a failed refund)
        "__filter__": "bool([t for t in transactions if t['kind'] == 'refund' and t['status'] == 'success'])",
        "InvoiceExternalReference": "'SHOP-' + str(order_id)",
        "Date": "created_at[:10]",
        "Description": "note",
        "Book": "True",
        # never None: without lines the target generates the FULL credit note; a refund of the shipping
        # only (order_adjustments) or of an amount (only its transaction) credits what it refunded
        "ProductLines": "[{'Description': r['title'], 'Quantity': r['quantity'], "
        "'BaseAmountValue': float(r['subtotal']) / r['quantity'] / 1.25, 'AccountNumber': 1000} "
        "for r in refund_line_items] + [{'Description': a['kind'], 'Quantity': 1, "
        "'BaseAmountValue': -float(a['amount']) / 1.25, 'AccountNumber': 1000} "
        "for a in record.get('order_adjustments') or []] or [{'Description': note or 'Refusion', "
        "'Quantity': 1, 'BaseAmountValue': float([t for t in transactions "
        "if t['kind'] == 'refund' and t['status'] == 'success'][0]['amount']) / 1.25, "
        "'AccountNumber': 1000}]",
        "Payment": "{'Amount': float([t for t in transactions "
        "if t['kind'] == 'refund' and t['status'] == 'success'][0]['amount']), "
        "'PaymentDate': created_at[:10]}",
    },
    "stripe_invoices": {
        "ExternalReference": "number",
        "Date": "created",
        "Currency": "(record.get('currency') or 'dkk').upper()",
        "Book": "True",
        "Contact": "{'Name': customer_name, 'Email': customer_email, 'CountryKey': 'DK'}",
        "ProductLines": "[{'Description': ln['description'], 'Quantity': ln['quantity'], "
        "'BaseAmountValue': ln['amount'] / 100 / ln['quantity'], 'AccountNumber': 1000} for ln in lines] + "
        # a coupon: the lines are before it (subtotal), the charge after it (total_excluding_tax + VAT)
        "([{'Description': 'Rabat', 'Quantity': 1, "
        "'BaseAmountValue': -(subtotal - total_excluding_tax) / 100, 'AccountNumber': 1000}] "
        "if record.get('total_excluding_tax') is not None and subtotal != total_excluding_tax else [])",
    },
    "stripe_charges": {
        # a declined charge moved no money: without the filter it was registered as a payment
        "__filter__": "record.get('status', 'succeeded') == 'succeeded'",
        "InvoiceExternalReference": "invoice",
        "Amount": "(amount - fee) / 100",
        "RemainderIsFee": "fee > 0",
        "PaymentDate": "created[:10]",
        "Description": "'Stripe ' + id",
    },
}

STREAMS = {
    "shop_orders": {"load_as": "invoice", "deposit_account": 55000},
    "shop_refunds": {"load_as": "sales_credit_note", "deposit_account": 55000},
    "stripe_invoices": {"load_as": "invoice"},
    "stripe_charges": {
        "load_as": "invoice_payment",
        "deposit_account": 55910,
        "create_deposit_account": True,
    },
}


def sample_messages() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for stream in STREAMS:
        rows = [json.loads(line) for line in (SAMPLES / f"{stream}.jsonl").read_text().splitlines() if line]
        props = {k: {} for k in rows[0]}
        out.append(schema(stream, ("id",), props))
        out.extend(record(stream, r) for r in rows)
    out.append(state({"bookmarks": {"done": True}}))
    return out


@pytest.fixture
def config(sandbox_settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    return make_target_config(sandbox_settings, tmp_path, STREAMS, stream_maps=STREAM_MAPS)


def test_recipes_load_orders_refunds_invoices_and_charges(sandbox: Any, config: dict[str, Any]) -> None:
    first = run_target(sandbox, config, sample_messages())
    assert first.error is None, first.stderr
    assert read_rejects(Path(config["rejects_file"])) == []
    invoices = {
        r["ExternalReference"]: r
        for r in sandbox.dump(ORG, "invoices")
        if str(r.get("ExternalReference") or "").startswith(("SHOP-", "ABO-")) and not r.get("DeletedAt")
    }
    assert set(invoices) == {"SHOP-5001", "SHOP-5002", "SHOP-5003", "ABO-0042", "ABO-0043"}
    assert invoices["SHOP-5001"]["TotalInclVat"] == pytest.approx(300.0)
    assert invoices["SHOP-5001"]["PaymentStatus"] == "Paid"
    assert invoices["ABO-0042"]["PaymentStatus"] == "Paid"  # 498.30 net of the card fee, fee written off
    assert invoices["ABO-0043"]["PaymentStatus"] == "Paid"  # two charges
    payments = [p for p in sandbox.dump(ORG, "payments") if not p.get("DeletedAt")]
    mine = {p["VoucherGuid"]: [] for p in payments}
    for p in payments:
        mine[p["VoucherGuid"]].append(p)
    assert len(mine[invoices["ABO-0043"]["Guid"].lower()]) == 2
    assert len(mine[invoices["SHOP-5003"]["Guid"].lower()]) == 1  # the failed transaction is not a payment
    notes = [n for n in sandbox.dump(ORG, "creditnotes") if not n.get("DeletedAt")]
    refund_for = {str(n.get("CreditNoteFor")).lower(): n for n in notes}
    partial = refund_for[invoices["SHOP-5002"]["Guid"].lower()]
    full = refund_for[invoices["SHOP-5003"]["Guid"].lower()]
    assert partial["TotalInclVat"] == pytest.approx(62.5)
    assert full["TotalInclVat"] == pytest.approx(500.0)
    for note in (partial, full):
        assert (note["Status"], note["PaymentStatus"]) == ("Booked", "Paid")  # booked, refund paid back
    assert len(mine[full["Guid"].lower()]) == 1

    again = run_target(sandbox, config, sample_messages())
    assert again.error is None, again.stderr
    assert again.writes == []


def test_refund_without_line_items_credits_what_was_refunded_not_the_whole_order(
    sandbox: Any, config: dict[str, Any]
) -> None:
    """A Shopify refund of the shipping only (or a goodwill amount) has no refund_line_items: its money is in
    order_adjustments, or only in its transaction. The recipe generated the full credit note for it -- the
    whole 300.00 order credited for a 50.00 refund. Now it credits the 50.00, and the later refund of the
    goods (with their line items) the other 250.00: the order ends credited once, in full."""
    order = json.loads((SAMPLES / "shop_orders.jsonl").read_text().splitlines()[0])  # SHOP-5001, 300.00
    shipping = {
        "id": 8201,
        "order_id": order["id"],
        "created_at": "2026-11-04T09:00:00+01:00",
        "note": "Fragt refunderet",
        "refund_line_items": [],
        "order_adjustments": [{"kind": "shipping_refund", "amount": "-50.00"}],
        "transactions": [{"id": 70041, "kind": "refund", "status": "success", "amount": "50.00"}],
    }
    goodwill = {
        "id": 8202,
        "order_id": order["id"],
        "created_at": "2026-11-05T09:00:00+01:00",
        "note": "Kompensation",
        "refund_line_items": [],
        "order_adjustments": [],
        "transactions": [{"id": 70042, "kind": "refund", "status": "success", "amount": "25.00"}],
    }
    goods = {
        "id": 8203,
        "order_id": order["id"],
        "created_at": "2026-11-06T09:00:00+01:00",
        "note": "Returneret",
        "refund_line_items": [
            {"line_item_id": 1, "title": "Kaffebønner 1 kg", "quantity": 1, "subtotal": "125.00"}
        ],
        "order_adjustments": [],
        "transactions": [{"id": 70043, "kind": "refund", "status": "success", "amount": "125.00"}],
    }
    refunds = [shipping, goodwill, goods]
    msgs = [
        schema("shop_orders", ("id",), {k: {} for k in order}),
        record("shop_orders", order),
        schema("shop_refunds", ("id",), {k: {} for k in shipping}),
        *(record("shop_refunds", r) for r in refunds),
        state({"bookmarks": {"done": True}}),
    ]
    for _ in range(2):
        run = run_target(sandbox, config, msgs)
        assert run.error is None, run.stderr
        assert read_rejects(Path(config["rejects_file"])) == []
    invoice = next(
        r
        for r in sandbox.dump(ORG, "invoices")
        if r.get("ExternalReference") == "SHOP-5001" and not r.get("DeletedAt")
    )
    notes = [
        n
        for n in sandbox.dump(ORG, "creditnotes")
        if str(n.get("CreditNoteFor") or "").lower() == invoice["Guid"].lower() and not n.get("DeletedAt")
    ]
    assert sorted(n["TotalInclVat"] for n in notes) == [
        pytest.approx(25.0),
        pytest.approx(50.0),
        pytest.approx(125.0),
    ]
    assert all(
        n["PaymentStatus"] == "Paid" for n in notes
    )  # each refund paid back once, as much as it credits


def test_order_with_shipping_lines_and_a_discount_code_is_invoiced_as_paid(
    sandbox: Any, config: dict[str, Any]
) -> None:
    """A real Shopify order keeps its shipping in shipping_lines and a discount code in total_discounts, not
    in line_items. The recipe invoiced the line items only: 2 x 125.00 = 250.00 for a transaction of 274.00
    (+ 49.00 shipping, - 25.00 discount), and the order was rejected as overpaid (without the shipping an
    order with only a discount would have been left open by the discount). The recipe now invoices what was
    charged: items, shipping, discount."""
    order = {
        "id": 5101,
        "created_at": "2026-11-07T10:00:00+01:00",
        "currency": "DKK",
        "total_discounts": "25.00",
        "customer": {"id": 910, "first_name": "Ida", "last_name": "Dam", "email": "ida.dam@example.dk"},
        "line_items": [{"id": 11, "title": "Kaffebønner 1 kg", "quantity": 2, "price": "125.00"}],
        "shipping_lines": [{"id": 21, "title": "PostNord", "price": "49.00"}],
        "transactions": [
            {
                "id": 70101,
                "kind": "sale",
                "status": "success",
                "amount": "274.00",
                "processed_at": "2026-11-07T10:00:04+01:00",
            }
        ],
    }
    msgs = [
        schema("shop_orders", ("id",), {k: {} for k in order}),
        record("shop_orders", order),
        state({"bookmarks": {"done": True}}),
    ]
    for _ in range(2):
        run = run_target(sandbox, config, msgs)
        assert run.error is None, run.stderr
        assert read_rejects(Path(config["rejects_file"])) == []
    held = [r for r in sandbox.dump(ORG, "invoices") if r.get("ExternalReference") == "SHOP-5101"]
    assert len(held) == 1
    assert held[0]["TotalInclVat"] == pytest.approx(274.0)
    assert held[0]["PaymentStatus"] == "Paid"


def test_a_failed_charge_then_its_successful_retry_registers_one_payment(
    sandbox: Any, config: dict[str, Any]
) -> None:
    """A card is declined and the retry succeeds: Stripe lists both charges, the first with status
    'failed'. The charge recipe mapped every charge, so the declined 500.00 was registered as money received
    and the real charge (net of its fee) was then rejected: the invoice was already paid. The recipe filters
    on status (``__filter__``): one payment, the real one, its fee written off."""
    invoice = {
        "id": "in_9",
        "number": "ABO-0099",
        "created": "2026-11-01",
        "customer_name": "Kiosk Øst",
        "customer_email": "kiosk@example.dk",
        "lines": [{"description": "Abonnement", "amount": 40000, "quantity": 1}],
    }
    declined = {
        "id": "ch_decl",
        "invoice": "ABO-0099",
        "amount": 50000,
        "fee": 0,
        "created": "2026-11-03T08:00:00Z",
    }
    declined["status"] = "failed"
    retried = {
        **declined,
        "id": "ch_ok",
        "fee": 930,
        "created": "2026-11-03T08:05:00Z",
        "status": "succeeded",
    }
    msgs = [
        schema("stripe_invoices", ("id",), {k: {} for k in invoice}),
        record("stripe_invoices", invoice),
        schema("stripe_charges", ("id",), {k: {} for k in declined}),
        record("stripe_charges", declined),
        record("stripe_charges", retried),
        state({"bookmarks": {"done": True}}),
    ]
    for _ in range(2):
        run = run_target(sandbox, config, msgs)
        assert run.error is None, run.stderr
        assert read_rejects(Path(config["rejects_file"])) == []
    held = next(r for r in sandbox.dump(ORG, "invoices") if r.get("ExternalReference") == "ABO-0099")
    assert held["PaymentStatus"] == "Paid"
    payments = [
        p
        for p in sandbox.dump(ORG, "payments")
        if p["VoucherGuid"] == held["Guid"].lower() and not p.get("DeletedAt")
    ]
    assert [p["Amount"] for p in payments] == [pytest.approx(490.70)]


def test_a_refund_that_moved_no_money_is_left_out(sandbox: Any, config: dict[str, Any]) -> None:
    """A Shopify refund can move no money: a restock of an exchanged item has no transactions, a refund
    whose transaction failed has status 'failure'. The recipe read transactions[0] (no transactions: the
    map failed and the refund was rejected) and registered a failed refund as paid back. The recipe filters
    refunds without a successful transaction (``__filter__``): nothing credited, nothing rejected."""
    order = json.loads((SAMPLES / "shop_orders.jsonl").read_text().splitlines()[0])  # SHOP-5001
    base = {
        "order_id": order["id"],
        "created_at": "2026-11-04T09:00:00+01:00",
        "note": "Bytte",
        "order_adjustments": [],
    }
    restock = {
        **base,
        "id": 8301,
        "refund_line_items": [
            {"line_item_id": 1, "title": "Kaffebønner 1 kg", "quantity": 1, "subtotal": "125.00"}
        ],
        "transactions": [],
    }
    failed = {
        **base,
        "id": 8302,
        "refund_line_items": [],
        "transactions": [{"id": 70051, "kind": "refund", "status": "failure", "amount": "50.00"}],
    }
    msgs = [
        schema("shop_orders", ("id",), {k: {} for k in order}),
        record("shop_orders", order),
        schema("shop_refunds", ("id",), {k: {} for k in restock}),
        record("shop_refunds", restock),
        record("shop_refunds", failed),
        state({"bookmarks": {"done": True}}),
    ]
    run = run_target(sandbox, config, msgs)
    assert run.error is None, run.stderr
    assert read_rejects(Path(config["rejects_file"])) == []
    invoice = next(
        r
        for r in sandbox.dump(ORG, "invoices")
        if r.get("ExternalReference") == "SHOP-5001" and not r.get("DeletedAt")
    )
    assert [
        n
        for n in sandbox.dump(ORG, "creditnotes")
        if str(n.get("CreditNoteFor") or "").lower() == invoice["Guid"].lower() and not n.get("DeletedAt")
    ] == []


def test_an_authorized_then_captured_order_is_paid_once(sandbox: Any, config: dict[str, Any]) -> None:
    """Shops that capture on fulfilment record the money as an 'authorization' then a 'capture' transaction
    (no 'sale'). The recipe took only 'sale' transactions: the captured money was never registered and the
    invoice stayed unpaid, silently. It now takes 'capture' too (an authorization moves no money)."""
    order = json.loads((SAMPLES / "shop_orders.jsonl").read_text().splitlines()[0])  # 300.00
    order = {**order, "id": 5201}
    auth = {"id": 70201, "kind": "authorization", "status": "success", "amount": "300.00"}
    auth["processed_at"] = "2026-11-02T10:15:05+01:00"
    capture = {**auth, "id": 70202, "kind": "capture", "processed_at": "2026-11-04T08:00:00+01:00"}
    order["transactions"] = [auth, capture]
    msgs = [
        schema("shop_orders", ("id",), {k: {} for k in order}),
        record("shop_orders", order),
        state({"bookmarks": {"done": True}}),
    ]
    for _ in range(2):
        run = run_target(sandbox, config, msgs)
        assert run.error is None, run.stderr
    held = next(r for r in sandbox.dump(ORG, "invoices") if r.get("ExternalReference") == "SHOP-5201")
    assert held["PaymentStatus"] == "Paid"
    payments = [
        p
        for p in sandbox.dump(ORG, "payments")
        if p["VoucherGuid"] == held["Guid"].lower() and not p.get("DeletedAt")
    ]
    assert [(p["Amount"], p["PaymentDate"][:10]) for p in payments] == [(300.0, "2026-11-04")]


def test_a_stripe_invoice_with_a_coupon_is_invoiced_at_its_discounted_total(
    sandbox: Any, config: dict[str, Any]
) -> None:
    """A Stripe coupon lowers the invoice below its lines (subtotal 400.00, total_excluding_tax 320.00): the
    customer is charged 400.00 incl. VAT. The recipe invoiced the lines (500.00 incl. VAT), so the charge's
    RemainderIsFee wrote the discount off as a card fee -- or, a 20 % coupon being past the 10 % fee bound,
    the charge was rejected. The recipe now invoices the discount as a line: invoice 400.00, paid, the
    fee alone written off."""
    invoice = {
        "id": "in_c",
        "number": "ABO-0100",
        "created": "2026-11-01",
        "customer_name": "Studio Vest",
        "customer_email": "studio@example.dk",
        "subtotal": 40000,
        "total_excluding_tax": 32000,
        "lines": [{"description": "Abonnement", "amount": 40000, "quantity": 1}],
    }
    charge = {
        "id": "ch_c",
        "invoice": "ABO-0100",
        "amount": 40000,
        "fee": 780,
        "created": "2026-11-03T08:00:00Z",
    }
    msgs = [
        schema("stripe_invoices", ("id",), {k: {} for k in invoice}),
        record("stripe_invoices", invoice),
        schema("stripe_charges", ("id",), {k: {} for k in charge}),
        record("stripe_charges", charge),
        state({"bookmarks": {"done": True}}),
    ]
    for _ in range(2):
        run = run_target(sandbox, config, msgs)
        assert run.error is None, run.stderr
        assert read_rejects(Path(config["rejects_file"])) == []
    held = next(r for r in sandbox.dump(ORG, "invoices") if r.get("ExternalReference") == "ABO-0100")
    assert held["TotalInclVat"] == pytest.approx(400.0)
    assert held["PaymentStatus"] == "Paid"


def test_a_stripe_invoice_in_euro_is_a_euro_invoice(sandbox: Any, config: dict[str, Any]) -> None:
    """A Stripe account bills in several currencies; the invoice says which (``currency``, lower case). The
    recipe ignored it: a 400.00 EUR invoice became a 400.00 DKK one (a seventh of the money). It now keeps
    the currency, so Dinero holds a EUR invoice (and a charge without its DKK amount is rejected, not
    booked as DKK)."""
    invoice = {
        "id": "in_e",
        "number": "ABO-0200",
        "created": "2026-11-01",
        "currency": "eur",
        "customer_name": "Firma GmbH",
        "customer_email": "buchhaltung@firma.example",
        "lines": [{"description": "Abonnement", "amount": 40000, "quantity": 1}],
    }
    msgs = [
        schema("stripe_invoices", ("id",), {k: {} for k in invoice}),
        record("stripe_invoices", invoice),
        state({"bookmarks": {"done": True}}),
    ]
    run = run_target(sandbox, config, msgs)
    assert run.error is None, run.stderr
    held = next(r for r in sandbox.dump(ORG, "invoices") if r.get("ExternalReference") == "ABO-0200")
    assert (held["Currency"], held["TotalInclVat"]) == ("EUR", pytest.approx(500.0))


def test_a_shop_order_in_euro_is_never_booked_as_kroner(sandbox: Any, config: dict[str, Any]) -> None:
    """A shop whose currency is EUR: the order recipe ignored ``currency`` and booked 300.00 EUR as 300.00
    DKK. It now keeps the currency; its transactions carry no DKK amount, so the order is rejected naming
    AmountInForeignCurrency (map the bank's DKK amount to Amount and the EUR one there), never booked as
    kroner."""
    order = json.loads((SAMPLES / "shop_orders.jsonl").read_text().splitlines()[0])
    order = {**order, "id": 5301, "currency": "EUR"}
    msgs = [
        schema("shop_orders", ("id",), {k: {} for k in order}),
        record("shop_orders", order),
        state({"bookmarks": {"done": True}}),
    ]
    run_target(sandbox, {**config, "max_rejects": 1}, msgs)
    held = [r for r in sandbox.dump(ORG, "invoices") if r.get("ExternalReference") == "SHOP-5301"]
    assert all(r["Currency"] == "EUR" for r in held), held
    rejects = read_rejects(Path(config["rejects_file"]))
    assert [r["field"] for r in rejects] == ["AmountInForeignCurrency"], rejects
