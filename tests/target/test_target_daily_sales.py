"""Daily sales: many sales -> one manual voucher per day (method and VAT lines), at most 2 requests a day."""

from __future__ import annotations

import csv
import json
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.harness import ORG, by_reference, live, make_target_config, read_rejects, run_target
from tests.harness import record_message as record
from tests.harness import schema_message as schema
from tests.harness import state_message as state

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
    return make_target_config(sandbox_settings, tmp_path, {STREAM: options})


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


# -- identity and changes between runs (issue 11 item 1, issue 17 class 2) ----------------------------------
PAYMENT_ACCOUNTS = set(ACCOUNTS.values())


def day_takings(sandbox: Any, day: str) -> Decimal:
    """What Dinero holds for a day: the payment accounts' debits over the day's live vouchers (øre exact)."""
    total = Decimal(0)
    for voucher in by_reference(sandbox.dump(ORG, "manual_vouchers"), f"{STREAM}:{day}"):
        for line in voucher["Lines"]:
            if line["AccountNumber"] in PAYMENT_ACCOUNTS:
                total += Decimal(str(line["AmountInclVatValue"]))
    return total


def day_vouchers(sandbox: Any, day: str) -> list[Any]:
    return sorted(
        by_reference(sandbox.dump(ORG, "manual_vouchers"), f"{STREAM}:{day}"),
        key=lambda v: v["ExternalReference"],
    )


def sale(sale_id: str | None, day: str, amount: str, method: str = "card", **extra: Any) -> dict[str, Any]:
    row = {"sold_at": f"{day}T12:00:00", "payment_method": method, "amount": amount, "vat_rate": "0.25"}
    if sale_id is not None:
        row["sale_id"] = sale_id
    return {**row, **extra}


def plain_messages(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [schema(STREAM, ()), *(record(STREAM, r) for r in rows)]


def test_identical_sales_without_id_are_three_sales(sandbox: Any, config: dict[str, Any]) -> None:
    rows = [sale(None, "2026-11-02", "25.00") for _ in range(3)]
    result = run_target(sandbox, config, plain_messages(rows))

    assert result.error is None, result.stderr
    assert day_takings(sandbox, "2026-11-02") == Decimal("75.00")


def test_sale_without_id_for_a_day_an_earlier_run_loaded_is_rejected(
    sandbox: Any, config: dict[str, Any], tmp_path: Path
) -> None:
    config["max_rejects"] = 10
    rows = [sale(None, "2026-11-02", "25.00") for _ in range(2)]
    assert run_target(sandbox, config, plain_messages(rows)).error is None

    again = run_target(sandbox, config, plain_messages([*rows, sale(None, "2026-11-03", "10.00")]))

    assert again.error is None, again.stderr
    assert day_takings(sandbox, "2026-11-02") == Decimal("50.00")  # not 100.00: nothing counted twice
    assert day_takings(sandbox, "2026-11-03") == Decimal("10.00")  # a day never loaded is fine
    rejects = read_rejects(tmp_path / "rejects.jsonl")
    assert len(rejects) == 2
    assert all("cannot be told from a re-sent sale" in r["reason"] for r in rejects)
    assert {r["field"] for r in rejects} == {"sale_id"}


def test_whole_days_replaces_a_day_and_supplements_a_booked_one(sandbox: Any, config: dict[str, Any]) -> None:
    config["streams"][STREAM]["whole_days"] = True
    first = [sale(None, "2026-11-02", "25.00") for _ in range(3)]
    assert run_target(sandbox, config, plain_messages(first)).error is None
    assert day_takings(sandbox, "2026-11-02") == Decimal("75.00")

    rerun = run_target(sandbox, config, plain_messages(first))  # the same whole day again
    assert rerun.error is None, rerun.stderr
    assert rerun.writes == []
    assert day_takings(sandbox, "2026-11-02") == Decimal("75.00")

    fuller = [*first, sale(None, "2026-11-02", "40.00", "cash")]  # the day, now with a late sale
    assert run_target(sandbox, config, plain_messages(fuller)).error is None
    assert day_takings(sandbox, "2026-11-02") == Decimal("115.00")
    refs = [v["ExternalReference"] for v in day_vouchers(sandbox, "2026-11-02")]
    assert refs == [f"{STREAM}:2026-11-02", f"{STREAM}:2026-11-02#2"]


@pytest.mark.parametrize("book", [False, True], ids=["draft", "booked"])
def test_corrected_amount_changes_the_day(sandbox: Any, config: dict[str, Any], book: bool) -> None:
    config["streams"][STREAM]["book"] = book
    rows = [sale("A", "2026-11-02", "100.00"), sale("B", "2026-11-02", "50.00", "cash")]
    assert run_target(sandbox, config, plain_messages(rows)).error is None

    result = run_target(sandbox, config, plain_messages([sale("A", "2026-11-02", "80.00")]))

    assert result.error is None, result.stderr
    assert day_takings(sandbox, "2026-11-02") == Decimal("130.00")
    vouchers = day_vouchers(sandbox, "2026-11-02")
    assert len(vouchers) == (2 if book else 1)
    assert all(v["Status"] == ("Booked" if book else "Draft") for v in vouchers)


@pytest.mark.parametrize("book", [False, True], ids=["draft", "booked"])
def test_sale_moved_to_another_day_leaves_its_old_day(
    sandbox: Any, config: dict[str, Any], book: bool
) -> None:
    config["streams"][STREAM]["book"] = book
    rows = [sale("A", "2026-11-02", "100.00"), sale("B", "2026-11-02", "50.00")]
    assert run_target(sandbox, config, plain_messages(rows)).error is None

    result = run_target(sandbox, config, plain_messages([sale("A", "2026-11-03", "100.00")]))

    assert result.error is None, result.stderr
    assert day_takings(sandbox, "2026-11-02") == Decimal("50.00")
    assert day_takings(sandbox, "2026-11-03") == Decimal("100.00")


def test_returns_bringing_a_draft_day_to_zero_remove_its_voucher(
    sandbox: Any, config: dict[str, Any]
) -> None:
    config["streams"][STREAM]["book"] = False
    assert run_target(sandbox, config, plain_messages([sale("A", "2026-11-02", "100.00")])).error is None
    assert len(day_vouchers(sandbox, "2026-11-02")) == 1

    result = run_target(sandbox, config, plain_messages([sale("R", "2026-11-02", "-100.00")]))

    assert result.error is None, result.stderr
    assert day_vouchers(sandbox, "2026-11-02") == []  # deleted, not a voucher of 0.00
    assert any(w["method"] == "DELETE" for w in result.writes)

    late = run_target(sandbox, config, plain_messages([sale("C", "2026-11-02", "30.00")]))
    assert late.error is None, late.stderr
    assert day_takings(sandbox, "2026-11-02") == Decimal("30.00")


def test_returns_bringing_a_booked_day_to_zero_add_a_negative_supplement(
    sandbox: Any, config: dict[str, Any]
) -> None:
    assert run_target(sandbox, config, plain_messages([sale("A", "2026-11-02", "100.00")])).error is None

    result = run_target(sandbox, config, plain_messages([sale("R", "2026-11-02", "-100.00", "cash")]))

    assert result.error is None, result.stderr
    vouchers = day_vouchers(sandbox, "2026-11-02")
    assert [v["Status"] for v in vouchers] == ["Booked", "Booked"]
    assert day_takings(sandbox, "2026-11-02") == Decimal("0.00")


@pytest.mark.parametrize("marker", ["_sdc_deleted_at", "DeletedAt"])
def test_sale_deleted_upstream_leaves_its_day(sandbox: Any, config: dict[str, Any], marker: str) -> None:
    config["streams"][STREAM]["book"] = False
    rows = [sale("A", "2026-11-02", "100.00"), sale("B", "2026-11-02", "50.00")]
    assert run_target(sandbox, config, plain_messages(rows)).error is None

    gone = {**sale("A", "2026-11-02", "100.00"), marker: "2026-11-03T08:00:00Z"}
    result = run_target(sandbox, config, plain_messages([gone]))

    assert result.error is None, result.stderr
    assert day_takings(sandbox, "2026-11-02") == Decimal("50.00")


def test_sale_is_not_added_to_its_new_day_while_its_old_day_cannot_be_corrected(
    sandbox: Any, config: dict[str, Any], tmp_path: Path
) -> None:
    config["streams"][STREAM]["book"] = False
    config["max_rejects"] = 5
    config["voucher_receipts"] = False  # with receipts Dinero can tell (the day voucher is found by its file)
    rows = [sale("A", "2026-11-02", "100.00"), sale("B", "2026-11-02", "50.00")]
    first = run_target(sandbox, config, plain_messages(rows))
    assert first.error is None
    # the old day's voucher is in doubt (a create whose answer was lost, no file to find it by)
    first.target.run.journal.record(f"{STREAM}:2026-11-02", status="pending", guid=None)

    result = run_target(sandbox, config, plain_messages([sale("A", "2026-11-03", "100.00")]))

    assert result.error is None, result.stderr
    assert day_vouchers(sandbox, "2026-11-03") == []  # not on two days
    [reject] = read_rejects(tmp_path / "rejects.jsonl")
    assert reject["record"]["sale_id"] == "A"


@pytest.mark.parametrize("marker", ["_sdc_deleted_at", "DeletedAt"])
def test_sale_deleted_upstream_leaves_its_day_through_a_map_that_keeps_only_named_fields(
    sandbox: Any, config: dict[str, Any], marker: str
) -> None:
    """A stream map with ``__else__: __NULL__`` (the README's POS recipe) drops every field it does not
    name, the deletion marker too: the deleted sale must still leave its day, not be counted again."""
    config["streams"][STREAM]["book"] = False
    named = ("sale_id", "sold_at", "payment_method", "amount", "vat_rate")
    config["stream_maps"] = {STREAM: {**{f: f for f in named}, "__else__": None}}
    rows = [sale("A", "2026-11-02", "100.00"), sale("B", "2026-11-02", "50.00")]
    assert run_target(sandbox, config, plain_messages(rows)).error is None

    gone = {**sale("A", "2026-11-02", "100.00"), marker: "2026-11-03T08:00:00Z"}
    result = run_target(sandbox, config, plain_messages([gone]))

    assert result.error is None, result.stderr
    assert day_takings(sandbox, "2026-11-02") == Decimal("50.00")


@pytest.mark.parametrize("book", [False, True], ids=["draft", "booked"])
def test_a_sale_whose_id_comes_back_padded_or_decomposed_is_the_same_sale(
    sandbox: Any, config: dict[str, Any], book: bool
) -> None:
    """Sale ids follow the identity rule of references (NFC, trimmed): a POS export that pads its ids or a
    tool that decomposes ``é`` used to add the day's sales a second time (a supplement, a bigger draft)."""
    config["streams"][STREAM]["book"] = book
    rows = [sale("KØB-é-1", "2026-11-02", "100.00"), sale("KØB-2", "2026-11-02", "50.00", "cash")]
    assert run_target(sandbox, config, plain_messages(rows)).error is None
    assert day_takings(sandbox, "2026-11-02") == Decimal("150.00")

    variants = [
        sale(unicodedata.normalize("NFD", " KØB-é-1 "), "2026-11-02", "100.00"),
        sale("KØB-2\t", "2026-11-02", "50.00", "cash"),
    ]
    again = run_target(sandbox, config, plain_messages(variants))

    assert again.error is None, again.stderr
    assert again.writes == []
    assert day_takings(sandbox, "2026-11-02") == Decimal("150.00")  # was 300.00
    assert len(day_vouchers(sandbox, "2026-11-02")) == 1


def test_a_moved_sale_whose_old_day_was_booked_meanwhile_holds_back_state(
    sandbox: Any, config: dict[str, Any]
) -> None:
    """A sale moves to another day while its old day's draft voucher is booked by hand in Dinero: the draft
    cannot be deleted, so the sale is rejected and "re-run to add the correction". That promise needs the
    sale again, but the run used to emit its STATE: the tap never sent the sale again, it stayed on its old
    day for good and never reached its new one. Now no STATE follows such a reject, as after a write in
    doubt."""
    config["streams"][STREAM]["book"] = False
    config["max_rejects"] = 10  # a shop's run goes on past a reject
    sale = {
        "sale_id": "MOVE-1",
        "sold_at": "2026-11-03T10:00:00",
        "payment_method": "Cash",
        "amount": "40.00",
        "vat_rate": "0.25",
        "description": "Kaffe",
    }
    first = run_target(sandbox, config, messages([sale]))
    assert first.error is None, first.stderr
    [draft] = by_reference(sandbox.dump(ORG, "manual_vouchers"), f"{STREAM}:2026-11-03")
    sandbox.mutate(ORG, "manual_vouchers", "update", draft["Guid"], {"Status": "Booked", "Timestamp": "bk"})
    moved = run_target(sandbox, config, messages([{**sale, "sold_at": "2026-11-04T10:00:00"}]))
    assert moved.error is None, moved.stderr
    new = read_rejects(Path(config["rejects_file"]))
    assert len(new) == 1 and "booked" in new[0]["reason"], new
    assert moved.states == [], moved.states
    # the next run gets the sale again (from the last STATE) and does what the reject promised
    again = run_target(sandbox, config, messages([{**sale, "sold_at": "2026-11-04T10:00:00"}]))
    assert again.error is None and again.states, again.stderr
    held = {
        v["ExternalReference"]: sum(
            ln["AmountInclVatValue"] for ln in v["Lines"] if ln["BalancingAccountNumber"] == 1000
        )
        for v in live(sandbox.dump(ORG, "manual_vouchers"))
        if str(v.get("ExternalReference")).startswith(f"{STREAM}:2026-11-0")
    }
    assert sum(v for k, v in held.items() if "2026-11-03" in k) == 0, held  # booked day + its supplement
    assert sum(v for k, v in held.items() if "2026-11-04" in k) == 40, held
