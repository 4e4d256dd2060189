"""A booked object sent again with other content: never a second object, never counted as there.

A booked invoice or voucher cannot be changed. Before, a record whose amount changed after its object was
booked was counted ``skipped_booked`` (exit 0, no reject): the change was silently dropped. Now it is
rejected with what Dinero holds and what the record means -- also when the journal was lost (compared with
Dinero), while the same record re-sent is still recognised without a reject."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import pytest

from tests.harness import ORG, make_target_config, read_rejects, run_target
from tests.harness import record_message as record
from tests.harness import schema_message as schema
from tests.harness import state_message as state


def msgs(stream: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [schema(stream), *(record(stream, r) for r in rows), state({"bookmarks": {stream: len(rows)}})]


def rejects(config: dict[str, Any]) -> list[dict[str, Any]]:
    return read_rejects(Path(config["rejects_file"]))


def fresh_journal(config: dict[str, Any], tmp_path: Path, name: str) -> dict[str, Any]:
    """The same target on another machine: its own journal, rejects and quota files."""
    (tmp_path / name).mkdir()
    return {
        **config,
        "ledger_file": str(tmp_path / name / "ledger.jsonl"),
        "rejects_file": str(tmp_path / name / "rejects.jsonl"),
    }


def order(**over: Any) -> dict[str, Any]:
    data = {
        "id": 1,
        "ExternalReference": "BK-1",
        "Date": "2026-11-02",
        "Contact": {"Name": "Kunde BK", "Email": "bk@example.dk", "CountryKey": "DK"},
        "ProductLines": [
            {"Description": "Te", "Quantity": 3, "BaseAmountValue": 33.33, "AccountNumber": 1000}
        ],
    }
    data.update(over)
    return data


def test_a_booked_invoice_whose_amount_or_date_changed_upstream_is_rejected_not_counted_as_there(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    config = make_target_config(sandbox_settings, tmp_path, {"o": {"load_as": "invoice", "book": True}})
    config["max_rejects"] = 10
    assert run_target(sandbox, config, msgs("o", [order()])).error is None
    dearer = order(ProductLines=[{**order()["ProductLines"][0], "BaseAmountValue": 44.44}])
    later = order(Date="2026-11-05")
    for changed, words in ((dearer, ("124.99", "166.65")), (later, ("2026-11-02", "2026-11-05"))):
        for where in (config, fresh_journal(config, tmp_path, f"other-{len(rejects(config))}")):
            before = len(rejects(where))
            run = run_target(sandbox, where, msgs("o", [changed]))
            assert run.error is None, run.stderr
            assert run.writes == []
            assert run.counts("o").get("skipped_booked") is None, run.counts("o")
            new = rejects(where)[before:]
            assert len(new) == 1 and all(w in new[0]["reason"] for w in words), new
    held = [i for i in sandbox.dump(ORG, "invoices") if i.get("ExternalReference") == "BK-1"]
    assert [(i["Status"], i["TotalInclVat"], i["Date"][:10]) for i in held] == [
        ("Booked", 124.99, "2026-11-02")
    ]
    # the record as it was booked: recognised, nothing rejected -- with the journal and without it
    for where in (config, fresh_journal(config, tmp_path, "again")):
        before = len(rejects(where))
        same = run_target(sandbox, where, msgs("o", [order()]))
        assert same.error is None and same.writes == [], same.stderr
        assert same.counts("o").get("skipped_booked") == 1 and rejects(where)[before:] == []


def bill(amount: float) -> dict[str, Any]:
    return {
        "id": "b1",
        "PurchaseType": "cash",
        "VoucherDate": "2026-11-03",
        "Lines": [{"AccountNumber": 2000, "Amount": amount, "VatCode": "I25", "Description": "Kontorland"}],
    }


def voucher(amount: float) -> dict[str, Any]:
    return {
        "id": "v1",
        "VoucherDate": "2026-11-02",
        "Lines": [
            {
                "AccountNumber": 1000,
                "BalancingAccountNumber": 55000,
                "Amount": amount,
                "AccountVatCode": "U25",
            },
            {"AccountNumber": 2000, "BalancingAccountNumber": 55000, "Amount": 10.0},
        ],
    }


@pytest.mark.parametrize(
    ("load_as", "make", "table", "sign"),
    [
        ("manual_voucher", voucher, "manual_vouchers", "debit_account"),
        ("manual_voucher", voucher, "manual_vouchers", "credit_account"),
        ("purchase_voucher", bill, "purchase_vouchers", "debit_account"),
    ],
)
def test_a_booked_voucher_whose_amount_changed_upstream_is_rejected_not_counted_as_there(
    sandbox: Any,
    sandbox_settings: dict[str, Any],
    tmp_path: Path,
    load_as: str,
    make: Any,
    table: str,
    sign: str,
) -> None:
    streams = {"s": {"load_as": load_as, "book": True, "deposit_account": 55000}}
    config = make_target_config(
        sandbox_settings, tmp_path, streams, max_rejects=10, manual_voucher_amount_sign=sign
    )
    assert run_target(sandbox, config, msgs("s", [make(250.0)])).error is None
    for where in (config, fresh_journal(config, tmp_path, "other")):
        run = run_target(sandbox, where, msgs("s", [make(300.0)]))
        assert run.error is None, run.stderr
        assert [w for w in run.writes] == [] and run.counts("s").get("skipped_booked") is None
        new = rejects(where)
        assert len(new) == 1 and "300" in new[0]["reason"] and "250" in new[0]["reason"], new
    held = [v for v in sandbox.dump(ORG, table) if v.get("ExternalReference") == "s:" + make(0)["id"]]
    assert len(held) == 1 and held[0]["Status"] != "Draft", held
    for where in (config, fresh_journal(config, tmp_path, "again")):
        before = len(rejects(where))
        same = run_target(sandbox, where, msgs("s", [make(250.0)]))
        assert same.error is None and same.writes == [], same.stderr
        assert same.counts("s").get("skipped_booked") == 1 and rejects(where)[before:] == []


def test_an_invoice_draft_that_differs_is_neither_booked_as_it_was_nor_counted_when_updates_are_off(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    streams = {"o": {"load_as": "invoice", "update_drafts": False}}
    config = make_target_config(sandbox_settings, tmp_path, streams, max_rejects=10)
    assert run_target(sandbox, config, msgs("o", [order()])).error is None  # a draft of 124.99
    dearer = order(Book=True, ProductLines=[{**order()["ProductLines"][0], "BaseAmountValue": 44.44}])
    for where in (config, fresh_journal(config, tmp_path, "other")):
        run = run_target(sandbox, where, msgs("o", [dearer]))
        assert run.error is None, run.stderr
        assert run.writes == [] and run.counts("o").get("unchanged") is None, run.counts("o")
        new = rejects(where)
        assert len(new) == 1 and "update_drafts" in new[0]["reason"], new
    held = [i for i in sandbox.dump(ORG, "invoices") if i.get("ExternalReference") == "BK-1"]
    assert [(i["Status"], i["TotalInclVat"]) for i in held] == [("Draft", 124.99)]  # not booked as it was
    same = run_target(sandbox, config, msgs("o", [order(Book=True)]))  # the record that made it: booked
    assert same.error is None and len(rejects(config)) == 1, same.stderr
    held = [i for i in sandbox.dump(ORG, "invoices") if i.get("ExternalReference") == "BK-1"]
    assert [(i["Status"], i["TotalInclVat"]) for i in held] == [("Booked", 124.99)]


def test_a_booked_kassekladde_item_whose_amount_changed_upstream_is_rejected_not_counted_as_there(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    config = make_target_config(
        sandbox_settings, tmp_path, {"z": {"load_as": "ledger_item", "book": True}}, max_rejects=10
    )
    item = {
        "id": "z1",
        "VoucherDate": "2026-11-02",
        "Lines": [{"AccountNumber": 55000, "BalancingAccountNumber": 1000, "Amount": 1250.0}],
    }
    assert run_target(sandbox, config, msgs("z", [item])).error is None
    deadline = time.monotonic() + 30
    while any(
        r.get("Status") != "Booked" for r in sandbox.dump(ORG, "ledger_items") if not r.get("DeletedAt")
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)  # Dinero books kassekladde items in the background
    changed = {**item, "Lines": [{**item["Lines"][0], "Amount": 1300.0}]}
    again = run_target(sandbox, config, msgs("z", [changed]))
    assert again.error is None, again.stderr
    new = rejects(config)
    assert len(new) == 1 and "1300" in new[0]["reason"], new
    assert again.counts("z").get("unchanged") is None
    same = run_target(sandbox, config, msgs("z", [item]))
    assert same.error is None and same.counts("z").get("unchanged") == 1 and len(rejects(config)) == 1
    held = [r for r in sandbox.dump(ORG, "ledger_items") if not r.get("DeletedAt")]
    assert len(held) == 1


def test_a_rerun_of_unchanged_booked_invoices_rewrites_nothing_in_the_journal(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    """A shop re-sends its booked orders (a full-table source, a replay). The journal's content digest of
    each is already what the record says, so nothing needs writing: the target used to rewrite every
    invoice's entry on every run -- one durable (fsync'ed) journal write per re-sent invoice, a Redis round
    trip with a Redis journal -- for nothing."""
    import sqlite3

    config = make_target_config(sandbox_settings, tmp_path, {"o": {"load_as": "invoice", "book": True}})
    rows = [order(id=n, ExternalReference=f"RW-{n}") for n in range(3)]
    assert run_target(sandbox, config, msgs("o", rows)).error is None
    journal = Path(config["ledger_file"]).with_suffix(".sqlite3")

    def entries() -> dict[str, float]:
        with contextlib.closing(sqlite3.connect(journal)) as conn:
            return dict(conn.execute("SELECT ref, updated FROM journal WHERE ref LIKE 'invoice-content:%'"))

    before = entries()
    assert len(before) == 3, before
    again = run_target(sandbox, config, msgs("o", rows))
    assert again.error is None and again.writes == [], again.stderr
    assert again.counts("o").get("skipped_booked") == 3
    assert entries() == before
