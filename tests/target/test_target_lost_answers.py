"""Lost answers, stale Timestamps and parallel sinks: still exactly one object per reference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_target_invoices import order
from test_target_manual_vouchers import PDF, voucher

from tests.harness import ORG, by_reference, live, make_target_config, read_rejects, run_target
from tests.harness import record_message as record
from tests.harness import schema_message as schema
from tests.harness import state_message as state


def invoice_messages(stream: str, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [schema(stream), *(record(stream, o) for o in orders), state({stream: len(orders)})]


def test_invoice_create_whose_answer_is_lost_is_not_duplicated(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    config = make_target_config(
        sandbox_settings,
        tmp_path,
        {"orders": {"load_as": "invoice", "book": True}},
        retry_backoff_seconds=0.01,
    )
    sandbox.set_fault("commit_then_500", count=1, path_contains="/invoices", method="POST")

    result = run_target(sandbox, config, invoice_messages("orders", [order(1), order(2)]))

    assert result.error is None, result.stderr
    invoices = by_reference(sandbox.dump(ORG, "invoices"), "SHOP-")
    assert sorted(i["ExternalReference"] for i in invoices) == ["SHOP-1", "SHOP-2"]
    assert all(i["Status"] != "Draft" for i in invoices)
    assert result.counts("orders") == {
        "created": 2,
        "booked": 2,
        "unknown_outcome": 1,
        "recovered_after_unknown_outcome": 1,
    }


def test_stale_timestamp_on_booking_is_reread_and_retried_once(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    config = make_target_config(sandbox_settings, tmp_path, {"orders": {"load_as": "invoice", "book": True}})
    sandbox.set_fault("stale_timestamp", count=1, path_contains="/book")

    result = run_target(sandbox, config, invoice_messages("orders", [order(1)]))

    assert result.error is None, result.stderr
    [invoice] = by_reference(sandbox.dump(ORG, "invoices"), "SHOP-")
    assert invoice["Status"] != "Draft"
    book_calls = [r for r in result.api_requests if r["path"].endswith("/book")]
    assert [r["status"] for r in book_calls] == [400, 200]


def test_voucher_with_file_whose_create_answer_is_lost_is_found_by_its_file(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    receipt = tmp_path / "bilag.pdf"
    receipt.write_bytes(PDF)
    config = make_target_config(
        sandbox_settings, tmp_path, {"je": {"load_as": "manual_voucher"}}, max_rejects=1
    )
    messages = [schema("je"), record("je", voucher(1, File={"path": str(receipt)})), state({"je": 1})]
    sandbox.set_fault("commit_then_500", count=1, path_contains="/vouchers/manuel", method="POST")

    first = run_target(sandbox, config, messages)
    assert first.error is None, first.stderr
    assert read_rejects(tmp_path / "rejects.jsonl") == []  # resolved in the run, through the file's link
    assert first.counts("je")["recovered_after_unknown_outcome"] == 1

    second = run_target(sandbox, config, messages)

    assert second.error is None, second.stderr
    assert len(by_reference(sandbox.dump(ORG, "manual_vouchers"), "JE-")) == 1
    assert not [w for w in second.writes if w["path"].endswith("/vouchers/manuel")]
    assert second.counts("je") == {"unchanged": 1}


def test_voucher_without_file_whose_answer_is_lost_is_found_through_its_generated_receipt(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    config = make_target_config(
        sandbox_settings, tmp_path, {"je": {"load_as": "manual_voucher"}}, max_rejects=5
    )
    messages = [schema("je"), record("je", voucher(1)), state({"je": 1})]
    sandbox.set_fault("commit_then_500", count=1, path_contains="/vouchers/manuel", method="POST")
    first = run_target(sandbox, config, messages)
    assert first.error is None, first.stderr
    assert read_rejects(tmp_path / "rejects.jsonl") == []

    second = run_target(sandbox, config, messages)

    assert second.error is None, second.stderr
    assert len(by_reference(sandbox.dump(ORG, "manual_vouchers"), "JE-")) == 1
    assert second.writes == []


def test_voucher_without_file_or_receipt_whose_answer_is_lost_is_rejected_for_a_check_by_hand(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    config = make_target_config(
        sandbox_settings,
        tmp_path,
        {"je": {"load_as": "manual_voucher"}},
        max_rejects=5,
        voucher_receipts=False,
        commit_horizon_seconds=0,
    )
    messages = [schema("je"), record("je", voucher(1)), state({"je": 1})]
    sandbox.set_fault("commit_then_500", count=2, path_contains="/vouchers/manuel", method="POST")
    assert run_target(sandbox, config, messages).error is None

    second = run_target(sandbox, config, messages)

    assert second.error is None, second.stderr
    assert len(by_reference(sandbox.dump(ORG, "manual_vouchers"), "JE-")) == 1
    assert second.writes == []
    reason = read_rejects(tmp_path / "rejects.jsonl")[-1]["reason"]
    assert "check by hand" in reason and "JE-1" in reason and "journal" in reason


def test_parallel_streams_share_contacts_without_duplicates(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    streams = {name: {"load_as": "invoice"} for name in ("shop_a", "shop_b", "shop_c")}
    config = make_target_config(sandbox_settings, tmp_path, streams)
    messages: list[dict[str, Any]] = [schema(name) for name in streams]
    for n in range(1, 31):  # interleaved: the three sinks drain in parallel threads at the end
        name = ("shop_a", "shop_b", "shop_c")[n % 3]
        messages.append(record(name, order(n, ExternalReference=f"{name}-{n}")))

    result = run_target(sandbox, config, messages)

    assert result.error is None, result.stderr
    emails = [
        c["Email"] for c in live(sandbox.dump(ORG, "contacts")) if str(c.get("Email")).startswith("kunde")
    ]
    assert sorted(emails) == ["kunde0@example.dk", "kunde1@example.dk", "kunde2@example.dk"]
    assert (
        len([i for i in live(sandbox.dump(ORG, "invoices")) if "shop_" in str(i.get("ExternalReference"))])
        == 30
    )


def test_drafts_deleted_in_dinero_are_created_again(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    streams = {"orders": {"load_as": "invoice"}, "je": {"load_as": "manual_voucher"}}
    config = make_target_config(sandbox_settings, tmp_path, streams)
    messages = [schema("orders"), record("orders", order(1)), schema("je"), record("je", voucher(1))]
    assert run_target(sandbox, config, messages).error is None
    [invoice] = by_reference(sandbox.dump(ORG, "invoices"), "SHOP-")
    [draft] = by_reference(sandbox.dump(ORG, "manual_vouchers"), "JE-")
    sandbox.mutate(ORG, collection="invoices", action="delete", guid=invoice["Guid"])
    sandbox.mutate(ORG, collection="manual_vouchers", action="delete", guid=draft["Guid"])
    changed = [
        schema("orders"),
        record("orders", order(1)),
        schema("je"),
        record("je", voucher(1, VoucherDate="2026-11-05")),
    ]

    result = run_target(sandbox, config, changed)

    assert result.error is None, result.stderr
    assert len(by_reference(sandbox.dump(ORG, "invoices"), "SHOP-")) == 1
    [voucher_again] = by_reference(sandbox.dump(ORG, "manual_vouchers"), "JE-")
    assert voucher_again["Guid"] != draft["Guid"]
    assert voucher_again["VoucherDate"][:10] == "2026-11-05"
