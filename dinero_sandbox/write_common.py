"""Shared pieces of the write endpoints: Timestamp concurrency checks, deleted-object guard, empty
200 answers, the current time."""

from __future__ import annotations

from typing import Any

from flask import Response, g, request

from .api_common import state
from .errors import DineroError
from .store import Table


def ok_empty() -> Response:
    """Dinero's bare 200 for updates and deletes."""
    return Response(b"", status=200)


def check_timestamp(table: Table, row: int, given: str | None, field: str) -> None:
    """Refuse a stale Timestamp with 400 code 58 (also when the ``stale_timestamp`` fault is armed)."""
    fault = state().faults.take(("stale_timestamp",), request.method, request.path)
    current = table.cols[field][row]
    if fault is not None or (given is not None and given.upper() != str(current).upper()):
        raise DineroError(
            400,
            58,
            "Timestamp out of date",
            {"Timestamp": "The Timestamp is out of date; get the object again and retry."},
        )


def refuse_deleted(table: Table, row: int, what: str) -> None:
    """Code 65 for changes to a deleted object."""
    if table.cols["DeletedAt"][row] is not None:
        raise DineroError(400, 65, "Item is deleted", {"message": f"Invalid {what}, the object is deleted."})


def client_label() -> str:
    """``BookedByUsername`` for API bookings: the client id."""
    return f"API ({g.get('client_id') or 'unknown'})"


def body_or_empty() -> dict[str, Any]:
    """JSON object body, or {} when there is none."""
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}
