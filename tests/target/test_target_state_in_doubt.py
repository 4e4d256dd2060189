"""STATE never covers a record whose write is in doubt.

A record whose create had an unknown outcome that the run could not resolve (``OutcomeStillUnknown``), or
that needs a check by hand, is rejected with "a re-run looks again" -- but a run with ``max_rejects`` to
spare used to emit the tap's STATE after it anyway. An orchestrator saves that STATE, the incremental tap
never sends the record again, and the object is never created: a record lost while the run said "ok".
Now no STATE follows such a record; the next run gets it again and loads it once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_target_manual_vouchers import voucher

from tests.harness import ORG, by_reference, make_target_config, read_rejects, run_target
from tests.harness import record_message as record
from tests.harness import schema_message as schema
from tests.harness import state_message as state

PRODUCT = {
    "id": 7,
    "ExternalReference": "DOUBT-P",
    "Name": "Te",
    "BaseAmountValue": 10,
    "AccountNumber": 1000,
}


def test_no_state_follows_a_product_whose_create_outcome_stayed_unknown(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    streams = {"cat": {"load_as": "product"}, "other": {"load_as": "product"}}
    config = make_target_config(
        sandbox_settings,
        tmp_path,
        streams,
        max_rejects=5,
        commit_horizon_seconds=0,
        retry_backoff_seconds=0.01,
    )
    other = {**PRODUCT, "id": 8, "ExternalReference": "FINE-P"}
    messages = [
        schema("cat"),
        record("cat", {**PRODUCT, "Unit": "parts"}),
        state({"bookmarks": {"cat": 1}}),
        schema("other"),
        record("other", {**other, "Unit": "parts"}),
        state({"bookmarks": {"cat": 1, "other": 1}}),
    ]
    sandbox.set_fault("5xx", count=50, path_contains="/products", method="POST")
    first = run_target(sandbox, config, messages[:3])
    assert first.error is None, first.stderr
    assert [p for p in sandbox.dump(ORG, "products") if p.get("ExternalReference") == "DOUBT-P"] == []
    assert "re-run" in read_rejects(Path(config["rejects_file"]))[0]["reason"]
    assert first.states == []  # was [{"bookmarks": {"cat": 1}}]: the record would never come again
    sandbox.clear_faults()
    # the next run gets the record again (from the state before it) and creates it once
    second = run_target(sandbox, config, messages)
    assert second.error is None, second.stderr
    assert second.states[-1] == {"bookmarks": {"cat": 1, "other": 1}}
    held = [
        p["ExternalReference"]
        for p in sandbox.dump(ORG, "products")
        if "-P" in str(p.get("ExternalReference"))
    ]
    assert sorted(held) == ["DOUBT-P", "FINE-P"]


def test_no_state_follows_a_voucher_left_for_a_check_by_hand(
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
    first = run_target(sandbox, config, messages)
    assert first.error is None, first.stderr
    assert "check by hand" in read_rejects(Path(config["rejects_file"]))[0]["reason"]
    assert len(by_reference(sandbox.dump(ORG, "manual_vouchers"), "JE-")) == 1
    assert first.states == []
