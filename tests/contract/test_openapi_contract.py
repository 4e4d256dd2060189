"""Every operation the sandbox serves, checked against Dinero's own OpenAPI contract with schemathesis.

Operations are discovered, not listed: each operation of ``dinero_api/contract/openapi-contract.json``
whose path and method the sandbox's URL map routes is tested, so an operation the sandbox gains is
covered without new test code. For each one schemathesis generates requests from the spec's parameter
and body schemas (``CONTRACT_EXAMPLES`` per operation, default 20; the contract keeps no examples)
and checks every answer: no 5xx, and a documented answer validates against the spec's response schema, except
for the written relaxations in ``tests/contract/relaxations.py``.

Path parameters naming a document (``{guid}`` after ``invoices``, ``{contactGuid}`` ...) are drawn from
the sandbox's own objects (plus one random Guid), so detail answers are 200s whose bodies are checked,
not just 404 pages.
"""

from __future__ import annotations

import os
import re
import uuid
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from werkzeug.exceptions import MethodNotAllowed, NotFound

from dinero_api.contract import load_contract
from dinero_sandbox.app import create_app
from dinero_sandbox.state import SandboxState
from dinero_sandbox.testing import SandboxServer
from tests.contract import relaxations
from tests.contract.conftest import token_for

ORG = "100000"
EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "20"))
METHODS = ("get", "post", "put", "delete", "patch")

#: Path segment before a parameter -> (sandbox collection, id column) the parameter's values come from.
POOLS = {
    "invoices": ("invoices", "Guid"),
    "creditnotes": ("creditnotes", "Guid"),
    "tradeoffers": ("tradeoffers", "Guid"),
    "contacts": ("contacts", "ContactGuid"),
    "state-of-account": ("contacts", "ContactGuid"),
    "products": ("products", "ProductGuid"),
    "manuel": ("manual_vouchers", "Guid"),
    "purchase": ("purchase_vouchers", "Guid"),
    "purchase-vouchers": ("purchase_vouchers", "Guid"),
    "files": ("files", "FileGuid"),
    "fileguid": ("files", "FileGuid"),
    "attachments": ("invoices", "Guid"),
    "sms": ("invoices", "Guid"),
}


def served_operations() -> list[tuple[str, str]]:
    """(METHOD, spec path) of every contract operation the sandbox routes (a 404/405 from the URL map
    means not served)."""
    adapter = create_app(SandboxState("demo")).url_map.bind("localhost")
    served = []
    for path, ops in load_contract()["paths"].items():
        # "1" fits every converter the sandbox uses (a Guid string, an int id).
        concrete = re.sub(r"\{[^}]+\}", "1", path.replace("{organizationId}", ORG)).lower()
        for method in ops:
            if method not in METHODS:
                continue
            try:
                rule, _ = adapter.match(concrete, method=method.upper(), return_rule=True)
            except (NotFound, MethodNotAllowed):
                continue
            # Same shape, not a literal segment caught by a parameter (``/invoices/templates`` is not
            # ``/invoices/<guid>``).
            if _shape(rule.rule) == _shape(path.lower()):
                served.append((method.upper(), path))
    return served


def _shape(path: str) -> str:
    """A route with every parameter (``<org>``, ``{guid}``) as ``*``; ``/accounts/<kind>`` keeps its
    literal kinds by matching them as parameters too."""
    return (
        re.sub(r"<[^>]+>|\{[^}]+\}", "*", path)
        .replace("/accounts/*", "/accounts/ANY")
        .replace("/accounts/entry", "/accounts/ANY")
        .replace("/accounts/purchase", "/accounts/ANY")
        .replace("/accounts/deposit", "/accounts/ANY")
    )


SERVED = served_operations()
SCHEMA = schemathesis.openapi.from_dict(relaxations.apply(load_contract()))


def _pool_source(path: str, param: str) -> tuple[str, str] | None:
    """The collection feeding ``{param}`` in ``path``: the literal segment right before it."""
    segments = path.split("/")
    index = segments.index("{" + param + "}")
    before = segments[index - 1].lower() if index > 0 else ""
    if param == "accountingYear":
        return ("accountingyears", "Name")
    return POOLS.get(before)


@pytest.fixture(scope="module")
def pools(contract_sandbox: SandboxServer) -> dict[tuple[str, str], list[str]]:
    """Ids of the seeded objects, by (collection, column)."""
    out: dict[tuple[str, str], list[str]] = {}
    for collection, column in {*POOLS.values(), ("accountingyears", "Name")}:
        rows = contract_sandbox.dump(ORG, collection)
        out[(collection, column)] = sorted({str(r[column]) for r in rows if r.get(column)})[:40]
    return out


@pytest.fixture(scope="module")
def query_hints(contract_sandbox: SandboxServer) -> dict[str, dict[str, str]]:
    """Valid values of query parameters the spec types only as strings (entries need a date range
    inside one accounting year, at most 31 days for changes): drawn half of the time, so the read is
    answered 200 and its body checked; generated values cover the refusals."""
    year = sorted(contract_sandbox.dump(ORG, "accountingyears"), key=lambda y: y["FromDate"])[-1]
    start = date.fromisoformat(year["FromDate"][:10])
    now = datetime.now(timezone.utc)
    return {
        "GET /v1/{organizationId}/entries": {
            "fromDate": start.isoformat(),
            "toDate": (start + timedelta(days=30)).isoformat(),
        },
        "GET /v1/{organizationId}/entries/changes": {
            "changesFrom": (now - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "changesTo": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    }


@pytest.fixture(scope="module")
def auth_headers(contract_sandbox: SandboxServer) -> dict[str, str]:
    """Bearer token of the demo organization."""
    return {"Authorization": f"Bearer {token_for(contract_sandbox)}"}


@pytest.fixture(scope="module")
def tally() -> dict[str, Counter[int]]:
    """Status codes answered, by operation (for the coverage assertions and the summary)."""
    return {}


def test_operations_are_discovered_from_the_contract_and_the_url_map() -> None:
    """Every Dinero route of the sandbox is an operation of the contract, and so is tested here: a route
    the spec does not have would be an invented endpoint."""
    served = {(m, _shape(p.lower())) for m, p in SERVED}
    app = create_app(SandboxState("demo"))
    routed = {
        (method, _shape(rule.rule))
        for rule in app.url_map.iter_rules()
        if re.match(r"^/v\d", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert len(SERVED) >= 50
    assert sorted(f"{m} {r}" for m, r in routed - served) == []


@pytest.mark.parametrize(("method", "path"), SERVED, ids=[f"{m} {p}" for m, p in SERVED])
def test_operation_conforms_to_the_contract(
    method: str,
    path: str,
    contract_sandbox: SandboxServer,
    pools: dict[tuple[str, str], list[str]],
    auth_headers: dict[str, str],
    query_hints: dict[str, dict[str, str]],
    tally: dict[str, Counter[int]],
) -> None:
    """Generated requests to one operation: no server error, documented answers match the spec."""
    operation = SCHEMA[path][method]
    params = re.findall(r"\{([^}]+)\}", path)
    session = requests.Session()
    statuses: Counter[int] = tally.setdefault(f"{method} {path}", Counter())
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        fixed: dict[str, Any] = {}
        for param in params:
            if param == "organizationId":
                fixed[param] = ORG
                continue
            source = _pool_source(path, param)
            if source is not None and pools.get(source):
                fixed[param] = data.draw(st.sampled_from([*pools[source], str(uuid.UUID(int=7))]))
        hints = query_hints.get(f"{method} {path}")
        query = hints if hints and data.draw(st.booleans()) else None
        case = data.draw(operation.as_strategy(path_parameters=fixed, query=query))
        response = case.call(base_url=contract_sandbox.url, session=session, headers=auth_headers)
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
        except BaseException as exc:  # schemathesis raises a FailureGroup (a BaseExceptionGroup)
            failures.append(f"{response.status_code} {case.method} {case.formatted_path}: {exc}"[:3000])

    run()
    assert not failures, "\n\n".join(failures[:3])
    assert statuses.get(500, 0) == 0


def test_detail_and_list_reads_were_answered_with_bodies_that_the_check_validated(
    tally: dict[str, Counter[int]],
) -> None:
    """The response check ran on real answers: every served GET answered 200 at least once (a test that
    only met 404 pages and 400 refusals would prove nothing about the response schemas)."""
    total = sum(sum(c.values()) for c in tally.values())
    by_status: Counter[int] = Counter()
    for counts in tally.values():
        by_status.update(counts)
    statuses = dict(sorted(by_status.items()))
    print(f"\ncontract test: {len(tally)} operations, {total} requests, by status {statuses}")
    gets = [key for key in tally if key.startswith("GET ")]
    without_200 = sorted(key for key in gets if not tally[key].get(200))
    assert gets
    assert not without_200, f"GET operations never answered 200: {without_200}"
