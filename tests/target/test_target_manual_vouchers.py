"""Manual vouchers: lines, attached files, booking, the journal that keeps re-runs from duplicating."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from target_dinero.exactly_once import file_tag
from tests.harness import ORG, by_reference, make_target_config, read_rejects, run_target
from tests.harness import record_message as record
from tests.harness import schema_message as schema
from tests.harness import state_message as state

STREAM = "journal_entries"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def voucher(n: int, **over: Any) -> dict[str, Any]:
    data = {
        "id": n,
        "ExternalReference": f"JE-{n}",
        "VoucherDate": "2026-11-03",
        "Lines": [
            {
                "Description": "Husleje november",
                "AccountNumber": 5000,
                "BalancingAccountNumber": 55000,
                "Amount": 1000 + n,
                "AccountVatCode": "none",
                "BalancingAccountVatCode": "none",
            },
        ],
    }
    data.update(over)
    return data


def messages(vouchers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [schema(STREAM), *(record(STREAM, v) for v in vouchers), state({"n": len(vouchers)})]


@pytest.fixture
def config(sandbox_settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    return make_target_config(sandbox_settings, tmp_path, {STREAM: {"load_as": "manual_voucher"}})


def test_vouchers_carry_their_attached_files(sandbox: Any, config: dict[str, Any], tmp_path: Path) -> None:
    receipt = tmp_path / "kvittering.pdf"
    receipt.write_bytes(PDF)
    vouchers = [
        voucher(1, File={"path": str(receipt)}),
        voucher(2, File={"content_base64": base64.b64encode(PNG).decode(), "FileName": "bon.png"}),
        voucher(3),
    ]

    result = run_target(sandbox, config, messages(vouchers))

    assert result.error is None, result.stderr
    stored = {v["ExternalReference"]: v for v in by_reference(sandbox.dump(ORG, "manual_vouchers"), "JE-")}
    assert set(stored) == {"JE-1", "JE-2", "JE-3"}
    files = {f["FileGuid"]: f for f in sandbox.dump(ORG, "files")}
    # a voucher without a file gets a generated receipt: Dinero can then find it through GET /files
    for ref, name in (("JE-1", "kvittering.pdf"), ("JE-2", "bon.png"), ("JE-3", "receipt.pdf")):
        file_guid = stored[ref]["FileGuid"]
        assert file_guid in files, f"{ref}'s file was not uploaded"
        assert files[file_guid]["Name"] == f"{file_tag(ref)}-{name}"
    line = stored["JE-1"]["Lines"][0]
    assert (line["AccountNumber"], line["BalancingAccountNumber"], line["AmountInclVatValue"]) == (
        5000,
        55000,
        1001,
    )
    # each upload is immediately followed by the create that attaches it
    paths = [w["path"] for w in result.writes]
    upload_positions = [i for i, p in enumerate(paths) if p.endswith("/files")]
    assert len(upload_positions) == 3
    assert all(paths[i + 1].endswith("/vouchers/manuel") for i in upload_positions)


def test_booked_vouchers_are_not_touched_on_rerun(sandbox: Any, config: dict[str, Any]) -> None:
    config["streams"][STREAM]["book"] = True
    vouchers = [voucher(n) for n in range(1, 5)]
    first = run_target(sandbox, config, messages(vouchers))
    assert first.error is None, first.stderr
    assert all(v["Status"] == "Booked" for v in by_reference(sandbox.dump(ORG, "manual_vouchers"), "JE-"))

    second = run_target(sandbox, config, messages(vouchers))

    assert second.error is None, second.stderr
    assert second.writes == []
    # the journal answers; one voucher is read once per run to confirm the journal is this Dinero's
    voucher_reads = [r for r in second.api_requests if "/vouchers/manuel/" in r["path"]]
    assert len(voucher_reads) == 1
    assert second.counts(STREAM) == {"skipped_booked": 4}
    assert len(by_reference(sandbox.dump(ORG, "manual_vouchers"), "JE-")) == 4


def test_interrupted_run_then_full_run(sandbox: Any, config: dict[str, Any]) -> None:
    vouchers = [voucher(n) for n in range(1, 9)]
    assert run_target(sandbox, config, messages(vouchers[:3])).error is None
    changed = [*vouchers[:2], voucher(3, VoucherDate="2026-11-04"), *vouchers[3:]]

    full = run_target(sandbox, config, messages(changed))

    assert full.error is None, full.stderr
    stored = by_reference(sandbox.dump(ORG, "manual_vouchers"), "JE-")
    assert sorted(v["ExternalReference"] for v in stored) == [f"JE-{n}" for n in range(1, 9)]
    assert {v["VoucherDate"][:10] for v in stored if v["ExternalReference"] == "JE-3"} == {"2026-11-04"}
    assert full.counts(STREAM) == {"created": 5, "unchanged": 2, "updated": 1}


def test_unbalanced_or_unknown_accounts_are_rejected_without_a_request(
    sandbox: Any, config: dict[str, Any], tmp_path: Path
) -> None:
    open_lines = voucher(
        1, Lines=[{"AccountNumber": 5000, "Amount": 100}, {"AccountNumber": 55000, "Amount": -90}]
    )
    unknown_account = voucher(
        2, Lines=[{"AccountNumber": 4242, "BalancingAccountNumber": 55000, "Amount": 5}]
    )
    bad_vat = voucher(
        3,
        Lines=[
            {"AccountNumber": 5000, "BalancingAccountNumber": 55000, "Amount": 5, "AccountVatCode": "X99"}
        ],
    )
    config["max_rejects"] = 3

    result = run_target(sandbox, config, messages([open_lines, unknown_account, bad_vat]))

    assert result.error is None, result.stderr
    assert result.writes == []
    rejects = read_rejects(tmp_path / "rejects.jsonl")
    assert [(r["record"]["ExternalReference"], r["field"]) for r in rejects] == [
        ("JE-1", "Lines"),
        ("JE-2", "Lines[0].AccountNumber"),
        ("JE-3", "Lines[0].AccountVatCode"),
    ]
    assert "does not balance" in rejects[0]["reason"]
    assert "4242" in rejects[1]["reason"]


def test_requests_per_voucher_with_file(sandbox: Any, config: dict[str, Any], tmp_path: Path) -> None:
    receipt = tmp_path / "bilag.pdf"
    receipt.write_bytes(PDF)
    vouchers = [voucher(n, File={"path": str(receipt)}) for n in range(1, 61)]

    result = run_target(sandbox, config, messages(vouchers))

    assert result.error is None, result.stderr
    assert len(by_reference(sandbox.dump(ORG, "manual_vouchers"), "JE-")) == 60
    assert len(result.api_requests) / 60 <= 2.05


def test_file_given_as_url_is_fetched_and_attached(sandbox: Any, config: dict[str, Any]) -> None:
    import http.server
    import threading

    class Receipt(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/r/faktura.pdf" else 404)
            self.send_header("Content-Type", "application/pdf")
            self.end_headers()
            self.wfile.write(PDF if self.path == "/r/faktura.pdf" else b"")

        def log_message(self, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receipt)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    config["max_rejects"] = 1
    try:
        result = run_target(
            sandbox,
            config,
            messages(
                [
                    voucher(1, File={"url": f"{base}/r/faktura.pdf"}),
                    voucher(2, File={"url": f"{base}/r/missing.pdf"}),
                ]
            ),
        )
    finally:
        server.shutdown()

    assert result.error is None, result.stderr
    [stored] = by_reference(sandbox.dump(ORG, "manual_vouchers"), "JE-")
    assert stored["ExternalReference"] == "JE-1"
    [file] = [f for f in sandbox.dump(ORG, "files") if f["FileGuid"] == stored["FileGuid"]]
    assert file["Name"] == f"{file_tag('JE-1')}-faktura.pdf"
    assert len(result.writes) == 2  # the missing URL was rejected before any Dinero request for it


def test_a_journal_from_another_dinero_stops_the_run(sandbox: Any, config: dict[str, Any]) -> None:
    config["streams"][STREAM]["book"] = True
    vouchers = [voucher(n) for n in range(1, 3)]
    assert run_target(sandbox, config, messages(vouchers)).error is None
    sandbox.reset("demo")  # the sandbox forgets everything; the journal does not

    result = run_target(sandbox, config, messages(vouchers))

    from target_dinero.voucher_writer import JournalMismatch

    assert isinstance(result.error, JournalMismatch)
    assert "ledger_file" in str(result.error)
    assert result.writes == []
    assert result.states == []
