"""How Dinero refuses a create whose client-chosen Guid exists (REFERENCE.md §7 q5): 400 naming the field,
400 with a bare message, 409, or a 500 -- and how it answers the GET that follows when the holder is
deleted (200 with DeletedAt, 400 code 65/63, 404). Under every combination the target ends with exactly one
live object per reference: it carries on with one an earlier attempt created, and creates anew (with a
server-chosen Guid) when a deleted object holds the Guid."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from dinero_sandbox.behaviours import CHOICES
from dinero_sandbox.testing import SandboxServer
from target_dinero.records import deterministic_guid
from tests.harness import ORG, by_reference, make_target_config, run_target, wait_until
from tests.harness import stream_messages as msgs
from tests.sandbox.conftest import api_key_token

COMBINATIONS = [(taken, detail) for taken in CHOICES["guid_taken"] for detail in CHOICES["deleted_detail"]]


def _invoice(reference: str, contact_guid: str, amount: float = 100.0) -> dict[str, Any]:
    return {
        "id": reference,
        "ExternalReference": reference,
        "ContactGuid": contact_guid,
        "Date": "2026-11-05",
        "ProductLines": [
            {
                "Description": "Konsulent",
                "Quantity": 1,
                "BaseAmountValue": amount,
                "AccountNumber": 1000,
                "Unit": "hours",
            }
        ],
    }


@pytest.fixture(params=COMBINATIONS, ids=[f"{taken}-{detail}" for taken, detail in COMBINATIONS])
def every_refusal(request: pytest.FixtureRequest, play: Any) -> None:
    """Play each way Dinero may refuse a taken Guid with each way it may answer the deleted holder's GET
    (the test runs once per combination)."""
    guid_taken, deleted_detail = request.param
    play(guid_taken=guid_taken, deleted_detail=deleted_detail)


@pytest.mark.usefixtures("every_refusal")
def test_a_deleted_invoice_holding_our_guid_leads_to_a_new_invoice(
    sandbox: SandboxServer, target_settings: dict[str, Any], tmp_path: Path
) -> None:
    contact = next(c for c in sandbox.dump(ORG, "contacts") if not c["DeletedAt"])
    config = make_target_config(target_settings, tmp_path, {"orders": {"load_as": "invoice"}})
    messages = msgs("orders", [_invoice("GT-1", contact["ContactGuid"])])
    first = run_target(sandbox, config, messages)
    assert first.error is None, first.stderr
    (created,) = by_reference(sandbox.dump(ORG, "invoices"), "GT-")
    assert created["Guid"] == deterministic_guid(ORG, "invoice", "GT-1")
    sandbox.mutate(ORG, "invoices", action="delete", guid=created["Guid"])  # a user deletes the draft

    second = run_target(sandbox, config, messages)

    assert second.error is None, second.stderr
    (again,) = by_reference(sandbox.dump(ORG, "invoices"), "GT-")
    assert again["Guid"] != created["Guid"]
    assert second.counts("orders").get("created") == 1


@pytest.mark.usefixtures("every_refusal")
def test_a_deleted_contact_holding_our_guid_leads_to_a_new_contact(
    sandbox: SandboxServer, target_settings: dict[str, Any], tmp_path: Path
) -> None:
    config = make_target_config(target_settings, tmp_path, {"people": {"load_as": "contact"}})
    messages = msgs(
        "people", [{"id": 1, "ExternalReference": "GTC-1", "Name": "Guid Hansen", "CountryKey": "DK"}]
    )
    assert run_target(sandbox, config, messages).error is None
    (created,) = by_reference(sandbox.dump(ORG, "contacts"), "GTC-")
    sandbox.mutate(ORG, "contacts", action="delete", guid=created["ContactGuid"])

    second = run_target(sandbox, config, messages)

    assert second.error is None, second.stderr
    (again,) = by_reference(sandbox.dump(ORG, "contacts"), "GTC-")
    assert again["ContactGuid"] != created["ContactGuid"]


@pytest.mark.parametrize("guid_taken", CHOICES["guid_taken"])
def test_an_invoice_another_attempt_created_meanwhile_is_carried_on_not_duplicated(
    guid_taken: str, play: Any, sandbox: SandboxServer, target_settings: dict[str, Any], tmp_path: Path
) -> None:
    """The target looked the reference up (nothing there) and is about to create; meanwhile an earlier
    attempt's create with the same Guid lands. The target's create is refused as "Guid taken"."""
    play(guid_taken=guid_taken)
    contact = next(c for c in sandbox.dump(ORG, "contacts") if not c["DeletedAt"])
    config = make_target_config(target_settings, tmp_path, {"orders": {"load_as": "invoice"}})
    wanted = _invoice("GT-RACE", contact["ContactGuid"], amount=250.0)
    sandbox.set_fault("slow", path_contains="/invoices", method="POST", seconds=1.0)
    runs: list[Any] = []
    worker = threading.Thread(
        target=lambda: runs.append(run_target(sandbox, config, msgs("orders", [wanted])))
    )
    worker.start()
    # the target's POST is waiting in the sandbox once the slow fault is used up
    wait_until(lambda: sandbox.faults()[0]["count"] == 0, what="the target's POST to reach the sandbox")
    earlier = {
        **_invoice("GT-RACE", contact["ContactGuid"], amount=200.0),
        "Guid": deterministic_guid(ORG, "invoice", "GT-RACE"),
    }
    earlier.pop("id")
    answer = requests.post(
        f"{sandbox.url}/v1/{ORG}/invoices",
        json=earlier,
        headers={"Authorization": f"Bearer {api_key_token(sandbox)}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    worker.join(timeout=60)

    (result,) = runs
    assert result.error is None, result.stderr
    (invoice,) = by_reference(sandbox.dump(ORG, "invoices"), "GT-")
    assert invoice["Guid"] == earlier["Guid"]
    assert [line["BaseAmountValue"] for line in invoice["ProductLines"]] == [250.0]  # the record's content


@pytest.mark.usefixtures("every_refusal")
def test_without_the_journal_a_deleted_holder_still_leads_to_one_new_object(
    sandbox: SandboxServer, target_settings: dict[str, Any], tmp_path: Path
) -> None:
    """The re-run has no journal of the first (another machine, a lost store): only Dinero's answers tell.
    A refusal that may mean "Guid taken" -- or, for a 500, two unknown outcomes and the commit horizon --
    with nothing live holding the Guid gives the Guid up; a 404 for the deleted holder must not matter."""
    contact = next(c for c in sandbox.dump(ORG, "contacts") if not c["DeletedAt"])
    streams = {"orders": {"load_as": "invoice"}, "people": {"load_as": "contact"}}
    messages = [
        *msgs("orders", [_invoice("GTJ-1", contact["ContactGuid"])]),
        *msgs("people", [{"id": 1, "ExternalReference": "GTJ-C", "Name": "Guid Jensen"}]),
    ]
    first_config = make_target_config(
        target_settings, tmp_path, streams, journal_store=str(tmp_path / "a.sqlite3")
    )
    assert run_target(sandbox, first_config, messages).error is None
    (invoice,) = by_reference(sandbox.dump(ORG, "invoices"), "GTJ-")
    (person,) = by_reference(sandbox.dump(ORG, "contacts"), "GTJ-")
    sandbox.mutate(ORG, "invoices", action="delete", guid=invoice["Guid"])
    sandbox.mutate(ORG, "contacts", action="delete", guid=person["ContactGuid"])
    config = make_target_config(
        target_settings,
        tmp_path,
        streams,
        journal_store=str(tmp_path / "b.sqlite3"),
        commit_horizon_seconds=1,
    )

    second = run_target(sandbox, config, messages)
    third = run_target(sandbox, config, messages)  # the new objects are found: nothing more is created

    assert second.error is None, second.stderr
    assert third.error is None, third.stderr
    (again,) = by_reference(sandbox.dump(ORG, "invoices"), "GTJ-")
    (person_again,) = by_reference(sandbox.dump(ORG, "contacts"), "GTJ-")
    assert again["Guid"] != invoice["Guid"]
    assert person_again["ContactGuid"] != person["ContactGuid"]
    assert second.counts("orders").get("created") == 1
    assert not third.counts("orders").get("created")
