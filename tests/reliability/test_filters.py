"""queryFilter values built by dinero_api.filters cannot change a filter: whatever the value holds
(quotes, ``;``, ``eq``/``contains``, unicode), Dinero (the sandbox) answers exactly the rows whose field
equals / contains that value, and values no filter can carry are refused before any request.

Guarantee: user data cannot change a query (docs/GUARANTEES.md).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from dinero_api.client import DineroClient
from dinero_api.errors import DineroConfigError
from dinero_api.filters import contains, eq, query_filter
from dinero_api.settings import DineroSettings
from tests.harness import ORG

from .strategies import INJECTIONS, UNFILTERABLE

SETTINGS = settings(
    max_examples=int(os.environ.get("REL_EXAMPLES", "40")),
    deadline=None,
    derandomize=True,
    database=None,
    phases=None if os.environ.get("REL_SHRINK") else [Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters=UNFILTERABLE)
filter_values = st.one_of(
    st.sampled_from(INJECTIONS),
    st.text(_CHARS, min_size=1, max_size=25),
    st.tuples(st.text(_CHARS, max_size=6), st.sampled_from(INJECTIONS), st.text(_CHARS, max_size=6)).map(
        "".join
    ),
).filter(lambda v: v != "")
FIELDS = ("Name", "Email", "ExternalReference")


def _rows(client: DineroClient, query: str) -> set[str]:
    body = client.get_json(
        "/v1/{org}/contacts", {"queryFilter": query, "fields": "ContactGuid,Name,Email", "pageSize": 1000}
    )
    return {row["ContactGuid"] for row in body["Collection"]}


def _stored(sandbox) -> list[dict[str, Any]]:
    return [c for c in sandbox.dump(ORG, "contacts") if not c["DeletedAt"]]


def test_filter_values_are_data_never_syntax(sandbox, fast_settings: dict[str, Any]) -> None:
    client = DineroClient(DineroSettings.from_config(fast_settings))
    tried = 0

    @SETTINGS
    @given(value=filter_values, field=st.sampled_from(FIELDS), decoy=filter_values)
    def check(value: str, field: str, decoy: str) -> None:
        nonlocal tried
        # a contact holding the value itself, and one holding what an injection might aim at
        sandbox.mutate(
            ORG, "contacts", "create", fields={"Name": value, "Email": value, "ExternalReference": value}
        )
        sandbox.mutate(ORG, "contacts", "create", fields={"Name": decoy, "Email": decoy + value})
        stored = _stored(sandbox)

        def wanted(test) -> set[str]:
            return {c["ContactGuid"] for c in stored if test(str(c.get(field) or "").lower())}

        low = value.lower()
        assert _rows(client, eq(field, value, endpoint="/v1/{org}/contacts")) == wanted(lambda s: s == low)
        assert _rows(client, contains(field, value, endpoint="/v1/{org}/contacts")) == wanted(
            lambda s: low in s
        )
        both = query_filter(eq("Name", value), contains("Email", value))
        assert _rows(client, both) == {
            c["ContactGuid"]
            for c in stored
            if str(c.get("Name") or "").lower() == low and low in str(c.get("Email") or "").lower()
        }
        tried += 1

    check()
    refused = [r for r in sandbox.requests() if 400 <= r["status"] < 500]
    assert refused == [], refused
    print(f"queryFilter round trips: {tried} hostile values, 3 filters each")


@pytest.mark.parametrize("value", ["a\nb", "line\r\nbreak", "nul\x00byte", "\n"])
def test_values_no_filter_can_carry_are_refused_before_any_request(sandbox, fast_settings, value) -> None:
    client = DineroClient(DineroSettings.from_config(fast_settings))
    before = len(sandbox.requests())
    with pytest.raises(DineroConfigError, match="line breaks or NUL"):
        client.get_json("/v1/{org}/contacts", {"queryFilter": eq("Email", value)})
    assert len(sandbox.requests()) == before


@pytest.mark.parametrize(
    "field", ["Name eq 'x';Email", "Name;", "Na me", "Name'", "CreatedAt", "ContactGuid", "DeletedAt"]
)
def test_unsafe_or_unfilterable_field_names_are_refused_locally(field: str) -> None:
    with pytest.raises(DineroConfigError):
        eq(field, "x", endpoint="/v1/{org}/contacts")
