"""Requests per object of the commerce load types, counted from the sandbox's request log (the figures the
README's Performance section quotes; run with ``-s`` to see them). Every count includes the run's shared
look-ups (invoice and credit-note listings, accounts, VAT codes, accounting years) spread over N objects."""

from __future__ import annotations

import base64
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.harness import make_target_config, run_target
from tests.harness import record_message as record
from tests.harness import schema_message as schema
from tests.harness import state_message as state

N = 50


def msgs(stream: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [schema(stream), *(record(stream, r) for r in rows), state({"bookmarks": {stream: len(rows)}})]


def order(n: int, **over: Any) -> dict[str, Any]:
    return {
        "id": n,
        "ExternalReference": f"REQ-{n}",
        "Date": "2026-11-02",
        "ContactGuid": None,
        "Contact": {"Name": "Kunde", "Email": "kunde@example.dk", "CountryKey": "DK"},
        "ProductLines": [{"Description": "Te", "Quantity": 1, "BaseAmountValue": 100, "AccountNumber": 1000}],
        **over,
    }


@pytest.fixture
def config(sandbox_settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    return make_target_config(
        sandbox_settings,
        tmp_path,
        {
            "orders": {"load_as": "invoice", "book": True, "deposit_account": 55000},
            "paid_orders": {"load_as": "invoice", "book": True, "deposit_account": 55000},
            "payments": {"load_as": "invoice_payment", "deposit_account": 55000},
            "refunds": {"load_as": "sales_credit_note", "book": True},
            "bills": {"load_as": "purchase_voucher", "book": True, "deposit_account": 55000},
            "cashbook": {"load_as": "ledger_item"},
        },
    )


def per_object(result: Any) -> float:
    assert result.error is None, result.stderr[-2000:]
    if os.environ.get("REQ_DEBUG"):  # what the requests were, per method and path
        print(
            Counter(
                f"{r['method']} {re.sub(r'[0-9a-f-]{36}', '{g}', r['path'])}" for r in result.api_requests
            )
        )
    return len(result.api_requests) / N


def test_requests_per_object_are_at_or_under_the_floors(sandbox: Any, config: dict[str, Any]) -> None:
    """Each figure is measured in a run after an earlier one on the organization (a shop's pipeline runs
    every few minutes): accounts, VAT codes and years are kept between runs (reference_cache_seconds)."""
    per_object(run_target(sandbox, config, msgs("orders", [order(n) for n in range(N)])))
    # the same booked invoices without payments, in the same state of what is kept: the baseline
    booked = per_object(
        run_target(
            sandbox, config, msgs("orders", [order(n, ExternalReference=f"BASE-{n}") for n in range(N)])
        )
    )
    paid = per_object(
        run_target(
            sandbox,
            config,
            msgs(
                "paid_orders",
                [order(n, ExternalReference=f"PAID-{n}", Payments=[{"Amount": 125}]) for n in range(N)],
            ),
        )
    )
    payment_same_run = paid - booked
    payments = [{"id": n, "InvoiceExternalReference": f"REQ-{n}", "Amount": 100} for n in range(N)]
    payment_earlier = per_object(run_target(sandbox, config, msgs("payments", payments)))
    refunds = [{"id": n, "InvoiceExternalReference": f"PAID-{n}"} for n in range(N)]
    credit_note = per_object(run_target(sandbox, config, msgs("refunds", refunds)))
    pdf = b"%PDF-1.4\n%bill\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    bills = [
        {
            "id": n,
            "PurchaseType": "cash",
            "VoucherDate": "2026-11-03",
            "Lines": [{"AccountNumber": 2000, "Amount": 125, "VatCode": "I25"}],
            "File": {
                "content_base64": base64.b64encode(pdf + str(n).encode()).decode(),
                "FileName": f"{n}.pdf",
            },
        }
        for n in range(N)
    ]
    bill = per_object(run_target(sandbox, config, msgs("bills", bills)))
    items = [
        {
            "id": n,
            "VoucherDate": "2026-11-02",
            "Lines": [{"AccountNumber": 55000, "BalancingAccountNumber": 1000, "Amount": 10 + n}],
        }
        for n in range(N)
    ]
    item = per_object(run_target(sandbox, config, msgs("cashbook", items)))
    print(
        f"requests per object (N={N}): payment on an invoice booked in the same run {payment_same_run:.3f}; "
        f"payment on an invoice from an earlier run {payment_earlier:.3f}; credit note generated and booked "
        f"{credit_note:.3f}; purchase voucher with file, booked {bill:.3f}; kassekladde item {item:.3f}"
    )
    # the floors, at N = 50, shared look-ups included
    assert payment_same_run <= 1.05  # the POST; shared: the deposit-account check (kept between runs)
    # GET invoice (by the target's own Guid: its Timestamp and Status) + GET its payments (reconcile) + POST
    assert payment_earlier <= 3
    assert credit_note <= 2.05  # generate + book; shared: invoice and credit-note listings
    # upload + create + book; shared: the VAT codes (first use) and one GET /files -- the exactly-once
    # look-up of references the journal does not know (a lost or empty journal finds its vouchers
    # through their tagged files)
    assert bill <= 3.05
    assert item <= 0.1
