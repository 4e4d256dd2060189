"""Accounts (spec tag ``Accounts``): creating entry and deposit accounts (the lists are in ``routes_read``).
A new account appears in ``GET /accounts/entry|purchase|deposit`` and can be used by every write at once.
An existing number -> 400 code 42 naming ``Number``."""

from __future__ import annotations

from typing import Any

from flask import Response

from .. import validate as v
from ..api_common import json_body, org_data
from ..errors import DineroError
from ..orgdata import OrgData
from .common import blueprint, ok

bp = blueprint("accounts")


def _number(org: OrgData, body: dict[str, Any], errors: v.Errors) -> int | None:
    number = v.integer(body, "Number", errors, req=True)
    if number is not None and not 1 <= number <= 99_999:
        errors.add("Number", "The account number must be between 1 and 99999.")
    if number is not None and org.account(number) is not None:
        errors.add("Number", f"Account {number} already exists.")
    return number


def _add(org: OrgData, row: dict[str, Any]) -> None:
    base = {
        "PublicStandardNumber": None,
        "VatCode": "none",
        "Category": None,
        "CategoryName": None,
        "IsHidden": False,
        "IsDefaultSalesAccount": False,
        "BankRegistrationNumber": None,
        "BankAccountNumber": None,
        "BankSwiftNumber": None,
        "BankIbanNumber": None,
        "IsDefault": False,
        "_IsDeposit": False,
    }
    org.table("accounts").add({**base, **row})
    org.touch()


@bp.post("/v1/<org>/accounts/entry")
def create_entry_account() -> Response:
    """``AccountCreateModel {Number, Name, VatCode, PublicStandardNumber?}``; bare 200."""
    org = org_data()
    body = json_body()
    errors = v.Errors()
    number = _number(org, body, errors)
    name = v.text(body, "Name", errors, req=True, max_len=255)
    if v.get_ci(body, "VatCode") is None:
        errors.add("VatCode", "The VatCode field is required.")
    vat = v.vat_code(body, "VatCode", errors)
    standard = v.integer(body, "PublicStandardNumber", errors)
    errors.raise_if_any()
    _add(
        org,
        {
            "AccountNumber": number,
            "Name": name,
            "VatCode": vat,
            "PublicStandardNumber": standard,
            "Category": "Balance" if (number or 0) >= 50000 else "Result",
            "CategoryName": "Balance" if (number or 0) >= 50000 else "Resultat",
        },
    )
    return ok()


@bp.post("/v1/<org>/accounts/deposit")
def create_deposit_account() -> Response:
    """``DepositCreateModel``: a bank/cash account payments can use; bare 200."""
    org = org_data()
    body = json_body()
    errors = v.Errors()
    number = _number(org, body, errors)
    name = v.text(body, "Name", errors, req=True, max_len=255)
    fields = {
        "BankRegistrationNumber": v.text(body, "RegistrationNumber", errors, max_len=4),
        "BankAccountNumber": v.text(body, "AccountNumber", errors, max_len=20),
        "BankSwiftNumber": v.text(body, "SwiftNumber", errors, max_len=11),
        "BankIbanNumber": v.text(body, "IbanNumber", errors, max_len=34),
        "PublicStandardNumber": v.integer(body, "PublicStandardNumber", errors),
    }
    errors.raise_if_any()
    if number is not None and number < 50000:
        raise DineroError(
            400, 42, "Validation Error", {"Number": "Deposit accounts are balance accounts (50000 or more)."}
        )
    _add(
        org,
        {
            "AccountNumber": number,
            "Name": name,
            "Category": "Liquid Assets",
            "CategoryName": "Likvide beholdninger",
            "_IsDeposit": True,
            **fields,
        },
    )
    return ok()
