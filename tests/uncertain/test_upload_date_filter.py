"""What ``GET /files?uploadedAfter=`` keeps: the parameter's name says files uploaded on or after the day,
the spec's description of it says "limits the search to the given before date" (and of ``uploadedBefore``
the reverse). The target finds a manual voucher whose create answer was lost through its file's link
(the record's file or the generated receipt): under either reading the voucher is found in the same run
and exists once -- a re-read that filtered the new file out would send the create again and make a twin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dinero_sandbox.behaviours import CHOICES
from dinero_sandbox.testing import SandboxServer
from tests.harness import ORG, by_reference, make_target_config, read_rejects, run_target, stream_messages

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def voucher(n: int, **over: Any) -> dict[str, Any]:
    return {
        "id": n,
        "ExternalReference": f"UD-{n}",
        "VoucherDate": "2026-11-02",
        "Lines": [
            {
                "Description": f"Bilag {n}",
                "AccountNumber": 55000,
                "BalancingAccountNumber": 1000,
                "Amount": 100 + n,
                "AccountVatCode": "none",
                "BalancingAccountVatCode": "none",
            }
        ],
        **over,
    }


@pytest.mark.parametrize("reading", CHOICES["upload_date_filter"])
@pytest.mark.parametrize("attached", ["record's file", "generated receipt"])
def test_a_voucher_whose_create_answer_was_lost_is_found_once_under_either_reading(
    reading: str,
    attached: str,
    play: Any,
    sandbox: SandboxServer,
    target_settings: dict[str, Any],
    tmp_path: Path,
) -> None:
    play(upload_date_filter=reading)
    receipt = tmp_path / "bilag.pdf"
    receipt.write_bytes(PDF)
    record = voucher(1, File={"path": str(receipt)}) if attached == "record's file" else voucher(1)
    config = make_target_config(
        target_settings,
        tmp_path,
        {"je": {"load_as": "manual_voucher"}},
        max_rejects=5,
        commit_horizon_seconds=1,
    )
    sandbox.set_fault("commit_then_500", count=1, path_contains="/vouchers/manuel", method="POST")

    first = run_target(sandbox, config, stream_messages("je", [record]))
    second = run_target(sandbox, config, stream_messages("je", [record]))

    assert first.error is None and second.error is None, first.stderr + second.stderr
    assert len(by_reference(sandbox.dump(ORG, "manual_vouchers"), "UD-")) == 1
    assert read_rejects(tmp_path / "rejects.jsonl") == []
    assert first.counts("je").get("recovered_after_unknown_outcome") == 1
    creates = [w for w in first.writes + second.writes if w["path"].endswith("/vouchers/manuel")]
    assert len(creates) == 1  # the lost create, never sent again
