"""A bookmark vouches only for what the runs before it emitted.

A run emits a stream's rows (and their properties) up to its bookmark; an incremental run after it reads
only what changed since. When the selection grows -- a parent read only for its child gets selected, a
child stream is selected later, a deselected property is selected again, lines or deletions are turned on
-- the rows older than the bookmark never carried what is emitted now, and an incremental read would never
bring them: the tap keeps what each bookmark covers (``covers`` in the partition state) and reads the
partition in full once when the selection asks for more.
"""

from __future__ import annotations

import copy
import typing as t

import pytest

from tap_dinero.tap import TapDinero
from tests.harness import CollectingWriter, TapRun, run_tap

ORG = "100000"


def _guids(rows: t.Iterable[dict], key: str = "Guid") -> set[str]:
    return {str(row[key]).lower() for row in rows}


def test_a_parent_read_only_for_its_child_is_emitted_in_full_once_selected(
    sandbox, tap_config, sandbox_requests
):
    first = run_tap(tap_config, streams=["invoice_lines"])  # invoices read (for their lines), not emitted
    assert first.error is None, first.error
    assert not first.stream("invoices") and first.stream("invoice_lines")

    second = run_tap(tap_config, streams=["invoices", "invoice_lines"], state=first.final_state)
    assert second.error is None, second.error
    assert _guids(second.stream("invoices")) == _guids(sandbox.dump(ORG, "invoices"))  # deleted ones too

    # the bookmark now covers both streams: the next run is incremental again and emits nothing
    mark = sandbox.requests()[-1]["id"]
    third = run_tap(tap_config, streams=["invoices", "invoice_lines"], state=second.final_state)
    assert third.error is None, third.error
    assert not third.stream("invoices") and not third.stream("invoice_lines")
    lists = [r for r in sandbox_requests(mark) if r["path"] == f"/v1/{ORG}/invoices"]
    assert lists and all("changesSince" in r["params"] for r in lists)
    # a selection that shrinks stays incremental too
    fourth = run_tap(tap_config, streams=["invoices"], state=third.final_state)
    assert fourth.error is None and not fourth.stream("invoices")


def _booked_invoices(sandbox) -> set[str]:
    booked = [i for i in sandbox.dump(ORG, "invoices") if i["Status"] == "Booked" and not i.get("DeletedAt")]
    return _guids(booked)


def _booked_manual_vouchers(sandbox) -> set[str]:
    return _guids(v for v in sandbox.dump(ORG, "manual_vouchers") if v["Status"] == "Booked")


@pytest.mark.parametrize(
    ("parent", "child", "key", "expected"),
    [
        ("invoices", "invoice_lines", "InvoiceGuid", lambda s: _guids(live_rows(s, "invoices"))),
        ("invoices", "invoice_payments", "InvoiceGuid", None),
        ("entries", "manual_vouchers", "Guid", _booked_manual_vouchers),
    ],
    ids=["lines", "payments", "vouchers"],
)
def test_a_child_stream_selected_later_brings_the_children_of_every_parent(
    sandbox, tap_config, parent, child, key, expected
):
    first = run_tap(tap_config, streams=[parent])
    assert first.error is None, first.error
    assert not first.stream(child)

    second = run_tap(tap_config, streams=[parent, child], state=first.final_state)
    assert second.error is None, second.error
    if expected is None:  # payments: every booked invoice that has any
        full = run_tap(tap_config, streams=["invoices", child])  # what a first run with the child brings
        paid = _guids(full.stream(child), key)
        assert paid and paid <= _booked_invoices(sandbox)
        assert _guids(second.stream(child), key) == paid
    else:
        want = expected(sandbox)
        assert want and _guids(second.stream(child), key) == want


def live_rows(sandbox, collection: str) -> list[dict]:
    return [row for row in sandbox.dump(ORG, collection) if not row.get("DeletedAt")]


def _run_with_catalog(config: dict, catalog: dict, state: dict | None) -> TapRun:
    writer = CollectingWriter()
    tap = TapDinero(config=config, catalog=catalog, state=copy.deepcopy(state), message_writer=writer)
    error = None
    try:
        tap.sync_all()
    except Exception as exc:  # asserted by the caller
        error = exc
    return TapRun(writer.messages, tap=tap, error=error)


def _contacts_catalog(config: dict, *, deselected: tuple[str, ...]) -> dict:
    catalog = TapDinero(config=config, setup_mapper=False).catalog_dict
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            crumb = meta["breadcrumb"]
            if crumb == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] == "contacts"
            elif entry["tap_stream_id"] == "contacts" and crumb[-1] in deselected:
                meta["metadata"]["selected"] = False
    return catalog


def test_a_property_selected_again_reaches_every_row(sandbox, tap_config):
    first = _run_with_catalog(tap_config, _contacts_catalog(tap_config, deselected=("Email",)), None)
    assert first.error is None, first.error
    assert first.stream("contacts") and all("Email" not in c for c in first.stream("contacts"))

    second = _run_with_catalog(tap_config, _contacts_catalog(tap_config, deselected=()), first.final_state)
    assert second.error is None, second.error
    emails = {c["ContactGuid"].lower(): c.get("Email") for c in second.stream("contacts")}
    assert emails == {c["ContactGuid"].lower(): c.get("Email") for c in sandbox.dump(ORG, "contacts")}


@pytest.mark.parametrize(
    ("setting", "stream"), [("include_lines", "invoices"), ("include_deleted", "contacts")]
)
def test_turning_on_lines_or_deletions_reaches_rows_older_than_the_bookmark(
    sandbox, tap_config, setting, stream
):
    first = run_tap({**tap_config, setting: False}, streams=[stream])
    assert first.error is None, first.error

    second = run_tap(tap_config, streams=[stream], state=first.final_state)
    assert second.error is None, second.error
    if setting == "include_lines":
        rows = second.stream("invoices")
        assert _guids(live_rows(sandbox, "invoices")) <= _guids(rows)
        assert all(row.get("ProductLines") for row in rows if not row.get("DeletedAt"))
    else:
        deleted = _guids((c for c in sandbox.dump(ORG, "contacts") if c.get("DeletedAt")), "ContactGuid")
        emitted = _guids((c for c in second.stream("contacts") if c.get("_sdc_deleted_at")), "ContactGuid")
        assert deleted and emitted == deleted


def test_a_state_written_before_coverage_was_kept_stays_incremental(sandbox, tap_config, sandbox_requests):
    """An older tap's state has no ``covers``: its bookmark is trusted, not re-read in full."""
    first = run_tap(tap_config, streams=["contacts", "invoices", "invoice_lines", "entries"])
    assert first.error is None, first.error
    state = first.final_state
    for stream_state in state["bookmarks"].values():
        for partition in stream_state.get("partitions", []):
            partition.pop("covers", None)
    mark = sandbox.requests()[-1]["id"]
    second = run_tap(tap_config, streams=["contacts", "invoices", "invoice_lines", "entries"], state=state)
    assert second.error is None, second.error
    assert not second.stream("contacts") and not second.stream("invoices")
    paths = {r["path"] for r in sandbox_requests(mark)}
    assert f"/v1/{ORG}/entries" not in paths and f"/v1/{ORG}/entries/changes" in paths


@pytest.mark.parametrize(
    ("stream", "stream_map", "key"),
    [
        ("contacts", {"Email": None}, "ContactGuid"),
        ("invoices", {"__filter__": "Currency == 'XXX'"}, "Guid"),
    ],
    ids=["property-mapped-out", "rows-filtered-out"],
)
def test_a_stream_map_taken_away_reaches_the_rows_it_held_back(sandbox, tap_config, stream, stream_map, key):
    """The tap's own ``stream_maps`` leave properties or rows out of what it emits, as a deselection does:
    once the map is taken away (or changed), the rows before the bookmark never carried what it held
    back, and an incremental run would never bring them. A changed map reads the stream in full once."""
    mapped = {**tap_config, "stream_maps": {stream: stream_map}}
    first = run_tap(mapped, streams=[stream])
    assert first.error is None, first.error
    again = run_tap(mapped, streams=[stream], state=first.final_state)  # the same map: incremental
    assert again.error is None and not again.stream(stream)

    second = run_tap(tap_config, streams=[stream], state=again.final_state)
    assert second.error is None, second.error
    live = _guids((r for r in sandbox.dump(ORG, stream) if not r.get("DeletedAt")), key)
    assert live and live <= _guids(second.stream(stream), key)
    if "Email" in stream_map:
        assert any(r.get("Email") for r in second.stream(stream))
