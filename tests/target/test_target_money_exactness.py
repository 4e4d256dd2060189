"""Money exactness attacks on target-dinero: amounts Dinero would hold differently from the record, or
money written off or moved without the record saying so, are rejected before any write."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.harness import ORG, live, make_target_config, read_rejects, run_target
from tests.target.test_target_payments_refunds import (
    ORDERS,
    PAYMENTS,
    invoices,
    live_payments,
    msgs,
    order,
    streams,
)


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
