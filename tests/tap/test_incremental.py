"""A run with the previous run's state returns only what changed in between, deletions included."""

from __future__ import annotations

import datetime as dt
import itertools

from dinero_api.client import DineroClient
from dinero_api.dates import parse_api_datetime
from dinero_api.settings import DineroSettings
from tests.harness import run_tap

ORG = "100000"
INCREMENTAL = ("contacts", "products", "invoices", "sales_credit_notes", "trade_offers")


def _live(sandbox, collection: str) -> list[dict]:
    return [r for r in sandbox.dump(ORG, collection) if not r.get("DeletedAt")]


def _book_manual_voucher(config: dict) -> str:
    """Create and book a manual voucher through the API (as a user would): new ledger entries."""
    client = DineroClient(DineroSettings.from_config(config))
    created = client.post_json(
        "/v1/{org}/vouchers/manuel",
        {
            "VoucherDate": dt.date.today().isoformat(),
            "Lines": [
                {
                    "Description": "Kontorartikler",
                    "Amount": 250.0,
                    "AccountNumber": 6000,
                    "BalancingAccountNumber": 55000,
                }
            ],
        },
    )
    client.post_json(
        f"/v1/{{org}}/vouchers/manuel/{created['Guid']}/book", {"Timestamp": created["Timestamp"]}
    )
    return created["Guid"]


def test_second_run_returns_only_changes_and_deletions(sandbox, tap_config, sandbox_requests):
    first = run_tap(tap_config)
    assert first.error is None, first.error
    state = first.final_state

    contact_updated, contact_deleted = _live(sandbox, "contacts")[:2]
    sandbox.mutate(ORG, "contacts", "update", contact_updated["ContactGuid"], {"City": "Odense C"})
    sandbox.mutate(ORG, "contacts", "delete", contact_deleted["ContactGuid"])
    created = sandbox.mutate(ORG, "contacts", "create", fields={"Name": "Ny Kunde ApS"})
    invoice = next(i for i in _live(sandbox, "invoices") if i["Status"] == "Draft")
    sandbox.mutate(ORG, "invoices", "update", invoice["Guid"], {"Description": "Rettet faktura"})
    product = _live(sandbox, "products")[0]
    sandbox.mutate(ORG, "products", "delete", product["ProductGuid"])

    mark = sandbox.requests()[-1]["id"]
    second = run_tap(tap_config, state=state)
    assert second.error is None

    contacts = {c["ContactGuid"]: c for c in second.stream("contacts")}
    assert set(contacts) == {
        contact_updated["ContactGuid"],
        contact_deleted["ContactGuid"],
        created["ContactGuid"],
    }
    assert contacts[contact_updated["ContactGuid"]]["City"] == "Odense C"
    assert contacts[contact_updated["ContactGuid"]]["_sdc_deleted_at"] is None
    deleted = contacts[contact_deleted["ContactGuid"]]
    assert deleted["DeletedAt"] and deleted["_sdc_deleted_at"] == deleted["DeletedAt"]

    assert [i["Guid"] for i in second.stream("invoices")] == [invoice["Guid"]]
    assert {line["InvoiceGuid"] for line in second.stream("invoice_lines")} == {invoice["Guid"]}
    assert [p["ProductGuid"] for p in second.stream("products")] == [product["ProductGuid"]]
    assert second.stream("products")[0]["_sdc_deleted_at"]
    assert not second.stream("sales_credit_notes") and not second.stream("trade_offers")

    # nothing was booked: the entry change window holds nothing new (entries have no change time, so the
    # overlap may re-send a row booked just before the bookmark; key EntryGuid makes that an upsert)
    first_entries = {e["EntryGuid"]: {**e, "_sdc_synced_at": None} for e in first.stream("entries")}
    for entry in second.stream("entries"):
        assert first_entries[entry["EntryGuid"]] == {**entry, "_sdc_synced_at": None}

    # the requests asked changesSince = previous bookmark minus the 300 s overlap
    log = sandbox_requests(mark)
    for stream, route in [("contacts", "contacts"), ("invoices", "invoices")]:
        bookmark = parse_api_datetime(first.partition_state(stream, ORG)["replication_key_value"])
        asked = {r["params"].get("changesSince") for r in log if r["path"] == f"/v1/{ORG}/{route}"}
        expected = (bookmark - dt.timedelta(seconds=300)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert asked == {expected}
    changes = [r for r in log if r["path"] == f"/v1/{ORG}/entries/changes"]
    # one window for entries, one for reports (did an entry dated in a closed year change?)
    assert len(changes) == 2 and not [r for r in log if r["path"] == f"/v1/{ORG}/entries"]

    # bookmarks moved forward to the second run's request clock
    for stream in (*INCREMENTAL, "entries"):
        before = parse_api_datetime(first.partition_state(stream, ORG)["replication_key_value"])
        after = parse_api_datetime(second.partition_state(stream, ORG)["replication_key_value"])
        assert after > before, stream

    # a third run right away re-reads the overlap but emits nothing twice
    third = run_tap(tap_config, state=second.final_state)
    assert third.error is None, third.error
    for stream in (*INCREMENTAL, "invoice_lines"):
        assert not third.stream(stream), stream


def test_booked_voucher_arrives_through_entry_changes(sandbox, tap_config, sandbox_requests):
    first = run_tap(tap_config, streams=["entries", "manual_vouchers", "purchase_vouchers"])
    assert first.error is None, first.error
    voucher_guid = _book_manual_voucher(tap_config)
    mark = sandbox.requests()[-1]["id"]
    second = run_tap(
        tap_config, streams=["entries", "manual_vouchers", "purchase_vouchers"], state=first.final_state
    )
    assert second.error is None, second.error
    known = {e["EntryGuid"] for e in first.stream("entries")}
    new_entries = [e for e in second.stream("entries") if e["EntryGuid"] not in known]
    assert {e["VoucherGuid"] for e in new_entries} == {voucher_guid}
    assert {e["AccountNumber"] for e in new_entries} >= {6000, 55000}
    assert voucher_guid in {v["Guid"] for v in second.stream("manual_vouchers")}
    voucher = next(v for v in second.stream("manual_vouchers") if v["Guid"] == voucher_guid)
    assert voucher["Status"] == "Booked" and voucher["Lines"][0]["AccountNumber"] == 6000
    log = sandbox_requests(mark)
    changes = [r for r in log if r["path"] == f"/v1/{ORG}/entries/changes"]
    assert len(changes) == 1 and not [r for r in log if r["path"] == f"/v1/{ORG}/entries"]
    bookmark = parse_api_datetime(first.partition_state("entries", ORG)["replication_key_value"])
    expected_from = (bookmark - dt.timedelta(seconds=300)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert changes[0]["params"]["changesFrom"] == expected_from


def test_entry_change_windows_are_at_most_31_days(sandbox, tap_config, sandbox_requests):
    first = run_tap(tap_config, streams=["entries"])
    assert first.error is None, first.error
    state = first.final_state
    partition = next(p for p in state["bookmarks"]["entries"]["partitions"])
    partition["replication_key_value"] = (
        dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=100)
    ).isoformat()
    mark = sandbox.requests()[-1]["id"]
    second = run_tap(tap_config, streams=["entries"], state=state)
    assert second.error is None
    windows = [r["params"] for r in sandbox_requests(mark) if r["path"].endswith("/entries/changes")]
    assert len(windows) == 4  # 100 days + 300 s of overlap in 31-day steps
    for window in windows:
        start = parse_api_datetime(window["changesFrom"])
        end = parse_api_datetime(window["changesTo"])
        assert dt.timedelta(0) < end - start <= dt.timedelta(days=31)
    assert all(a["changesTo"] == b["changesFrom"] for a, b in itertools.pairwise(windows))


def test_start_date_bounds_the_first_run(sandbox, tap_config, sandbox_requests):
    contacts = sandbox.dump(ORG, "contacts")
    middle = sorted(c["UpdatedAt"] for c in contacts)[len(contacts) // 2]
    start = parse_api_datetime(middle).replace(microsecond=0) + dt.timedelta(seconds=1)
    start_text = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    expected = {c["ContactGuid"] for c in contacts if parse_api_datetime(c["UpdatedAt"]) >= start}
    assert 0 < len(expected) < len(contacts)
    result = run_tap({**tap_config, "start_date": start_text}, streams=["contacts"])
    assert result.error is None, result.error
    assert {c["ContactGuid"] for c in result.stream("contacts")} == expected
    # the contacts reads (the run's token request, which carries no changesSince, is not one of them)
    asked = {r["params"].get("changesSince") for r in sandbox_requests() if r["path"].endswith("/contacts")}
    assert asked == {start_text}


def test_lookback_zero_asks_for_changes_since_the_exact_bookmark(sandbox, tap_config, sandbox_requests):
    first = run_tap(tap_config, streams=["products"])
    assert first.error is None, first.error
    mark = sandbox.requests()[-1]["id"]
    again = run_tap({**tap_config, "lookback_seconds": 0}, streams=["products"], state=first.final_state)
    assert again.error is None, again.error
    bookmark = parse_api_datetime(first.partition_state("products", ORG)["replication_key_value"])
    asked = {r["params"].get("changesSince") for r in sandbox_requests(mark)}
    assert asked == {bookmark.strftime("%Y-%m-%dT%H:%M:%SZ")}


def test_entries_start_date_bounds_the_first_ledger_load(sandbox, tap_config, sandbox_requests):
    years = sorted(sandbox.dump(ORG, "accountingyears"), key=lambda y: y["FromDate"])
    first_day = years[1]["FromDate"]
    result = run_tap({**tap_config, "entries_start_date": first_day}, streams=["entries"])
    assert result.error is None, result.error
    assert result.stream("entries")
    assert min(e["Date"] for e in result.stream("entries")) >= first_day
    windows = [r["params"] for r in sandbox_requests() if r["path"] == f"/v1/{ORG}/entries"]
    # one request per calendar month of each accounting year from the start day on (a month of entries
    # in memory at a time); the year's primo rows come with its first month only
    assert len(windows) == 12 * len(years[1:])
    for i, year in enumerate(years[1:]):  # the sandbox's accounting years are calendar years
        months = windows[12 * i : 12 * (i + 1)]
        assert months[0]["fromDate"] == year["FromDate"] and months[-1]["toDate"] == year["ToDate"]
        assert "includePrimo" not in months[0]
        assert all(m["includePrimo"] == "false" for m in months[1:])
        for month in months:
            start, end = dt.date.fromisoformat(month["fromDate"]), dt.date.fromisoformat(month["toDate"])
            assert start.day == 1 and (start.year, start.month) == (end.year, end.month)
            assert (end + dt.timedelta(days=1)).day == 1
        assert all(
            dt.date.fromisoformat(a["toDate"]) + dt.timedelta(days=1) == dt.date.fromisoformat(b["fromDate"])
            for a, b in itertools.pairwise(months)
        )
