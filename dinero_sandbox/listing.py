"""List-query mechanics shared by the list endpoints: ``fields`` projection (echoing the requested
casing), ``queryFilter`` parsing and matching, paging parameters and the ``Collection``/``Pagination``
envelope.

``queryFilter`` grammar (REFERENCE.md §3.4): conditions ``Field eq 'value'`` or ``Field contains 'value'``
separated by ``;`` and AND-joined; values case-insensitive. Quote escaping is undocumented: the sandbox
accepts a doubled single quote (``''``) inside a quoted value as one quote (OData style) and also accepts
unquoted single-token values (``IsPerson eq true``). Anything else is code 46.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .behaviours import backslash_quotes
from .constants import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from .errors import DineroError
from .models import ListSpec
from .timeutil import parse_changes_since

_FIELD = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s+([A-Za-z]+)\s+")
_BARE_VALUE = re.compile(r"[^\s;']+")


@dataclass(frozen=True)
class Condition:
    """One parsed ``queryFilter`` condition (field already resolved to its canonical name)."""

    field: str
    op: str
    value: str

    def matches(self, actual: Any) -> bool:
        """Case-insensitive comparison of a stored value with the condition."""
        if actual is None:
            text = ""
        elif isinstance(actual, bool):
            text = "true" if actual else "false"
        elif isinstance(actual, float) and actual.is_integer():
            text = str(int(actual))
        else:
            text = str(actual)
        text = text.lower()
        if self.op == "eq":
            return text == self.value
        return self.value in text


def canonical(name: str, allowed: tuple[str, ...] | list[str]) -> str | None:
    """The canonical spelling of a field name matched case-insensitively, or None."""
    lowered = name.lower()
    for candidate in allowed:
        if candidate.lower() == lowered:
            return candidate
    return None


def parse_query_filter(text: str, spec: ListSpec) -> list[Condition]:
    """Parse a ``queryFilter``; raise code 46 for bad syntax or a field that cannot be filtered."""
    conditions: list[Condition] = []
    pos = 0
    text = text.strip()
    if not text:
        return conditions
    while True:
        match = _FIELD.match(text, pos)
        if not match:
            raise _bad_filter(text, "expected: Field eq|contains 'value'")
        name, op = match.group(1), match.group(2).lower()
        if op not in ("eq", "contains"):
            raise _bad_filter(text, f"unknown operator {op!r} (eq, contains)")
        field = canonical(name, spec.filterable)
        if field is None:
            allowed = ", ".join(spec.filterable) or "none"
            raise DineroError(
                400,
                46,
                "Invalid filter format",
                {"queryFilter": f"Field {name!r} cannot be filtered on; filterable fields: {allowed}"},
            )
        pos = match.end()
        if pos < len(text) and text[pos] == "'":
            value, pos = _quoted(text, pos)
        else:
            bare = _BARE_VALUE.match(text, pos)
            if not bare:
                raise _bad_filter(text, "missing value")
            value, pos = bare.group(0), bare.end()
        conditions.append(Condition(field, op, value.lower()))
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return conditions
        if text[pos] != ";":
            raise _bad_filter(text, "conditions must be separated by ';'")
        pos += 1
        if not text[pos:].strip():
            return conditions


def _quoted(text: str, pos: int) -> tuple[str, int]:
    """A quoted value: ``''`` is a quote (behaviours.query_quotes ``double``), or ``\\'`` is a quote and
    ``\\\\`` a backslash (``backslash``: a doubled quote then ends the value)."""
    backslash = backslash_quotes()
    out = []
    i = pos + 1
    while i < len(text):
        ch = text[i]
        if backslash and ch == "\\" and i + 1 < len(text) and text[i + 1] in "'\\":
            out.append(text[i + 1])
            i += 2
            continue
        if ch == "'":
            if backslash:
                return "".join(out), i + 1
            if i + 1 < len(text) and text[i + 1] == "'":
                out.append("'")
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise _bad_filter(text, "unterminated quoted value")


def _bad_filter(text: str, reason: str) -> DineroError:
    return DineroError(400, 46, "Invalid filter format", {"queryFilter": f"{reason}: {text}"})


@dataclass(frozen=True)
class Projection:
    """Requested output names (in the caller's casing) paired with canonical field names."""

    pairs: tuple[tuple[str, str], ...]

    @property
    def canonical_fields(self) -> list[str]:
        """Canonical names in request order."""
        return [c for _, c in self.pairs]

    def apply(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Rename a canonical record to the requested names."""
        return {out: record.get(c) for out, c in self.pairs}


def parse_fields(raw: str | None, spec: ListSpec) -> Projection:
    """Resolve ``fields`` (comma list, case-insensitive); unknown names are refused (code 44)."""
    requested = [f.strip() for f in raw.split(",")] if raw else list(spec.default_fields)
    pairs = []
    seen = set()
    for name in requested:
        if not name:
            continue
        field = canonical(name, spec.allowed_fields)
        if field is None:
            raise DineroError(
                400,
                44,
                "Invalid format",
                {"fields": f"Unknown field {name!r}; possible fields: {', '.join(spec.allowed_fields)}"},
            )
        if field in seen:
            continue
        seen.add(field)
        pairs.append((name, field))
    return Projection(tuple(pairs))


def parse_int(args: Mapping[str, str], name: str, default: int) -> int:
    """An integer query parameter (code 44 when not an integer)."""
    raw = _arg(args, name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise DineroError(400, 44, "Invalid format", {name: f"{raw!r} is not an integer"}) from None


def parse_paging(args: Mapping[str, str], default_size: int = DEFAULT_PAGE_SIZE) -> tuple[int, int]:
    """``page`` (0-based) and ``pageSize`` (max 1000: code 43 above it)."""
    page = parse_int(args, "page", 0)
    size = parse_int(args, "pageSize", default_size)
    if page < 0:
        raise DineroError(400, 44, "Invalid format", {"page": "page must be 0 or more"})
    if size > MAX_PAGE_SIZE:
        raise DineroError(
            400,
            43,
            "Limit Exceeded",
            {"pageSize": f"The maximum allowed page size is {MAX_PAGE_SIZE}, got {size}"},
        )
    if size <= 0:
        raise DineroError(400, 44, "Invalid format", {"pageSize": "pageSize must be 1 or more"})
    return page, size


def parse_bool(args: Mapping[str, str], name: str, default: bool | None) -> bool | None:
    """A boolean query parameter (``true``/``false``, case-insensitive)."""
    raw = _arg(args, name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise DineroError(400, 44, "Invalid format", {name: f"{raw!r} is not a boolean"})


def parse_since(args: Mapping[str, str]) -> str | None:
    """``changesSince`` as a comparable record time (code 44 unless ``YYYY-MM-DDTHH:MM:SSZ``)."""
    raw = _arg(args, "changesSince")
    if raw is None or raw == "":
        return None
    since = parse_changes_since(raw)
    if since is None:
        raise DineroError(
            400,
            44,
            "Invalid format",
            {"changesSince": f"{raw!r} must be UTC in the format YYYY-MM-DDTHH:mm:ssZ"},
        )
    return since


def _arg(args: Mapping[str, str], name: str) -> str | None:
    """A query parameter by case-insensitive name."""
    if name in args:
        return args[name]
    lowered = name.lower()
    for key in args:
        if key.lower() == lowered:
            return args[key]
    return None


def arg(args: Mapping[str, str], name: str) -> str | None:
    """Public case-insensitive query parameter lookup."""
    return _arg(args, name)


def envelope(collection: list[dict[str, Any]], page: int, page_size: int, total: int) -> dict[str, Any]:
    """Dinero's paged list envelope. ``ResultWithoutFilter``: count after filters, before paging (the
    SPEC's own description; the reference marks the name ambiguous)."""
    return {
        "Collection": collection,
        "Pagination": {
            "MaxPageSizeAllowed": MAX_PAGE_SIZE,
            "PageSize": page_size,
            "Result": len(collection),
            "ResultWithoutFilter": total,
            "Page": page,
        },
    }
