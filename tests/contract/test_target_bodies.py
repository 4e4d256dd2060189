"""Every request body target-dinero sends, for every load type and every write it makes (create, update of
a draft, book, contact creation, file attach), validates against Dinero's own request schemas -- strictly,
without the sandbox's relaxations (case-insensitive names, ignored unknown properties), so that nothing the
target sends is silently dropped or reinterpreted by real Dinero."""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from dinero_api.contract import load_contract
from dinero_sandbox.testing import SandboxServer
from tests.harness import make_target_config, run_target
from tests.harness import record_message as record
from tests.harness import schema_message as schema
from tests.harness import state_message as state

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
#: Spec rules real Dinero is known not to enforce on what the target sends (dinero_sandbox/contract.py).
ALLOWED = {("InvoiceLinesCreateModel", "required", "Discount")}


def _strict_validator(contract: dict[str, Any], path: str, method: str) -> Draft202012Validator:
    registry = Registry().with_resource(
        "urn:contract", Resource(contents=contract, specification=DRAFT202012)
    )
    content = contract["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]
    # a named model, or an inline schema (an array of models: ledger items, their ledgers/status reads)
    inline = json.dumps(content["schema"]).replace('"#/components/', '"urn:contract#/components/')
    ref_schema = json.loads(inline)
    return Draft202012Validator(ref_schema, registry=registry, format_checker=FormatChecker())


def _messages(
    stream: str, rows: list[dict[str, Any]], key: tuple[str, ...] = ("id",)
) -> list[dict[str, Any]]:
    return [schema(stream, key), *(record(stream, r) for r in rows), state({stream: len(rows)})]


def _run_every_load_type(sandbox: SandboxServer, settings: dict[str, Any], tmp_path: Path) -> None:
    contact = {"Name": "Body Hansen", "Email": "body@example.dk", "CountryKey": "DK"}
    invoice = {
        "id": 1,
        "Date": "2026-11-02",
        "Currency": "DKK",
        "Comment": "Tak",
        "Contact": contact,
        "ProductLines": [
            {
                "Description": "Kaffe",
                "Quantity": 2,
                "BaseAmountValue": 80,
                "AccountNumber": 1000,
                "Unit": "parts",
            },
            {
                "Description": "Rabat",
                "Quantity": 1,
                "BaseAmountValue": 10,
                "AccountNumber": 1000,
                "Discount": 10,
                "Unit": "parts",
            },
        ],
    }
    booked = {**invoice, "id": 2, "Book": True}
    voucher = {
        "id": 1,
        "VoucherDate": "2026-11-03",
        "File": {"content_base64": base64.b64encode(PDF).decode(), "FileName": "bon.pdf"},
        "Lines": [
            {
                "Description": "Husleje",
                "AccountNumber": 5000,
                "BalancingAccountNumber": 55000,
                "Amount": 900,
                "AccountVatCode": "none",
                "BalancingAccountVatCode": "none",
            }
        ],
    }
    sales = [
        {"id": "s1", "date": "2026-11-04T10:00:00+01:00", "amount": 125.0, "payment_method": "card"},
        {"id": "s2", "date": "2026-11-05T11:00:00+01:00", "amount": 250.0, "payment_method": "cash"},
    ]
    product = {"id": "SKU-1", "Name": "Kaffe", "BaseAmountValue": 80, "AccountNumber": 1000, "Unit": "parts"}
    person = {"id": 7, "Name": "Kunde Syv", "Email": "syv@example.dk", "CountryKey": "DK", "IsPerson": True}
    streams = {
        "orders": {"load_as": "invoice"},
        "receipts": {"load_as": "manual_voucher", "book": True},
        "pos": {
            "load_as": "daily_sales",
            "book": False,
            "payment_accounts": {"card": 55000, "cash": 58000},
            "revenue_account": 1000,
            "vat_code": "U25",
        },
        "catalog": {"load_as": "product"},
        "people": {"load_as": "contact"},
        # the commerce load types: payments, sends, credit notes, purchase vouchers, kassekladde lines
        "shop": {"load_as": "invoice", "book": True, "deposit_account": 55000},
        "charges": {"load_as": "invoice_payment", "deposit_account": 55000},
        "refunds": {"load_as": "sales_credit_note", "book": True, "deposit_account": 55000},
        "bills": {"load_as": "purchase_voucher", "book": True, "deposit_account": 55000},
        "cashbook": {"load_as": "ledger_item"},
    }
    ean = {"Name": "Kommune", "EanNumber": "5790000123456", "CountryKey": "DK"}
    shop = [
        {**invoice, "id": 3, "Payments": [{"Amount": 100.0, "PaymentDate": "2026-11-03"}], "Send": "email"},
        {**invoice, "id": 4, "Contact": ean, "Send": "einvoice"},
        {**invoice, "id": 5},
        {**invoice, "id": 6},
    ]
    line = {
        "Description": "Kaffe",
        "Quantity": 1,
        "BaseAmountValue": 10,
        "AccountNumber": 1000,
        "Unit": "parts",
    }
    refunds = [
        {"id": "r1", "InvoiceExternalReference": "shop:5", "Payment": {"Amount": 50.0}},
        {"id": "r2", "InvoiceExternalReference": "shop:6", "Date": "2026-11-04", "ProductLines": [line]},
    ]
    bill = {
        "id": 1,
        "PurchaseType": "credit",
        "VoucherDate": "2026-11-03",
        "PaymentDate": "2026-11-20",
        "Contact": {"Name": "Papir A/S", "Email": "ap@papir.example", "CountryKey": "DK"},
        "Lines": [{"Description": "Papir", "AccountNumber": 2000, "Amount": 125.0, "VatCode": "I25"}],
        "File": {"content_base64": base64.b64encode(PDF).decode(), "FileName": "bill.pdf"},
        "Payments": [{"Amount": 125.0, "PaymentDate": "2026-11-10"}],
    }
    cash_bill = {**bill, "id": 2, "PurchaseType": "cash", "Payments": [], "File": None}
    del cash_bill["Contact"], cash_bill["PaymentDate"]
    item = {
        "id": 1,
        "VoucherDate": "2026-11-02",
        "Lines": [{"AccountNumber": 55000, "BalancingAccountNumber": 1000, "Amount": 10}],
    }
    config = make_target_config(settings, tmp_path, streams)
    first = [
        *_messages("orders", [invoice, booked]),
        *_messages("receipts", [voucher]),
        *_messages("pos", sales),
        *_messages("catalog", [product]),
        *_messages("people", [person]),
        *_messages("shop", shop),
        *_messages("charges", [{"id": "c1", "InvoiceExternalReference": "shop:5", "Amount": 25.0}]),
        *_messages("refunds", refunds),
        *_messages("bills", [bill, cash_bill]),
        *_messages("cashbook", [item]),
    ]
    result = run_target(sandbox, config, first)
    assert result.error is None, result.stderr[-3000:]
    # Second run with changed records: draft updates (invoice, daily sales' voucher), product and contact.
    # The booked receipt comes again unchanged (a booked voucher re-sent with other lines is rejected:
    # tests/target/test_target_booked_changed.py).
    invoice["Comment"] = "Tak igen"
    sales.append({"id": "s3", "date": "2026-11-05T12:00:00+01:00", "amount": 50.0, "payment_method": "card"})
    product["BaseAmountValue"] = 85
    person["Phone"] = "+45 12345678"
    second = [
        *_messages("orders", [invoice]),
        *_messages("receipts", [{**voucher, "File": None}]),
        *_messages("pos", sales),
        *_messages("catalog", [product]),
        *_messages("people", [person]),
    ]
    result = run_target(sandbox, config, second)
    assert result.error is None, result.stderr


def test_every_body_the_target_sends_fits_dinero_request_schemas(
    sandbox: SandboxServer, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    sandbox.clear_bodies()  # only this test's bodies (the session sandbox saw other tests' on purpose)
    _run_every_load_type(sandbox, {**sandbox_settings, "quota_requests": 100_000}, tmp_path)
    contract = load_contract()
    bodies = sandbox.bodies()
    seen = Counter(f"{b['method']} {b['operation']}" for b in bodies)
    # Every write of every load type was captured (creates, draft updates, bookings).
    assert {
        "POST /v1/{organizationId}/invoices",
        "PUT /v1.2/{organizationId}/invoices/{guid}",
        "POST /v1/{organizationId}/invoices/{guid}/book",
        "POST /v1/{organizationId}/contacts",
        "POST /v1/{organizationId}/products",
        "PUT /v1/{organizationId}/products/{guid}",
        "POST /v1/{organizationId}/vouchers/manuel",
        "PUT /v1/{organizationId}/vouchers/manuel/{guid}",
        "POST /v1/{organizationId}/vouchers/manuel/{guid}/book",
        "POST /v1/{organizationId}/invoices/{guid}/payments",
        "POST /v1/{organizationId}/invoices/{guid}/email",
        "POST /v3/{organizationId}/invoices/{guid}/e-invoice",
        "POST /v1/{organizationId}/invoices/{guid}/generate-creditnote",
        "POST /v1/{organizationId}/sales/creditnotes",
        "POST /v1/{organizationId}/sales/creditnotes/{guid}/book",
        "POST /v1/{organizationId}/sales/creditnotes/{guid}/payments",
        "POST /v1.2/{organizationId}/vouchers/purchase",
        "POST /v1/{organizationId}/vouchers/purchase/{guid}/book",
        "POST /v1/{organizationId}/purchase-vouchers/{id}/payments",
        "POST /v1.2/{organizationId}/ledgeritems",
    } <= set(seen), set(seen)
    # The strict validator does catch what Dinero would refuse (a line without its required AccountNumber).
    invoice_body = next(b for b in bodies if b["operation"] == "/v1/{organizationId}/invoices")
    broken = {**invoice_body["body"], "ProductLines": [{"Quantity": 1, "BaseAmountValue": 5, "Discount": 0}]}
    assert list(_strict_validator(contract, invoice_body["operation"], "POST").iter_errors(broken))
    problems = []
    for body in bodies:
        validator = _strict_validator(contract, body["operation"], body["method"])
        for error in validator.iter_errors(body["body"]):
            missing = error.message.split("'")[1] if error.validator == "required" else ""
            parent = _model_of(contract, error)
            if (parent, error.validator, missing) in ALLOWED:
                continue
            problems.append(
                f"{body['method']} {body['operation']} {list(error.absolute_path)}: {error.message}"
            )
    assert not problems, "\n".join(problems[:20])


def _model_of(contract: dict[str, Any], error: Any) -> str:
    """The component model whose rule failed (the schema holding the failed keyword)."""
    schemas = contract["components"]["schemas"]
    for name, candidate in schemas.items():
        if candidate is error.schema or candidate == error.schema:
            return name
    return ""
