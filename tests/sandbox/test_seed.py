"""Seed determinism and sizes, the inspection API, the CLI."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

from dinero_sandbox.seed import DEMO_MAIN, DEMO_SECOND, build_all, parse_seed_size
from dinero_sandbox.testing import SandboxServer
from tests import seed_facts
from tests.seed_facts import ORG_MAIN

ANCHOR = datetime(2026, 6, 1)


def _snapshot(seed_size: str) -> dict[str, list[dict]]:
    orgs = build_all(seed_size, anchor=ANCHOR)
    return {
        f"{oid}/{name}": [table.get(r) for r in table.rows()]
        for oid, org in orgs.items()
        for name, table in org.tables.items()
    }


def test_seed_is_deterministic() -> None:
    assert _snapshot("demo") == _snapshot("demo")
    other = build_all("demo", seed=7, anchor=ANCHOR)["100000"].table("contacts")
    assert (
        other.get(0)["ContactGuid"]
        != build_all("demo", anchor=ANCHOR)["100000"].table("contacts").get(0)["ContactGuid"]
    )


def test_the_sandbox_serves_the_demo_seed_definition(sandbox: SandboxServer) -> None:
    """What the running sandbox holds is what its seed definition builds: sizes from ``DEMO_MAIN`` /
    ``DEMO_SECOND``, deletions and years from the definition's rules (``tests/seed_facts.py``)."""
    assert len(sandbox.dump(100000, "contacts")) == DEMO_MAIN.contacts
    assert len(sandbox.dump(100000, "invoices")) == DEMO_MAIN.invoices
    assert len(sandbox.dump(100001, "invoices")) == DEMO_SECOND.invoices
    invoices = sandbox.dump(100000, "invoices")
    assert {i["Status"] for i in invoices} == {"Draft", "Booked"}
    assert sum(1 for i in invoices if i["DeletedAt"]) == seed_facts.deleted(ORG_MAIN, "invoices") > 0
    # every accounting year (the three calendar years ending with the current one) has changes
    years = seed_facts.accounting_years(ORG_MAIN)
    assert len(years) == 3 and int(years[-1]) == datetime.now().year
    assert {i["UpdatedAt"][:4] for i in invoices} == set(years)
    contacts = sandbox.dump(100000, "contacts")
    assert sum(1 for c in contacts if c["DeletedAt"]) == seed_facts.deleted(ORG_MAIN, "contacts") > 0
    assert any(c["IsPerson"] for c in contacts) and any(c["VatNumber"] for c in contacts)


def test_seed_sizes_parse() -> None:
    assert parse_seed_size("invoices=1234")["100000"].invoices == 1234
    assert parse_seed_size("medium")["100000"].invoices == 10_000
    assert parse_seed_size("large")["100000"].invoices == 100_000


def test_large_seed_builds() -> None:
    org = build_all("large", anchor=ANCHOR)["100000"]
    invoices = org.table("invoices")
    assert len(invoices) == 100_000
    last = invoices.get(99_999)
    assert last["ProductLines"] and last["TotalLines"]


def test_reset_switches_seed_size(sandbox: SandboxServer) -> None:
    assert sandbox.reset("invoices=500")["seed_size"] == "invoices=500"
    assert len(sandbox.dump(100000, "invoices")) == parse_seed_size("invoices=500")[ORG_MAIN].invoices
    sandbox.reset("demo")


def test_cli_prints_url_and_demo_credentials() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dinero_sandbox.cli", "--port", "0", "--quota", "5", "--window", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(8)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    text = "".join(lines)
    assert "http://127.0.0.1:" in text and "sandbox-api-key" in text and "sandbox-secret" in text
