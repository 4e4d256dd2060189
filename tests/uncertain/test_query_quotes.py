"""Quote escaping inside ``queryFilter`` values, doubled (``''``) or with a backslash (``\\'``) (REFERENCE.md
§3.4): the target finds what it created before, by ExternalReference, e-mail and name, under either, so a
re-run creates nothing twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dinero_sandbox.behaviours import CHOICES
from dinero_sandbox.testing import SandboxServer
from tests.harness import ORG, by_reference, make_target_config, run_target
from tests.harness import record_message as record
from tests.harness import schema_message as schema
from tests.harness import state_message as state

REF = "Q-O'Brien\\Hansen's"


def _contact(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "ExternalReference": f"{REF}-{n}",
        "Name": f"O'Brien & Søn {n}",
        "Email": f"o'brien{n}@example.dk",
        "CountryKey": "DK",
    }


def _invoice(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "ExternalReference": f"{REF}-INV-{n}",
        "Date": "2026-11-02",
        "Contact": {"Name": f"Kunde 'Ø' {n}", "Email": f"k'{n}@example.dk", "CountryKey": "DK"},
        "ProductLines": [
            {
                "Description": "Vare",
                "Quantity": 1,
                "BaseAmountValue": 80.0,
                "AccountNumber": 1000,
                "Unit": "parts",
            }
        ],
    }


@pytest.mark.parametrize("query_quotes", CHOICES["query_quotes"])
def test_references_with_quotes_and_backslashes_are_found_again(
    query_quotes: str, play: Any, sandbox: SandboxServer, target_settings: dict[str, Any], tmp_path: Path
) -> None:
    play(query_quotes=query_quotes)
    config = make_target_config(
        target_settings, tmp_path, {"people": {"load_as": "contact"}, "orders": {"load_as": "invoice"}}
    )
    messages = [
        schema("people"),
        *(record("people", _contact(n)) for n in range(2)),
        schema("orders"),
        *(record("orders", _invoice(n)) for n in range(2)),
        state({"done": 1}),
    ]

    first = run_target(sandbox, config, messages)
    second = run_target(sandbox, config, messages)

    assert first.error is None and second.error is None, second.stderr
    assert not [w for w in second.writes if w["method"] == "POST"], second.writes
    assert all(w["status"] < 400 for w in first.api_requests + second.api_requests)
    contacts = by_reference(sandbox.dump(ORG, "contacts"), "Q-O'Brien")
    assert sorted(c["ExternalReference"] for c in contacts) == [f"{REF}-0", f"{REF}-1"]
    invoices = by_reference(sandbox.dump(ORG, "invoices"), "Q-O'Brien")
    assert sorted(i["ExternalReference"] for i in invoices) == [f"{REF}-INV-0", f"{REF}-INV-1"]
    customers = [
        c for c in sandbox.dump(ORG, "contacts") if c["Name"].startswith("Kunde 'Ø'") and not c["DeletedAt"]
    ]
    assert len(customers) == 2
