"""Organization and reference-data streams (full table: these endpoints have no change filter)."""

from __future__ import annotations

import typing as t

from tap_dinero.client import DineroStream

__all__ = ["AccountingYearsStream", "OrganizationsStream", "VatTypesStream"]


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
