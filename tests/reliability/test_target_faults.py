"""The target under write-side faults: 429 storms only slow it down; a write that Dinero performed but
whose answer was lost (5xx after commit, reset, timeout) is never performed twice; a stale Timestamp on
booking or updating is recovered.

Guarantee: exactly-once loading by external reference (docs/GUARANTEES.md).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from tests.harness import (
    ORG,
    live,
    read_rejects,
    record_message,
    run_target,
    schema_message,
    state_message,
    wait_until,
)

from .helpers import count_by

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def order(n: int, **over: Any) -> dict[str, Any]:
    data = {
        "id": n,
        "ExternalReference": f"FLT-ORD-{n}",
        "Date": "2026-11-02",
        "Contact": {"Name": f"Kunde {n % 2}", "Email": f"kunde{n % 2}@example.dk"},
        "ProductLines": [
            {
                "Description": "Vare",
                "Quantity": 1,
                "BaseAmountValue": 100 + n,
                "AccountNumber": 1000,
                "Unit": "parts",
            }
        ],
    }
    data.update(over)
    return data


def receipt(n: int, *, with_file: bool = True, **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": n,
        "ExternalReference": f"FLT-RCPT-{n}",
        "VoucherDate": "2026-11-03",
        "Lines": [
            {
                "Description": f"Bilag {n}",
                "AccountNumber": 5000,
                "BalancingAccountNumber": 55000,
                "Amount": 300 + n,
                "AccountVatCode": "none",
                "BalancingAccountVatCode": "none",
            }
        ],
    }
    if with_file:
        content = PDF + f"% {n}\n".encode()
        data["File"] = {"content_base64": base64.b64encode(content).decode(), "FileName": f"bilag-{n}.pdf"}
    data.update(over)
    return data


def messages(orders: list[dict[str, Any]] = (), receipts: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if orders:
        out += [schema_message("orders"), *(record_message("orders", o) for o in orders)]
    if receipts:
        out += [schema_message("receipts"), *(record_message("receipts", r) for r in receipts)]
    return [*out, state_message({"done": True})]


@pytest.fixture
def config(fast_settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    return {
        **fast_settings,
        "streams": {
            "orders": {"load_as": "invoice", "book": True},
            "receipts": {"load_as": "manual_voucher", "book": True},
        },
        "rejects_file": str(tmp_path / "rejects.jsonl"),
        "ledger_file": str(tmp_path / "ledger.jsonl"),
        "commit_horizon_seconds": 3,
    }


def invoices_by_ref(sandbox) -> dict[str, int]:
    return count_by(
        [i for i in live(sandbox.dump(ORG, "invoices")) if i["ExternalReference"]], "ExternalReference"
    )


def vouchers(sandbox) -> list[dict[str, Any]]:
    return [
        v
        for v in live(sandbox.dump(ORG, "manual_vouchers"))
        if str(v["ExternalReference"]).startswith("FLT-")
    ]


def file_links(sandbox) -> dict[str, list[str]]:
    return {
        f["FileGuid"]: [x.get("VoucherGuid") for x in f.get("Linked") or []]
        for f in sandbox.dump(ORG, "files")
    }


def assert_loaded_once(sandbox, orders: list[dict[str, Any]], receipts: list[dict[str, Any]]) -> None:
    counts = invoices_by_ref(sandbox)
    for o in orders:
        assert counts.get(o["ExternalReference"]) == 1, (
            o["ExternalReference"],
            counts.get(o["ExternalReference"]),
        )
    held = vouchers(sandbox)
    assert count_by(held, "ExternalReference") == {r["ExternalReference"]: 1 for r in receipts}
    assert all(v["Status"] == "Booked" for v in held)
    links = file_links(sandbox)
    for v in held:
        if v.get("FileGuid"):
            assert links[v["FileGuid"]] == [v["Guid"]], "the voucher's file must be attached exactly once"
    assert sum(1 for owners in links.values() for g in owners if g in {v["Guid"] for v in held}) == sum(
        1 for r in receipts if r.get("File")
    )


ORDERS = [order(n) for n in range(1, 5)]
RECEIPTS = [receipt(n) for n in range(1, 4)]


def test_429_storm_only_slows_the_target_down(sandbox, config) -> None:
    sandbox.set_fault(
        "429", count=3, retry_after=1, path_contains="/v1/"
    )  # API calls; tokens are not counted

    run = run_target(sandbox, config, messages(ORDERS, RECEIPTS))

    assert run.error is None, run.stderr[-3000:]
    assert sandbox.faults()[0]["fired"] == 3
    assert read_rejects(Path(config["rejects_file"])) == []
    assert_loaded_once(sandbox, ORDERS, RECEIPTS)
    assert run.states == [{"done": True}]


@pytest.mark.parametrize(
    ("mode", "path"),
    [
        ("commit_then_500", "/invoices"),
        ("commit_then_500", "/contacts"),
        ("commit_then_500", "/book"),
        ("5xx", "/invoices"),
        ("reset", "/invoices"),
        ("reset", "/contacts"),
    ],
)
def test_lost_answer_on_invoice_writes_never_creates_twice(sandbox, config, mode, path) -> None:
    """Invoices and contacts carry a client-chosen Guid: a create whose answer was lost is confirmed
    (or safely replayed) in the same run."""
    sandbox.set_fault(mode, count=1, path_contains=path, method="POST")

    run = run_target(sandbox, config, messages(ORDERS))

    assert sandbox.faults()[0]["fired"] == 1
    assert run.error is None, run.stderr[-3000:]
    assert_loaded_once(sandbox, ORDERS, [])
    held = [i for i in live(sandbox.dump(ORG, "invoices")) if str(i["ExternalReference"]).startswith("FLT-")]
    assert {i["Status"] for i in held} == {"Booked"}
    customers = [
        c for c in live(sandbox.dump(ORG, "contacts")) if str(c.get("Email")).endswith("@example.dk")
    ]
    assert count_by(customers, "Email") == {"kunde0@example.dk": 1, "kunde1@example.dk": 1}


@pytest.mark.parametrize(
    ("mode", "path"),
    [
        ("commit_then_500", "/vouchers/manuel"),
        ("reset", "/vouchers/manuel"),
        ("commit_then_500", "/files"),
        ("commit_then_500", "/book"),
        ("reset", "/book"),
    ],
)
def test_lost_answer_on_voucher_writes_never_creates_twice(sandbox, config, mode, path) -> None:
    """Manual vouchers cannot be searched: a lost create answer is resolved through the attached file on
    the re-run (at the latest), never by creating the voucher again."""
    sandbox.set_fault(mode, count=1, path_contains=path, method="POST")

    first = run_target(sandbox, config, messages([], RECEIPTS))
    assert sandbox.faults()[0]["fired"] == 1
    rerun = run_target(sandbox, config, messages([], RECEIPTS))

    assert rerun.error is None, rerun.stderr[-3000:]
    assert rerun.states == [{"done": True}]
    assert_loaded_once(sandbox, [], RECEIPTS)
    if first.error is not None:  # the record whose outcome was unknown was rejected, and said why
        [reject] = read_rejects(Path(config["rejects_file"]))
        assert "answer was lost" in reject["reason"], reject


@pytest.mark.parametrize("mode", ["commit_then_500", "slow"])
def test_voucher_without_file_whose_create_answer_was_lost_is_found_through_its_receipt(
    sandbox, config, mode
) -> None:
    """A voucher without a file gets a generated receipt: a lost create answer, or a create Dinero
    commits after the client gave up, is found through the receipt's link in the same run."""
    receipts = [receipt(1, with_file=False), receipt(2, with_file=False)]
    config = {**config, "request_timeout": 0.5}
    sandbox.set_fault(mode, count=1, path_contains="/vouchers/manuel", method="POST", seconds=1.0)

    first = run_target(sandbox, config, messages([], receipts))
    second = run_target(sandbox, config, messages([], receipts))

    assert sandbox.faults()[0]["fired"] == 1
    assert first.error is None and second.error is None, first.stderr[-3000:]
    assert read_rejects(Path(config["rejects_file"])) == []
    held = vouchers(sandbox)
    assert count_by(held, "ExternalReference") == {"FLT-RCPT-1": 1, "FLT-RCPT-2": 1}
    assert all(v["FileGuid"] and v["Status"] == "Booked" for v in held)
    assert second.writes == []  # nothing is created again


@pytest.mark.parametrize("mode", ["commit_then_500", "slow"])
def test_voucher_without_file_or_receipt_whose_create_answer_was_lost_is_never_created_twice(
    sandbox, config, mode
) -> None:
    """With voucher_receipts off nothing in Dinero's API can tell whether the create happened: the target
    refuses to guess. The voucher exists once; every re-run rejects it as "check by hand"."""
    receipts = [receipt(1, with_file=False), receipt(2, with_file=False)]
    config = {**config, "request_timeout": 0.5, "voucher_receipts": False}
    sandbox.set_fault(mode, count=1, path_contains="/vouchers/manuel", method="POST", seconds=1.0)

    first = run_target(sandbox, config, messages([], receipts))
    if mode == "slow":
        _wait_for_logged_create(sandbox)  # the slow create completes after the client gave up waiting
    second = run_target(sandbox, config, messages([], receipts))

    assert first.error is not None and second.error is not None  # one reject each, max_rejects 0
    rejects = read_rejects(Path(config["rejects_file"]))
    assert [r["record"]["ExternalReference"] for r in rejects] == ["FLT-RCPT-1", "FLT-RCPT-1"]
    assert "check by hand" in rejects[1]["reason"] and rejects[1]["field"] == "ExternalReference"
    assert sandbox.faults()[0]["fired"] == 1
    held = count_by(vouchers(sandbox), "ExternalReference")
    assert held == {"FLT-RCPT-1": 1, "FLT-RCPT-2": 1}
    assert second.writes == []  # nothing is created again


def _wait_for_logged_create(sandbox, creates: int = 2) -> None:
    def logged() -> int:
        return sum(
            1 for r in sandbox.requests() if r["path"].endswith("/vouchers/manuel") and r["status"] < 300
        )

    wait_until(lambda: logged() >= creates, what="the sandbox to finish the voucher create")


@pytest.mark.parametrize("stream", ["orders", "receipts"])
def test_stale_timestamp_on_booking_recovers(sandbox, config, stream) -> None:
    sandbox.set_fault("stale_timestamp", count=1, path_contains="/book")
    orders, receipts = (ORDERS, []) if stream == "orders" else ([], RECEIPTS)

    run = run_target(sandbox, config, messages(orders, receipts))

    assert sandbox.faults()[0]["fired"] == 1
    assert run.error is None, run.stderr[-3000:]
    assert_loaded_once(sandbox, orders, receipts)
    held = [i for i in live(sandbox.dump(ORG, "invoices")) if str(i["ExternalReference"]).startswith("FLT-")]
    assert all(i["Status"] == "Booked" for i in held)


@pytest.mark.parametrize("stream", ["orders", "receipts"])
def test_stale_timestamp_on_draft_update_recovers(sandbox, config, stream) -> None:
    config["streams"][stream]["book"] = False
    first_version = [order(1)] if stream == "orders" else [receipt(1)]
    changed = [order(1, Date="2026-11-04")] if stream == "orders" else [receipt(1, VoucherDate="2026-11-04")]
    pick = (lambda o: (o, [])) if stream == "orders" else (lambda r: ([], r))
    assert run_target(sandbox, config, messages(*pick(first_version))).error is None
    sandbox.set_fault("stale_timestamp", count=1, method="PUT")

    run = run_target(sandbox, config, messages(*pick(changed)))

    assert sandbox.faults()[0]["fired"] == 1
    assert run.error is None, run.stderr[-3000:]
    if stream == "orders":
        [held] = [i for i in live(sandbox.dump(ORG, "invoices")) if i["ExternalReference"] == "FLT-ORD-1"]
        assert held["Date"][:10] == "2026-11-04"
    else:
        [held] = vouchers(sandbox)
        assert held["VoucherDate"][:10] == "2026-11-04"


def test_tokens_expiring_mid_run_are_renewed(sandbox, config) -> None:
    sandbox.set_fault("expire_tokens", count=1, path_contains="/invoices", method="POST")

    run = run_target(sandbox, config, messages(ORDERS, RECEIPTS))

    assert run.error is None, run.stderr[-3000:]
    assert_loaded_once(sandbox, ORDERS, RECEIPTS)


def test_persistent_server_errors_stop_the_run_without_state_and_the_rerun_completes(sandbox, config) -> None:
    sandbox.set_fault("5xx", count=1000, path_contains="/accounts", method="GET")

    failed = run_target(sandbox, config, messages(ORDERS, RECEIPTS))

    assert failed.error is not None
    assert failed.states == [], "no STATE may cover records that were not written"
    assert failed.writes == []
    sandbox.clear_faults()
    rerun = run_target(sandbox, config, messages(ORDERS, RECEIPTS))
    assert rerun.error is None, rerun.stderr[-3000:]
    assert rerun.states == [{"done": True}]
    assert_loaded_once(sandbox, ORDERS, RECEIPTS)


@pytest.mark.parametrize(("mode", "status"), [("5xx", 503), ("429", 429)])
def test_token_endpoint_outage_fails_the_run_without_blaming_the_credentials(
    sandbox, config, mode, status
) -> None:
    sandbox.expire_tokens()  # the process's cached token is gone: the run needs the token endpoint
    sandbox.set_fault(mode, count=1000, path_contains="/oauth/token", status=status)

    failed = run_target(sandbox, config, messages(ORDERS, RECEIPTS))

    assert failed.error is not None and failed.states == [] and failed.writes == []
    assert "not a refusal of the credentials" in str(failed.error), failed.error
    assert "refused the credentials" not in str(failed.error)
    sandbox.clear_faults()
    rerun = run_target(sandbox, config, messages(ORDERS, RECEIPTS))
    assert rerun.error is None, rerun.stderr[-3000:]
    assert_loaded_once(sandbox, ORDERS, RECEIPTS)
