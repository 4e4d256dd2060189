"""Column store for one collection of one organization.

Rows are kept column-wise (one Python list per field) so that a large seed (100 000 invoices) costs a few
pointers per field instead of one dict per record, list pages project only the requested columns, and
filters scan one column. Nested values (``ProductLines``, ``Lines``, ``Linked`` ...) are either stored per
row or produced on demand by ``nested_gen`` (seeded rows regenerate their lines from the seed).
Fields whose name starts with ``_`` are internal (never returned by the API nor by the inspection dump).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

NestedGen = Callable[[int], dict[str, Any]]


class Table:
    """One collection: rows addressed by position, looked up by key (case-insensitive)."""

    def __init__(self, name: str, key: str, fields: Iterable[str], nested: Iterable[str] = ()) -> None:
        self.name = name
        self.key = key
        self.fields: list[str] = list(dict.fromkeys([key, *fields]))
        self.nested_fields: list[str] = list(nested)
        self.cols: dict[str, list[Any]] = {f: [] for f in self.fields}
        self.index: dict[str, int] = {}
        self.nested: dict[int, dict[str, Any]] = {}
        self.nested_gen: NestedGen | None = None
        self.version = 0
        self._cache: dict[Any, Any] = {}

    # -- size / lookup -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.cols[self.key])

    def find(self, key: str | None) -> int | None:
        """Row position of ``key`` (case-insensitive), or None."""
        if key is None:
            return None
        return self.index.get(str(key).lower())

    def column(self, field: str) -> list[Any]:
        """The column list of ``field`` (created full of None when unknown)."""
        if field not in self.cols:
            self.cols[field] = [None] * len(self)
            self.fields.append(field)
        return self.cols[field]

    # -- reads ---------------------------------------------------------------------------------------
    def value(self, row: int, field: str) -> Any:
        """One field of one row (nested fields included)."""
        if field in self.cols:
            return self.cols[field][row]
        return self.nested_of(row).get(field)

    def nested_of(self, row: int) -> dict[str, Any]:
        """The nested values of a row (stored, else generated from the seed)."""
        stored = self.nested.get(row)
        if stored is not None:
            return stored
        if self.nested_gen is not None:
            return self.nested_gen(row)
        return {}

    def get(self, row: int, fields: Iterable[str] | None = None, *, internal: bool = False) -> dict[str, Any]:
        """Row as a dict of the given fields (default: every public field incl. nested ones)."""
        if fields is None:
            out = {f: col[row] for f, col in self.cols.items() if internal or not f.startswith("_")}
            if self.nested_fields:
                nested = self.nested_of(row)
                for f in self.nested_fields:
                    out[f] = nested.get(f)
            return out
        nested_cache: dict[str, Any] | None = None
        out = {}
        for f in fields:
            col = self.cols.get(f)
            if col is not None:
                out[f] = col[row]
            else:
                if nested_cache is None:
                    nested_cache = self.nested_of(row)
                out[f] = nested_cache.get(f)
        return out

    # -- writes --------------------------------------------------------------------------------------
    def bulk_load(self, columns: dict[str, list[Any]]) -> None:
        """Load seeded rows column-wise (all lists the same length; missing fields become None)."""
        n = len(columns[self.key])
        start = len(self)
        for f in list(self.cols):
            if f not in columns:
                self.cols[f].extend([None] * n)
        for f, values in columns.items():
            if len(values) != n:
                raise ValueError(f"column {f} has {len(values)} values, expected {n}")
            self.column(f).extend(values)
        for i, k in enumerate(columns[self.key]):
            self.index[str(k).lower()] = start + i
        self.touch()

    def add(self, record: dict[str, Any]) -> int:
        """Append one row; nested fields go to per-row storage. Returns the row position."""
        row = len(self)
        nested = {f: record[f] for f in self.nested_fields if f in record}
        for f, col in self.cols.items():
            col.append(record.get(f))
        for f, v in record.items():
            if f not in self.cols and f not in self.nested_fields:
                self.column(f)[row] = v
        if nested:
            self.nested[row] = nested
        self.index[str(record[self.key]).lower()] = row
        self.touch()
        return row

    def update(self, row: int, changes: dict[str, Any]) -> None:
        """Change fields of a row (nested fields are materialised for that row first)."""
        nested_changes = {f: v for f, v in changes.items() if f in self.nested_fields}
        if nested_changes:
            current = dict(self.nested_of(row))
            current.update(nested_changes)
            self.nested[row] = current
        for f, v in changes.items():
            if f not in self.nested_fields:
                self.column(f)[row] = v
        self.touch()

    def touch(self) -> None:
        """Invalidate cached query results after a change."""
        self.version += 1
        self._cache.clear()

    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        """Memoise a query result until the next change (a few entries only)."""
        if key in self._cache:
            return self._cache[key]
        if len(self._cache) > 16:
            self._cache.clear()
        value = compute()
        self._cache[key] = value
        return value

    def rows(self) -> range:
        """All row positions."""
        return range(len(self))
