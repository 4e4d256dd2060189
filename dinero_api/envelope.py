"""Dinero's answer bodies: JSON with exact money, list envelopes, and the one rule for when paging stops.

Every reader of Dinero (the tap's streams, the target's look-ups and scans) decodes and pages through
these functions, so the wire rules live in one place (:func:`iter_pages` is the page loop of the target's
reads; the tap pages through the SDK's paginator on :func:`has_more`):

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
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from dinero_api.errors import DineroAPIError

__all__ = ["Page", "decode_json", "field_ci", "has_more", "iter_pages", "parse_page"]

logger = logging.getLogger(__name__)

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


def iter_pages(
    get: Callable[[str, dict[str, Any]], Any],
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    page_size: int,
    trust_total: bool = True,
) -> Iterator[list[Any]]:
    """Yield the rows of each page of a list endpoint (envelope or bare array), 0-based pages.

    ``get(path, params)`` returns a decoded body (``DineroClient.get_json``, the target's gateway). When to
    stop is :func:`has_more`'s rule; pass ``trust_total=False`` for ``deletedOnly`` lists and look-ups
    that must not miss a row. An answer that is not a list (a detail object, an empty body) raises
    :class:`~dinero_api.errors.DineroAPIError`: taking it for an empty list could make a look-up miss an
    existing object and the caller create it twice. An endpoint that ignores ``page`` (the chart of
    accounts answers the whole list every time) is read once.
    """
    query = dict(params or {})
    page = int(query.pop("page", 0))
    query.pop("pageSize", None)
    seen = 0
    previous_first: Any = object()
    while True:
        parsed = parse_page(get(path, {**query, "page": page, "pageSize": page_size}))
        if parsed.shape == "object":
            raise DineroAPIError(
                f"Dinero API GET {path} answered an unexpected list shape; expected a JSON array or a "
                "Collection/Pagination envelope."
            )
        if page > 0 and parsed.rows and parsed.rows[0] == previous_first:
            logger.warning("%s ignores page/pageSize; stopping after page %d", path, page - 1)
            return
        previous_first = parsed.rows[0] if parsed.rows else previous_first
        seen += len(parsed.rows)
        if parsed.rows:
            yield parsed.rows
        if not has_more(parsed, page_size=page_size, rows_seen=seen, trust_total=trust_total):
            return
        page += 1
