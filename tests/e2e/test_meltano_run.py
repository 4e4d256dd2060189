"""End to end: real ``meltano run`` jobs of meltano.yml against the sandbox.

Meltano runs from its own virtualenv and installs the plugins into its own plugin environments
(``meltano install``); the ``dev`` environment is pointed at the test's sandbox through Meltano's
per-setting environment variables. The sandbox keeps Dinero's quota of 100 requests over a 2-second
window and the plugins pace themselves to the same quota, so every run also shows that nothing was
refused with 429. What Dinero would hold is read back through the sandbox's inspection API.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from meltano_runner import ROOT, Meltano

from dinero_sandbox.testing import SandboxServer

pytestmark = pytest.mark.e2e

ORG, ORG2 = "100000", "100001"
STATE_ID = "dev:tap-dinero-to-target-jsonl"
PAYMENT_ACCOUNTS = {"card": 55000, "mobilepay": 55020, "cash": 58000}


def output_records(meltano: Meltano) -> dict[str, list[dict[str, Any]]]:
    """Records per stream that target-jsonl wrote (it appends on every run)."""
    out = Path(meltano.env["TARGET_JSONL_DESTINATION_PATH"])
    return {
        path.stem: [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for path in sorted(out.glob("*.jsonl"))
    }


def counts(records: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """Records per stream."""
    return {stream: len(rows) for stream, rows in records.items()}


def requests_by_route(sandbox: SandboxServer) -> dict[str, int]:
    """The sandbox's request counts per route since its log was last cleared."""
    return dict(sandbox.stats()["by_route"])


def assert_never_refused(sandbox: SandboxServer) -> None:
    """Every request since the log was cleared got a 2xx answer: no 429, no 4xx/5xx."""
    statuses = sandbox.stats()["by_status"]
    assert all(status.startswith("2") for status in statuses), statuses


def test_dinero_to_local_copies_every_stream_then_syncs_incrementally(
    meltano: Meltano, sandbox: SandboxServer
) -> None:
    # First run: a full copy of organization 100000.
    sandbox.clear_requests()
    meltano("run", "dinero-to-local")
    first_requests = sandbox.stats()["total"]
    assert_never_refused(sandbox)
    first = output_records(meltano)
    for stream, key in [("contacts", "ContactGuid"), ("invoices", "Guid"), ("products", "ProductGuid")]:
        stored = {row[key]: row for row in sandbox.dump(ORG, stream)}
        copied = {row[key]: row for row in first[stream]}
        assert copied.keys() == stored.keys(), stream  # every record, deleted ones included, once
        for guid, row in stored.items():
            assert bool(copied[guid].get("DeletedAt")) == bool(row.get("DeletedAt")), (stream, guid)
    # one line record per product line of every invoice that still exists (a deleted one has no detail)
    live_invoices = [i for i in sandbox.dump(ORG, "invoices") if not i.get("DeletedAt")]
    assert len(first["invoice_lines"]) == sum(len(i["ProductLines"]) for i in live_invoices)
    assert all(first.values()), [s for s, rows in first.items() if not rows]

    # Second run, nothing changed: far fewer requests, and no incremental stream emits anything again
    # (full-table streams such as vat_types are re-read whole by design).
    sandbox.clear_requests()
    meltano("run", "dinero-to-local")
    second_requests = sandbox.stats()["total"]
    assert_never_refused(sandbox)
    second = counts(output_records(meltano))
    assert second_requests * 5 < first_requests, (second_requests, first_requests)
    for stream in ("contacts", "invoices", "invoice_lines", "products", "entries", "sales_credit_notes"):
        assert second[stream] == len(first[stream]), stream
    for stream, n in second.items():
        if stream == "reports":  # a closed accounting year is never read again; the open ones are
            assert len(first[stream]) < n < 2 * len(first[stream]), stream
            continue
        assert n in (len(first[stream]), 2 * len(first[stream])), stream

    # A contact changes in Dinero: the next run brings exactly that contact, with its new name.
    contact = sandbox.dump(ORG, "contacts")[5]
    sandbox.mutate(ORG, "contacts", "update", contact["ContactGuid"], {"Name": "Ændret Navn ApS"})
    meltano("run", "dinero-to-local")
    third = output_records(meltano)
    assert len(third["contacts"]) == second["contacts"] + 1
    assert third["contacts"][-1]["ContactGuid"] == contact["ContactGuid"]
    assert third["contacts"][-1]["Name"] == "Ændret Navn ApS"
    for stream in ("invoices", "invoice_lines", "products", "entries"):
        assert len(third[stream]) == second[stream], stream

    # Meltano keeps the bookmarks under the job's state ID (tests/airflow/test_dag_run.py shows the
    # per-organization IDs that --state-id-suffix makes).
    assert STATE_ID in meltano("state", "list").stdout.split()
    state = json.loads(meltano("state", "get", STATE_ID).stdout)
    assert "contacts" in json.dumps(state["singer_state"])


def sales_per_day() -> dict[str, dict[str, Decimal]]:
    """Totals per day and payment method in sample_config/sales.csv."""
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    with (ROOT / "sample_config" / "sales.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            totals[row["sold_at"][:10]][row["payment_method"]] += Decimal(row["amount"])
    return totals


def test_sales_to_dinero_creates_one_voucher_per_day_exactly_once(
    meltano: Meltano, sandbox: SandboxServer
) -> None:
    before = {v["Guid"] for v in sandbox.dump(ORG, "manual_vouchers")}
    expected = sales_per_day()

    sandbox.clear_requests()
    meltano("run", "sales-to-dinero")
    assert_never_refused(sandbox)
    assert requests_by_route(sandbox).get("POST /v1/{org}/vouchers/manuel") == len(expected)
    created = [v for v in sandbox.dump(ORG, "manual_vouchers") if v["Guid"] not in before]
    assert sorted(v["VoucherDate"] for v in created) == sorted(expected)
    for voucher in created:
        day = voucher["VoucherDate"]
        by_account = {
            line["AccountNumber"]: Decimal(str(line["AmountInclVatValue"])) for line in voucher["Lines"]
        }
        assert by_account == {PAYMENT_ACCOUNTS[method]: total for method, total in expected[day].items()}
        assert {line["BalancingAccountNumber"] for line in voucher["Lines"]} == {1000}
        assert Decimal(str(voucher["TotalInclVat"])) == sum(expected[day].values())

    # Same file again: tap-spreadsheets skips a file it has read (state), nothing is sent.
    sandbox.clear_requests()
    meltano("run", "sales-to-dinero")
    assert "POST /v1/{org}/vouchers/manuel" not in requests_by_route(sandbox)

    # Replaying every sale (full refresh) creates nothing twice and rejects nothing.
    sandbox.clear_requests()
    meltano("run", "--full-refresh", "sales-to-dinero")
    assert_never_refused(sandbox)
    assert "POST /v1/{org}/vouchers/manuel" not in requests_by_route(sandbox)
    after = [v for v in sandbox.dump(ORG, "manual_vouchers") if v["Guid"] not in before]
    assert sorted(v["Guid"] for v in after) == sorted(v["Guid"] for v in created)
    rejects = Path(meltano.env["TARGET_DINERO_REJECTS_FILE"])
    assert not rejects.exists() or not rejects.read_text().strip()


def test_roundtrip_copies_contacts_to_the_second_organization_once(
    meltano: Meltano, sandbox: SandboxServer
) -> None:
    source = [c for c in sandbox.dump(ORG, "contacts") if not c.get("DeletedAt")]

    meltano("run", "dinero-roundtrip")
    copied = sandbox.dump(ORG2, "contacts")
    names = {c["Name"] for c in copied if not c.get("DeletedAt")}
    assert {c["Name"] for c in source} <= names

    sandbox.clear_requests()
    meltano("run", "--full-refresh", "dinero-roundtrip")
    assert_never_refused(sandbox)
    assert "POST /v1/{org}/contacts" not in requests_by_route(sandbox)
    assert len(sandbox.dump(ORG2, "contacts")) == len(copied)
