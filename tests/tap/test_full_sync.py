"""A first sync of the demo organization returns exactly what the sandbox holds, per stream."""

from __future__ import annotations

import math
from collections import Counter

from tap_dinero.schemas import list_fields, load_schema
from tests.harness import run_tap

ORG = "100000"
DETAIL_FIELDS = ("ShowLinesInclVat", "ProductLines", "TotalLines")
TAP_COLUMNS = {"organization_id", "_sdc_deleted_at", "_sdc_synced_at"}


def _api_fields(schema_name: str) -> list[str]:
    """The Dinero fields of a stream's records: those asked with ``fields`` plus the detail additions."""
    return [
        *(list_fields(schema_name) or []),
        *(f for f in DETAIL_FIELDS if f in load_schema(schema_name)["properties"]),
    ]


def _by(rows, key):
    return {row[key]: row for row in rows}


def test_full_sync_matches_sandbox_per_stream(sandbox, tap_config):
    result = run_tap(tap_config)
    assert result.error is None

    # documents and parties: every stored object, deleted ones included (deletion pass)
    for stream, collection, key, schema in [
        ("contacts", "contacts", "ContactGuid", "contact"),
        ("products", "products", "ProductGuid", "product"),
        ("invoices", "invoices", "Guid", "invoice"),
        ("sales_credit_notes", "creditnotes", "Guid", "sales_credit_note"),
        ("trade_offers", "tradeoffers", "Guid", "trade_offer"),
    ]:
        stored = _by(sandbox.dump(ORG, collection), key)
        emitted = _by(result.stream(stream), key)
        assert len(emitted) == len(result.stream(stream)), f"duplicates in {stream}"
        assert set(emitted) == set(stored), stream
        fields = [f for f in _api_fields(schema) if f not in ("Status", "Type", *DETAIL_FIELDS)]
        for guid, row in emitted.items():
            assert row["organization_id"] == ORG
            assert row["_sdc_deleted_at"] == stored[guid]["DeletedAt"]
            # the full field set came back (fields=...), with the API's names and values
            for field in fields:
                assert row[field] == stored[guid].get(field), (stream, field)
            # a live document carries its detail's lines and totals; a deleted one has none to read
            detail = [f for f in DETAIL_FIELDS if f in _api_fields(schema)]
            if stored[guid]["DeletedAt"]:
                assert not set(detail) & set(row), (stream, guid)
            else:
                assert {f: row[f] for f in detail} == {f: stored[guid][f] for f in detail}, (stream, guid)

    deleted_contacts = [c for c in result.stream("contacts") if c["DeletedAt"]]
    assert deleted_contacts and all(c["_sdc_deleted_at"] == c["DeletedAt"] for c in deleted_contacts)

    # invoice list Status is the payment status (Draft, Booked, Paid, ...)
    stored_invoices = _by(sandbox.dump(ORG, "invoices"), "Guid")
    for guid, row in _by(result.stream("invoices"), "Guid").items():
        assert row["Status"] == stored_invoices[guid]["PaymentStatus"]

    # lines: one row per ProductLine of every live document, keyed by document + position
    for stream, collection, parent_key in [
        ("invoice_lines", "invoices", "InvoiceGuid"),
        ("credit_note_lines", "creditnotes", "CreditNoteGuid"),
        ("trade_offer_lines", "tradeoffers", "TradeOfferGuid"),
    ]:
        expected = {
            (doc["Guid"], i): line
            for doc in sandbox.dump(ORG, collection)
            if not doc["DeletedAt"]
            for i, line in enumerate(doc["ProductLines"])
        }
        emitted = {(line[parent_key], line["LinePosition"]): line for line in result.stream(stream)}
        assert set(emitted) == set(expected), stream
        for key, line in emitted.items():
            assert line["Quantity"] == expected[key]["Quantity"]
            assert line["BaseAmountValue"] == expected[key]["BaseAmountValue"]
            assert line["Description"] == expected[key]["Description"]

    # vouchers: no list endpoint -> every booked one, reached through its entries
    for stream, collection in [
        ("manual_vouchers", "manual_vouchers"),
        ("purchase_vouchers", "purchase_vouchers"),
    ]:
        stored = sandbox.dump(ORG, collection)
        booked = {v["Guid"]: v for v in stored if v["VoucherNumber"] is not None and not v["DeletedAt"]}
        emitted = _by(result.stream(stream), "Guid")
        assert set(emitted) == set(booked), stream
        for guid, voucher in emitted.items():
            assert voucher["Lines"] == booked[guid]["Lines"]
            assert voucher["VoucherNumber"] == booked[guid]["VoucherNumber"]

    # the ledger: every booked entry once, plus one opening-balance (primo) row per balance account/year
    stored_entries = _by(sandbox.dump(ORG, "entries"), "EntryGuid")
    normal = [e for e in result.stream("entries") if e["Type"] != "Primo"]
    primo = [e for e in result.stream("entries") if e["Type"] == "Primo"]
    assert Counter(e["EntryGuid"] for e in result.stream("entries")).most_common(1)[0][1] == 1
    assert _by(normal, "EntryGuid").keys() == stored_entries.keys()
    for entry in normal:
        stored_entry = stored_entries[entry["EntryGuid"]]
        assert {k: entry[k] for k in stored_entry} == stored_entry
    assert primo, "primo rows expected for the later accounting years"
    assert math.isclose(sum(e["Amount"] for e in normal), 0.0, abs_tol=0.01)  # the books balance

    # reference data
    accounts = sandbox.dump(ORG, "accounts")
    assert {a["AccountNumber"] for a in result.stream("entry_accounts")} == {
        a["AccountNumber"] for a in accounts
    }
    assert {y["Name"] for y in result.stream("accounting_years")} == {
        y["Name"] for y in sandbox.dump(ORG, "accountingyears")
    }
    assert (
        result.stream("deposit_accounts")
        and result.stream("purchase_accounts")
        and result.stream("vat_types")
    )
    assert [o["Id"] for o in result.stream("organizations")] == [int(ORG)]
    assert result.stream("organizations")[0]["Name"] == "Dinero Demo ApS"

    # files: every visible file (linked ones and web-archive uploads); API uploads never attached stay hidden
    stored_files = _by(sandbox.dump(ORG, "files"), "FileGuid")
    emitted_files = _by(result.stream("files"), "FileGuid")
    assert set(emitted_files) <= set(stored_files)
    assert {g for g, f in stored_files.items() if f["Linked"]} <= set(emitted_files)

    # the final state is clean (no progress markers) and has a bookmark per incremental stream
    for stream in ("contacts", "products", "invoices", "sales_credit_notes", "trade_offers", "entries"):
        partition = result.partition_state(stream, ORG)
        assert partition["replication_key_value"], stream
        assert "progress_markers" not in partition


def test_records_carry_only_schema_fields(sandbox, tap_config):
    result = run_tap(tap_config, streams=["contacts", "entries", "invoices", "invoice_lines"])
    assert result.error is None, result.error
    schemas = {m["stream"]: m["schema"] for m in result.messages if m["type"] == "SCHEMA"}
    assert sum(1 for m in result.messages if m["type"] == "SCHEMA" and m["stream"] == "invoice_lines") == 1
    for stream, records in result.records.items():
        allowed = set(schemas[stream]["properties"])
        for record in records:
            assert set(record) <= allowed, stream


def test_documents_carry_every_field_of_their_detail(sandbox, tap_config):
    """The tap reads each changed document's detail (for its lines); every field the detail has and the
    list lacks -- an invoice's Comment, Address, payment terms, Language, TotalVat, PaymentStatus, a
    credit note's CreditNoteFor, a trade offer's GeneratedVouchers -- is in the record with the detail's
    value (they were read and dropped: a copy through target-dinero lost the comment and the terms)."""
    from tap_dinero.tap import TapDinero

    streams = TapDinero(config=tap_config, setup_mapper=False).streams
    result = run_tap(tap_config, streams=["invoices", "sales_credit_notes", "trade_offers"])
    assert result.error is None, result.error
    for stream, collection, must in [
        ("invoices", "invoices", {"Comment", "Address", "PaymentConditionType", "TotalVat", "PaymentStatus"}),
        ("sales_credit_notes", "creditnotes", {"CreditNoteFor", "Comment", "TotalVat"}),
        ("trade_offers", "tradeoffers", {"GeneratedVouchers", "History", "ProductLines"}),
    ]:
        detail_only = set(streams[stream].detail_only_fields)  # type: ignore[attr-defined]
        assert must <= detail_only, stream
        stored = _by(sandbox.dump(ORG, collection), "Guid")
        rows = [row for row in result.stream(stream) if not row["_sdc_deleted_at"]]
        assert rows, stream
        for row in rows:
            for field in sorted(detail_only):
                assert row[field] == stored[row["Guid"]].get(field), (stream, field)
    invoices = [row for row in result.stream("invoices") if not row["_sdc_deleted_at"]]
    assert any(row["Comment"] for row in invoices) and any(row["Address"] for row in invoices)
