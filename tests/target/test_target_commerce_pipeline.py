"""The whole web-shop, expense and POS flow into Dinero (the sandbox), re-run and killed mid-way.

Input (tests/target/samples/, reshaped by the README's stream maps): web-shop orders with their card
transactions (booked invoices, paid, e-mailed), refunds (a partial credit note and a full one paid back),
expenses with receipts (cash and credit purchase vouchers with their files, one paid), and a POS export
(Z reports as unbooked kassekladde lines). Dinero must hold each object exactly once with the right status
after a clean run, after a re-run (which writes nothing), and after runs killed with SIGKILL at seeded
points followed by a complete run.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from test_target_commerce_recipes import STREAM_MAPS

from tests.harness import (
    ORG,
    make_target_config,
    read_rejects,
    run_target,
    run_target_process,
    singer_lines,
    write_json,
)
from tests.harness import record_message as record
from tests.harness import schema_message as schema
from tests.harness import state_message as state

SAMPLES = Path(__file__).parent / "samples"
SEED = 1517
KILLS = 3
CHAINS = 2

PIPELINE_MAPS: dict[str, Any] = {
    "shop_orders": STREAM_MAPS["shop_orders"],
    "shop_refunds": STREAM_MAPS["shop_refunds"],
    "expenses": {
        "ExternalReference": "'EXP-' + id",
        "PurchaseType": "'cash' if payment == 'company_card' else 'credit'",
        "VoucherDate": "spent_at",
        "PaymentDate": "record.get('due')",
        "Book": "True",
        "Contact": "{'Name': merchant, 'Email': record.get('supplier_email'), 'CountryKey': 'DK'} "
        "if payment == 'invoice' else None",
        "Lines": "[{'Description': merchant, 'AccountNumber': category_account, 'Amount': float(total), "
        "'VatCode': vat_code}]",
        "File": "receipt",
        "Payments": "[{'ExternalReference': 'EXP-PAY-' + p['id'], 'Amount': float(p['amount']), "
        "'PaymentDate': p['date']} for p in record.get('paid') or []] or None",
    },
    "pos_z_reports": {
        "ExternalReference": "'Z-' + register + '-' + str(z_report)",
        "VoucherDate": "business_day",
        "Lines": "[{'Description': 'Z-rapport ' + str(z_report) + ' ' + name, 'AccountNumber': account, "
        "'Amount': float(amount), 'BalancingAccountNumber': 1000, 'BalancingAccountVatCode': 'U25'} "
        "for name, account, amount in [('kort', 55000, card_total), ('kontant', 58000, cash_total)] "
        "if float(amount) != 0]",
    },
}

STREAMS: dict[str, Any] = {
    "shop_orders": {"load_as": "invoice", "deposit_account": 55000, "send": "email"},
    "shop_refunds": {"load_as": "sales_credit_note", "deposit_account": 55000},
    "expenses": {"load_as": "purchase_voucher", "deposit_account": 55000},
    "pos_z_reports": {"load_as": "ledger_item"},
}
KEYS = {"pos_z_reports": ("register", "business_day")}
FINAL_STATE = {"bookmarks": {"pipeline": "done"}}
#: reads Dinero serves as POST
READ_POSTS = ("/ledgeritems/ledgers", "/ledgeritems/status")


def messages() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for stream in STREAMS:
        rows = [json.loads(line) for line in (SAMPLES / f"{stream}.jsonl").read_text().splitlines() if line]
        keys = KEYS.get(stream, ("id",))
        props = {k: {} for row in rows for k in row}
        out.append(schema(stream, keys, props))
        out.extend(record(stream, r) for r in rows)
    out.append(state(FINAL_STATE))
    return out


def config_for(settings: dict[str, Any], workdir: Path) -> dict[str, Any]:
    return make_target_config(
        settings, workdir, STREAMS, stream_maps=PIPELINE_MAPS, retry_backoff_seconds=0.01
    )


def _live(sandbox: Any, collection: str) -> list[dict[str, Any]]:
    return [r for r in sandbox.dump(ORG, collection) if not r.get("DeletedAt")]


def assert_dinero_holds_everything_once(sandbox: Any) -> None:
    invoices = [i for i in _live(sandbox, "invoices") if str(i.get("ExternalReference")).startswith("SHOP-")]
    assert Counter(i["ExternalReference"] for i in invoices) == {
        "SHOP-5001": 1,
        "SHOP-5002": 1,
        "SHOP-5003": 1,
    }
    by_ref = {i["ExternalReference"]: i for i in invoices}
    payments = _live(sandbox, "payments")
    paid_on = Counter(p["VoucherGuid"] for p in payments)
    for ref, invoice in by_ref.items():
        assert invoice["Status"] == "Booked"
        assert paid_on[invoice["Guid"].lower()] == 1, ref  # one card transaction each, never twice
    assert by_ref["SHOP-5001"]["PaymentStatus"] == "Paid"
    mailouts = Counter(m["VoucherGuid"] for m in sandbox.dump(ORG, "mailouts") if m.get("Type") == "Mailout")
    assert all(mailouts[i["Guid"].lower()] == 1 for i in invoices), mailouts  # e-mailed once each

    notes = _live(sandbox, "creditnotes")
    credited = Counter(str(n.get("CreditNoteFor")).lower() for n in notes)
    assert credited[by_ref["SHOP-5002"]["Guid"].lower()] == 1  # partial refund
    assert credited[by_ref["SHOP-5003"]["Guid"].lower()] == 1  # full refund
    assert credited[by_ref["SHOP-5001"]["Guid"].lower()] == 0
    for note in notes:
        if str(note.get("CreditNoteFor")).lower() in (
            by_ref["SHOP-5002"]["Guid"].lower(),
            by_ref["SHOP-5003"]["Guid"].lower(),
        ):
            assert (note["Status"], note["PaymentStatus"]) == ("Booked", "Paid")  # refunded
            assert paid_on[note["Guid"].lower()] == 1

    vouchers = [
        v for v in _live(sandbox, "purchase_vouchers") if str(v.get("ExternalReference")).startswith("EXP-")
    ]
    assert Counter(v["ExternalReference"] for v in vouchers) == {f"EXP-exp-10{n}": 1 for n in range(1, 5)}
    status = {v["ExternalReference"]: v["Status"] for v in vouchers}
    assert status == {
        "EXP-exp-101": "Paid",
        "EXP-exp-102": "Paid",
        "EXP-exp-103": "Paid",
        "EXP-exp-104": "Booked",
    } or status == {
        "EXP-exp-101": "Booked",
        "EXP-exp-102": "Booked",
        "EXP-exp-103": "Paid",
        "EXP-exp-104": "Booked",
    }
    by_voucher = {v["Guid"]: v for v in vouchers}
    assert paid_on[next(v["Guid"] for v in vouchers if v["ExternalReference"] == "EXP-exp-103").lower()] == 1
    links: dict[str, list[str]] = {}
    for row in sandbox.dump(ORG, "files"):
        for link in row.get("Linked") or []:
            links.setdefault(row["FileGuid"], []).append(link.get("VoucherGuid"))
    for guid, voucher in by_voucher.items():
        assert voucher["FileGuid"] and links.get(voucher["FileGuid"]) == [guid]  # its receipt, attached once
    suppliers = [c for c in _live(sandbox, "contacts") if c.get("Email") == "faktura@grafisktryk.example"]
    assert len(suppliers) == 1

    items = _live(sandbox, "ledger_items")
    ours = [i for i in items if any("Z-rapport" in str(ln.get("Description")) for ln in i.get("Lines") or [])]
    assert len(ours) == 3 and all(i["Status"] == "Draft" for i in ours)  # unbooked, for the bookkeeper
    assert sorted(len(i["Lines"]) for i in ours) == [1, 2, 2]


@pytest.fixture
def config(sandbox_settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    return config_for(sandbox_settings, tmp_path)


def test_orders_refunds_expenses_and_pos_load_once_and_a_rerun_writes_nothing(
    sandbox: Any, config: dict[str, Any]
) -> None:
    first = run_target(sandbox, config, messages())
    assert first.error is None, (first.stderr[-3000:], read_rejects(Path(config["rejects_file"])))
    assert read_rejects(Path(config["rejects_file"])) == []
    assert first.states == [FINAL_STATE]
    assert_dinero_holds_everything_once(sandbox)

    again = run_target(sandbox, config, messages())
    assert again.error is None, again.stderr[-3000:]
    writes = [r for r in again.writes if not r["path"].endswith(READ_POSTS)]
    assert writes == [], [(r["method"], r["path"]) for r in writes]
    assert_dinero_holds_everything_once(sandbox)


def test_killed_mid_way_and_rerun_holds_everything_exactly_once(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    input_path = tmp_path / "input.jsonl"
    input_path.write_text(singer_lines(messages()), encoding="utf-8")
    base = tmp_path / "baseline"
    base.mkdir()
    baseline = run_target_process(
        sandbox,
        write_json(base / "config.json", config_for(sandbox_settings, base)),
        input_path,
        base,
        name="baseline",
    )
    assert baseline.returncode == 0, baseline.stderr[-3000:]
    total = len(baseline.requests)
    rng = random.Random(SEED)
    points = []
    for chain in range(CHAINS):
        sandbox.reset()
        work = tmp_path / f"chain{chain}"  # a fresh journal and rejects file per chain
        work.mkdir()
        config_path = write_json(work / "config.json", config_for(sandbox_settings, work))
        for step in range(KILLS):
            point = rng.randint(5, max(6, total - 5))
            run = run_target_process(
                sandbox, config_path, input_path, work, kill_after_requests=point, name=f"run{step}"
            )
            if run.killed:
                points.append(point)
                assert run.states == [], "no STATE may be emitted before the writes it covers"
        final = run_target_process(sandbox, config_path, input_path, work, name="final")
        assert final.returncode == 0, final.stderr[-3000:]
        assert final.states == [FINAL_STATE]
        assert_dinero_holds_everything_once(sandbox)
    print(f"killed at requests {points} of {total}")
    assert len(points) >= CHAINS * KILLS - 2, points
    assert_dinero_holds_everything_once(sandbox)
