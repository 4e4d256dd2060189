"""Invoices: lines and totals as Dinero holds them, drafts vs booked, no duplicates, requests per invoice."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import ORG, by_reference, make_target_config, run_target
from tests.harness import record_message as record
from tests.harness import schema_message as schema
from tests.harness import state_message as state

STREAM = "shop_orders"


def order(n: int, **over: Any) -> dict[str, Any]:
    """A web-shop order shaped as Dinero's InvoiceCreateModel, with its customer as a Contact object."""
    data = {
        "id": n,
        "ExternalReference": f"SHOP-{n}",
        "Date": "2026-11-02",
        "Currency": "DKK",
        "Language": "da-DK",
        "Comment": f"Ordre {n}",
        "PaymentConditionType": "Netto",
        "PaymentConditionNumberOfDays": 8,
        "Contact": {"Name": f"Kunde {n % 3}", "Email": f"kunde{n % 3}@example.dk", "CountryKey": "DK"},
        "ProductLines": [
            {
                "Description": "Kaffebønner 1 kg",
                "Quantity": 2,
                "BaseAmountValue": 100.0,
                "AccountNumber": 1000,
                "Unit": "parts",
                "Discount": 10,
            },
            {
                "Description": "Levering",
                "Quantity": 1,
                "BaseAmountValue": 49.0,
                "AccountNumber": 1000,
                "Unit": "parts",
            },
        ],
    }
    data.update(over)
    return data


def messages(orders: list[dict[str, Any]], stream: str = STREAM) -> list[dict[str, Any]]:
    return [schema(stream), *(record(stream, o) for o in orders), state({"bookmarks": {stream: len(orders)}})]


@pytest.fixture
def config(sandbox_settings: dict[str, Any], tmp_path: Any) -> dict[str, Any]:
    return make_target_config(sandbox_settings, tmp_path, {STREAM: {"load_as": "invoice"}})


def test_invoices_hold_the_lines_totals_and_contact(sandbox: Any, config: dict[str, Any]) -> None:
    result = run_target(sandbox, config, messages([order(1), order(2), order(4)]))

    assert result.error is None, result.stderr
    invoices = {r["ExternalReference"]: r for r in by_reference(sandbox.dump(ORG, "invoices"), "SHOP-")}
    assert set(invoices) == {"SHOP-1", "SHOP-2", "SHOP-4"}
    first = invoices["SHOP-1"]
    assert first["Status"] == "Draft"
    assert [
        (ln["Description"], ln["Quantity"], ln["BaseAmountValue"], ln["Discount"])
        for ln in first["ProductLines"]
    ] == [("Kaffebønner 1 kg", 2, 100.0, 10), ("Levering", 1, 49.0, 0)]
    assert first["TotalExclVat"] == pytest.approx(229.0)  # 2*100*0.9 + 49
    assert first["TotalInclVat"] == pytest.approx(286.25)  # account 1000 carries U25
    # orders 1 and 4 share a customer: one contact, found/created once and reused
    contacts = [c for c in sandbox.dump(ORG, "contacts") if c.get("Email") == "kunde1@example.dk"]
    assert len(contacts) == 1
    assert (
        invoices["SHOP-1"]["ContactGuid"] == invoices["SHOP-4"]["ContactGuid"] == contacts[0]["ContactGuid"]
    )
    assert result.states[-1] == {"bookmarks": {STREAM: 3}}
    assert result.counts(STREAM) == {"created": 3}


def test_booked_per_stream_and_draft_per_record(sandbox: Any, config: dict[str, Any]) -> None:
    config["streams"][STREAM]["book"] = True
    result = run_target(sandbox, config, messages([order(1), order(2, Book=False)]))

    assert result.error is None, result.stderr
    invoices = {r["ExternalReference"]: r for r in by_reference(sandbox.dump(ORG, "invoices"), "SHOP-")}
    assert invoices["SHOP-1"]["Status"] != "Draft"
    assert invoices["SHOP-1"]["Number"] < 10**9  # booking assigns a voucher number
    assert invoices["SHOP-2"]["Status"] == "Draft"
    book_calls = [r for r in result.writes if r["path"].endswith("/book")]
    assert len(book_calls) == 1


def test_rerun_creates_nothing_and_leaves_booked_invoices_alone(sandbox: Any, config: dict[str, Any]) -> None:
    config["streams"][STREAM]["book"] = True
    orders = [order(n, Book=n % 2 == 0) for n in range(1, 7)]
    first = run_target(sandbox, config, messages(orders))
    assert first.error is None, first.stderr

    second = run_target(sandbox, config, messages(orders))

    assert second.error is None, second.stderr
    assert len(by_reference(sandbox.dump(ORG, "invoices"), "SHOP-")) == 6
    assert second.writes == []  # drafts unchanged, booked ones skipped: nothing written
    assert second.counts(STREAM) == {"unchanged": 3, "skipped_booked": 3}
    assert any("already booked" in note for note in second.summary["notes"])


def test_rerun_of_booked_invoices_looks_up_no_contact(sandbox: Any, config: dict[str, Any]) -> None:
    config["streams"][STREAM]["book"] = True
    orders = [order(n) for n in range(1, 5)]
    assert run_target(sandbox, config, messages(orders)).error is None

    second = run_target(sandbox, config, messages(orders))

    assert second.error is None, second.stderr
    assert second.counts(STREAM) == {"skipped_booked": 4}
    assert [r["path"] for r in second.api_requests if "/contacts" in r["path"]] == []


def test_run_interrupted_midway_then_full_run_has_no_duplicates(sandbox: Any, config: dict[str, Any]) -> None:
    orders = [order(n) for n in range(1, 11)]
    partial = run_target(sandbox, config, messages(orders[:4]))  # "killed" after 4 orders were written
    assert partial.error is None, partial.stderr

    full = run_target(sandbox, config, messages(orders))

    assert full.error is None, full.stderr
    refs = [r["ExternalReference"] for r in by_reference(sandbox.dump(ORG, "invoices"), "SHOP-")]
    assert sorted(refs) == sorted(f"SHOP-{n}" for n in range(1, 11))
    assert full.counts(STREAM) == {"created": 6, "unchanged": 4}


def test_changed_draft_is_updated_with_its_timestamp(sandbox: Any, config: dict[str, Any]) -> None:
    assert run_target(sandbox, config, messages([order(1)])).error is None
    changed = order(1)
    changed["ProductLines"][1]["BaseAmountValue"] = 59.0

    result = run_target(sandbox, config, messages([changed]))

    assert result.error is None, result.stderr
    [invoice] = by_reference(sandbox.dump(ORG, "invoices"), "SHOP-")
    assert invoice["ProductLines"][1]["BaseAmountValue"] == 59.0
    assert [w["method"] for w in result.writes] == ["PUT"]
    assert result.counts(STREAM) == {"updated": 1}


def test_derived_reference_and_deterministic_guid(sandbox: Any, config: dict[str, Any]) -> None:
    config["external_reference_prefix"] = "t1/"
    plain_order = order(7)
    del plain_order["ExternalReference"]
    result = run_target(sandbox, config, messages([plain_order]))

    assert result.error is None, result.stderr
    [invoice] = by_reference(sandbox.dump(ORG, "invoices"), "t1/")
    assert invoice["ExternalReference"] == f"t1/{STREAM}:7"
    from target_dinero.records import deterministic_guid

    assert invoice["Guid"] == deterministic_guid(ORG, "invoice", f"t1/{STREAM}:7")


@pytest.mark.parametrize(("book", "budget"), [(False, 1.05), (True, 2.05)])
def test_requests_per_invoice_stay_within_budget(
    sandbox: Any, config: dict[str, Any], book: bool, budget: float
) -> None:
    contact = sandbox.dump(ORG, "contacts")[0]["ContactGuid"]
    orders = [order(n, Contact=None, ContactGuid=contact) for n in range(1, 61)]
    config["streams"][STREAM]["book"] = book

    result = run_target(sandbox, config, messages(orders))

    assert result.error is None, result.stderr
    assert len(by_reference(sandbox.dump(ORG, "invoices"), "SHOP-")) == 60
    per_invoice = len(result.api_requests) / 60
    assert per_invoice <= budget, [f"{r['method']} {r['path']}" for r in result.api_requests[:8]]


@pytest.mark.parametrize(("new_invoices", "expect_pages", "expect_filters"), [(1, 1, 1), (5, 3, 0)])
def test_existing_invoices_are_learnt_the_cheaper_way(
    sandbox: Any, config: dict[str, Any], new_invoices: int, expect_pages: int, expect_filters: int
) -> None:
    sandbox.reset("invoices=2500")  # three pages of 1 000
    contact = sandbox.dump(ORG, "contacts")[0]["ContactGuid"]
    orders = [order(n, Contact=None, ContactGuid=contact) for n in range(1, new_invoices + 1)]

    result = run_target(sandbox, config, messages(orders))

    assert result.error is None, result.stderr
    lists = [r for r in result.api_requests if r["method"] == "GET" and r["path"].endswith("/invoices")]
    assert len([r for r in lists if "queryFilter" not in r["query"]]) == expect_pages
    assert len([r for r in lists if "queryFilter" in r["query"]]) == expect_filters
    assert len(by_reference(sandbox.dump(ORG, "invoices"), "SHOP-")) == new_invoices
