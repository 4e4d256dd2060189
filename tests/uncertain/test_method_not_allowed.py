"""A wrong method is answered in Dinero's JSON error shape (not a web framework's HTML page), and the
client's error quotes it."""

from __future__ import annotations

import pytest
import requests

from dinero_api.errors import DineroAPIError, raise_for_response
from dinero_sandbox.testing import SandboxServer
from tests.sandbox.conftest import api_key_token

ORG = "100000"


def test_wrong_method_answers_json_and_the_client_quotes_it(sandbox: SandboxServer) -> None:
    token = api_key_token(sandbox)
    response = requests.patch(
        f"{sandbox.url}/v1/{ORG}/invoices", headers={"Authorization": f"Bearer {token}"}, json={}, timeout=10
    )
    assert response.status_code == 405
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == 40 and "PATCH" in body["message"] and body["validationErrors"]
    assert "GET" in response.headers["Allow"]
    with pytest.raises(DineroAPIError) as caught:
        raise_for_response(response)
    assert "does not support http method 'PATCH'" in str(caught.value)
