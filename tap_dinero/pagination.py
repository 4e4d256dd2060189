"""Page-number pagination for Dinero lists: 0-based ``page``, stop without an empty-page request.

The decoding, the envelope and the stop rule are :mod:`dinero_api.envelope`'s (shared with the target);
this module adapts them to the SDK's paginator and caches each page's parse on its response, so the
paginator, the JSON check and the stream read every page once.
"""

from __future__ import annotations

import typing as t

from singer_sdk.pagination import PageNumberPaginator

from dinero_api.envelope import Page, decode_json, has_more, parse_page

if t.TYPE_CHECKING:
    import requests

__all__ = ["DineroPaginator", "page_records", "page_total"]

_PAGE_ATTR = "_dinero_page"


def _page(response: requests.Response) -> Page:
    page = getattr(response, _PAGE_ATTR, None)
    if page is None:
        page = parse_page(decode_json(response.content))
        setattr(response, _PAGE_ATTR, page)
    return page


def page_records(response: requests.Response) -> list[dict[str, t.Any]]:
    """Records of one Dinero response: the envelope's ``Collection``, a bare array or a single object
    (money as Decimal); raises ``ValueError`` when the body is not JSON."""
    return _page(response).rows


def page_total(response: requests.Response) -> int | None:
    """``Pagination.ResultWithoutFilter`` of an envelope response, or None (bare arrays)."""
    return _page(response).total


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
        page = _page(response)
        self.records_seen += len(page.rows)
        return has_more(
            page, page_size=self.page_size, rows_seen=self.records_seen, trust_total=self.trust_total
        )
