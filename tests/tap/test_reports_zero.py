"""An account whose balance in an open year returns to zero between two runs (a voucher reversed, a
clearing account settled). Dinero leaves zero-balance accounts out of its reports unless asked
(``showZeroAccount``), so the re-read year has no row for it and an upserting target keeps the old
non-zero balance: the trial balance no longer sums to what Dinero says.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dinero_api.client import DineroClient
from dinero_api.settings import DineroSettings
from tests.harness import run_tap

ORG = "100000"


def test_an_account_back_to_zero_is_emitted_with_zero(sandbox, tap_config):
    client = DineroClient(DineroSettings.from_config(tap_config), organization_id=ORG)
    year = str(dt.date.today().year)
    first = run_tap(tap_config, streams=["reports"])
    assert first.error is None, first.error
    used = {
        r["AccountNumber"]
        for r in first.stream("reports")
        if r["AccountingYear"] == year and r["Report"] == "saldo" and r["Amount"]
    }
    # two accounts with nothing on them this year: a voucher between them, booked, then deleted
    expense, balance = (
        next(a for a in (6000, 6100, 6200, 6300, 6400, 7000, 4100) if a not in used),
        next(a for a in (55010, 55020, 55030, 58000, 51000) if a not in used),
    )
    created = client.post_json(
        f"/v1/{ORG}/vouchers/manuel",
        {
            "VoucherDate": dt.date.today().isoformat(),
            "Lines": [
                {
                    "Description": "Fejlpost",
                    "Amount": 250,
                    "AccountNumber": expense,
                    "BalancingAccountNumber": balance,
                }
            ],
        },
    )
    booked = client.post_json(
        f"/v1/{ORG}/vouchers/manuel/{created['Guid']}/book", {"Timestamp": created["Timestamp"]}
    )
    target: dict[tuple, object] = {}

    def load(result):
        for row in result.stream("reports"):
            target[(row["AccountingYear"], row["Report"], row["AccountNumber"])] = row["Amount"]

    second = run_tap(tap_config, streams=["reports"], state=first.final_state)
    assert second.error is None, second.error
    load(first)
    load(second)
    assert target[(year, "saldo", expense)] and target[(year, "saldo", balance)]
    timestamp = booked.get("Timestamp") if isinstance(booked, dict) else None
    if not timestamp:
        timestamp = next(v for v in sandbox.dump(ORG, "manual_vouchers") if v["Guid"] == created["Guid"])[
            "Timestamp"
        ]
    client.request("DELETE", f"/v1/{ORG}/vouchers/manuel/{created['Guid']}", json={"Timestamp": timestamp})

    third = run_tap(tap_config, streams=["reports"], state=second.final_state)
    assert third.error is None, third.error
    load(third)
    for account in (expense, balance):
        assert not target.get((year, "saldo", account)), (account, target.get((year, "saldo", account)))
    # what the target holds for the year equals Dinero's own report
    held = client.get_json(f"/v1/{ORG}/{year}/reports/saldo")
    held_amounts = {r["AccountNumber"]: Decimal(str(r["Amount"])) for r in held if r["Amount"]}
    mine = {n: Decimal(str(a)) for (y, rep, n), a in target.items() if y == year and rep == "saldo" and a}
    assert mine == held_amounts
