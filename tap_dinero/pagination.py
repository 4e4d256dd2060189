"""Page-number pagination for Dinero lists: 0-based ``page``, stop without an empty-page request.

Dinero lists are offset pages (``page``/``pageSize``, REFERENCE §3.2). The paginator stops:

* after a page shorter than ``pageSize`` (the rule that needs no counts), or
* after a full page, when the envelope's ``Pagination.ResultWithoutFilter`` says nothing is left.

The count is ambiguous (REFERENCE §3.1: it may be the total before or after ``changesSince``), so it is
only trusted where either reading is safe: on a normal list the filtered set is a subset of the
unfiltered one, so ``records seen >= ResultWithoutFilter`` means everything was read under both readings.
A ``deletedOnly=true`` pass may hold rows the unfiltered count leaves out, so there (and on bare-array
endpoints such as ``/files``, which carry no count) a full page is followed by one more request.
"""

from __future__ import annotations

import decimal
import typing as t

from singer_sdk.pagination import PageNumberPaginator

if t.TYPE_CHECKING:
    import requests

__all__ = ["DineroPaginator", "page_records", "page_total"]

_RECORDS_ATTR = "_dinero_page_records"
_TOTAL_ATTR = "_dinero_page_total"


def _parse(response: requests.Response) -> None:
    body = response.json(parse_float=decimal.Decimal)
    total: int | None = None
    if isinstance(body, dict):
        # Envelope {"Collection": [...], "Pagination": {...}}; read it case-insensitively.
        lowered = {str(k).lower(): v for k, v in body.items()}
        if "collection" in lowered:
            records = lowered["collection"] or []
            pagination = lowered.get("pagination")
            if isinstance(pagination, dict):
                counts = {str(k).lower(): v for k, v in pagination.items()}
                raw = counts.get("resultwithoutfilter")
                if isinstance(raw, int) and not isinstance(raw, bool):
                    total = raw
        else:
            records = [body]  # a single object (detail endpoints)
    elif isinstance(body, list):
        records = body
    else:
        records = []
    setattr(response, _RECORDS_ATTR, records)
    setattr(response, _TOTAL_ATTR, total)


def page_records(response: requests.Response) -> list[dict[str, t.Any]]:
    """Records of one Dinero response: the envelope's ``Collection``, a bare array or a single object.

    Numbers are parsed as :class:`decimal.Decimal` (money keeps its precision). The parse is cached on
    the response, so the paginator and the stream read each page once.
    """
    if not hasattr(response, _RECORDS_ATTR):
        _parse(response)
    return getattr(response, _RECORDS_ATTR)


def page_total(response: requests.Response) -> int | None:
    """``Pagination.ResultWithoutFilter`` of an envelope response, or None (bare arrays)."""
    if not hasattr(response, _TOTAL_ATTR):
        _parse(response)
    return getattr(response, _TOTAL_ATTR)


class DineroPaginator(PageNumberPaginator):
    """0-based page numbers that stop on a short page, or on the envelope count where it is safe.

    ``PageNumberPaginator`` is the SDK's current name of ``BasePageNumberPaginator`` (0.54 marks the
    latter deprecated; it merely subclasses this class).
    """

    def __init__(self, page_size: int, *, trust_total: bool = True, start_value: int = 0) -> None:
        """Page through ``page_size`` records per page, starting at page ``start_value``.

        ``trust_total`` enables stopping on ``ResultWithoutFilter`` (see the module docstring).
        """
        super().__init__(start_value)
        self.page_size = page_size
        self.trust_total = trust_total
        self.records_seen = 0

    def has_more(self, response: requests.Response) -> bool:
        """Another page exists if this one was full and the count (when trusted) says so."""
        count = len(page_records(response))
        self.records_seen += count
        if count < self.page_size:
            return False
        total = page_total(response) if self.trust_total else None
        return total is None or self.records_seen < total
