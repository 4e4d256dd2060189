"""Fixtures of the sandbox conformance tests: authenticated HTTP sessions against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from dinero_sandbox.constants import DEMO_API_KEY, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from dinero_sandbox.testing import SandboxServer


def api_key_token(sandbox: SandboxServer, api_key: str = DEMO_API_KEY) -> str:
    """An access token from the API-key flow."""
    response = requests.post(
        sandbox.token_url,
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        data={"grant_type": "password", "scope": "read write", "username": api_key, "password": api_key},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["access_token"]


class Api:
    """A tiny authenticated client for one organization of the sandbox."""

    def __init__(self, sandbox: SandboxServer, token: str, org: str = "100000") -> None:
        self.base = sandbox.url
        self.org = org
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def url(self, path: str) -> str:
        """Absolute URL, ``{org}`` substituted."""
        return self.base + path.replace("{org}", self.org)

    def get(self, path: str, **params: Any) -> requests.Response:
        """GET with query parameters."""
        return self.session.get(self.url(path), params=params, timeout=30)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        """POST JSON."""
        return self.session.post(self.url(path), json=json, timeout=30, **kwargs)

    def put(self, path: str, json: Any = None) -> requests.Response:
        """PUT JSON."""
        return self.session.put(self.url(path), json=json, timeout=30)

    def delete(self, path: str, json: Any = None) -> requests.Response:
        """DELETE (optionally with a JSON body)."""
        return self.session.delete(self.url(path), json=json, timeout=30)

    def all_pages(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every row of a paged list (stops on a short page)."""
        rows: list[dict[str, Any]] = []
        page = 0
        size = int(params.pop("pageSize", 1000))
        while True:
            response = self.get(path, page=page, pageSize=size, **params)
            assert response.status_code == 200, response.text
            batch = response.json()["Collection"]
            rows.extend(batch)
            if len(batch) < size:
                return rows
            page += 1


@pytest.fixture
def api(sandbox: SandboxServer) -> Api:
    """An API-key session for organization 100000 on a freshly reset sandbox."""
    return Api(sandbox, api_key_token(sandbox))
