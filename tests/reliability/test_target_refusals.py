"""Dinero refusing request after request stops the run instead of hammering it (Dinero revokes
integrations that provoke many 400s): after ``max_consecutive_refusals`` refusals of one endpoint in a
row the target stops with exit code 7 and one line; nothing unwritten is lost, a re-run loads it once.
A refusal naming an account from the kept chart drops the chart, so the next records are checked
against a fresh read instead of each costing a 400.

Guarantee: Dinero's refusals stop the run (README).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.harness import (
    ORG,
    by_reference,
    live,
    make_target_config,
    read_rejects,
    record_message,
    run_target,
    run_target_process,
    schema_message,
    singer_lines,
    state_message,
    write_json,
)
from tests.sandbox.conftest import Api, api_key_token

STREAM = "receipts"
LIMIT = 5


def receipt(n: int, account: int = 5000) -> dict[str, Any]:
    return {
        "id": n,
        "ExternalReference": f"RF-{n}",
        "VoucherDate": "2026-11-03",
        "Book": True,
        "Lines": [
            {
                "Description": f"Bilag {n}",
                "AccountNumber": account,
                "BalancingAccountNumber": 55000,
                "Amount": 100 + n,
                "AccountVatCode": "none",
                "BalancingAccountVatCode": "none",
            }
        ],
    }


def receipts_config(settings: dict[str, Any], tmp_path: Path, **extra: Any) -> dict[str, Any]:
    """Receipts as manual vouchers; the run stops after LIMIT refusals in a row, never on the reject count."""
    return make_target_config(
        settings,
        tmp_path,
        {STREAM: {"load_as": "manual_voucher"}},
        max_consecutive_refusals=LIMIT,
        max_rejects=1000,
        **extra,
    )


def messages(receipts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        schema_message(STREAM),
        *(record_message(STREAM, r) for r in receipts),
        state_message({"done": len(receipts)}),
    ]


def refused_creates(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r
        for r in requests
        if r["method"] == "POST" and "/vouchers/manuel" in r["path"] and r["status"] == 400
    ]


def stored(sandbox: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in by_reference(live(sandbox.dump(ORG, "manual_vouchers")), "RF-"):
        counts[v["ExternalReference"]] = counts.get(v["ExternalReference"], 0) + 1
    return counts


def test_fifty_refused_records_stop_the_run_after_the_limit_and_a_rerun_loads_them_once(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    config = receipts_config(sandbox_settings, tmp_path)
    config_path = write_json(tmp_path / "config.json", config)
    input_path = tmp_path / "input.jsonl"
    receipts = [receipt(n) for n in range(1, 51)]
    input_path.write_text(singer_lines(messages(receipts)), encoding="utf-8")

    # A Dinero-side rule the target does not know: every voucher create is refused (400), nothing stored.
    sandbox.set_fault("5xx", count=1000, path_contains="/vouchers/manuel", method="POST", status=400)
    first = run_target_process(sandbox, config_path, input_path, tmp_path, name="refused")

    assert first.returncode == 7, first.stderr
    assert len(refused_creates(first.requests)) == LIMIT  # not 50
    assert "Traceback" not in first.stderr
    errors = [line for line in first.stderr.splitlines() if " ERROR " in line or line.startswith("ERROR")]
    stop = [line for line in first.stderr.splitlines() if "[exit code 7]" in line]
    assert len(stop) == 1, first.stderr
    line = stop[0]
    assert f"refused {LIMIT} requests" in line  # in a row (dinero_api) or with the same error (target)
    assert "POST /v1/" in line and "/vouchers/manuel" in line and "HTTP 400" in line
    assert "Dinero error code 50" in line and "max_consecutive_refusals" in line
    assert errors == [] or all("[exit code 7]" in e or "Rejected" in e for e in errors)
    assert first.states == []  # no STATE covers the records not written
    assert stored(sandbox) == {}
    rejected = read_rejects(Path(config["rejects_file"]))
    assert len(rejected) == LIMIT  # the refused ones; the others were never sent

    # Fixed on Dinero's side: the re-run loads every record exactly once.
    sandbox.clear_faults()
    second = run_target_process(sandbox, config_path, input_path, tmp_path, name="fixed")
    assert second.returncode == 0, second.stderr
    assert stored(sandbox) == {r["ExternalReference"]: 1 for r in receipts}
    assert refused_creates(second.requests) == []
    assert second.states and second.states[-1] == {"done": 50}


def test_an_account_deleted_since_the_kept_chart_costs_one_refusal_then_local_rejects(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    config = receipts_config(sandbox_settings, tmp_path, reference_cache_seconds=3600)
    warm = run_target(sandbox, config, messages([receipt(0)]))  # keeps the chart (account 5000 in it)
    assert warm.error is None, warm.stderr

    # Account 5000 goes away in Dinero (renumbered behind the API's back); the kept chart still has it.
    accounts = sandbox.dump(ORG, "accounts")
    assert any(a["AccountNumber"] == 5000 for a in accounts)
    sandbox.mutate(ORG, "accounts", "update", guid="5000", fields={"AccountNumber": 5998})

    receipts = [receipt(n) for n in range(1, 21)]
    result = run_target(sandbox, config, messages(receipts))
    assert result.error is None, result.stderr
    assert len(refused_creates(result.requests)) <= 1
    rejects = read_rejects(Path(config["rejects_file"]))
    assert len(rejects) == 20
    assert all("5000" in r["reason"] for r in rejects)
    assert stored(sandbox) == {"RF-0": 1}

    # The account exists again: the same records load (the rejected ones were never written).
    api = Api(sandbox, api_key_token(sandbox))
    assert api.post("/v1/{org}/accounts/entry", {"Number": 5000, "Name": "Igen", "VatCode": "none"}).ok
    again = run_target(sandbox, {**config, "reference_cache_seconds": 0}, messages(receipts))
    assert again.error is None, again.stderr
    assert refused_creates(again.requests) == []
    assert stored(sandbox) == {"RF-0": 1, **{r["ExternalReference"]: 1 for r in receipts}}
