"""JSON schemas of target-dinero's load types (the record shape each load type accepts).

One file per load type: ``invoice``, ``manual_voucher``, ``daily_sales``, ``contact``, ``product``,
``invoice_payment``, ``sales_credit_note``, ``sales_credit_note_payment``, ``purchase_voucher``,
``ledger_item``.
They use Dinero's create-model field names so that tap-dinero's own output loads back, plus a few
documented target extensions (``Contact``, ``Book``, ``File``). Schemas reference each other by
relative ``$ref`` (``invoice.json`` embeds ``contact.json``); :func:`load_validator` resolves them.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

__all__ = ["LOAD_TYPES", "load_schema", "load_validator"]

LOAD_TYPES: tuple[str, ...] = (
    "invoice",
    "manual_voucher",
    "daily_sales",
    "contact",
    "product",
    "invoice_payment",
    "sales_credit_note",
    "sales_credit_note_payment",
    "purchase_voucher",
    "ledger_item",
)


@cache
def _read(name: str) -> dict[str, Any]:
    if name not in LOAD_TYPES:
        msg = f"No load type named {name!r} (known: {', '.join(LOAD_TYPES)})"
        raise KeyError(msg)
    text = resources.files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8")
    return json.loads(text)


def load_schema(name: str) -> dict[str, Any]:
    """Return a fresh copy of the load-type schema ``target_dinero/schemas/<name>.json``."""
    return copy.deepcopy(_read(name))


@cache
def _registry() -> Registry:
    resources_ = [(schema["$id"], Resource.from_contents(schema)) for schema in map(_read, LOAD_TYPES)]
    return Registry().with_resources(resources_)


@cache
def load_validator(name: str) -> Draft202012Validator:
    """A validator for load type ``name`` that resolves the cross-file ``$ref``s.

    Built once per load type and shared (validators are immutable; the target calls this per record).
    """
    return Draft202012Validator(_read(name), registry=_registry())
