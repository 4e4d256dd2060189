"""``emit_activate_version_messages`` (an SDK built-in setting; the tap advertises ``activate-version``):
a target that honours ACTIVATE_VERSION removes every row of the stream with an older version, so the tap
may send it only for a stream whose whole table the run has just emitted, and only after those rows.

Streams that emit part of their table per run -- child streams read for the documents that changed
(lines, payments, vouchers), ``reports`` (closed years are not read again) -- must not send it; a stream
that failed half-way, or a multi-organization run in which an organization failed, must not send it
either. The target is played here by :class:`VersionedTable`, the rule of singer-sdk's SQL sinks
(``_sdc_table_version < version`` is deleted).
"""

from __future__ import annotations

import copy
import time
from collections import defaultdict
from typing import Any

from dinero_sandbox.constants import DEMO_REFRESH_TOKEN
from tap_dinero.organizations import OrganizationsFailed
from tap_dinero.tap import TapDinero
from tests.harness import CollectingWriter, TapRun, run_tap

ORG = "100000"


class VersionedTable:
    """Every stream's table as a target that honours ACTIVATE_VERSION holds it (soft delete)."""

    def __init__(self, keys: dict[str, list[str]]) -> None:
        self.keys = keys
        self.rows: dict[str, dict[tuple, dict[str, Any]]] = defaultdict(dict)

    def load(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            if message["type"] == "SCHEMA":
                self.keys[message["stream"]] = message["key_properties"]
            elif message["type"] == "RECORD":
                stream = message["stream"]
                key = tuple(str(message["record"].get(k)) for k in self.keys[stream])
                self.rows[stream][key] = {"version": message.get("version"), "deleted": False}
            elif message["type"] == "ACTIVATE_VERSION":
                for row in self.rows[message["stream"]].values():
                    if row["version"] is not None and row["version"] < message["version"]:
                        row["deleted"] = True

    def live(self, stream: str) -> set[tuple]:
        return {key for key, row in self.rows[stream].items() if not row["deleted"]}


def next_run_version() -> None:
    """Wait for the next whole second: the SDK's table version is the run's start in seconds, and a run
    must get a newer version than the one before it for ACTIVATE_VERSION to remove anything."""
    start = int(time.time())
    while int(time.time()) == start:
        time.sleep(0.05)


PARTIAL_STREAMS = [
    "invoices",
    "invoice_lines",
    "invoice_payments",
    "sales_credit_notes",
    "credit_note_lines",
    "entries",
    "manual_vouchers",
    "purchase_vouchers",
    "reports",
]


def test_streams_read_in_part_never_make_a_target_delete_rows(sandbox, tap_config):
    """Run 2 re-reads one changed invoice and the open years' reports: with ACTIVATE_VERSION on, every
    line, payment, voucher and closed-year report row of run 1 must still be in the target."""
    config = {**tap_config, "emit_activate_version_messages": True}
    first = run_tap(config, streams=PARTIAL_STREAMS)
    assert first.error is None, first.error
    target = VersionedTable({})
    target.load(first.messages)
    before = {stream: target.live(stream) for stream in PARTIAL_STREAMS}
    assert all(before[s] for s in ("invoice_lines", "invoice_payments", "manual_vouchers", "reports"))

    paid = next(p for p in first.stream("invoice_payments"))
    sandbox.mutate(ORG, "invoices", "update", paid["InvoiceGuid"], {"Comment": "rettet"})
    next_run_version()
    second = run_tap(config, streams=PARTIAL_STREAMS, state=first.final_state)
    assert second.error is None, second.error
    assert second.stream("invoice_lines") and second.stream("invoice_payments")  # the changed invoice
    target.load(second.messages)
    for stream in PARTIAL_STREAMS:
        lost = before[stream] - target.live(stream)
        assert not lost, f"{stream}: {len(lost)} rows removed by ACTIVATE_VERSION, e.g. {sorted(lost)[:2]}"


def test_a_full_table_stream_that_fails_half_way_sends_no_activate_version(sandbox, tap_config):
    """The files list fails in a later run: rows of the first run stay, none is marked deleted."""
    config = {
        **tap_config,
        "emit_activate_version_messages": True,
        "page_size": 10,
        "max_retries": 0,
        "retry_backoff_seconds": 0,
    }
    first = run_tap(config, streams=["files"])
    assert first.error is None, first.error
    target = VersionedTable({})
    target.load(first.messages)
    before = target.live("files")
    assert len(before) > 10
    # a later run: the list fails (longer than the retries last)
    sandbox.set_fault("5xx", count=1_000, path_contains="/files")
    next_run_version()
    second = run_tap(config, streams=["files"], state=first.final_state)
    sandbox.clear_faults()
    assert second.error is not None
    target.load(second.messages)
    assert target.live("files") == before
    # and when the stream completes, the ACTIVATE_VERSION comes after its rows
    next_run_version()
    third = run_tap(config, streams=["files"], state=first.final_state)
    assert third.error is None, third.error
    kinds = [m["type"] for m in third.messages if m.get("stream") == "files"]
    assert "ACTIVATE_VERSION" in kinds and kinds.index("ACTIVATE_VERSION") > max(
        i for i, kind in enumerate(kinds) if kind == "RECORD"
    )
    target.load(third.messages)
    assert target.live("files") == before


def test_a_failed_organization_keeps_its_rows_in_a_versioned_target(sandbox, tap_config, tmp_path):
    """Two organizations, the second one down in run 2: its files and VAT types must not be deleted by
    the ACTIVATE_VERSION the healthy organization's rows carry."""
    orgs = ["100000", "100001"]
    config = {k: v for k, v in tap_config.items() if k not in ("api_key", "organization_id")}
    config = {
        **config,
        "refresh_token": DEMO_REFRESH_TOKEN,
        "token_url": sandbox.connect_token_url,
        "token_file": str(tmp_path / "tokens.json"),
        "organization_ids": orgs,
        "emit_activate_version_messages": True,
        "max_retries": 0,
        "retry_backoff_seconds": 0,
    }
    streams = ["files", "vat_types"]

    def run(state: dict[str, Any] | None) -> tuple[TapRun, OrganizationsFailed | None]:
        writer = CollectingWriter()
        tap = TapDinero(config=config, state=copy.deepcopy(state) if state else None, message_writer=writer)
        for name, stream in tap.streams.items():
            stream.selected = name in streams
        try:
            tap.sync_all()
        except OrganizationsFailed as exc:
            return TapRun(messages=writer.messages, tap=tap), exc
        return TapRun(messages=writer.messages, tap=tap), None

    first, failed = run(None)
    assert failed is None
    target = VersionedTable({})
    target.load(first.messages)
    before = {stream: target.live(stream) for stream in streams}
    assert {key[0] for key in before["files"]} == set(orgs)

    sandbox.set_fault("5xx", count=1_000_000, path_contains="/v1/100001/")
    next_run_version()
    second, failed = run(first.final_state)
    sandbox.clear_faults()
    assert failed is not None and [f.organization_id for f in failed.failures] == ["100001"]
    target.load(second.messages)
    for stream in streams:
        assert target.live(stream) == before[stream], stream

    next_run_version()
    third, failed = run(second.final_state)  # every organization healthy: the version is activated
    assert failed is None
    assert [m for m in third.messages if m["type"] == "ACTIVATE_VERSION"]
    target.load(third.messages)
    for stream in streams:
        assert target.live(stream) == before[stream], stream
