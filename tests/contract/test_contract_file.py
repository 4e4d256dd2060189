"""The committed contract (dinero_api/contract/openapi-contract.json) holds facts only, names its source,
and is what the project reads (never ../shared)."""

from __future__ import annotations

from typing import Any

from dinero_api.contract import load_contract

PROSE_KEYS = {"summary", "example", "examples", "tags", "title"}


def _keys(node: Any, trail: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            inside_properties = bool(trail) and trail[-1] == "properties"
            if not inside_properties:
                out.append((*trail, key))
            out.extend(_keys(value, (*trail, key)))
    elif isinstance(node, list):
        for value in node:
            out.extend(_keys(value, trail))
    return out


def test_contract_names_the_spec_it_was_derived_from() -> None:
    source = load_contract()["x-source"]
    assert source["sha256"] == "3e42dea1e1107c562175f4ed9d588c1175e99f0306ee85290f4d9f8427487e78"


def test_contract_has_every_operation_and_schema_and_no_prose() -> None:
    contract = load_contract()
    operations = [(m, p) for p, ops in contract["paths"].items() for m in ops]
    assert len(operations) == 136
    assert len(contract["components"]["schemas"]) == 162
    keys = _keys(contract)
    assert not [k for k in keys if k[-1] in PROSE_KEYS and k[0] != "info"]
    descriptions = [k for k in keys if k[-1] == "description"]
    # OpenAPI requires a description on each response object: kept, empty.
    assert all(k[-3] == "responses" for k in descriptions)


def test_fields_options_are_kept_as_facts() -> None:
    params = load_contract()["paths"]["/v1/{organizationId}/invoices"]["get"]["parameters"]
    fields = next(p for p in params if p["name"] == "fields")
    assert {"Guid", "TotalExclVatInDkk", "UpdatedAt", "DeletedAt", "ContactName"} <= set(
        fields["x-fields-options"]
    )


def test_sandbox_reads_the_contract_file_without_importing_plugin_or_client_code() -> None:
    """The sandbox shares data with the plugins, never code (docs: DESIGN): building the app and checking
    a request body against the contract imports no dinero_api, tap_dinero or target_dinero module."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from dinero_sandbox.app import create_app\n"
        "from dinero_sandbox.state import SandboxState\n"
        "from dinero_sandbox import contract\n"
        "app = create_app(SandboxState('demo'))\n"
        "assert contract.operation_for('POST', '/v1/<org>/invoices')[0] == '/v1/{organizationId}/invoices'\n"
        "assert contract._validator('/v1/{organizationId}/invoices', 'post') is not None\n"
        "plugin = ('dinero_api', 'tap_dinero', 'target_dinero')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in plugin)\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=".")
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
