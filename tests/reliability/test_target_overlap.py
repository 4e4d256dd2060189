"""Two target-dinero runs on one journal at the same time (an overlapping schedule, a retry started
while the first process still runs) create each manual voucher once: the second run waits for the
journal's lock and then sees what the first created.

Guarantee: exactly-once loading by external reference (docs/GUARANTEES.md).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from target_dinero.journal import JournalBusyError, VoucherJournal
from tests.harness import (
    ORG,
    REPO,
    TARGET_CODE,
    live,
    record_message,
    schema_message,
    singer_lines,
    state_message,
    write_json,
)

from .helpers import count_by

VOUCHERS = 40


def _voucher(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "ExternalReference": f"OVERLAP-{n}",
        "VoucherDate": "2026-11-03",
        "Lines": [
            {
                "Description": f"Kontantsalg {n}",
                "AccountNumber": 1000,
                "BalancingAccountNumber": 58000,
                "Amount": 100 + n,
                "AccountVatCode": "none",
                "BalancingAccountVatCode": "none",
            }
        ],
    }


def test_two_overlapping_runs_create_each_voucher_once(sandbox, sandbox_settings, tmp_path: Path) -> None:
    config = {
        **sandbox_settings,
        "quota_requests": 100_000,
        "quota_cache_dir": str(tmp_path),
        "streams": {"vouchers": {"load_as": "manual_voucher"}},
        "rejects_file": str(tmp_path / "rejects.jsonl"),
        "ledger_file": str(tmp_path / "ledger.jsonl"),
    }
    config_path = write_json(tmp_path / "config.json", config)
    input_path = tmp_path / "input.jsonl"
    input_path.write_text(
        singer_lines(
            [
                schema_message("vouchers"),
                *(record_message("vouchers", _voucher(n)) for n in range(1, VOUCHERS + 1)),
                state_message({"bookmarks": {"vouchers": {"id": VOUCHERS}}}),
            ]
        ),
        encoding="utf-8",
    )
    procs = []
    for name in ("first", "second"):
        with input_path.open("rb") as stdin, (tmp_path / f"{name}.err").open("wb") as err:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", TARGET_CODE, "--config", str(config_path)],
                    stdin=stdin,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    cwd=REPO,
                )
            )
    codes = [p.wait(timeout=180) for p in procs]
    assert codes == [0, 0], [(tmp_path / f"{n}.err").read_text()[-2000:] for n in ("first", "second")]

    ours = [
        v
        for v in live(sandbox.dump(ORG, "manual_vouchers"))
        if str(v.get("ExternalReference") or "").startswith("OVERLAP-")
    ]
    assert count_by(ours, "ExternalReference") == {f"OVERLAP-{n}": 1 for n in range(1, VOUCHERS + 1)}
    creates = [
        r for r in sandbox.requests() if r["method"] == "POST" and r["path"].endswith("/vouchers/manuel")
    ]
    assert len(creates) == VOUCHERS


def test_a_run_that_cannot_get_the_journal_stops_with_a_clear_error(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite3"
    # The holder keeps the journal open until the test kills it (its sleep is the hold, not a wait).
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from target_dinero.journal import VoucherJournal; "
            "journal = VoucherJournal(sys.argv[1]); journal.record('held', status='draft'); "
            "print('held', flush=True); time.sleep(30)",
            str(journal),
        ],
        stdout=subprocess.PIPE,
        cwd=REPO,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        with pytest.raises(JournalBusyError, match=re.escape(str(journal))):
            VoucherJournal(journal, lock_timeout=0.3).get("held")
    finally:
        holder.kill()
        holder.wait()
    # the OS dropped the killed holder's lock: the next run reads what it wrote
    started = time.monotonic()
    assert VoucherJournal(journal, lock_timeout=5).get("held")["status"] == "draft"
    assert time.monotonic() - started < 5
