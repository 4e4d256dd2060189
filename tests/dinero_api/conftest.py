"""Fixtures for the shared-client tests (fake Dinero server, configs, client factory)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fake_dinero import API_KEY, CLIENT_ID, CLIENT_SECRET, ORG, REFRESH_TOKEN, FakeDinero

from dinero_api.settings import DineroSettings


@pytest.fixture
def fake_dinero() -> Iterator[FakeDinero]:
    """A fresh scriptable fake Dinero on a free local port."""
    server = FakeDinero()
    yield server
    server.close()


@pytest.fixture
def api_config(fake_dinero: FakeDinero, tmp_path: Any) -> dict[str, Any]:
    """Config for the API-key flow against the fake (fast backoff, generous quota, private quota dir)."""
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "api_key": API_KEY,
        "organization_id": ORG,
        "api_url": fake_dinero.url,
        "token_url": f"{fake_dinero.url}/dineroapi/oauth/token",
        "quota_backend": str(tmp_path / "quota"),
        "quota_requests": 1000,
        "quota_window_seconds": 60,
        "retry_backoff_seconds": 0.01,
        "max_retries": 3,
        "request_timeout": 5,
    }


@pytest.fixture
def refresh_config(api_config: dict[str, Any], fake_dinero: FakeDinero, tmp_path: Any) -> dict[str, Any]:
    """Config for the Visma Connect refresh-token flow, with a token_file."""
    config = {k: v for k, v in api_config.items() if k != "api_key"}
    config["refresh_token"] = REFRESH_TOKEN
    config["token_url"] = f"{fake_dinero.url}/connect/token"
    config["token_file"] = str(tmp_path / "tokens" / "dinero-token.json")
    return config


@pytest.fixture
def make_client(tmp_path: Any) -> Iterator[Any]:
    """Factory building a DineroClient with its *own* token provider (no cross-test sharing)."""
    from dinero_api.auth import ApiKeyTokenProvider, RefreshTokenProvider
    from dinero_api.client import DineroClient

    clients: list[Any] = []

    def build(config: dict[str, Any], **kwargs: Any) -> DineroClient:
        settings = DineroSettings.from_config(config)
        provider_cls = ApiKeyTokenProvider if settings.auth_flow == "api_key" else RefreshTokenProvider
        kwargs.setdefault("token_provider", provider_cls(settings))
        client = DineroClient(settings, **kwargs)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()
