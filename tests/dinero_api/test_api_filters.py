"""queryFilter building (escaping, allow-list) and Dinero date-time formats."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dinero_api.errors import DineroConfigError
from dinero_api.filters import allowed_fields, contains, endpoint_key, eq, query_filter, quote_value

CONDITION = re.compile(r"^(?P<field>[A-Za-z][A-Za-z0-9]*) (?P<op>eq|contains) '(?P<value>(?:[^']|'')*)'$")


def split_conditions(text: str) -> list[str]:
    """Split on ';' outside quotes, the way a quote-aware parser would."""
    parts, current, quoted = [], "", False
    for ch in text:
        if ch == "'":
            quoted = not quoted
        if ch == ";" and not quoted:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current]


def test_conditions_render_in_dinero_filter_syntax() -> None:
    assert eq("Name", "John Doe") == "Name eq 'John Doe'"
    assert contains("Name", "AMINO") == "Name contains 'AMINO'"
    assert eq("IsPerson", True) == "IsPerson eq 'true'"
    assert query_filter(Name="Foo", Email="a@b.dk") == "Name eq 'Foo';Email eq 'a@b.dk'"
    assert (
        query_filter(eq("Name", "x"), contains("Email", "@firma.dk"))
        == "Name eq 'x';Email contains '@firma.dk'"
    )


def test_quotes_and_semicolons_cannot_break_out_of_the_value() -> None:
    text = query_filter(Name="O'Brien';Email eq 'x")
    assert text == "Name eq 'O''Brien'';Email eq ''x'"
    assert len(split_conditions(text)) == 1  # still one condition


@given(st.text(alphabet=st.characters(blacklist_characters="\r\n\x00"), max_size=40))
def test_any_value_round_trips_as_one_condition(value: str) -> None:
    text = eq("Name", value)
    (only,) = split_conditions(text)
    match = CONDITION.match(only)
    assert match is not None
    assert match.group("value").replace("''", "'") == value


@pytest.mark.parametrize("field", ["Name;Email", "Name eq 'x'", "1Name", "", "Na me", "Name'"])
def test_unsafe_field_names_are_refused(field: str) -> None:
    with pytest.raises(DineroConfigError):
        eq(field, "x")


def test_allow_list_per_endpoint() -> None:
    assert endpoint_key("/v1/{org}/sales/creditnotes") == "sales/creditnotes"
    assert endpoint_key("/v1/100000/contacts") == "contacts"
    assert "VatNumber" in allowed_fields("/v1/{org}/contacts")
    assert (
        query_filter(endpoint="/v1/{org}/contacts", externalreference="R-1") == "ExternalReference eq 'R-1'"
    )
    with pytest.raises(DineroConfigError, match="not filterable"):
        query_filter(endpoint="/v1/{org}/invoices", Name="x")
    with pytest.raises(DineroConfigError, match="not filterable"):
        eq("Name", "x", endpoint="/v1/{org}/accounts/entry")


def test_hand_written_conditions_are_refused() -> None:
    with pytest.raises(DineroConfigError):
        query_filter("Name eq 'a';Email eq 'b'")
    with pytest.raises(DineroConfigError):
        quote_value(1.5)  # type: ignore[arg-type]
    with pytest.raises(DineroConfigError):
        query_filter()
