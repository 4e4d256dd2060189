"""Rows changed while a list is being paged: offset pages shift, and the tap must not lose the row that
slips past a page boundary (sandbox fault ``insert_while_paging`` touches the oldest rows and inserts)."""

from __future__ import annotations

import pytest

from tests.harness import run_tap

ORG = "100000"


@pytest.mark.parametrize(
    ("stream", "collection", "key"),
    [
        ("contacts", "contacts", "ContactGuid"),
        ("invoices", "invoices", "Guid"),
        ("products", "products", "ProductGuid"),
    ],
)
def test_list_changing_while_paged_loses_nothing(sandbox, tap_config, stream, collection, key):
    sandbox.set_fault("insert_while_paging", count=1, path_contains=f"/v1/{ORG}/{collection}")
    result = run_tap({**tap_config, "page_size": 5}, streams=[stream])
    assert result.error is None
    stored = {row[key]: row for row in sandbox.dump(ORG, collection)}
    emitted = {}
    for row in result.stream(stream):
        emitted[row[key]] = row  # later emissions win, as a target's upsert would
    assert set(emitted) == set(stored)
    assert all(emitted[k]["UpdatedAt"] == stored[k]["UpdatedAt"] for k in stored)
    assert result.partition_state(stream, ORG)["replication_key_value"]


def test_list_that_never_settles_does_not_move_the_bookmark(sandbox, tap_config):
    sandbox.set_fault("insert_while_paging", count=50, path_contains=f"/v1/{ORG}/contacts")
    first = run_tap({**tap_config, "page_size": 5}, streams=["contacts"])
    assert first.error is None
    partition = first.partition_state("contacts", ORG)
    assert "replication_key_value" not in partition and "progress_markers" not in partition

    sandbox.clear_faults()
    second = run_tap(tap_config, streams=["contacts"], state=first.final_state)
    assert second.error is None, second.error
    assert {c["ContactGuid"] for c in second.stream("contacts")} == {
        c["ContactGuid"] for c in sandbox.dump(ORG, "contacts")
    }
    assert second.partition_state("contacts", ORG)["replication_key_value"]
