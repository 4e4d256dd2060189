"""The tap's stream schemas come from the read models of Dinero's OpenAPI contract, and real rows -- older
ones with fields missing -- validate against them.

The spec marks every non-nullable property ``required``; lists return only the fields asked for and
objects created before a field existed lack it (a 2017 invoice has no ``TotalExclVatInDkk``). A schema
copying the spec's ``required`` made a validating target reject such rows.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, request
from jsonschema import Draft202012Validator
from werkzeug.serving import make_server

from dinero_api.contract import load_contract
from tap_dinero.schemas import list_fields, load_schema
from tap_dinero.tap import TapDinero
from tests.harness import run_tap

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "older_api"
ORG = "4242"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "derive_tap_schemas", ROOT / "scripts" / "derive_tap_schemas.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()


def test_committed_tap_schemas_are_what_the_generator_writes_from_the_contract() -> None:
    assert GEN.main(["--check"]) == 0


@pytest.mark.parametrize("name", sorted(GEN.STREAMS))
def test_each_stream_schema_covers_its_read_model(name: str) -> None:
    """Every property of the read model, of the list's ``fields`` options and of the detail additions is
    in the schema, nullable unless it is the primary key; only the primary key is required."""
    contract = load_contract()
    spec = GEN.STREAMS[name]
    schema = load_schema(name)
    props = schema["properties"]
    model = contract["components"]["schemas"][spec["model"]]["properties"]
    expected = set(model)
    if "list" in spec:
        expected |= set(GEN.fields_options(contract, spec["list"]))
    if "detail" in spec:
        expected |= set(GEN.DETAIL_FIELDS) | set(spec.get("detail_extra", ()))
    assert expected <= set(props)
    key = GEN.primary_key(spec)  # the parent's Guid, tap columns (year, report), the row's own key
    assert key[-len(spec.get("key", ["LinePosition"])) :] == spec.get("key", ["LinePosition"])
    assert schema["required"] == key
    for prop, sub in props.items():
        types = sub["type"] if isinstance(sub["type"], list) else [sub["type"]]
        assert ("null" in types) == (prop not in key), (name, prop)


def test_every_tap_stream_uses_a_generated_schema_and_asks_only_for_list_fields() -> None:
    tap = TapDinero(config={"client_id": "x", "client_secret": "y", "api_key": "z", "organization_id": "1"})
    contract = load_contract()
    for stream in tap.streams.values():
        assert stream.schema_name in GEN.STREAMS, stream.name
        spec = GEN.STREAMS[stream.schema_name]
        if getattr(stream, "sends_fields", False):
            model = contract["components"]["schemas"][spec["model"]]["properties"]
            options = set(GEN.fields_options(contract, spec["list"]))
            asked = set(stream.api_fields)
            assert asked == set(list_fields(stream.schema_name) or [])
            assert asked <= set(model) | options, stream.name
            assert not asked & {"ProductLines", "TotalLines", "ShowLinesInclVat"}, stream.name


# -- older rows through a real tap run ------------------------------------------------------------------
def _older_api() -> Flask:
    """Answers the way the older public examples look (fixtures under tests/tap/fixtures/older_api)."""
    app = Flask("older-dinero")

    def fixture(name: str) -> Any:
        return json.loads((FIXTURES / name).read_text(encoding="utf-8"))

    def listing(name: str) -> Response:
        body = fixture(name)
        if request.args.get("deletedOnly", "").lower() == "true":
            body = {**body, "Collection": []}
        return Response(json.dumps(body), mimetype="application/json")

    @app.post("/token")
    def token() -> Response:
        return Response(json.dumps({"access_token": "t", "token_type": "Bearer", "expires_in": 3600}))

    @app.get(f"/v1/{ORG}/invoices")
    def invoices() -> Response:
        return listing("invoices-list.json")

    @app.get(f"/v1/{ORG}/invoices/<guid>")
    def invoice(guid: str) -> Response:
        detail = fixture("invoice-detail.json")
        if guid != detail["Guid"]:  # the draft: same shape, no lines yet
            detail = {**detail, "Guid": guid, "ProductLines": [], "TotalLines": None}
        return Response(json.dumps(detail), mimetype="application/json")

    @app.get(f"/v1/{ORG}/contacts")
    def contacts() -> Response:
        return listing("contacts-list.json")

    @app.get(f"/v1/{ORG}/products")
    def products() -> Response:
        return listing("products-list.json")

    return app


@pytest.fixture
def older_api() -> Iterator[str]:
    server = make_server("127.0.0.1", 0, _older_api(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_records_shaped_like_older_examples_are_emitted_and_validate(older_api: str, tmp_path: Path) -> None:
    config = {
        "client_id": "c",
        "client_secret": "s",
        "api_key": "k",
        "organization_id": ORG,
        "api_url": older_api,
        "token_url": f"{older_api}/token",
        "quota_backend": "memory",
        "quota_cache_dir": str(tmp_path),
    }
    result = run_tap(config, streams=["invoices", "invoice_lines", "contacts", "products"])
    assert result.error is None
    schemas = {m["stream"]: m["schema"] for m in result.messages if m["type"] == "SCHEMA"}
    counts = {
        name: len(result.stream(name)) for name in ("invoices", "invoice_lines", "contacts", "products")
    }
    assert counts == {"invoices": 2, "invoice_lines": 1, "contacts": 1, "products": 1}
    for stream, records in result.records.items():
        validator = Draft202012Validator(schemas[stream])
        for record in records:
            errors = [e.message for e in validator.iter_errors(record)]
            assert not errors, (stream, errors)
    invoice = next(r for r in result.stream("invoices") if r["Number"] == 7)
    assert "TotalExclVatInDkk" not in invoice or invoice["TotalExclVatInDkk"] is None
    assert invoice["ProductLines"][0]["Description"] == "Rengøring"
