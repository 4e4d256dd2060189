"""Both token flows, as Dinero / Visma Connect would see them."""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from fake_dinero import API_KEY, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeDinero

from dinero_api.auth import AccessToken, RefreshTokenProvider, token_provider_for
from dinero_api.errors import DineroAuthError
from dinero_api.quota import QuotaThrottle
from dinero_api.settings import DineroSettings


def test_api_key_password_grant_shape_and_bearer(
    fake_dinero: FakeDinero, api_config: dict, make_client: Any
) -> None:
    client = make_client(api_config)
    assert client.get_json("/v1/{org}/contacts/abc")["ok"] is True

    (grant,) = fake_dinero.token_requests()
    assert grant.path == "/dineroapi/oauth/token"
    basic = base64.b64decode(grant.headers["Authorization"].removeprefix("Basic ")).decode()
    assert basic == f"{CLIENT_ID}:{CLIENT_SECRET}"
    assert grant.form == {
        "grant_type": "password",
        "scope": "read write",
        "username": API_KEY,
        "password": API_KEY,
    }
    (call,) = fake_dinero.api_requests()
    assert call.headers["Authorization"] == "Bearer access-1"


def test_token_is_cached_between_requests(
    fake_dinero: FakeDinero, api_config: dict, make_client: Any
) -> None:
    client = make_client(api_config)
    for _ in range(4):
        client.get_json("/v1/{org}/contacts/abc")
    assert len(fake_dinero.token_requests()) == 1
    assert len(fake_dinero.api_requests()) == 4


def test_token_is_reacquired_a_minute_before_expiry() -> None:
    now = time.time()
    assert AccessToken("t", now + 61, 3600).usable(now)
    assert not AccessToken("t", now + 59, 3600).usable(now)
    # Very short lifetimes refresh at half-life instead of never being usable.
    assert AccessToken("t", now + 30, 40).usable(now)


def test_expiring_token_triggers_a_new_grant(
    fake_dinero: FakeDinero, api_config: dict, make_client: Any
) -> None:
    fake_dinero.token_expires_in = 50  # under the 60 s margin -> usable for 25 s (half-life)
    client = make_client(api_config)
    client.get_json("/v1/{org}/x")
    provider = client.session.token_provider
    provider._token = AccessToken(provider._token.value, time.time() + 10, 50)  # 10 s left
    client.get_json("/v1/{org}/x")
    assert len(fake_dinero.token_requests()) == 2
    assert [r.headers["Authorization"] for r in fake_dinero.api_requests()] == [
        "Bearer access-1",
        "Bearer access-2",
    ]


def test_token_requests_do_not_use_the_quota(
    fake_dinero: FakeDinero, api_config: dict, make_client: Any, tmp_path: Path
) -> None:
    class CountingThrottle(QuotaThrottle):
        acquired = 0

        def acquire(self) -> float:
            CountingThrottle.acquired += 1
            return super().acquire()

    throttle = CountingThrottle(("c", "o"), 100, 60, str(tmp_path / "q"))
    client = make_client(api_config, throttle=throttle)
    client.get_json("/v1/{org}/a")
    client.get_json("/v1/{org}/b")
    assert len(fake_dinero.token_requests()) == 1
    assert CountingThrottle.acquired == 2


@pytest.mark.parametrize(
    ("change", "oauth_error"),
    [
        ({"client_secret": "wrong-secret-xyz"}, "invalid_client"),
        ({"api_key": "wrong-api-key-xyz"}, "invalid_grant"),
    ],
)
def test_bad_credentials_give_a_clear_auth_error_without_secrets(
    fake_dinero: FakeDinero, api_config: dict, make_client: Any, change: dict, oauth_error: str
) -> None:
    client = make_client({**api_config, **change})
    with pytest.raises(DineroAuthError) as info:
        client.get_json("/v1/{org}/contacts")
    message = str(info.value)
    assert oauth_error in message and "POST /dineroapi/oauth/token" in message
    for secret in (*change.values(), CLIENT_SECRET, API_KEY):
        assert secret not in message
    assert fake_dinero.api_requests() == []


# -- Visma Connect refresh-token flow ---------------------------------------------------------------


def test_refresh_flow_rotates_and_persists_token_file(
    fake_dinero: FakeDinero, refresh_config: dict, make_client: Any
) -> None:
    client = make_client(refresh_config)
    client.get_json("/v1/{org}/contacts/a")

    (first,) = fake_dinero.token_requests()
    assert first.path == "/connect/token"
    assert first.form == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH_TOKEN,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    token_file = Path(refresh_config["token_file"])
    saved = json.loads(token_file.read_text())
    assert saved["refresh_token"].startswith("rotated-refresh-")
    assert saved["refresh_token"] in fake_dinero.valid_refresh_tokens
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600

    # The server drops the access token: the client must spend the *rotated* refresh token.
    fake_dinero.revoke_tokens()
    client.get_json("/v1/{org}/contacts/b")
    second = fake_dinero.token_requests()[1]
    assert second.form["refresh_token"] == saved["refresh_token"]
    assert json.loads(token_file.read_text())["refresh_token"] in fake_dinero.valid_refresh_tokens


def test_token_file_refresh_token_wins_over_config(
    fake_dinero: FakeDinero, refresh_config: dict, make_client: Any
) -> None:
    make_client(refresh_config).get_json("/v1/{org}/a")  # spends the configured refresh token
    assert REFRESH_TOKEN not in fake_dinero.valid_refresh_tokens

    # A later run with the same (now spent) config still works: the file's refresh token is used.
    token_file = Path(refresh_config["token_file"])
    state = json.loads(token_file.read_text())
    state.pop("access_token")  # force a refresh
    token_file.write_text(json.dumps(state))
    make_client(refresh_config).get_json("/v1/{org}/b")
    assert fake_dinero.token_requests()[-1].form["refresh_token"] == state["refresh_token"]


def test_two_processes_share_the_access_token_through_token_file(
    fake_dinero: FakeDinero, refresh_config: dict, make_client: Any
) -> None:
    tap = make_client(refresh_config)
    target = make_client(refresh_config)  # separate provider, as in a second process
    tap.get_json("/v1/{org}/a")
    target.get_json("/v1/{org}/b")
    assert len(fake_dinero.token_requests()) == 1  # the target reused the tap's token, no race on rotation


def test_refresh_without_token_file_keeps_rotation_in_memory(
    fake_dinero: FakeDinero, refresh_config: dict, make_client: Any
) -> None:
    config = {k: v for k, v in refresh_config.items() if k != "token_file"}
    client = make_client(config)
    client.get_json("/v1/{org}/a")
    fake_dinero.revoke_tokens()
    client.get_json("/v1/{org}/b")
    forms = [r.form["refresh_token"] for r in fake_dinero.token_requests()]
    assert forms[0] == REFRESH_TOKEN and forms[1].startswith("rotated-refresh-")


def test_spent_refresh_token_is_a_clear_error(
    fake_dinero: FakeDinero, refresh_config: dict, make_client: Any
) -> None:
    fake_dinero.valid_refresh_tokens.clear()
    client = make_client(refresh_config)
    with pytest.raises(DineroAuthError) as info:
        client.get_json("/v1/{org}/a")
    message = str(info.value)
    assert "invalid_grant" in message and "token_file" in message
    assert REFRESH_TOKEN not in message and CLIENT_SECRET not in message


def test_provider_registry_shares_one_refresh_chain_per_credential(refresh_config: dict) -> None:
    settings = DineroSettings.from_config(refresh_config)
    assert token_provider_for(settings) is token_provider_for(settings)
    assert isinstance(token_provider_for(settings), RefreshTokenProvider)
