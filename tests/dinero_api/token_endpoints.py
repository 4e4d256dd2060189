"""Dinero's token endpoints as pytest-httpserver handlers, and readers of ``httpserver.log``.

What the client tests script per test (a 503, a 429 with Retry-After, a slow answer) are ordered/oneshot
handlers in the test itself. This module holds what is Dinero's *behaviour* for every test: the password
grant and the Visma Connect refresh grant (refresh tokens rotate, each works once), and that an access
token can die server-side -- any other path answers ``{"ok": true}`` to a live bearer token and Dinero's
401 otherwise.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

CLIENT_ID = "dinero-sandbox"
CLIENT_SECRET = "sandbox-secret"
API_KEY = "sandbox-api-key"
REFRESH_TOKEN = "sandbox-refresh-token"
ORG = "100000"
PASSWORD_GRANT_PATH = "/dineroapi/oauth/token"
REFRESH_GRANT_PATH = "/connect/token"


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON answer the way a handler function returns it."""
    return Response(json.dumps(body), status=status, content_type="application/json")


class DineroTokens:
    """Dinero's token endpoints (password grant and Visma Connect refresh grant) as httpserver handlers.

    Access tokens are issued as ``access-1``, ``access-2``, ...; each refresh token works once and is
    replaced by a ``rotated-refresh-N`` one, as Visma Connect rotates them.
    """

    def __init__(self, server: HTTPServer) -> None:
        self.lock = threading.Lock()
        self.valid_tokens: set[str] = set()
        self.valid_refresh_tokens: set[str] = {REFRESH_TOKEN}
        self.expires_in = 3600
        self._counter = itertools.count(1)
        server.expect_request(PASSWORD_GRANT_PATH, method="POST").respond_with_handler(self._password_grant)
        server.expect_request(REFRESH_GRANT_PATH, method="POST").respond_with_handler(self._refresh_grant)
        # Permanent handlers match in the order registered: everything else is "the API".
        server.expect_request(re.compile(r"^/.*")).respond_with_handler(self._api_default)

    def revoke_tokens(self) -> None:
        """Make every access token issued so far invalid (as if expired server-side)."""
        with self.lock:
            self.valid_tokens.clear()

    def _issue(self) -> str:
        token = f"access-{next(self._counter)}"
        self.valid_tokens.add(token)
        return token

    def _password_grant(self, request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("Authorization", "") != expected:
            return json_response({"error": "invalid_client"}, 401)
        form = request.form
        if (
            form.get("grant_type") != "password"
            or form.get("scope") != "read write"
            or form.get("username") != API_KEY
            or form.get("password") != API_KEY
        ):
            return json_response({"error": "invalid_grant"}, 400)
        with self.lock:
            token = self._issue()
        return json_response(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "refresh_token": None,
            }
        )

    def _refresh_grant(self, request: Request) -> Response:
        form = request.form
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return json_response({"error": "invalid_client"}, 401)
        with self.lock:
            spent = form.get("refresh_token")
            if form.get("grant_type") != "refresh_token" or spent not in self.valid_refresh_tokens:
                return json_response({"error": "invalid_grant"}, 400)
            self.valid_refresh_tokens.discard(spent)
            successor = f"rotated-refresh-{next(self._counter)}"
            self.valid_refresh_tokens.add(successor)
            token = self._issue()
        return json_response(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "refresh_token": successor,
            }
        )

    def _api_default(self, request: Request) -> Response:
        auth = request.headers.get("Authorization", "")
        with self.lock:
            live = auth.startswith("Bearer ") and auth[7:] in self.valid_tokens
        if not live:
            return json_response({"code": 41, "message": "Unauthorized"}, 401)
        return json_response({"ok": True, "method": request.method, "path": request.path})


def is_token_request(request: Request) -> bool:
    return request.path in (PASSWORD_GRANT_PATH, REFRESH_GRANT_PATH)


def token_requests(server: HTTPServer) -> list[Request]:
    """Requests to the token endpoints, in order (from ``httpserver.log``)."""
    return [request for request, _ in server.log if is_token_request(request)]


def api_requests(server: HTTPServer, path: str | None = None) -> list[Request]:
    """Requests other than the token endpoints (optionally only to ``path``), in order."""
    return [
        request
        for request, _ in server.log
        if not is_token_request(request) and (path is None or request.path == path)
    ]


def answer_before_the_api_default(server: HTTPServer) -> None:
    """Move the permanent handler registered last in front of :class:`DineroTokens`' catch-all for the API
    (permanent handlers match in the order registered), so a test's own answer for a path wins."""
    server.handlers.insert(0, server.handlers.pop())
