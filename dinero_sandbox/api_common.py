"""Helpers of the API blueprints: the authenticated organization of the current request, record
lookup by GUID, JSON bodies."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request

from .errors import DineroError, NotFound
from .orgdata import OrgData
from .state import SandboxState
from .store import Table


def state() -> SandboxState:
    """The sandbox state of the running app."""
    return current_app.config["SANDBOX_STATE"]


def org_data() -> OrgData:
    """The organization of the current request (resolved and access-checked before the handler)."""
    return g.org_data


def find_row(table: Table, guid: str) -> int:
    """Row of ``guid`` or the HTML 404."""
    row = table.find(guid)
    if row is None:
        raise NotFound()
    return row


def json_body(*, required: bool = True) -> dict[str, Any]:
    """The JSON object body (code 44 when missing or not an object)."""
    data = request.get_json(silent=True)
    if data is None:
        if not required and not request.get_data():
            return {}
        raise DineroError(400, 44, "Invalid format", {"body": "The request body must be a JSON object"})
    if not isinstance(data, dict):
        raise DineroError(400, 44, "Invalid format", {"body": "The request body must be a JSON object"})
    return data


def get_ci(data: dict[str, Any], name: str, default: Any = None) -> Any:
    """A body property by case-insensitive name (Dinero binds request bodies case-insensitively)."""
    if name in data:
        return data[name]
    lowered = name.lower()
    for key, value in data.items():
        if key.lower() == lowered:
            return value
    return default


def has_ci(data: dict[str, Any], name: str) -> bool:
    """Whether a body has a property (case-insensitive)."""
    lowered = name.lower()
    return any(k.lower() == lowered for k in data)
