"""Lines of a document that changed: a line removed from a draft (then booked), every line removed, the
document deleted. Line rows are keyed (document, position), so a removed line's old row stays in an
upserting target -- a phantom amount in any sum over ``invoice_lines``. Each line row and each document
row carries ``_sdc_synced_at`` (the start of the run that read the document): a document's current lines
are its line rows with the document's ``_sdc_synced_at``. This test plays an upserting target and checks
that rule gives exactly the lines Dinero holds, after every kind of change.
"""

from __future__ import annotations

from typing import Any

from tests.harness import run_tap

ORG = "100000"
STREAMS = ["invoices", "invoice_lines"]


def _upsert(table: dict[tuple, dict[str, Any]], rows: list[dict[str, Any]], keys: tuple[str, ...]) -> None:
    for row in rows:
        table[tuple(row[k] for k in keys)] = row


def _current_lines(documents: dict, lines: dict) -> dict[str, list[Any]]:
    """Per live document, the amounts of its current lines (the README's rule)."""
    out: dict[str, list[Any]] = {}
    for (_, guid), doc in documents.items():
        if doc.get("_sdc_deleted_at"):
            continue
        out[guid] = [
            line["TotalAmount"]
            for (_, doc_guid, _), line in sorted(lines.items())
            if doc_guid == guid and line["_sdc_synced_at"] == doc["_sdc_synced_at"]
        ]
    return out


def _held(sandbox) -> dict[str, list[Any]]:
    return {
        i["Guid"]: [line["TotalAmount"] for line in i.get("ProductLines") or []]
        for i in sandbox.dump(ORG, "invoices")
        if not i.get("DeletedAt")
    }


def test_the_current_lines_of_every_document_are_the_lines_dinero_holds(sandbox, tap_config):
    documents: dict[tuple, dict[str, Any]] = {}
    lines: dict[tuple, dict[str, Any]] = {}
    first = run_tap(tap_config, streams=STREAMS)
    assert first.error is None, first.error
    _upsert(documents, first.stream("invoices"), ("organization_id", "Guid"))
    _upsert(lines, first.stream("invoice_lines"), ("organization_id", "InvoiceGuid", "LinePosition"))
    assert _current_lines(documents, lines) == _held(sandbox)

    drafts = [
        i
        for i in sandbox.dump(ORG, "invoices")
        if i["Status"] == "Draft" and not i.get("DeletedAt") and len(i.get("ProductLines") or []) >= 2
    ]
    shortened, emptied, deleted = drafts[:3]
    sandbox.mutate(
        ORG, "invoices", "update", shortened["Guid"], {"ProductLines": shortened["ProductLines"][:1]}
    )
    sandbox.mutate(ORG, "invoices", "update", emptied["Guid"], {"ProductLines": []})
    sandbox.mutate(ORG, "invoices", "delete", deleted["Guid"])

    second = run_tap(tap_config, streams=STREAMS, state=first.final_state)
    assert second.error is None, second.error
    _upsert(documents, second.stream("invoices"), ("organization_id", "Guid"))
    _upsert(lines, second.stream("invoice_lines"), ("organization_id", "InvoiceGuid", "LinePosition"))
    current = _current_lines(documents, lines)
    assert current == _held(sandbox)
    assert len(current[shortened["Guid"]]) == 1 and current[emptied["Guid"]] == []
    assert deleted["Guid"] not in current
