"""Row selection for the paged list endpoints: deleted/changesSince/queryFilter/status/date filters and
Dinero's orderings, cached per table version so that paging through 100 000 rows sorts once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .behaviours import change_key
from .errors import DineroError
from .listing import Condition, arg, canonical
from .store import Table
from .timeutil import parse_date

Ref = tuple[Table, int]

STATUS_ORDER = {"draft": 0, "overdue": 1, "booked": 2, "overpaid": 3, "paid": 4}
SALES_SORTS = {
    "vouchernumber": "Number",
    "voucherdate": "Date",
    "status": "PaymentStatus",
    "contact": "ContactName",
}
OFFER_SORTS = {
    "tradeoffernumber": "Number",
    "tradeofferdate": "Date",
    "status": "Status",
    "contactname": "ContactName",
}
SALES_STATUSES = ("Draft", "Booked", "Paid", "OverPaid", "Overdue")


@dataclass(frozen=True)
class Query:
    """What a list request asks for (hashable: used as cache key)."""

    deleted_only: bool | None  # None: deleted and live rows (v2 contacts default)
    since: str | None
    conditions: tuple[Condition, ...]
    statuses: tuple[str, ...] = ()
    start_date: str | None = None
    end_date: str | None = None
    free_text: str | None = None
    sort: tuple[str, ...] = ()
    descending: bool = False


def parse_sales_extras(
    args: Mapping[str, str], sorts: Mapping[str, str], default_sort: tuple[str, ...], *, with_dates: bool
) -> dict[str, Any]:
    """statusFilter, startDate/endDate, sort, sortOrder of the sales lists (code 44/45 when invalid)."""
    out: dict[str, Any] = {}
    raw_status = arg(args, "statusFilter")
    if raw_status and with_dates:
        statuses = []
        for part in raw_status.split(","):
            name = canonical(part.strip(), SALES_STATUSES)
            if name is None:
                raise DineroError(
                    400,
                    44,
                    "Invalid format",
                    {"statusFilter": f"{part!r} is not one of {', '.join(SALES_STATUSES)}"},
                )
            statuses.append(name)
        out["statuses"] = tuple(statuses)
    if with_dates:
        start, end = arg(args, "startDate"), arg(args, "endDate")
        if bool(start) != bool(end):
            raise DineroError(
                400, 45, "Invalid request", {"startDate": "startDate and endDate must be given together"}
            )
        if start and end:
            if parse_date(start) is None or parse_date(end) is None:
                raise DineroError(400, 44, "Invalid format", {"startDate": "dates must be YYYY-MM-DD"})
            out["start_date"], out["end_date"] = start, end
    raw_sort = arg(args, "sort")
    keys = []
    for part in raw_sort.split(",") if raw_sort else default_sort:
        column = sorts.get(part.strip().lower())
        if column is None:
            raise DineroError(
                400, 44, "Invalid format", {"sort": f"{part!r} is not one of {', '.join(sorts)}"}
            )
        keys.append(column)
    out["sort"] = tuple(keys)
    order = (arg(args, "sortOrder") or "descending").lower()
    if order not in ("ascending", "descending"):
        raise DineroError(400, 44, "Invalid format", {"sortOrder": "ascending or descending"})
    out["descending"] = order == "descending"
    return out


def select(
    tables: list[Table],
    query: Query,
    field_map: Mapping[str, str],
    free_text_fields: tuple[str, ...],
    default_order: str,
) -> list[Ref]:
    """Matching rows of ``tables`` in list order (cached until any table changes)."""
    key = (tuple(id(t) for t in tables), tuple(t.version for t in tables), query, default_order)
    return tables[0].cached(key, lambda: _select(tables, query, field_map, free_text_fields, default_order))


def _select(
    tables: list[Table],
    query: Query,
    field_map: Mapping[str, str],
    free_text_fields: tuple[str, ...],
    default_order: str,
) -> list[Ref]:
    found: list[Ref] = []
    since_key = change_key(query.since) if query.since is not None else ""
    for table in tables:
        deleted = table.cols["DeletedAt"]
        updated = table.cols["UpdatedAt"]
        cond_cols = [(c, table.column(field_map.get(c.field, c.field))) for c in query.conditions]
        status_col = table.cols.get("PaymentStatus")
        date_col = table.cols.get("Date")
        text_cols = [table.column(field_map.get(f, f)) for f in free_text_fields] if query.free_text else []
        statuses = {s.lower() for s in query.statuses}
        needle = (query.free_text or "").lower()
        for row in range(len(table)):
            if query.deleted_only is not None and (deleted[row] is not None) != query.deleted_only:
                continue
            if query.since is not None:
                changed = updated[row] or ""
                if deleted[row] and deleted[row] > changed:
                    changed = deleted[row]
                # UTC, or local wall times compared as plain values (behaviours.updated_at)
                if change_key(changed) < since_key:
                    continue
            if any(not c.matches(col[row]) for c, col in cond_cols):
                continue
            if statuses and (status_col is None or str(status_col[row]).lower() not in statuses):
                continue
            if (
                query.start_date
                and date_col is not None
                and status_col is not None
                and status_col[row] != "Draft"
                and not (query.start_date <= date_col[row] <= query.end_date)
            ):
                continue
            if needle and not any(needle in str(col[row] or "").lower() for col in text_cols):
                continue
            found.append((table, row))
    found.sort(key=_order_key(query, default_order, tables))
    if query.sort and query.descending:
        found.reverse()
    return found


def _order_key(query: Query, default_order: str, tables: list[Table]) -> Callable[[Ref], Any]:
    table_pos = {id(t): k for k, t in enumerate(tables)}
    if query.sort:
        columns = query.sort

        def sort_key(ref: Ref) -> Any:
            table, row = ref
            parts = []
            for c in columns:
                value = table.cols[c][row]
                if c in ("PaymentStatus", "Status"):
                    value = STATUS_ORDER.get(str(value).lower(), 9)
                elif isinstance(value, str):
                    value = value.lower()
                parts.append(value if value is not None else "")
            return (*parts, table.cols["CreatedAt"][row] or "", table_pos[id(table)], row)

        return sort_key
    if default_order == "UpdatedAt":
        return lambda ref: (ref[0].cols["UpdatedAt"][ref[1]] or "", table_pos[id(ref[0])], ref[1])
    return lambda ref: (ref[0].cols[default_order][ref[1]] or "", table_pos[id(ref[0])], ref[1])
