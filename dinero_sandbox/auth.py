"""Access tokens of both Dinero auth flows.

* API-key (personal integration) flow: a token bound to the API key's organization, no refresh token.
* Visma Connect refresh-token flow: a token reaching every organization; each refresh answers a new
  refresh token that can be used once (rotation). The demo refresh token is always valid.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from .constants import API_KEYS, CLIENTS, DEMO_REFRESH_TOKEN, TOKEN_TTL_SECONDS


@dataclass
class Token:
    """An issued access token."""

    client_id: str
    org: str | None  # None: every organization (Visma Connect)
    expires_at: float
    flow: str


class TokenStore:
    """Issues and checks access tokens; thread-safe."""

    def __init__(self, ttl: float = TOKEN_TTL_SECONDS) -> None:
        self.ttl = ttl
        self._tokens: dict[str, Token] = {}
        self._refresh_tokens: dict[str, str] = {}  # rotated refresh token -> client id
        self._lock = threading.Lock()

    @staticmethod
    def client_ok(client_id: str | None, secret: str | None) -> bool:
        """Whether the client credentials are registered."""
        return client_id is not None and CLIENTS.get(client_id) == secret

    def issue(self, client_id: str, org: str | None, flow: str) -> tuple[str, int]:
        """A new access token and its lifetime in seconds."""
        token = "sbx_" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = Token(client_id, org, time.monotonic() + self.ttl, flow)
        return token, max(int(self.ttl), 0)

    def grant_api_key(self, client_id: str, api_key: str) -> tuple[str, int] | None:
        """Password grant with an API key; None when the key is unknown."""
        org = API_KEYS.get(api_key)
        if org is None:
            return None
        return self.issue(client_id, org, "api_key")

    def refresh(self, client_id: str, refresh_token: str) -> tuple[str, int, str] | None:
        """Refresh-token grant: (access token, lifetime, new refresh token) or None if invalid/used."""
        with self._lock:
            if refresh_token != DEMO_REFRESH_TOKEN:
                owner = self._refresh_tokens.pop(refresh_token, None)
                if owner != client_id:
                    return None
            new_refresh = "sbx_rt_" + secrets.token_urlsafe(24)
            self._refresh_tokens[new_refresh] = client_id
        token, ttl = self.issue(client_id, None, "visma_connect")
        return token, ttl, new_refresh

    def check(self, token: str) -> Token | None:
        """The live token, or None when unknown or expired."""
        with self._lock:
            found = self._tokens.get(token)
            if found is None:
                return None
            if found.expires_at <= time.monotonic():
                del self._tokens[token]
                return None
            return found

    def expire_all(self) -> int:
        """Invalidate every access token issued so far; returns how many."""
        with self._lock:
            count = len(self._tokens)
            self._tokens.clear()
            return count

    def clear(self) -> None:
        """Forget tokens and rotated refresh tokens (reset)."""
        with self._lock:
            self._tokens.clear()
            self._refresh_tokens.clear()
