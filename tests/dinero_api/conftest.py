"""Fixtures for the shared-client tests: pytest-httpserver as Dinero, configs, a client factory.

Each test scripts the answers it needs with pytest-httpserver's ordered / oneshot handlers and reads the
requests the client made from ``httpserver.log``. Dinero's token endpoints and its 401 for a dead token
are installed for every test by the ``dinero`` fixture (``token_endpoints.DineroTokens``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from token_endpoints import (
    API_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    ORG,
    PASSWORD_GRANT_PATH,
    REFRESH_GRANT_PATH,
    REFRESH_TOKEN,
    DineroTokens,
)

from dinero_api.settings import DineroSettings


@pytest.fixture(scope="session")
def make_httpserver() -> Iterator[HTTPServer]:
    """One threaded server for the session (a slow scripted answer must not block the client's retry)."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def dinero(httpserver: HTTPServer) -> Iterator[DineroTokens]:
    """Dinero's token endpoints and token checking on ``httpserver``; handlers are dropped after the test
    (the ``httpserver`` fixture only clears the log)."""
    tokens = DineroTokens(httpserver)
    yield tokens
    httpserver.clear_all_handlers()
    httpserver.check_handler_errors()


@pytest.fixture
def api_config(httpserver: HTTPServer, dinero: DineroTokens, tmp_path: Any) -> dict[str, Any]:
    """API-key flow against ``httpserver`` (fast backoff, generous quota, private quota dir)."""
    url = httpserver.url_for("").rstrip("/")
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "api_key": API_KEY,
        "organization_id": ORG,
        "api_url": url,
        "token_url": f"{url}{PASSWORD_GRANT_PATH}",
        "quota_backend": str(tmp_path / "quota"),
        "quota_requests": 1000,
        "quota_window_seconds": 60,
        "retry_backoff_seconds": 0.01,
        "max_retries": 3,
        "request_timeout": 5,
    }


@pytest.fixture
def refresh_config(api_config: dict[str, Any], tmp_path: Any) -> dict[str, Any]:
    """Config for the Visma Connect refresh-token flow, with a token_file."""
    config = {k: v for k, v in api_config.items() if k != "api_key"}
    config["refresh_token"] = REFRESH_TOKEN
    config["token_url"] = f"{api_config['api_url']}{REFRESH_GRANT_PATH}"
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
