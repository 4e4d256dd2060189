"""The sandbox refuses request bodies that do not fit Dinero's request schemas with Dinero's 400 answer,
and accepts what public evidence shows real Dinero accepting (dinero_sandbox/contract.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from dinero_sandbox.testing import SandboxServer
from tests.contract.conftest import token_for

ORG = "100000"
LINE = {"AccountNumber": 1000, "BaseAmountValue": 100, "Quantity": 1, "Unit": "parts", "Description": "Vare"}


@pytest.fixture
def post(contract_sandbox: SandboxServer) -> Iterator[Any]:
    headers = {"Authorization": f"Bearer {token_for(contract_sandbox)}"}

    def send(path: str, body: Any) -> requests.Response:
        return requests.post(f"{contract_sandbox.url}{path}", json=body, headers=headers, timeout=10)

    yield send


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ProductLines": [{**LINE, "Quantity": "two"}]}, "ProductLines[0].Quantity"),
        ({"ProductLines": [{**LINE, "AccountNumber": None}]}, "ProductLines[0].AccountNumber"),
        ({"ProductLines": "none"}, "ProductLines"),
        ({"ProductLines": [LINE], "ExternalReference": "x" * 129}, "ExternalReference"),
        ({"ProductLines": [LINE], "ShowLinesInclVat": "yes"}, "ShowLinesInclVat"),
        ({"Currency": "DKK"}, "ProductLines"),
    ],
)
def test_a_body_outside_the_spec_is_refused_naming_the_field(
    post: Any, body: dict[str, Any], field: str
) -> None:
    response = post(f"/v1/{ORG}/invoices", body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["code"] == 42 and answer["message"] == "Validation Error"
    assert field in answer["validationErrors"], answer
    assert answer["errorMessageList"] and answer["languageSpecificMessages"]


def test_what_real_dinero_accepts_beyond_the_spec_is_accepted(post: Any) -> None:
    # camelCase names (dinero-go, SIMON), an unknown property (silently dropped, MF), no Discount (dinero-go)
    body = {
        "productLines": [
            {
                "accountNumber": 1000,
                "baseAmountValue": 100,
                "quantity": 1,
                "unit": "parts",
                "description": "Vare",
                "colour": "blå",
            }
        ],
        "externalReference": "camel-1",
    }
    response = post(f"/v1/{ORG}/invoices", body)
    assert response.status_code == 200, response.text


def test_manual_voucher_line_without_amount_is_refused(post: Any) -> None:
    response = post(
        f"/v1/{ORG}/vouchers/manuel", {"Lines": [{"AccountNumber": 1000, "BalancingAccountNumber": 55000}]}
    )
    assert response.status_code == 400 and "Lines[0].Amount" in response.json()["validationErrors"]
