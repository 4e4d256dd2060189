"""JSON schemas of Dinero's read models, one file per entity, as the tap emits them.

Field names are the API's own (PascalCase). Dates are ``format: date`` strings, timestamps
``format: date-time`` strings (Dinero sends them without an offset), money is ``number``, GUIDs are
strings (Dinero's FileGuid is not always a GUID, so no ``uuid`` format is asserted). A field is nullable
unless the reference lists it as required in the read model.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["load_schema", "schema_names"]


@cache
def _read(name: str) -> dict[str, Any]:
    resource = resources.files(__package__).joinpath(f"{name}.json")
    if not resource.is_file():
        msg = f"No Dinero read-model schema named {name!r} (known: {', '.join(schema_names())})"
        raise KeyError(msg)
    return json.loads(resource.read_text(encoding="utf-8"))


def load_schema(name: str) -> dict[str, Any]:
    """Return a fresh copy of the read-model schema ``tap_dinero/schemas/<name>.json``."""
    return copy.deepcopy(_read(name))


def schema_names() -> list[str]:
    """Names of the read-model schemas shipped in this package (without ``.json``)."""
    return sorted(
        entry.name[: -len(".json")]
        for entry in resources.files(__package__).iterdir()
        if entry.name.endswith(".json")
    )
