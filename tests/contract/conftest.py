"""Fixtures of the contract tests: one sandbox for the whole module, with the quota lifted (a 429 is an
undocumented answer the response check would skip, hiding the operation from the test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from dinero_sandbox.constants import DEMO_API_KEY, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from dinero_sandbox.testing import SandboxServer


def token_for(sandbox: SandboxServer, api_key: str = DEMO_API_KEY) -> str:
    """An access token of the API-key flow."""
    response = requests.post(
        sandbox.token_url,
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        data={"grant_type": "password", "scope": "read write", "username": api_key, "password": api_key},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["access_token"]


@pytest.fixture(scope="module")
def contract_sandbox() -> Iterator[SandboxServer]:
    """A demo-seeded sandbox without a practical quota."""
    with SandboxServer(seed_size="demo", quota_requests=10**9, quota_window=60.0) as sandbox:
        yield sandbox
