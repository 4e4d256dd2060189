"""The blueprints of the resource modules, for ``app.create_app`` (one per spec tag)."""

from __future__ import annotations

import importlib

from flask import Blueprint

from .common import PREFIX

MODULES = (
    "accounts",
    "attachments",
    "contact_notes",
    "state_of_account",
    "countries",
    "files",
    "invoices",
    "ledger_items",
    "purchase_credit_notes",
    "purchase_payments",
    "purchase_vouchers",
    "reminders",
    "reports",
    "sales",
    "sales_credit_notes",
    "sms",
    "trade_offers",
    "webhooks",
)


def blueprints() -> list[Blueprint]:
    """Every resource blueprint (modules not written yet are skipped)."""
    out = []
    for name in MODULES:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{name}":
                raise
            continue
        out.append(module.bp)
    return out


def is_resource_blueprint(name: str | None) -> bool:
    """Whether a blueprint name belongs to a resource module (authenticated API)."""
    return bool(name) and str(name).startswith(PREFIX)
