"""What already exists in Dinero, keyed by ExternalReference, learnt with as few requests as possible.

Two ways to learn whether a reference exists:
* list the whole collection once (``fields=...&pageSize=1000``): ceil(existing / 1000) requests, then
  every lookup of the run is free;
* ask per reference (``queryFilter=ExternalReference eq '...'``): one request per reference.

:class:`RemoteIndex` reads the first page, learns from the envelope how many pages remain, and picks
the cheaper way for the references it is asked about. Once the target has started writing it never
pages again: pages are offsets, and our own creates would shift rows between pages and hide some.

Whether a row is "the object of this reference" is decided here, by the identity rule
(:func:`~target_dinero.records.normalize_reference`: exact after NFC and trimming, case-sensitive),
never by Dinero's ``queryFilter``, which matches case-insensitively and may match more loosely: a row
the filter returns for ``ORD-1`` whose reference is ``ord-1``, ``ORD-10`` or ``ORD-1 x`` is ignored.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Collection, Iterable
from typing import Any

from dinero_api.envelope import field_ci, has_more, iter_pages, parse_page
from dinero_api.filters import lookup
from target_dinero.gateway import DineroGateway
from target_dinero.records import normalize_reference

__all__ = ["RemoteIndex", "field_ci"]

PAGE_SIZE = 1000


class RemoteIndex:
    """Existing objects of one list endpoint, by ExternalReference in its identity form (thread-safe)."""

    def __init__(self, gateway: DineroGateway, path: str, fields: Iterable[str]) -> None:
        self._gateway = gateway
        self._path = path
        self._fields = ",".join(dict.fromkeys(["ExternalReference", *fields]))
        self._rows: dict[str, dict[str, Any]] = {}
        self._checked: set[str] = set()
        self._complete = False
        self._next_page: int | None = None  # None: first page not read yet
        self._remaining_pages: int | None = None
        self._writes_started = False
        self._paged_rows: list[dict[str, Any]] = []
        self._lock = threading.RLock()

    def _remember_rows(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            ref = field_ci(row, "ExternalReference")
            if ref is not None and normalize_reference(ref):
                self._rows.setdefault(normalize_reference(ref), row)

    def _read_page(self, page: int) -> int:
        body = self._gateway.get(self._path, {"fields": self._fields, "page": page, "pageSize": PAGE_SIZE})
        parsed = parse_page(body)
        self._remember_rows(parsed.rows)
        self._paged_rows.extend(dict(r) for r in parsed.rows)
        # The plain list is the one the count describes under either reading (dinero_api.envelope).
        if not has_more(parsed, page_size=PAGE_SIZE, rows_seen=page * PAGE_SIZE + len(parsed.rows)):
            self._complete = True
            self._remaining_pages = 0
        elif parsed.total is not None:
            self._remaining_pages = max(0, math.ceil(parsed.total / PAGE_SIZE) - page - 1)
        return len(parsed.rows)

    def _query_one(self, ref: str) -> None:
        # A reference with a quote or backslash is found with `contains` on a fragment (no escaping, which
        # Dinero may do either way: dinero_api.filters.lookup); then every page is read.
        query, _exact = lookup("ExternalReference", ref)
        params = {"fields": self._fields, "queryFilter": query}
        # every row the filter selects is read: a look-up must not miss one (count not trusted)
        for rows in iter_pages(self._gateway.get, self._path, params, page_size=PAGE_SIZE, trust_total=False):
            # Dinero matches case-insensitively (and may match more loosely): keep the rows whose
            # reference is this one by the identity rule, never what the filter alone selected.
            self._remember_rows(
                r
                for r in rows
                if field_ci(r, "ExternalReference") is not None
                and normalize_reference(field_ci(r, "ExternalReference")) == ref
            )
        self._checked.add(ref)

    def lookup(self, refs: Collection[str]) -> dict[str, dict[str, Any]]:
        """The existing rows for ``refs`` (missing refs do not exist in Dinero)."""
        with self._lock:
            refs = [normalize_reference(r) for r in refs]
            unknown = [r for r in dict.fromkeys(refs) if r not in self._rows and r not in self._checked]
            if unknown and not self._complete:
                if self._next_page is None and not self._writes_started:
                    self._read_page(0)
                    self._next_page = 1
                unknown = [r for r in unknown if r not in self._rows]
                pages_left = self._remaining_pages
                if (
                    not self._complete
                    and not self._writes_started
                    and (pages_left is None or pages_left <= len(unknown))
                ):
                    page = self._next_page or 1
                    while not self._complete:
                        if self._read_page(page) == 0:
                            self._complete = True
                        page += 1
                    self._next_page = page
                elif not self._complete:
                    for ref in unknown:
                        self._query_one(ref)
            return {r: self._rows[r] for r in refs if r in self._rows}

    def known(self, ref: str) -> dict[str, Any] | None:
        """The row of ``ref`` when the run knows it already (no request), else None."""
        with self._lock:
            return self._rows.get(normalize_reference(ref))

    @property
    def read_any(self) -> bool:
        """Whether a list page of the index was read in this run (then look-ups through it are cheap)."""
        with self._lock:
            return self._next_page is not None

    def remember_found(self, ref: str, row: dict[str, Any]) -> None:
        """Record an existing object found by another read (no request; pages may still be read)."""
        ref = normalize_reference(ref)
        with self._lock:
            self._rows[ref] = {**self._rows.get(ref, {}), **row, "ExternalReference": ref}

    def all_rows(self) -> list[dict[str, Any]] | None:
        """Every row of the collection (with or without a reference) when the whole list was paged before
        the target wrote to it; None otherwise (then ask Dinero with a filter)."""
        with self._lock:
            return list(self._paged_rows) if self._complete else None

    def recheck(self, ref: str) -> dict[str, Any] | None:
        """Ask Dinero again about one reference (after a create whose answer was lost)."""
        ref = normalize_reference(ref)
        with self._lock:
            self._checked.discard(ref)
            self._rows.pop(ref, None)  # a fresh answer replaces what the run believed
            self._query_one(ref)
            return self._rows.get(ref)

    def remember(self, ref: str, row: dict[str, Any]) -> None:
        """Record an object the target just created or changed (no request)."""
        ref = normalize_reference(ref)
        with self._lock:
            self._writes_started = True
            self._rows[ref] = {**self._rows.get(ref, {}), **row, "ExternalReference": ref}

    def forget(self, ref: str) -> None:
        """Drop a reference (the object turned out to be deleted)."""
        with self._lock:
            self._rows.pop(normalize_reference(ref), None)

    def mark_writing(self) -> None:
        """From now on never page (our writes would shift the offsets)."""
        with self._lock:
            self._writes_started = True
