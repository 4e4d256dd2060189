"""Daily sales: many sales -> one manual voucher per day (method and VAT lines), at most 2 requests a day."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from target_harness import ORG, by_reference, make_config, record, run_target, schema, state

STREAM = "pos_sales"
SAMPLE = Path(__file__).resolve().parents[2] / "sample_config" / "sales.csv"
ACCOUNTS = {"card": 55030, "mobilepay": 55020, "cash": 58000}


def sales() -> list[dict[str, Any]]:
    """The sample POS export (as tap-csv would emit it: every field a string)."""
    with SAMPLE.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def messages(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        schema(STREAM, ("sale_id",)),
        *(record(STREAM, r) for r in rows),
        state({"last": rows[-1]["sale_id"]}),
    ]


@pytest.fixture
def config(sandbox_settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    options = {
        "load_as": "daily_sales",
        "book": True,
        "payment_accounts": ACCOUNTS,
        "revenue_account": 1000,
        "vat_account": 64000,
        "vat_code": "U25",
        "date_field": "sold_at",
        "amount_field": "amount",
        "payment_method_field": "payment_method",
        "id_field": "sale_id",
        "vat_rate_field": "vat_rate",
    }
    return make_config(sandbox_settings, tmp_path, {STREAM: options})


def expected_day_totals(rows: list[dict[str, Any]]) -> dict[str, dict[str, Decimal]]:
    totals: dict[str, dict[str, Decimal]] = {}
    for row in rows:
        day = totals.setdefault(row["sold_at"][:10], {})
        day[row["payment_method"]] = day.get(row["payment_method"], Decimal(0)) + Decimal(row["amount"])
    return totals


def test_one_booked_voucher_per_day_with_method_and_vat_lines(sandbox: Any, config: dict[str, Any]) -> None:
    rows = sales()
    result = run_target(sandbox, config, messages(rows))

    assert result.error is None, result.stderr
    vouchers = {v["ExternalReference"]: v for v in by_reference(sandbox.dump(ORG, "manual_vouchers"), STREAM)}
    expected = expected_day_totals(rows)
    assert set(vouchers) == {f"{STREAM}:{day}" for day in expected}
    for day, methods in expected.items():
        voucher = vouchers[f"{STREAM}:{day}"]
        assert voucher["Status"] == "Booked"
        assert voucher["VoucherDate"][:10] == day
        lines = voucher["Lines"]
        method_lines = {ln["AccountNumber"]: ln for ln in lines if ln["BalancingAccountNumber"] == 1000}
        assert {acc: Decimal(str(ln["AmountInclVatValue"])) for acc, ln in method_lines.items()} == {
            ACCOUNTS[m]: total for m, total in methods.items()
        }
        [vat_line] = [ln for ln in lines if ln["BalancingAccountNumber"] == 64000]
        gross = sum(methods.values())
        assert Decimal(str(vat_line["AmountInclVatValue"])) == (gross / 5).quantize(Decimal("0.01"))
    # a day costs its receipt's upload + create + book (the receipt makes the voucher findable in Dinero)
    days = len(expected)
    day_writes = [w for w in result.writes if "/vouchers/manuel" in w["path"]]
    assert len(day_writes) == 2 * days
    assert len([w for w in result.writes if w["path"].endswith("/files")]) == days
    # + accounts, VAT types, accounting years and one GET /files once per run
    assert len(result.api_requests) <= 3 * days + 4


def test_rerun_and_a_late_sale_for_a_booked_day(sandbox: Any, config: dict[str, Any]) -> None:
    rows = sales()
    assert run_target(sandbox, config, messages(rows)).error is None

    rerun = run_target(sandbox, config, messages(rows))
    assert rerun.error is None, rerun.stderr
    assert rerun.writes == []

    late = {
        "sale_id": "POS-2026-0099",
        "sold_at": "2026-11-02T19:00:00",
        "payment_method": "Cash",
        "amount": "20.00",
        "vat_rate": "0.25",
        "description": "Sen kaffe",
    }
    result = run_target(sandbox, config, messages([*rows, late]))

    assert result.error is None, result.stderr
    stored = by_reference(sandbox.dump(ORG, "manual_vouchers"), f"{STREAM}:2026-11-02")
    assert sorted(v["ExternalReference"] for v in stored) == [
        f"{STREAM}:2026-11-02",
        f"{STREAM}:2026-11-02#2",
    ]
    [supplement] = [v for v in stored if v["ExternalReference"].endswith("#2")]
    assert supplement["Status"] == "Booked"
    assert (
        sum(ln["AmountInclVatValue"] for ln in supplement["Lines"] if ln["BalancingAccountNumber"] == 1000)
        == 20.0
    )


def test_sales_split_over_batches_still_make_one_voucher_per_day(
    sandbox: Any, config: dict[str, Any]
) -> None:
    config["batch_size_rows"] = 4  # the SDK drains every 4 records: days straddle batches
    rows = sales()
    result = run_target(sandbox, config, messages(rows))

    assert result.error is None, result.stderr
    vouchers = by_reference(sandbox.dump(ORG, "manual_vouchers"), STREAM)
    assert len(vouchers) == 3
    assert all(v["Status"] == "Booked" for v in vouchers)
    stored_total = sum(
        ln["AmountInclVatValue"]
        for v in vouchers
        for ln in v["Lines"]
        if ln["BalancingAccountNumber"] == 1000
    )
    assert stored_total == pytest.approx(float(sum(Decimal(r["amount"]) for r in rows)))


def test_unmapped_payment_method_is_rejected(sandbox: Any, config: dict[str, Any], tmp_path: Path) -> None:
    rows = sales()[:3]
    rows[1] = {**rows[1], "payment_method": "giftcard"}
    config["max_rejects"] = 1
    result = run_target(sandbox, config, messages(rows))

    assert result.error is None, result.stderr
    import json

    [reject] = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert reject["field"] == "payment_method"
    assert "giftcard" in reject["reason"] and "cash" in reject["reason"]
    assert reject["stream"] == STREAM


def test_vat_code_mode_lets_dinero_split_the_vat(sandbox: Any, config: dict[str, Any]) -> None:
    del config["streams"][STREAM]["vat_account"]
    rows = sales()[:2]  # 62.50 card + 45.00 mobilepay on 2026-11-02
    result = run_target(sandbox, config, messages(rows))

    assert result.error is None, result.stderr
    [voucher] = by_reference(sandbox.dump(ORG, "manual_vouchers"), STREAM)
    amounts = sorted(
        (ln["AccountNumber"], ln["AmountExclVatValue"], ln["AmountInclVatValue"]) for ln in voucher["Lines"]
    )
    assert amounts == [(55020, 36.0, 45.0), (55030, 50.0, 62.5)]
