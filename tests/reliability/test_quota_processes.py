"""Several processes sharing one organization key -- a tap, two targets and a plain client -- never
exceed the quota together: with a short window the sandbox answers no 429 and its log shows no window
holding more requests than the quota.

Guarantee: the quota is never exceeded (docs/GUARANTEES.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from dinero_sandbox.constants import DEMO_API_KEY_2

from .helpers import (
    ORG_SECOND,
    REPO,
    TAP_CODE,
    TARGET_CODE,
    max_in_any_window,
    record_message,
    schema_message,
    singer_lines,
    state_message,
    tap_catalog,
    write_json,
)

QUOTA, WINDOW = 15, 1.0
CLIENT_CODE = """
import json, sys
from dinero_api.client import DineroClient
from dinero_api.settings import DineroSettings
client = DineroClient(DineroSettings.from_config(json.load(open(sys.argv[1]))))
for _ in range(12):
    client.get_json("/v1/{org}/vatTypes")
"""


def _invoice(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "ExternalReference": f"QUOTA-{n}",
        "ContactGuid": None,
        "ProductLines": [
            {"Description": "x", "Quantity": 1, "BaseAmountValue": 10 + n, "AccountNumber": 1000}
        ],
    }


def _voucher(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "ExternalReference": f"QUOTA-V{n}",
        "VoucherDate": "2026-11-03",
        "Lines": [{"AccountNumber": 5000, "BalancingAccountNumber": 55000, "Amount": 20 + n}],
    }


def test_tap_targets_and_a_client_share_the_quota_without_a_429(
    sandbox, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    sandbox.set_quota(QUOTA, WINDOW)
    shared = {
        **sandbox_settings,
        "api_key": DEMO_API_KEY_2,
        "organization_id": ORG_SECOND,
        "quota_requests": QUOTA,
        "quota_window_seconds": WINDOW,
        "quota_cache_dir": str(tmp_path / "quota"),  # one quota for every process, as on one machine
    }
    catalog = tap_catalog(
        shared,
        (
            "accounting_years",
            "vat_types",
            "entry_accounts",
            "contacts",
            "products",
            "invoices",
            "trade_offers",
        ),
        tmp_path / "catalog.json",
    )
    tap_config = write_json(tmp_path / "tap.json", shared)
    target_config = write_json(
        tmp_path / "target.json",
        {
            **shared,
            "streams": {"orders": {"load_as": "invoice"}, "journal": {"load_as": "manual_voucher"}},
            "rejects_file": str(tmp_path / "rejects.jsonl"),
            "ledger_file": str(tmp_path / "ledger.jsonl"),
        },
    )
    inputs = {
        "orders": singer_lines(
            [
                schema_message("orders"),
                *(record_message("orders", _invoice(n)) for n in range(8)),
                state_message({}),
            ]
        ),
        "journal": singer_lines(
            [
                schema_message("journal"),
                *(record_message("journal", _voucher(n)) for n in range(6)),
                state_message({}),
            ]
        ),
    }
    started = []
    started.append(
        subprocess.Popen(
            [sys.executable, "-c", TAP_CODE, "--config", str(tap_config), "--catalog", str(catalog)],
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "tap.log").open("wb"),
            cwd=REPO,
        )
    )
    for name, text in inputs.items():
        proc = subprocess.Popen(
            [sys.executable, "-c", TARGET_CODE, "--config", str(target_config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / f"{name}.log").open("wb"),
            cwd=REPO,
        )
        assert proc.stdin is not None
        proc.stdin.write(text.encode())
        proc.stdin.close()
        started.append(proc)
    started.append(
        subprocess.Popen(
            [sys.executable, "-c", CLIENT_CODE, str(tap_config)],
            stderr=(tmp_path / "client.log").open("wb"),
            cwd=REPO,
        )
    )
    codes = [proc.wait(timeout=180) for proc in started]
    logs = {p.name: p.read_text(errors="replace")[-2000:] for p in tmp_path.glob("*.log")}
    assert codes == [0, 0, 0, 0], logs

    counted = [r for r in sandbox.requests() if r["path"].startswith("/v") and r["org"] == ORG_SECOND]
    print(f"{len(counted)} requests from 4 processes under {QUOTA} per {WINDOW} s")
    assert len(counted) >= 5 * QUOTA, "the processes must need several windows, or the test proves nothing"
    assert [r for r in counted if r["status"] == 429] == []
    assert max_in_any_window([r["ts"] for r in counted], WINDOW) <= QUOTA
