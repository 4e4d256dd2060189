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


def test_a_correction_booked_into_a_closed_year_reaches_its_reports(sandbox, tap_config, sandbox_requests):
    """A year read as closed (older than ``reports_open_years``) was never read again: a voucher booked
    into it afterwards -- the bookkeeper's correction to last-but-one year -- left its saldo, result and
    balance rows (and the later years' primo rows) stale in every target for good. A run with closed
    years asks ``/entries/changes`` since the previous run and reads again the years those entries are
    dated in."""
    client = DineroClient(DineroSettings.from_config(tap_config), organization_id=ORG)
    config = {**tap_config, "reports_open_years": 1}
    years = [y["Name"] for y in sorted(sandbox.dump(ORG, "accountingyears"), key=lambda y: y["FromDate"])]
    closed_year = years[0]
    first = run_tap(config, streams=["reports"])
    assert first.error is None, first.error
    assert closed_year in first.partition_state("reports", ORG)["closed_years"]
    second = run_tap(config, streams=["reports"], state=first.final_state)  # nothing changed
    assert second.error is None, second.error
    assert closed_year not in {r["AccountingYear"] for r in second.stream("reports")}

    target: dict[tuple, object] = {}
    for result in (first, second):
        for row in result.stream("reports"):
            target[(row["AccountingYear"], row["Report"], row["AccountNumber"])] = row["Amount"]
    created = client.post_json(
        f"/v1/{ORG}/vouchers/manuel",
        {
            "VoucherDate": f"{closed_year}-06-15",
            "Lines": [
                {
                    "Description": "Rettelse",
                    "Amount": 1234.5,
                    "AccountNumber": 6000,
                    "BalancingAccountNumber": 55000,
                }
            ],
        },
    )
    client.post_json(f"/v1/{ORG}/vouchers/manuel/{created['Guid']}/book", {"Timestamp": created["Timestamp"]})

    mark = sandbox.requests()[-1]["id"]
    third = run_tap(config, streams=["reports"], state=second.final_state)
    assert third.error is None, third.error
    assert closed_year in {r["AccountingYear"] for r in third.stream("reports")}
    for row in third.stream("reports"):
        target[(row["AccountingYear"], row["Report"], row["AccountNumber"])] = row["Amount"]
    for year in years:  # every year's every report in the target equals Dinero's own, primo included
        for report in ("saldo", "result", "balance", "primo"):
            held = client.get_json(f"/v1/{ORG}/{year}/reports/{report}", params={"showZeroAccount": "true"})
            want = {r["AccountNumber"]: Decimal(str(r["Amount"])) for r in held}
            mine = {n: Decimal(str(a)) for (y, rep, n), a in target.items() if y == year and rep == report}
            assert mine == want, (year, report)
    # one change request bought that (the second run, nothing changed, read no closed year)
    changes = [r for r in sandbox_requests(mark) if r["path"] == f"/v1/{ORG}/entries/changes"]
    assert len(changes) == 1


def test_a_closed_year_check_from_dinero_future_reads_the_closed_years(sandbox, tap_config):
    """``entries_checked`` written by a clock running ahead would ask for entry changes only from a moment
    Dinero has not reached: a correction booked into a closed year since would never be seen."""
    client = DineroClient(DineroSettings.from_config(tap_config), organization_id=ORG)
    config = {**tap_config, "reports_open_years": 1}
    closed_year = min(y["Name"] for y in sandbox.dump(ORG, "accountingyears"))
    first = run_tap(config, streams=["reports"])
    assert first.error is None, first.error
    state = first.final_state
    for partition in state["bookmarks"]["reports"]["partitions"]:
        partition["entries_checked"] = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=3)).isoformat()
    created = client.post_json(
        f"/v1/{ORG}/vouchers/manuel",
        {
            "VoucherDate": f"{closed_year}-03-01",
            "Lines": [
                {
                    "Description": "Rettelse",
                    "Amount": 99,
                    "AccountNumber": 6000,
                    "BalancingAccountNumber": 55000,
                }
            ],
        },
    )
    client.post_json(f"/v1/{ORG}/vouchers/manuel/{created['Guid']}/book", {"Timestamp": created["Timestamp"]})

    second = run_tap(config, streams=["reports"], state=state)
    assert second.error is None, second.error
    assert closed_year in {r["AccountingYear"] for r in second.stream("reports")}
    checked = dt.datetime.fromisoformat(second.partition_state("reports", ORG)["entries_checked"])
    assert checked <= dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2)


def test_closed_years_of_a_state_without_entries_checked_are_read_again_once(sandbox, tap_config):
    """A state written before closed years were checked (``closed_years`` without ``entries_checked``)
    says nothing about the corrections booked into those years since it was written. Taking the run's
    start as the first check left every such correction stale in the targets for good; the closed years
    are read once more instead (4 requests per closed year, once)."""
    client = DineroClient(DineroSettings.from_config(tap_config), organization_id=ORG)
    config = {**tap_config, "reports_open_years": 1}
    closed_year = min(y["Name"] for y in sandbox.dump(ORG, "accountingyears"))
    first = run_tap(config, streams=["reports"])
    assert first.error is None, first.error
    state = first.final_state
    partition = next(
        p for p in state["bookmarks"]["reports"]["partitions"] if p["context"]["organization_id"] == ORG
    )
    assert closed_year in partition["closed_years"]
    del partition["entries_checked"], partition["covers"]  # as an older tap wrote it
    created = client.post_json(
        f"/v1/{ORG}/vouchers/manuel",
        {
            "VoucherDate": f"{closed_year}-06-15",
            "Lines": [
                {
                    "Description": "Rettelse",
                    "Amount": 99.5,
                    "AccountNumber": 6000,
                    "BalancingAccountNumber": 55000,
                }
            ],
        },
    )
    client.post_json(f"/v1/{ORG}/vouchers/manuel/{created['Guid']}/book", {"Timestamp": created["Timestamp"]})

    second = run_tap(config, streams=["reports"], state=state)
    assert second.error is None, second.error
    assert closed_year in {r["AccountingYear"] for r in second.stream("reports")}
    assert second.partition_state("reports", ORG).get("entries_checked")  # checked from here on
