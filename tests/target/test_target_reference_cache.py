"""The organization's accounts, VAT codes and accounting years are kept between runs
(``reference_cache_seconds``): a later run does not read them again, but never rejects a record -- or
creates a deposit account -- because of a list an earlier run read: what is not in it is read again."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.harness import ORG, by_reference, make_target_config, read_rejects, run_target
from tests.harness import record_message as record
from tests.harness import schema_message as schema
from tests.harness import state_message as state
from tests.sandbox.conftest import Api, api_key_token

STREAM = "journal_entries"
CHART_READS = ("/accounts/entry", "/accounts/deposit", "/accountingyears", "/vatTypes")


def voucher(n: int, account: int = 5000) -> dict[str, Any]:
    return {
        "id": n,
        "ExternalReference": f"RC-{n}",
        "VoucherDate": "2026-11-03",
        "Book": True,
        "Lines": [
            {
                "Description": "Husleje",
                "AccountNumber": account,
                "BalancingAccountNumber": 55000,
                "Amount": 100 + n,
                "AccountVatCode": "none",
                "BalancingAccountVatCode": "none",
            }
        ],
    }


def load(sandbox: Any, config: dict[str, Any], *vouchers: dict[str, Any]) -> Any:
    result = run_target(
        sandbox, config, [schema(STREAM), *(record(STREAM, v) for v in vouchers), state({"n": 1})]
    )
    assert result.error is None, result.stderr
    return result


def chart_reads(result: Any) -> list[str]:
    return [
        r["path"].split(f"/{ORG}", 1)[1]
        for r in result.api_requests
        if r["method"] == "GET" and r["path"].endswith(CHART_READS)
    ]


@pytest.fixture
def config(sandbox_settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    return make_target_config(sandbox_settings, tmp_path, {STREAM: {"load_as": "manual_voucher"}})


def test_a_later_run_uses_the_kept_chart_and_reads_it_again_for_an_account_not_in_it(
    sandbox: Any, config: dict[str, Any]
) -> None:
    first = load(sandbox, config, voucher(1))
    assert sorted(chart_reads(first)) == ["/accountingyears", "/accounts/entry"]

    second = load(sandbox, config, voucher(2))
    assert chart_reads(second) == []  # kept from the first run

    # an account added in Dinero since: the kept chart does not have it, so it is read again -- the
    # record is loaded, not rejected
    api = Api(sandbox, api_key_token(sandbox))
    assert api.post("/v1/{org}/accounts/entry", {"Number": 5999, "Name": "Ny", "VatCode": "none"}).ok
    third = load(sandbox, config, voucher(3, account=5999))
    assert read_rejects(Path(config["rejects_file"])) == []
    assert "/accounts/entry" in chart_reads(third)
    stored = {v["ExternalReference"] for v in by_reference(sandbox.dump(ORG, "manual_vouchers"), "RC-")}
    assert stored == {"RC-1", "RC-2", "RC-3"}

    # an account that exists nowhere is still rejected (after reading the chart again)
    fourth = load(sandbox, {**config, "max_rejects": 1}, voucher(4, account=4321))
    assert [r["field"] for r in read_rejects(Path(config["rejects_file"]))] == ["Lines[0].AccountNumber"]
    assert fourth.writes == []


def test_the_kept_chart_expires_and_zero_reads_it_every_run(sandbox: Any, config: dict[str, Any]) -> None:
    every_run = {**config, "reference_cache_seconds": 0}
    load(sandbox, every_run, voucher(1))
    assert "/accounts/entry" in chart_reads(load(sandbox, every_run, voucher(2)))

    short = {**config, "reference_cache_seconds": 1}
    load(sandbox, short, voucher(3))
    time.sleep(2.1)  # the kept lists carry their read time in whole seconds: 2 s is surely older than 1
    assert "/accounts/entry" in chart_reads(load(sandbox, short, voucher(4)))


def test_a_deposit_account_added_since_is_read_again_not_created(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    """A payment's deposit account not in the kept list: the list is read again before the target would
    refuse the payment or create the account."""
    config = make_target_config(
        sandbox_settings,
        tmp_path,
        {
            "orders": {"load_as": "invoice", "book": True},
            "payments": {"load_as": "invoice_payment", "create_deposit_account": True},
        },
    )
    order = {
        "id": 1,
        "ExternalReference": "RC-ORDER",
        "Date": "2026-11-02",
        "Contact": {"Name": "Kunde", "CountryKey": "DK"},
        "ProductLines": [{"Description": "Te", "Quantity": 1, "BaseAmountValue": 100, "AccountNumber": 1000}],
        "Payments": [{"Amount": 50, "DepositAccountNumber": 55000}],
    }
    first = run_target(sandbox, config, [schema("orders"), record("orders", order), state({"n": 1})])
    assert first.error is None, first.stderr
    api = Api(sandbox, api_key_token(sandbox))
    assert api.post("/v1/{org}/accounts/deposit", {"Number": 58123, "Name": "Stripe clearing"}).ok
    payment = {"id": 2, "InvoiceExternalReference": "RC-ORDER", "Amount": 75, "DepositAccountNumber": 58123}

    second = run_target(sandbox, config, [schema("payments"), record("payments", payment), state({"n": 2})])

    assert second.error is None, second.stderr
    assert "/accounts/deposit" in chart_reads(second)
    assert not [r for r in second.writes if r["path"].endswith("/accounts/deposit")]  # not created again
    assert second.counts("payments") == {"paid": 1}


def test_an_invoice_line_vat_code_is_read_in_the_run_not_taken_from_the_kept_chart(
    sandbox: Any, config: dict[str, Any], sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    """What sets an amount -- the VAT code of an invoice line's account -- is never taken from a list an
    earlier run kept: an invoice that states its total reads the chart in its own run."""
    load(sandbox, config, voucher(1))  # keeps the chart
    invoices = {**config, "streams": {"orders": {"load_as": "invoice"}}}
    order = {
        "id": 1,
        "ExternalReference": "RC-INV",
        "Date": "2026-11-02",
        "Contact": {"Name": "Kunde", "CountryKey": "DK"},
        "TotalInclVat": 125.0,
        "ProductLines": [{"Description": "Te", "Quantity": 1, "BaseAmountValue": 100, "AccountNumber": 1000}],
    }
    result = run_target(sandbox, invoices, [schema("orders"), record("orders", order), state({"n": 1})])
    assert result.error is None, result.stderr
    assert "/accounts/entry" in chart_reads(result)
