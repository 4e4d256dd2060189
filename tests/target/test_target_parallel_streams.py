"""Streams of one load type drain in parallel threads: one reference in two of them is still one object.

singer-sdk drains the sinks of a phase side by side, and the organization's run lock belongs to the whole
process, so before this the sinks of two streams each looked the reference up, each found nothing and each
created it: two manual vouchers, two purchase vouchers for one ExternalReference in one run."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from tests.harness import ORG, make_target_config, read_rejects, run_target
from tests.harness import record_message as record
from tests.harness import schema_message as schema
from tests.harness import state_message as state

COPIES = 4
ROWS: dict[str, dict[str, Any]] = {
    "manual_voucher": {
        "id": 1,
        "ExternalReference": "TWIN-V",
        "VoucherDate": "2026-11-02",
        "Lines": [{"AccountNumber": 1000, "BalancingAccountNumber": 55000, "Amount": 100.0}],
    },
    "purchase_voucher": {
        "id": 1,
        "ExternalReference": "TWIN-B",
        "PurchaseType": "cash",
        "VoucherDate": "2026-11-03",
        "Lines": [{"AccountNumber": 2000, "Amount": 250.0, "VatCode": "I25", "Description": "Kontorland"}],
    },
    "product": {
        "id": 1,
        "ExternalReference": "TWIN-P",
        "Name": "Te",
        "BaseAmountValue": 10,
        "AccountNumber": 1000,
        "Unit": "parts",
    },
    "invoice": {
        "id": 1,
        "ExternalReference": "TWIN-I",
        "Date": "2026-11-02",
        "Contact": {"Name": "Kunde T", "CountryKey": "DK"},
        "ProductLines": [
            {"Description": "Te", "Quantity": 1, "BaseAmountValue": 100.0, "AccountNumber": 1000}
        ],
    },
    "contact": {"id": 1, "ExternalReference": "TWIN-C", "Name": "Kunde C"},
}
COLLECTION = {
    "manual_voucher": "manual_vouchers",
    "purchase_voucher": "purchase_vouchers",
    "product": "products",
    "invoice": "invoices",
    "contact": "contacts",
}


def test_one_reference_in_parallel_streams_of_one_load_type_is_one_object(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    streams: dict[str, Any] = {}
    messages: list[dict[str, Any]] = []
    for copy in range(COPIES):
        for load_as, row in ROWS.items():
            name = f"{load_as}_{copy}"
            streams[name] = {"load_as": load_as, "deposit_account": 55000}
            messages += [schema(name), record(name, row)]
    messages.append(state({"bookmarks": {"all": 1}}))
    config = make_target_config(sandbox_settings, tmp_path, streams, max_rejects=0)
    for _ in range(2):  # the re-run finds each of them
        run = run_target(sandbox, config, messages)
        assert run.error is None, (run.stderr[-2000:], read_rejects(Path(config["rejects_file"])))
        held = {
            load_as: Counter(
                r.get("ExternalReference")
                for r in sandbox.dump(ORG, COLLECTION[load_as])
                if str(r.get("ExternalReference")).startswith("TWIN-") and not r.get("DeletedAt")
            )
            for load_as in ROWS
        }
        assert held == {load_as: {row["ExternalReference"]: 1} for load_as, row in ROWS.items()}, held
        refused = [
            (r["method"], r["path"]) for r in run.requests if r.get("method") != "GET" and r["status"] >= 400
        ]
        assert refused == []  # no "Guid taken" race between the copies either
