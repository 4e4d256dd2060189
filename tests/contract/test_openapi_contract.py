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
from tests.sandbox.conftest import Api
from tests.sandbox.scenarios import SCENARIOS

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
    "purchase/creditnotes": ("purchase_creditnotes", "Guid"),
}
#: Segment right after a parameter -> the collection whose parent column feeds it (only invoices that have
#: reminders, only contacts that have notes: otherwise ``.../reminders/email/template`` never finds one).
PARENT_POOLS = {
    "reminders": ("reminders", "VoucherGuid"),
    "notes": ("contact_notes", "ContactGuid"),
}
#: Segment before a child parameter -> (collection, id column, parent column): the child id is drawn among
#: the children of the parent drawn for the parameter before it (a note of that contact).
CHILD_POOLS = {
    "notes": ("contact_notes", "Id", "ContactGuid"),
    "reminders": ("reminders", "Id", "VoucherGuid"),
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
    segments = path.lower().split("/")
    index = segments.index("{" + param.lower() + "}")
    before = segments[index - 1] if index > 0 else ""
    after = segments[index + 1] if index + 1 < len(segments) else ""
    if param == "accountingYear":
        return ("accountingyears", "Name")
    if after in PARENT_POOLS:
        return PARENT_POOLS[after]
    return POOLS.get(f"{segments[index - 2]}/{before}") or POOLS.get(before)


def _child_source(path: str, param: str) -> tuple[str, str, str] | None:
    """(collection, id column, parent column) of a parameter that names a child of the one before it."""
    segments = path.lower().split("/")
    index = segments.index("{" + param.lower() + "}")
    if index >= 2 and segments[index - 2].startswith("{"):
        return CHILD_POOLS.get(segments[index - 1])
    return None


def _create_children(sandbox: SandboxServer, headers: dict[str, str]) -> None:
    """Objects the demo seed has none of, created through the API as a user would (a few contact notes,
    draft reminders on booked unpaid invoices, a draft purchase credit note), so the detail reads of these
    kinds are answered 200 and their bodies checked."""
    base = f"{sandbox.url}/v1/{ORG}"
    contacts = [c for c in sandbox.dump(ORG, "contacts") if not c.get("DeletedAt")]
    for contact in contacts[:3]:
        created = requests.post(
            f"{base}/contacts/{contact['ContactGuid']}/notes",
            json={"Text": "Ringede om betaling."},
            headers=headers,
            timeout=30,
        )
        assert created.status_code == 200, created.text
    invoices = [
        i
        for i in sandbox.dump(ORG, "invoices")
        if i["Status"] == "Booked"
        and not i.get("DeletedAt")
        and i.get("PaymentStatus") not in ("Paid", "OverPaid")
    ]
    reminded = 0
    for inv in invoices:
        created = requests.post(
            f"{base}/invoices/{inv['Guid']}/reminders",
            json={
                "Timestamp": inv["TimeStamp"],
                "Date": date.today().isoformat(),
                "WithDebtCollectionWarning": False,
                "WithFee": True,
                "WithInterestFee": False,
                "WithCompensationFee": False,
            },
            headers=headers,
            timeout=30,
        )
        reminded += created.status_code == 200
        if reminded == 3:
            break
    assert reminded == 3
    vouchers = [
        v for v in sandbox.dump(ORG, "purchase_vouchers") if v["Status"] == "Booked" and v.get("ContactGuid")
    ]
    for voucher in vouchers[:2]:
        created = requests.post(
            f"{base}/vouchers/purchase/creditnotes",
            json={
                "CreditNoteFor": voucher["Guid"],
                "ContactGuid": voucher["ContactGuid"],
                "Lines": [{"AccountNumber": 2000, "Amount": 100, "Description": "Retur"}],
            },
            headers=headers,
            timeout=30,
        )
        assert created.status_code == 200, created.text


@pytest.fixture(scope="module")
def pools(contract_sandbox: SandboxServer, auth_headers: dict[str, str]) -> dict[tuple[str, ...], list[Any]]:
    """Ids of the seeded (and a few created) objects, by (collection, column); children as (parent, id)
    pairs by (collection, id column, parent column)."""
    _create_children(contract_sandbox, auth_headers)
    out: dict[tuple[str, ...], list[Any]] = {}
    for collection, column in {*POOLS.values(), *PARENT_POOLS.values(), ("accountingyears", "Name")}:
        rows = contract_sandbox.dump(ORG, collection)
        out[(collection, column)] = sorted({str(r[column]) for r in rows if r.get(column)})[:40]
    for collection, column, parent in CHILD_POOLS.values():
        rows = contract_sandbox.dump(ORG, collection)
        out[(collection, column, parent)] = sorted(
            {(str(r[parent]).lower(), str(r[column])) for r in rows if r.get(column)}
        )
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
    assert len(SERVED) == 136  # every operation of the spec
    assert sorted(f"{m} {r}" for m, r in routed - served) == []


@pytest.mark.parametrize(("method", "path"), SERVED, ids=[f"{m} {p}" for m, p in SERVED])
def test_operation_conforms_to_the_contract(
    method: str,
    path: str,
    contract_sandbox: SandboxServer,
    pools: dict[tuple[str, ...], list[Any]],
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
            child = _child_source(path, param)
            if child is not None:
                parent = str(fixed.get(params[params.index(param) - 1], "")).lower()
                children = [cid for pid, cid in pools.get(child, []) if pid == parent]
                drawn = data.draw(st.sampled_from([*children, None]))  # None: a generated id
                if drawn is not None:
                    fixed[param] = drawn
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
    generated_2xx = sum(1 for c in tally.values() if any(200 <= code < 300 for code in c))
    print(f"contract test: {generated_2xx}/{len(tally)} operations reached a 2xx with generated requests")
    gets = [key for key in tally if key.startswith("GET ")]
    without_200 = sorted(key for key in gets if not tally[key].get(200))
    assert gets
    assert not without_200, f"GET operations never answered 200: {without_200}"


def test_the_business_scenarios_answers_conform_to_the_contract(tally: dict[str, Counter[int]]) -> None:
    """The per-tag business scenarios (``tests/sandbox/scenarios.py``: create -> book -> pay, reminders,
    ledger items, ...) replayed on a sandbox of their own, every answer checked like a generated one: no
    5xx, a documented answer validates. Generated bodies rarely get past Dinero's rules (a current
    Timestamp, an account that exists, an unpaid invoice), so these known-good requests are what brings
    the write operations to their success answers, whose bodies are then checked too."""
    failures: list[str] = []

    def check(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        path = requests.utils.urlparse(response.url).path
        operation = SCHEMA.find_operation_by_path(response.request.method or "GET", path)
        if operation is None:
            return
        key = f"{operation.method.upper()} {operation.path}"
        tally.setdefault(key, Counter())[response.status_code] += 1
        if response.status_code >= 500:
            failures.append(f"{response.status_code} {key}: {response.text[:500]}")
            return
        try:
            operation.validate_response(response)
        except BaseException as exc:  # a FailureGroup (a BaseExceptionGroup)
            details = "\n".join(str(e) for e in getattr(exc, "exceptions", [exc]))
            failures.append(f"{response.status_code} {response.request.method} {path}: {details}"[:3000])

    with SandboxServer(seed_size="demo", quota_requests=10**9, quota_window=60.0) as sandbox:
        for tag, scenario in SCENARIOS.items():
            sandbox.reset("demo")
            sandbox.set_quota(10**9, 60.0)
            api = Api(sandbox, token_for(sandbox))
            api.session.hooks["response"].append(check)
            scenario(sandbox, api)
            assert tag
    assert not failures, "\n\n".join(failures[:3])


def test_every_served_operation_reached_a_success(tally: dict[str, Counter[int]]) -> None:
    """Each operation was answered 2xx at least once (with seeded or created objects), so its success
    body, not only its refusals, was checked against the spec."""
    without_2xx = sorted(
        key for key, counts in tally.items() if not any(200 <= code < 300 for code in counts)
    )
    succeeded = len(tally) - len(without_2xx)
    total = sum(sum(c.values()) for c in tally.values())
    print(f"\ncontract test: {succeeded}/{len(SERVED)} operations reached a 2xx ({total} requests checked)")
    assert len(tally) == len(SERVED)
    assert not without_2xx, f"{len(without_2xx)} operations never answered 2xx: {without_2xx}"
