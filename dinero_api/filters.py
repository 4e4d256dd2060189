"""Builders for Dinero's ``queryFilter`` parameter (REFERENCE §3.4).

Syntax: ``Field eq 'value'`` or ``Field contains 'value'``; several conditions joined by ``;`` are
AND-ed; values are matched case-insensitively. Only some fields of some endpoints are filterable;
:data:`FILTERABLE_FIELDS` is the allow-list from the reference and :func:`query_filter` refuses the
others locally (Dinero would answer 400 / code 46).

Escaping is the uncertain part: Dinero documents no way to put a single quote inside a value. We
double it (``O'Brien`` -> ``'O''Brien'``), the SQL/OData convention, which at least cannot close the
quoted value early; whether Dinero's parser reads ``''`` back as one quote is unverified (open question
in REFERENCE §3.4), and a parser that escapes with a backslash instead (``\\'``) reads ``''`` as the end
of the value. A ``;`` inside a value stays inside the quotes, so it cannot start a new condition as long
as the parser honours quotes -- also unverified. Field names must be plain identifiers.

So the plugins never depend on the escaping: :func:`lookup` finds a value holding a quote or a backslash
with ``contains`` on its longest fragment free of both (no escaping needed under either convention) and
tells the caller to keep only the rows whose field equals the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from dinero_api.errors import DineroConfigError

__all__ = [
    "FILTERABLE_FIELDS",
    "allowed_fields",
    "contains",
    "endpoint_key",
    "eq",
    "lookup",
    "query_filter",
    "quote_value",
    "searchable",
]

Operator = Literal["eq", "contains"]
FilterValue = str | int | bool

#: Filterable fields per list endpoint (REFERENCE §3.4). Keys are paths after ``/vN/{org}/``.
FILTERABLE_FIELDS: dict[str, frozenset[str]] = {
    "contacts": frozenset(
        {"ExternalReference", "Name", "Email", "VatNumber", "EanNumber", "IsPerson", "Phone"}
    ),
    "products": frozenset({"Name", "ProductNumber", "ExternalReference"}),
    "invoices": frozenset({"ExternalReference", "ContactGuid", "Description"}),
    "sales": frozenset({"ExternalReference", "ContactGuid", "Description"}),
    "sales/creditnotes": frozenset({"ExternalReference", "ContactGuid", "Description"}),
    "tradeoffers": frozenset(
        {
            "ExternalReference",
            "ContactName",
            "Address",
            "Comment",
            "Description",
            "HasGeneratedAnyVouchers",
            "Currency",
            "Date",
            "Number",
        }
    ),
}

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_ENDPOINT = re.compile(r"^/?(?:v\d+(?:\.\d+)?/)?(?:\{org\}/|\{organizationId\}/|\d+/)?(?P<rest>[^?]*?)/?$")


def endpoint_key(path: str) -> str:
    """``/v1/{org}/sales/creditnotes`` -> ``sales/creditnotes`` (lower-case, for the allow-list)."""
    match = _ENDPOINT.match(path.strip())
    return (match.group("rest") if match else path).lower()


def allowed_fields(endpoint: str) -> frozenset[str]:
    """Filterable fields of ``endpoint`` (a path or key); empty when it supports no queryFilter."""
    return FILTERABLE_FIELDS.get(endpoint_key(endpoint), frozenset())


def _check_field(field: str, endpoint: str | None) -> str:
    if not isinstance(field, str) or not _IDENTIFIER.match(field):
        raise DineroConfigError(
            f"queryFilter field {field!r} is not a plain identifier (letters and digits)."
        )
    if endpoint is not None:
        allowed = allowed_fields(endpoint)
        canonical = {name.lower(): name for name in allowed}
        if field.lower() not in canonical:
            names = ", ".join(sorted(allowed)) or "none"
            raise DineroConfigError(
                f"queryFilter field {field!r} is not filterable on {endpoint_key(endpoint)!r} "
                f"(filterable: {names})."
            )
        return canonical[field.lower()]
    return field


def quote_value(value: FilterValue) -> str:
    """Quote a filter value: ``'...'``, inner single quotes doubled, booleans as ``'true'``/``'false'``."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise DineroConfigError(f"queryFilter values must be str, int or bool (got {type(value).__name__}).")
    if any(ch in text for ch in "\r\n\x00"):
        raise DineroConfigError("queryFilter values must not contain line breaks or NUL characters.")
    return "'" + text.replace("'", "''") + "'"


def _condition(field: str, operator: Operator, value: FilterValue, endpoint: str | None) -> str:
    if operator == "contains" and not isinstance(value, str):
        raise DineroConfigError("queryFilter 'contains' takes a string value.")
    return f"{_check_field(field, endpoint)} {operator} {quote_value(value)}"


def eq(field: str, value: FilterValue, *, endpoint: str | None = None) -> str:
    """``Field eq 'value'`` (checked against ``endpoint``'s filterable fields when given)."""
    return _condition(field, "eq", value, endpoint)


def contains(field: str, value: str, *, endpoint: str | None = None) -> str:
    """``Field contains 'value'`` (string fields only)."""
    return _condition(field, "contains", value, endpoint)


def query_filter(*conditions: str, endpoint: str | None = None, **equals: FilterValue) -> str:
    """Join conditions into one queryFilter string (AND).

    Positional arguments are conditions built by :func:`eq` / :func:`contains`; keyword arguments are
    shorthand for ``eq``: ``query_filter(Name="O'Brien", IsPerson=True)`` ->
    ``"Name eq 'O''Brien';IsPerson eq 'true'"``. With ``endpoint`` (e.g. ``"/v1/{org}/contacts"``)
    every keyword field is checked against the allow-list.
    """
    parts: list[str] = list(_validated(conditions))
    parts.extend(eq(field, value, endpoint=endpoint) for field, value in equals.items())
    if not parts:
        raise DineroConfigError("query_filter needs at least one condition.")
    return ";".join(parts)


_BUILT = re.compile(r"^[A-Za-z][A-Za-z0-9]* (?:eq|contains) '(?:[^']|'')*'$")


def _validated(conditions: Iterable[str]) -> Iterable[str]:
    for condition in conditions:
        if not isinstance(condition, str) or not _BUILT.match(condition):
            raise DineroConfigError(
                f"query_filter condition {condition!r} was not built by eq()/contains(); build it with them."
            )
        yield condition


_UNESCAPED = re.compile(r"['\\\\]+")


def searchable(value: str) -> bool:
    """Whether a value can be looked up without relying on quote escaping (it has a character besides
    quotes, backslashes and spaces, see :func:`lookup`)."""
    return any(part.strip() for part in _UNESCAPED.split(value))


def lookup(field: str, value: FilterValue, *, endpoint: str | None = None) -> tuple[str, bool]:
    """A filter that finds the rows whose ``field`` equals ``value`` under either quote escaping.

    Returns ``(queryFilter, exact)``. ``exact`` is True for ``eq`` (a value without quote or backslash).
    Otherwise the filter is ``contains`` on the longest fragment of the value free of quotes and
    backslashes, which needs no escaping, and the caller must keep only rows equal to ``value`` (and read
    every page: more rows may match the fragment). A value with no such fragment cannot be looked up:
    DineroConfigError.
    """
    if not isinstance(value, str) or not _UNESCAPED.search(value):
        return eq(field, value, endpoint=endpoint), True
    fragment = max(_UNESCAPED.split(value), key=len)
    if not fragment.strip():
        raise DineroConfigError(
            f"queryFilter value {value!r} has nothing but quotes and backslashes: it cannot be looked up "
            "whatever Dinero's quote escaping is."
        )
    return contains(field, fragment, endpoint=endpoint), False
