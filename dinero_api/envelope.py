"""Dinero's answer bodies: JSON with exact money, list envelopes, and the one rule for when paging stops.

Every reader of Dinero (the tap's streams, the target's look-ups, :class:`dinero_api.client.DineroClient`)
decodes and pages through these functions, so the wire rules live in one place:

* **Numbers** are decoded as :class:`decimal.Decimal` (``1.10`` stays ``1.10``; a float would turn money
  into binary fractions). Integers stay ``int``. msgspec does the decoding (it ships with
  ``singer-sdk[msgspec]``); it is several times faster than the standard library with ``parse_float``.
* **Shapes**: a list endpoint answers an envelope ``{"Collection": [...], "Pagination": {...}}`` or a bare
  array (``/files``, ``/accounts/*``); a detail endpoint answers one object. Field names come back in
  the casing the request asked for (REFERENCE §3.3), so the envelope is read case-insensitively.
* **When to stop paging** (REFERENCE §3.1-3.2, pages are 0-based offsets): after a page shorter than
  ``pageSize`` -- the rule that needs no counts -- or after a full page when the envelope's
  ``Pagination.ResultWithoutFilter`` says nothing is left. That count is ambiguous (the total before or
  after filters), so it is trusted only where both readings are safe: on a plain or ``changesSince``
  list the filtered set is a subset of the unfiltered one, so ``rows seen >= count`` means all was read
  under either reading. A ``deletedOnly`` pass, a ``queryFilter`` look-up that must not miss a row, and
  bare arrays (no count) follow a full page with one more request.
"""

from __future__ import annotations

import dataclasses
import decimal
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["Page", "decode_json", "field_ci", "has_more", "parse_page"]

try:
    import msgspec

    _DECODER: Any = msgspec.json.Decoder(float_hook=decimal.Decimal)
    _DECODE_ERRORS: tuple[type[Exception], ...] = (msgspec.DecodeError, ValueError)
except ImportError:  # pragma: no cover - msgspec comes with singer-sdk[msgspec]
    _DECODER = None
    _DECODE_ERRORS = (ValueError,)


def decode_json(content: bytes | str) -> Any:
    """Decode a JSON body with money as Decimal; raises ``ValueError`` when it is not JSON."""
    if _DECODER is not None:
        try:
            return _DECODER.decode(content)
        except _DECODE_ERRORS as exc:
            raise ValueError(f"not JSON: {exc}") from None
    return json.loads(content, parse_float=decimal.Decimal)


def field_ci(row: Mapping[str, Any], name: str) -> Any:
    """``row[name]`` with the name's casing ignored (Dinero echoes the casing of requested fields)."""
    if name in row:
        return row[name]
    lowered = name.lower()
    for key, value in row.items():
        if str(key).lower() == lowered:
            return value
    return None


@dataclasses.dataclass(frozen=True)
class Page:
    """One decoded answer: its rows, and the envelope's unfiltered count when it has one."""

    rows: list[Any]
    #: ``Pagination.ResultWithoutFilter``; None for bare arrays and single objects.
    total: int | None = None
    #: "envelope", "array" or "object".
    shape: str = "envelope"


def parse_page(body: Any) -> Page:
    """The rows of an envelope, a bare array or a single detail object."""
    if isinstance(body, list):
        return Page(body, None, "array")
    if not isinstance(body, dict):
        return Page([], None, "object")
    collection = field_ci(body, "Collection") if "Collection" not in body else body["Collection"]
    if collection is None and not any(str(k).lower() == "collection" for k in body):
        return Page([body], None, "object")
    total: int | None = None
    pagination = field_ci(body, "Pagination")
    if isinstance(pagination, dict):
        raw = field_ci(pagination, "ResultWithoutFilter")
        if isinstance(raw, int) and not isinstance(raw, bool):
            total = raw
    return Page(list(collection or []), total, "envelope")


def has_more(page: Page, *, page_size: int, rows_seen: int, trust_total: bool = True) -> bool:
    """Whether another page must be requested after ``page`` (``rows_seen`` includes its rows).

    ``trust_total``: False on a ``deletedOnly`` pass and on look-ups that must not miss a row (see the
    module docstring); a full page is then always followed by one more request.
    """
    if len(page.rows) < page_size:
        return False
    if trust_total and page.total is not None:
        return rows_seen < page.total
    return True
