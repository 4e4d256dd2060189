"""Chart-of-accounts streams (full table: bare arrays without paging or change filter)."""

from __future__ import annotations

import typing as t

from tap_dinero.client import DineroStream

__all__ = ["DepositAccountsStream", "EntryAccountsStream", "PurchaseAccountsStream"]


class _AccountsStream(DineroStream):
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "AccountNumber"]
    sends_fields = True


class EntryAccountsStream(_AccountsStream):
    """Every account of the chart: ``GET /v1/{org}/accounts/entry``."""

    name = "entry_accounts"
    path = "/v1/{organization_id}/accounts/entry"
    schema_name = "entry_account"


class PurchaseAccountsStream(_AccountsStream):
    """Expense accounts usable on purchases: ``GET /v1/{org}/accounts/purchase``."""

    name = "purchase_accounts"
    path = "/v1/{organization_id}/accounts/purchase"
    schema_name = "purchase_account"


class DepositAccountsStream(_AccountsStream):
    """Bank and payment accounts: ``GET /v1/{org}/accounts/deposit``."""

    name = "deposit_accounts"
    path = "/v1/{organization_id}/accounts/deposit"
    schema_name = "deposit_account"
