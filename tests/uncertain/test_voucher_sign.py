"""The sign convention of manual-voucher amounts (REFERENCE.md §4.4, §7 q9): with
``manual_voucher_amount_sign`` set to how Dinero reads ``Amount``, the ledger shows what the records meant
-- a positive amount debits ``AccountNumber`` -- for manual vouchers and for daily sales."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dinero_sandbox.behaviours import CHOICES
from dinero_sandbox.testing import SandboxServer
from tests.harness import ORG, by_reference, make_target_config, run_target
from tests.harness import record_message as record
from tests.harness import schema_message as schema
from tests.harness import state_message as state


def _entries(sandbox: SandboxServer, voucher_guid: str) -> dict[int, float]:
    sums: dict[int, float] = {}
    for entry in sandbox.dump(ORG, "entries"):
        if entry["VoucherGuid"] == voucher_guid:
            sums[entry["AccountNumber"]] = round(sums.get(entry["AccountNumber"], 0.0) + entry["Amount"], 2)
    return sums


@pytest.mark.parametrize("voucher_sign", CHOICES["voucher_sign"])
def test_manual_voucher_debits_the_account_the_record_means(
    voucher_sign: str, play: Any, sandbox: SandboxServer, target_settings: dict[str, Any], tmp_path: Path
) -> None:
    play(voucher_sign=voucher_sign)
    config = make_target_config(
        target_settings,
        tmp_path,
        {"rent": {"load_as": "manual_voucher", "book": True}},
        manual_voucher_amount_sign=voucher_sign,
    )
    rent = {
        "id": 1,
        "ExternalReference": "SIGN-1",
        "VoucherDate": "2026-11-03",
        "Lines": [
            {
                "Description": "Husleje",
                "AccountNumber": 5000,
                "BalancingAccountNumber": 55000,
                "Amount": 1200,
                "AccountVatCode": "none",
                "BalancingAccountVatCode": "none",
            }
        ],
    }

    result = run_target(sandbox, config, [schema("rent"), record("rent", rent), state({"n": 1})])

    assert result.error is None, result.stderr
    (voucher,) = by_reference(sandbox.dump(ORG, "manual_vouchers"), "SIGN-")
    assert _entries(sandbox, voucher["Guid"]) == {5000: 1200.0, 55000: -1200.0}


@pytest.mark.parametrize("voucher_sign", CHOICES["voucher_sign"])
def test_daily_sales_credit_revenue_and_debit_the_payment_accounts(
    voucher_sign: str, play: Any, sandbox: SandboxServer, target_settings: dict[str, Any], tmp_path: Path
) -> None:
    play(voucher_sign=voucher_sign)
    options = {
        "load_as": "daily_sales",
        "book": True,
        "payment_accounts": {"card": 55000, "cash": 58000},
        "revenue_account": 1000,
        "vat_code": "U25",
    }
    config = make_target_config(
        target_settings, tmp_path, {"pos": options}, manual_voucher_amount_sign=voucher_sign
    )
    sales = [
        {"id": "s1", "date": "2026-11-04T10:00:00+01:00", "amount": 125.0, "payment_method": "card"},
        {"id": "s2", "date": "2026-11-04T11:00:00+01:00", "amount": 250.0, "payment_method": "cash"},
    ]

    result = run_target(
        sandbox, config, [schema("pos", ("id",)), *(record("pos", s) for s in sales), state({"n": 2})]
    )

    assert result.error is None, result.stderr
    (voucher,) = by_reference(sandbox.dump(ORG, "manual_vouchers"), "pos:")
    sums = _entries(sandbox, voucher["Guid"])
    assert sums[55000] == 125.0 and sums[58000] == 250.0  # money in: debits
    assert sums[1000] == -300.0  # revenue excl. VAT: a credit
    assert round(sum(sums.values()), 2) == 0
