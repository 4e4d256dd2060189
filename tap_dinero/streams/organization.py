"""The organization and its bookkeeping setup: organizations, accounting years, VAT types, accounts.

Organization and reference-data streams (full table: these endpoints have no change filter).

Chart-of-accounts streams (full table: bare arrays without paging or change filter).
"""

from __future__ import annotations

import typing as t

from tap_dinero.client import DineroStream

__all__ = [
    "AccountingYearsStream",
    "DepositAccountsStream",
    "EntryAccountsStream",
    "OrganizationsStream",
    "PurchaseAccountsStream",
    "VatTypesStream",
]


class OrganizationsStream(DineroStream):
    """Organizations the credentials can reach: ``GET /v1/organizations`` (bare array, not paged)."""

    name = "organizations"
    path = "/v1/organizations"
    schema_name = "organization"
    primary_keys: t.ClassVar[list[str]] = ["Id"]
    org_scoped = False
    sends_fields = True


class AccountingYearsStream(DineroStream):
    """Accounting years: ``GET /v1/{org}/accountingyears`` (bare array, no ``fields``)."""

    name = "accounting_years"
    path = "/v1/{organization_id}/accountingyears"
    schema_name = "accounting_year"
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "Name"]


class VatTypesStream(DineroStream):
    """VAT types: ``GET /v1/{org}/vatTypes`` (bare array, no ``fields``)."""

    name = "vat_types"
    path = "/v1/{organization_id}/vatTypes"
    schema_name = "vat_type"
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "VatCode"]


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
