"""A target process fed a fixed input and killed with SIGKILL at seeded random points, then re-run with
the same input, leaves Dinero (the sandbox) with every invoice and voucher exactly once, booked as
asked, every attached file attached once, and no contact twice.

Guarantee: exactly-once loading by external reference (docs/GUARANTEES.md).
"""

from __future__ import annotations

import base64
import random
from pathlib import Path
from typing import Any

from tests.harness import (
    ORG,
    live,
    record_message,
    run_target_process,
    schema_message,
    singer_lines,
    state_message,
    write_json,
)

from .helpers import count_by

SEED = 4711
CHAINS = 5
KILLS_PER_CHAIN = 3
ORDERS = 12
RECEIPTS = 8
CUSTOMERS = [
    {"Name": "Kaffebaren ApS", "Email": "kb@example.dk"},
    {"Name": "Bageriet I/S", "Email": "bageriet@example.dk"},
    {"Name": "Hansen & Søn", "VatNumber": "DK31415926"},
]
FINAL_STATE = {"bookmarks": {"orders": {"id": ORDERS}, "receipts": {"id": RECEIPTS}}}


def _pdf(n: int) -> bytes:
    return b"%PDF-1.4\n%receipt " + str(n).encode() + b"\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _order(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "ExternalReference": f"KILL-ORD-{n}",
        "Date": "2026-11-02",
        "Book": n % 2 == 0,
        "Contact": dict(CUSTOMERS[n % len(CUSTOMERS)]),
        "ProductLines": [
            {
                "Description": f"Vare {n}",
                "Quantity": 1 + n % 3,
                "BaseAmountValue": 100 + n,
                "AccountNumber": 1000,
                "Unit": "parts",
            }
        ],
    }


def _receipt(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "ExternalReference": f"KILL-RCPT-{n}",
        "VoucherDate": "2026-11-03",
        "Lines": [
            {
                "Description": f"Kvittering {n}",
                "AccountNumber": 5000,
                "BalancingAccountNumber": 55000,
                "Amount": 200 + n,
                "AccountVatCode": "none",
                "BalancingAccountVatCode": "none",
            }
        ],
        "File": {"content_base64": base64.b64encode(_pdf(n)).decode(), "FileName": f"kvittering-{n}.pdf"},
    }


def _input(path: Path) -> Path:
    messages = [
        schema_message("orders"),
        *(record_message("orders", _order(n)) for n in range(1, ORDERS + 1)),
        schema_message("receipts"),
        *(record_message("receipts", _receipt(n)) for n in range(1, RECEIPTS + 1)),
        state_message(FINAL_STATE),
    ]
    path.write_text(singer_lines(messages), encoding="utf-8")
    return path


def _config(sandbox_settings: dict[str, Any], workdir: Path) -> dict[str, Any]:
    return {
        **sandbox_settings,
        "retry_backoff_seconds": 0.01,
        "quota_requests": 100_000,
        "quota_cache_dir": str(workdir),
        "streams": {
            "orders": {"load_as": "invoice"},
            "receipts": {"load_as": "manual_voucher", "book": True},
        },
        "rejects_file": str(workdir / "rejects.jsonl"),
        "ledger_file": str(workdir / "ledger.jsonl"),
        # a killed create is looked up until this long after it was sent (the sandbox commits at once)
        "commit_horizon_seconds": 2,
    }


def _what_dinero_holds(sandbox) -> dict[str, Any]:
    invoices = [
        i for i in live(sandbox.dump(ORG, "invoices")) if str(i["ExternalReference"]).startswith("KILL-")
    ]
    vouchers = [
        v
        for v in live(sandbox.dump(ORG, "manual_vouchers"))
        if str(v["ExternalReference"]).startswith("KILL-")
    ]
    voucher_guids = {v["Guid"] for v in vouchers}
    files = sandbox.dump(ORG, "files")
    entries = [e for e in sandbox.dump(ORG, "entries") if e.get("VoucherGuid") in voucher_guids]
    return {"invoices": invoices, "vouchers": vouchers, "files": files, "entries": entries}


def _assert_exactly_once(sandbox, baseline_entries: int) -> None:
    held = _what_dinero_holds(sandbox)
    invoices, vouchers = held["invoices"], held["vouchers"]
    assert count_by(invoices, "ExternalReference") == {f"KILL-ORD-{n}": 1 for n in range(1, ORDERS + 1)}
    for invoice in invoices:
        n = int(invoice["ExternalReference"].rsplit("-", 1)[1])
        assert invoice["Status"] == ("Booked" if n % 2 == 0 else "Draft"), invoice["ExternalReference"]
    contacts = live(sandbox.dump(ORG, "contacts"))
    for customer in CUSTOMERS:
        key, value = next((k, v) for k, v in customer.items() if k != "Name")
        matching = [c for c in contacts if c.get(key) == value]
        assert len(matching) == 1, f"contact {value} exists {len(matching)} times"
        assert {i["ContactGuid"] for i in invoices if i["ContactName"] == customer["Name"]} == {
            matching[0]["ContactGuid"]
        }

    assert count_by(vouchers, "ExternalReference") == {f"KILL-RCPT-{n}": 1 for n in range(1, RECEIPTS + 1)}
    assert all(v["Status"] == "Booked" for v in vouchers)
    file_guids = [v["FileGuid"] for v in vouchers]
    assert None not in file_guids and len(set(file_guids)) == RECEIPTS
    links: dict[str, list[str]] = {}
    for row in held["files"]:
        for link in row.get("Linked") or []:
            links.setdefault(row["FileGuid"], []).append(link.get("VoucherGuid"))
    for voucher in vouchers:
        assert links.get(voucher["FileGuid"]) == [voucher["Guid"]], voucher["ExternalReference"]
    attached_to_ours = [f for f, owners in links.items() if set(owners) & {v["Guid"] for v in vouchers}]
    assert sorted(attached_to_ours) == sorted(file_guids), (
        "a file is attached to a voucher it does not belong to"
    )
    assert len(held["entries"]) == baseline_entries, "a voucher was booked twice (or not at all)"


def test_killed_target_rerun_with_same_input_loads_everything_exactly_once(
    sandbox, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    input_path = _input(tmp_path / "input.jsonl")
    base_dir = tmp_path / "baseline"
    base_dir.mkdir()
    config_path = write_json(base_dir / "config.json", _config(sandbox_settings, base_dir))
    baseline = run_target_process(sandbox, config_path, input_path, base_dir, name="baseline")
    assert baseline.returncode == 0, baseline.stderr[-3000:]
    assert baseline.states == [FINAL_STATE]
    total_requests = len(baseline.requests)
    baseline_entries = len(_what_dinero_holds(sandbox)["entries"])
    _assert_exactly_once(sandbox, baseline_entries)

    rng = random.Random(SEED)
    kill_points: list[int] = []
    for chain in range(CHAINS):
        sandbox.reset()
        workdir = tmp_path / f"chain{chain}"  # a fresh journal, rejects file and quota per chain
        workdir.mkdir()
        config_path = write_json(workdir / "config.json", _config(sandbox_settings, workdir))
        kills = 0
        for step in range(2 * KILLS_PER_CHAIN):
            if kills == KILLS_PER_CHAIN:
                break
            # a re-run needs fewer requests (journal, index): aim later kills at the start of the run
            point = rng.randint(1, max(1, total_requests >> kills))
            run = run_target_process(
                sandbox, config_path, input_path, workdir, kill_after_requests=point, name=f"run{step}"
            )
            if run.killed:
                kills += 1
                kill_points.append(point)
                assert run.states == [], "no STATE may be emitted before the writes it covers"
            else:
                assert run.returncode == 0, run.stderr[-3000:]
        final = run_target_process(sandbox, config_path, input_path, workdir, name="final")
        assert final.returncode == 0, final.stderr[-3000:]
        assert final.states == [FINAL_STATE]

        _assert_exactly_once(sandbox, baseline_entries)

    print(f"target killed at {len(kill_points)} points (requests into the run): {kill_points}")
    assert len(kill_points) >= CHAINS * KILLS_PER_CHAIN - 3, kill_points
