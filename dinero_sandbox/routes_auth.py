"""Token endpoints of both flows (not counted by the quota):

* ``POST /dineroapi/oauth/token`` - API-key flow: HTTP Basic client id/secret, form
  ``grant_type=password&scope=read write&username=<api key>&password=<api key>``.
* ``POST /connect/token`` - Visma Connect: form ``grant_type=refresh_token&refresh_token=..&client_id=..
  &client_secret=..`` (Basic auth accepted too); answers a rotated refresh token.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from .api_common import state
from .errors import json_response, oauth_error

bp = Blueprint("oauth", __name__)


def _client() -> tuple[str | None, str | None]:
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        return auth.username, auth.password
    return request.form.get("client_id"), request.form.get("client_secret")


@bp.post("/dineroapi/oauth/token")
def api_key_token() -> Response:
    """Password grant with the organization's API key as username and password."""
    client_id, secret = _client()
    tokens = state().tokens
    if not tokens.client_ok(client_id, secret):
        return oauth_error(401, "invalid_client")
    form = request.form
    if form.get("grant_type") != "password":
        return oauth_error(400, "unsupported_grant_type")
    username, password = form.get("username"), form.get("password")
    if not username or username != password:
        return oauth_error(400, "invalid_grant")
    granted = tokens.grant_api_key(client_id or "", username)
    if granted is None:
        return oauth_error(400, "invalid_grant")
    token, ttl = granted
    return json_response(
        {"access_token": token, "token_type": "Bearer", "expires_in": ttl, "refresh_token": None}
    )


@bp.post("/connect/token")
def visma_connect_token() -> Response:
    """Refresh-token grant with rotation."""
    client_id, secret = _client()
    tokens = state().tokens
    if not tokens.client_ok(client_id, secret):
        return oauth_error(401, "invalid_client")
    form = request.form
    if form.get("grant_type") != "refresh_token":
        return oauth_error(400, "unsupported_grant_type")
    refreshed = tokens.refresh(client_id or "", form.get("refresh_token") or "")
    if refreshed is None:
        return oauth_error(400, "invalid_grant")
    token, ttl, new_refresh = refreshed
    return json_response(
        {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "refresh_token": new_refresh,
            "scope": "dineropublicapi:read dineropublicapi:write offline_access",
        }
    )
