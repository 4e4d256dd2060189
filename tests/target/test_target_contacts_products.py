"""Contacts and products as load types, found before created; tap-dinero's own output loads back."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tap_dinero.tap import TapDinero
from tests.harness import ORG, live, make_target_config, run_target
from tests.harness import record_message as record
from tests.harness import schema_message as schema
from tests.harness import state_message as state

SECOND_ORG = "100001"


@pytest.fixture
def config(sandbox_settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    streams = {"customers": {"load_as": "contact"}, "catalog": {"load_as": "product"}}
    return make_target_config(sandbox_settings, tmp_path, streams)


def test_contacts_are_found_before_created(sandbox: Any, config: dict[str, Any]) -> None:
    seeded = next(c for c in live(sandbox.dump(ORG, "contacts")) if c.get("ExternalReference"))
    known = {
        "id": 1,
        "ExternalReference": seeded["ExternalReference"],
        "Name": seeded["Name"],
        "Phone": "+45 11 22 33 44",
        "CountryKey": seeded["CountryKey"],
    }
    new = {"id": 2, "Name": "Ny Kunde ApS", "Email": "ny@kunde.dk", "VatNumber": "DK87654321"}
    messages = [schema("customers"), record("customers", known), record("customers", new), state({"c": 2})]
    before = len(sandbox.dump(ORG, "contacts"))

    result = run_target(sandbox, config, messages)

    assert result.error is None, result.stderr
    contacts = sandbox.dump(ORG, "contacts")
    assert len(contacts) == before + 1
    [updated] = [c for c in contacts if c["ContactGuid"] == seeded["ContactGuid"]]
    assert updated["Phone"] == "+45 11 22 33 44"
    assert updated["Street"] == seeded["Street"]  # PUT is a full replace: fields not sent are kept
    [created] = [c for c in contacts if c.get("Email") == "ny@kunde.dk"]
    assert created["ExternalReference"] == "customers:2"
    assert result.counts("customers") == {"updated": 1, "created": 1}

    again = run_target(sandbox, config, messages)
    assert again.error is None, again.stderr
    assert again.writes == []
    assert again.counts("customers") == {"unchanged": 2}


def test_products_created_updated_and_not_duplicated(sandbox: Any, config: dict[str, Any]) -> None:
    products = [
        {"id": "SKU-1", "Name": "Kaffe", "BaseAmountValue": 80, "AccountNumber": 1000, "Unit": "parts"},
        {"id": "SKU-2", "Name": "Kop", "BaseAmountValue": 45.5, "AccountNumber": 1000, "Unit": "parts"},
    ]
    messages = [schema("catalog"), *(record("catalog", p) for p in products)]
    assert run_target(sandbox, config, messages).error is None
    products[1]["BaseAmountValue"] = 49.0

    result = run_target(sandbox, config, [schema("catalog"), *(record("catalog", p) for p in products)])

    assert result.error is None, result.stderr
    stored = {
        p["ExternalReference"]: p
        for p in live(sandbox.dump(ORG, "products"))
        if str(p.get("ExternalReference")).startswith("catalog:")
    }
    assert set(stored) == {"catalog:SKU-1", "catalog:SKU-2"}
    assert stored["catalog:SKU-2"]["BaseAmountValue"] == 49.0
    assert result.counts("catalog") == {"unchanged": 1, "updated": 1}


def tap_output(settings: dict[str, Any], streams: tuple[str, ...]) -> list[dict[str, Any]]:
    """Run tap-dinero on organization 100000 for ``streams``; return its Singer messages."""
    tap = TapDinero(config={**settings, "include_lines": False})
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for name in streams:
            tap.streams[name].sync()
    return [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]


def test_tap_dinero_output_round_trips(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    messages = tap_output(sandbox_settings, ("contacts", "products"))
    config = make_target_config(
        {**sandbox_settings, "organization_id": SECOND_ORG, "api_key": "sandbox-api-key-2"},
        tmp_path,
        {"contacts": {"load_as": "contact"}, "products": {"load_as": "product"}},
    )

    result = run_target(sandbox, config, messages)

    assert result.error is None, result.stderr
    source = live(sandbox.dump(ORG, "contacts"))
    names = {c["Name"] for c in live(sandbox.dump(SECOND_ORG, "contacts"))}
    assert {c["Name"] for c in source} <= names
    products = {p["Name"] for p in live(sandbox.dump(SECOND_ORG, "products"))}
    assert {p["Name"] for p in live(sandbox.dump(ORG, "products"))} <= products
    assert result.counts("contacts").get("skipped_deleted") == len(sandbox.dump(ORG, "contacts")) - len(
        source
    )

    again = run_target(sandbox, config, messages)
    assert again.error is None, again.stderr
    assert again.writes == []
