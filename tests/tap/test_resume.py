"""A run killed after some pages resumes from its last STATE message with nothing lost."""

from __future__ import annotations

import pytest

from tests.harness import run_tap

ORG = "100000"


def _keys(result, stream: str, key: str) -> set:
    return {r[key] for r in result.stream(stream)}


@pytest.mark.parametrize(("killed_stream", "after"), [("invoices", 120), ("entries", 500), ("contacts", 30)])
def test_killed_run_resumes_without_losing_records(sandbox, tap_config, killed_stream, after):
    config = {**tap_config, "page_size": 50}
    first = run_tap(config, kill_after=(killed_stream, after))
    assert first.error is not None, "the run should have been killed"
    assert len(first.stream(killed_stream)) == after
    state = first.final_state  # the last STATE message the killed run wrote
    assert state, "a STATE message precedes the kill"

    second = run_tap(config, state=state)
    assert second.error is None

    for stream, collection, key in [
        ("contacts", "contacts", "ContactGuid"),
        ("products", "products", "ProductGuid"),
        ("invoices", "invoices", "Guid"),
        ("sales_credit_notes", "creditnotes", "Guid"),
        ("trade_offers", "tradeoffers", "Guid"),
    ]:
        stored = {r[key] for r in sandbox.dump(ORG, collection)}
        assert _keys(first, stream, key) | _keys(second, stream, key) == stored, stream
    stored_entries = {e["EntryGuid"] for e in sandbox.dump(ORG, "entries")}
    assert stored_entries <= _keys(first, "entries", "EntryGuid") | _keys(second, "entries", "EntryGuid")
    expected_lines = {
        (i["Guid"], n)
        for i in sandbox.dump(ORG, "invoices")
        if not i["DeletedAt"]
        for n in range(len(i["ProductLines"]))
    }
    lines = {
        (r["InvoiceGuid"], r["LinePosition"])
        for r in first.stream("invoice_lines") + second.stream("invoice_lines")
    }
    assert lines == expected_lines

    # streams that finished before the kill kept their new bookmark: the resumed run re-reads nothing of them
    finished = [s for s in ("contacts", "entries", "invoices") if s < killed_stream]
    for stream in finished:
        assert not second.stream(stream), stream
    # the resumed run ends with a clean, resumable state
    for partition_state in second.final_state["bookmarks"][killed_stream]["partitions"]:
        assert "progress_markers" not in partition_state
        assert partition_state["replication_key_value"]
