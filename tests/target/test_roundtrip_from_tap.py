"""Round trip: tap-dinero reads invoices of organization 100000, target-dinero copies them into 100001.

The tap's invoice records carry the detail's ProductLines, so they load with ``load_as: invoice`` as
they are. They name organization 100000's contact and products, which 100001 does not have: the target
takes the customer by ContactName and drops the lines' ProductGuid (lines and totals stay the same).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.harness import live, make_target_config, run_tap, run_target

SOURCE = "100000"
COPY = "100001"
HANDFUL = 8
LINE_FIELDS = (
    "Description",
    "Quantity",
    "BaseAmountValue",
    "Discount",
    "AccountNumber",
    "Unit",
    "LineType",
    "TotalAmount",
    "TotalAmountInclVat",
)
TOTAL_FIELDS = ("Currency", "TotalExclVat", "TotalVat", "TotalInclVat", "TotalLines", "Date")


@pytest.fixture
def tap_config(sandbox: Any, sandbox_settings: dict[str, Any]) -> dict[str, Any]:
    """The tap on organization 100000, reading the last few invoices changed (start_date)."""
    stamps = sorted(i["UpdatedAt"] for i in sandbox.dump(SOURCE, "invoices"))
    return {**sandbox_settings, "quota_requests": 100_000, "start_date": stamps[-HANDFUL] + "Z"}


@pytest.fixture
def target_config(sandbox_settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The target loading into organization 100001."""
    second = {**sandbox_settings, "organization_id": COPY, "api_key": "sandbox-api-key-2"}
    streams = {"invoices": {"load_as": "invoice"}, "contacts": {"load_as": "contact"}}
    return make_target_config(second, tmp_path, streams)


def _api(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in requests if str(r["path"]).startswith("/v")]


def _reference(invoice: dict[str, Any]) -> str:
    """The copy's ExternalReference: the invoice's own, else stream + the tap's primary key."""
    return invoice["ExternalReference"] or f"invoices:{SOURCE}|{invoice['Guid']}"


def _copies(sandbox: Any) -> dict[str, list[dict[str, Any]]]:
    copies: dict[str, list[dict[str, Any]]] = {}
    for invoice in live(sandbox.dump(COPY, "invoices")):
        copies.setdefault(str(invoice.get("ExternalReference")), []).append(dict(invoice))
    return copies


def _assert_same_document(source: dict[str, Any], copy: dict[str, Any]) -> None:
    for field in TOTAL_FIELDS:
        assert copy[field] == source[field], (source["Guid"], field)
    assert copy["ContactName"] == source["ContactName"]
    assert len(copy["ProductLines"]) == len(source["ProductLines"])
    for theirs, ours in zip(source["ProductLines"], copy["ProductLines"], strict=True):
        assert {f: ours[f] for f in LINE_FIELDS} == {f: theirs[f] for f in LINE_FIELDS}
        assert ours["ProductGuid"] is None  # organization 100000's product does not exist in 100001


def test_tap_invoices_copy_into_another_organization_once(
    sandbox: Any, tap_config: dict[str, Any], target_config: dict[str, Any]
) -> None:
    sandbox.clear_requests()
    tapped = run_tap(tap_config, streams=["invoices"])
    assert tapped.error is None
    tap_requests = _api(sandbox.requests())
    invoices = tapped.stream("invoices")
    copied = [i for i in invoices if not i["DeletedAt"]]
    assert len(invoices) == HANDFUL and copied and len(copied) < HANDFUL  # a deleted one is not copied
    # the tap: one list request, one deletion pass, one detail GET per live invoice -- nothing else
    details = [r for r in tap_requests if r["path"].startswith(f"/v1/{SOURCE}/invoices/")]
    assert sorted(r["path"].rsplit("/", 1)[1] for r in details) == sorted(i["Guid"] for i in copied)
    assert len(tap_requests) == 2 + len(copied)
    contacts_before = len(sandbox.dump(COPY, "contacts"))

    result = run_target(sandbox, target_config, tapped.messages)

    assert result.error is None, result.stderr
    assert result.counts("invoices") == {"created": len(copied), "skipped_deleted": 1}
    posts = [r for r in result.writes if r["method"] == "POST"]
    new_contacts = {i["ContactName"] for i in copied}
    assert len(posts) == len(copied) + len(new_contacts)  # one per invoice, one per new customer
    stored = {str(i["Guid"]): i for i in sandbox.dump(SOURCE, "invoices")}
    copies = _copies(sandbox)
    for invoice in copied:
        [copy] = copies[_reference(invoice)]  # exactly once
        assert copy["Status"] == "Draft"
        _assert_same_document(stored[invoice["Guid"]], copy)
    assert len(sandbox.dump(COPY, "contacts")) == contacts_before + len(new_contacts)

    # a re-run (tap and target again) finds every copy and writes nothing
    again = run_target(sandbox, target_config, run_tap(tap_config, streams=["invoices"]).messages)
    assert again.error is None, again.stderr
    assert again.writes == []
    assert again.counts("invoices") == {"unchanged": len(copied), "skipped_deleted": 1}
    assert {ref: len(rows) for ref, rows in _copies(sandbox).items()} == {
        ref: len(rows) for ref, rows in copies.items()
    }
    assert len(sandbox.dump(COPY, "contacts")) == contacts_before + len(new_contacts)


def test_invoices_take_the_contacts_copied_before_them(
    sandbox: Any, tap_config: dict[str, Any], target_config: dict[str, Any]
) -> None:
    everything = {k: v for k, v in tap_config.items() if k != "start_date"}
    contacts = run_target(sandbox, target_config, run_tap(everything, streams=["contacts"]).messages)
    assert contacts.error is None, contacts.stderr
    copied_contacts = {c["Name"]: c["ContactGuid"] for c in live(sandbox.dump(COPY, "contacts"))}
    tapped = run_tap(tap_config, streams=["invoices"])

    result = run_target(sandbox, target_config, tapped.messages)

    assert result.error is None, result.stderr
    assert result.summary["contacts_created"] == 0
    copies = _copies(sandbox)
    for invoice in (i for i in tapped.stream("invoices") if not i["DeletedAt"]):
        [copy] = copies[_reference(invoice)]
        assert copy["ContactGuid"] == copied_contacts[invoice["ContactName"]]
