"""A field Dinero adds to a read model later is in no schema: it is left out of the records, never silently.

Lists are read with ``fields`` (Dinero answers exactly the fields asked for); details and bare arrays
(accounting years, entries, reports, vouchers, payments, an invoice's detail and its lines) answer the
whole read model. Decision: a field the schema does not have is left out of the record -- a target makes
its columns from the SCHEMA message, and singer-sdk drops such properties too when it conforms records --
and the first time a stream meets it, one WARNING names the stream and the field.
"""

from __future__ import annotations

import json
import logging

import requests.adapters

from tests.harness import run_tap

NEW = "FieldAddedLater"
STREAMS = ["accounting_years", "invoices", "invoice_lines", "entries", "manual_vouchers"]


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and NEW in r.getMessage()]


def test_a_sync_of_what_dinero_documents_warns_of_no_unknown_field(sandbox, tap_config, caplog):
    caplog.set_level(logging.WARNING)
    result = run_tap(tap_config)
    assert result.error is None, result.error
    unknown = [r.getMessage() for r in caplog.records if "schema does not have" in r.getMessage()]
    assert unknown == []


def test_a_field_dinero_adds_later_is_named_once_not_dropped_silently(
    sandbox, tap_config, caplog, monkeypatch
):
    send = requests.adapters.HTTPAdapter.send

    def adding(self, request, *args, **kwargs):
        response = send(self, request, *args, **kwargs)
        if (
            "fields=" in (request.url or "")
            or not response.ok
            or "json" not in response.headers.get("Content-Type", "")
        ):
            return response
        body = json.loads(response.content)

        def add(item):
            if isinstance(item, dict):
                item[NEW] = "x"
                for line in item.get("ProductLines") or []:
                    line[NEW] = "x"

        for item in body if isinstance(body, list) else [body]:
            add(item)
        response._content = json.dumps(body).encode()
        return response

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", adding)
    caplog.set_level(logging.WARNING)
    result = run_tap(tap_config, streams=STREAMS)
    assert result.error is None, result.error

    for stream in STREAMS:
        rows = result.stream(stream)
        assert rows, stream
        assert all(NEW not in row for row in rows), stream
        assert all(NEW not in line for row in rows for line in row.get("ProductLines") or []), stream
    warnings = _warnings(caplog)
    for stream in ("accounting_years", "invoices", "entries", "manual_vouchers"):
        named = [w for w in warnings if f"stream {stream}'s schema" in w]
        assert len(named) in (1, 2), (stream, named)  # once per field (invoices: itself and its lines)
    assert any(f"ProductLines.{NEW}" in w for w in warnings)
