"""Data only: ``openapi-contract.json``, the facts of Dinero's OpenAPI document (paths, methods, parameters,
schemas; no prose), written by ``scripts/derive_contract.py`` with the source's sha256.

The sandbox reads the file by path and never imports this package's code; the tap and the tests read it
with :func:`load_contract`.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["CONTRACT_FILE", "load_contract"]

CONTRACT_FILE = "openapi-contract.json"


@cache
def _text() -> str:
    return resources.files(__package__).joinpath(CONTRACT_FILE).read_text(encoding="utf-8")


def load_contract() -> dict[str, Any]:
    """A fresh copy of the contract document."""
    return json.loads(_text())
