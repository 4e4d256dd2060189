"""Contact and product writes: ``POST/PUT/DELETE /v1/{org}/contacts``, ``PUT /v2/{org}/contacts/{guid}``,
``POST /v1/{org}/contacts/{guid}/restore``, ``POST/PUT/DELETE /v1/{org}/products``."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response

from . import validate as v
from .amounts import r2
from .api_common import find_row, json_body, org_data
from .behaviours import guid_taken_error
from .errors import json_response
from .mutations import bump
from .timeutil import now_str
from .write_common import ok_empty, refuse_deleted

bp = Blueprint("api_write_parties", __name__)

CONTACT_TEXT = {
    "ExternalReference": 128,
    "Name": 255,
    "Street": 255,
    "ZipCode": 20,
    "City": 255,
    "Phone": 50,
    "Email": 255,
    "Webpage": 255,
    "AttPerson": 255,
    "VatNumber": 30,
    "EanNumber": 13,
    "SENumber": 20,
    "PNumber": 20,
    "MemberNumber": 50,
    "CompanyTypeKey": 64,
    "InvoiceMailOutOptionKey": 8,
    "PreferredInvoiceLanguageKey": 8,
    "PreferredInvoiceCurrencyKey": 3,
}


def _contact_fields(body: dict[str, Any]) -> dict[str, Any]:
    errors = v.Errors()
    out: dict[str, Any] = {}
    for name, limit in CONTACT_TEXT.items():
        out[name] = v.text(body, name, errors, max_len=limit, req=name == "Name")
    country = v.text(body, "CountryKey", errors, req=True)
    if country is not None and len(country) != 2:
        errors.add("CountryKey", "The CountryKey field must be a two-letter country code.")
    out["CountryKey"] = country.upper() if country else country
    for flag in ("IsPerson", "IsMember", "UseCvr"):
        out[flag] = v.boolean(body, flag, errors, req=True)
    out["PaymentConditionType"] = v.choice(
        body, "PaymentConditionType", ("Netto", "NettoCash", "CurrentMonthOut"), errors
    )
    out["PaymentConditionNumberOfDays"] = v.integer(body, "PaymentConditionNumberOfDays", errors)
    errors.raise_if_any()
    out["VatRegionKey"] = "DK" if out["CountryKey"] == "DK" else "EU" if out["CountryKey"] in EU else "World"
    return out


EU = (
    "AT",
    "BE",
    "BG",
    "CY",
    "CZ",
    "DE",
    "EE",
    "ES",
    "FI",
    "FR",
    "GR",
    "HR",
    "HU",
    "IE",
    "IT",
    "LT",
    "LU",
    "LV",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SE",
    "SI",
    "SK",
)


@bp.post("/v1/<org>/contacts")
def contact_create() -> Response:
    """Create a contact (client-chosen ``ContactGuid`` honoured) -> ``{ContactGuid}``."""
    org = org_data()
    body = json_body()
    fields = _contact_fields(body)
    errors = v.Errors()
    chosen = v.guid(body, "ContactGuid", errors)
    errors.raise_if_any()
    table = org.table("contacts")
    guid = chosen or str(uuid.uuid4())
    if table.find(guid) is not None:
        raise guid_taken_error("ContactGuid", guid)  # answer shape: behaviours.guid_taken
    now = now_str()
    table.add(
        {
            "ContactGuid": guid,
            "CreatedAt": now,
            "UpdatedAt": now,
            "DeletedAt": None,
            "IsDebitor": True,
            "IsCreditor": False,
            "CompanyStatus": None if fields["IsPerson"] else "unknown",
            **fields,
        }
    )
    org.touch()
    return json_response({"ContactGuid": guid})


@bp.put("/v1/<org>/contacts/<guid>")
@bp.put("/v2/<org>/contacts/<guid>")
def contact_update(guid: str) -> Response:
    """Replace a contact's writable fields (full replacement)."""
    org = org_data()
    table = org.table("contacts")
    row = find_row(table, guid)
    refuse_deleted(table, row, "ContactGuid")
    bump(org, table, row, _contact_fields(json_body()))
    return ok_empty()


@bp.delete("/v1/<org>/contacts/<guid>")
def contact_delete(guid: str) -> Response:
    """Soft-delete a contact (visible with ``deletedOnly=true``)."""
    org = org_data()
    table = org.table("contacts")
    row = find_row(table, guid)
    refuse_deleted(table, row, "ContactGuid")
    now = now_str()
    bump(org, table, row, {"DeletedAt": now}, when=now)
    table.update(row, {"DeletedAt": table.cols["UpdatedAt"][row]})
    return ok_empty()


@bp.post("/v1/<org>/contacts/<guid>/restore")
def contact_restore(guid: str) -> Response:
    """Undelete a contact."""
    org = org_data()
    table = org.table("contacts")
    row = find_row(table, guid)
    bump(org, table, row, {"DeletedAt": None})
    return ok_empty()


def _product_fields(body: dict[str, Any]) -> dict[str, Any]:
    org = org_data()
    errors = v.Errors()
    out: dict[str, Any] = {
        "ProductNumber": v.text(body, "ProductNumber", errors, max_len=64),
        "Name": v.text(body, "Name", errors, max_len=255),
        "ExternalReference": v.text(body, "ExternalReference", errors, max_len=128),
        "Comment": v.text(body, "Comment", errors, max_len=128),
        "BaseAmountValue": v.number(body, "BaseAmountValue", errors, req=True),
        "Quantity": v.number(body, "Quantity", errors, req=True),
        "AccountNumber": v.account(org, body, "AccountNumber", errors, req=True),
        "Unit": v.choice(body, "Unit", v.UNITS, errors),
    }
    if v.get_ci(body, "Unit") is None:
        errors.add("Unit", "The Unit field is required.")
    errors.raise_if_any()
    acc = org.account(out["AccountNumber"])
    from . import chart

    code = acc.get("VatCode") if acc else None
    rate = chart.vat_rate(code) if chart.vat_side(code) == "sale" else 0.0
    base, qty = out["BaseAmountValue"], out["Quantity"]
    out.update(
        BaseAmountValueInclVat=r2(base * (1 + rate)),
        TotalAmount=r2(base * qty),
        TotalAmountInclVat=r2(base * qty * (1 + rate)),
    )
    return out


@bp.post("/v1/<org>/products")
def product_create() -> Response:
    """Create a product -> ``{ProductGuid}``."""
    org = org_data()
    fields = _product_fields(json_body())
    guid = str(uuid.uuid4())
    now = now_str()
    org.table("products").add(
        {"ProductGuid": guid, "CreatedAt": now, "UpdatedAt": now, "DeletedAt": None, **fields}
    )
    org.touch()
    return json_response({"ProductGuid": guid})


@bp.put("/v1/<org>/products/<guid>")
def product_update(guid: str) -> Response:
    """Replace a product."""
    org = org_data()
    table = org.table("products")
    row = find_row(table, guid)
    refuse_deleted(table, row, "ProductGuid")
    bump(org, table, row, _product_fields(json_body()))
    return ok_empty()


@bp.delete("/v1/<org>/products/<guid>")
def product_delete(guid: str) -> Response:
    """Soft-delete a product."""
    org = org_data()
    table = org.table("products")
    row = find_row(table, guid)
    refuse_deleted(table, row, "ProductGuid")
    now = now_str()
    bump(org, table, row, {"DeletedAt": now}, when=now)
    table.update(row, {"DeletedAt": table.cols["UpdatedAt"][row]})
    return ok_empty()
