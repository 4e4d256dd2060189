"""Both token flows, as Dinero / Visma Connect would see them."""

from __future__ import annotations

import base64
import errno
import json
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from token_endpoints import (
    API_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    DineroTokens,
    api_requests,
    token_requests,
)

from dinero_api.auth import AccessToken, ApiKeyTokenProvider, RefreshTokenProvider, token_provider_for
from dinero_api.errors import DineroAuthError, DineroTokenFileError
from dinero_api.quota import QuotaThrottle
from dinero_api.settings import DineroSettings


def test_api_key_password_grant_shape_and_bearer(
    httpserver: HTTPServer, api_config: dict, make_client: Any
) -> None:
    client = make_client(api_config)
    assert client.get_json("/v1/{org}/contacts/abc")["ok"] is True

    (grant,) = token_requests(httpserver)
    assert grant.path == "/dineroapi/oauth/token"
    basic = base64.b64decode(grant.headers["Authorization"].removeprefix("Basic ")).decode()
    assert basic == f"{CLIENT_ID}:{CLIENT_SECRET}"
    assert grant.form.to_dict() == {
        "grant_type": "password",
        "scope": "read write",
        "username": API_KEY,
        "password": API_KEY,
    }
    (call,) = api_requests(httpserver)
    assert call.headers["Authorization"] == "Bearer access-1"


def test_token_is_cached_between_requests(httpserver: HTTPServer, api_config: dict, make_client: Any) -> None:
    client = make_client(api_config)
    for _ in range(4):
        client.get_json("/v1/{org}/contacts/abc")
    assert len(token_requests(httpserver)) == 1
    assert len(api_requests(httpserver)) == 4


def test_token_is_reacquired_a_minute_before_expiry() -> None:
    now = time.time()
    assert AccessToken("t", now + 61, 3600).usable(now)
    assert not AccessToken("t", now + 59, 3600).usable(now)
    # Very short lifetimes refresh at half-life instead of never being usable.
    assert AccessToken("t", now + 30, 40).usable(now)


def test_expiring_token_triggers_a_new_grant(
    httpserver: HTTPServer, dinero: DineroTokens, api_config: dict, make_client: Any
) -> None:
    dinero.expires_in = 50  # under the 60 s margin -> usable for 25 s (half-life)
    client = make_client(api_config)
    client.get_json("/v1/{org}/x")
    provider = client.session.token_provider
    provider._token = AccessToken(provider._token.value, time.time() + 10, 50)  # 10 s left
    client.get_json("/v1/{org}/x")
    assert len(token_requests(httpserver)) == 2
    assert [r.headers["Authorization"] for r in api_requests(httpserver)] == [
        "Bearer access-1",
        "Bearer access-2",
    ]


def test_token_requests_do_not_use_the_quota(
    httpserver: HTTPServer, api_config: dict, make_client: Any, tmp_path: Path
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
    assert len(token_requests(httpserver)) == 1
    assert CountingThrottle.acquired == 2


@pytest.mark.parametrize(
    ("change", "oauth_error"),
    [
        ({"client_secret": "wrong-secret-xyz"}, "invalid_client"),
        ({"api_key": "wrong-api-key-xyz"}, "invalid_grant"),
    ],
)
def test_bad_credentials_give_a_clear_auth_error_without_secrets(
    httpserver: HTTPServer,
    api_config: dict,
    make_client: Any,
    change: dict,
    oauth_error: str,
) -> None:
    client = make_client({**api_config, **change})
    with pytest.raises(DineroAuthError) as info:
        client.get_json("/v1/{org}/contacts")
    message = str(info.value)
    assert oauth_error in message and "POST /dineroapi/oauth/token" in message
    for secret in (*change.values(), CLIENT_SECRET, API_KEY):
        assert secret not in message
    assert api_requests(httpserver) == []


# -- Visma Connect refresh-token flow ---------------------------------------------------------------


def test_refresh_flow_rotates_and_persists_token_file(
    httpserver: HTTPServer, dinero: DineroTokens, refresh_config: dict, make_client: Any
) -> None:
    client = make_client(refresh_config)
    client.get_json("/v1/{org}/contacts/a")

    (first,) = token_requests(httpserver)
    assert first.path == "/connect/token"
    assert first.form.to_dict() == {
        "grant_type": "refresh_token",
        "refresh_token": REFRESH_TOKEN,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    token_file = Path(refresh_config["token_file"])
    saved = json.loads(token_file.read_text())
    assert saved["refresh_token"].startswith("rotated-refresh-")
    assert saved["refresh_token"] in dinero.valid_refresh_tokens
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600

    # The server drops the access token: the client must spend the *rotated* refresh token.
    dinero.revoke_tokens()
    client.get_json("/v1/{org}/contacts/b")
    second = token_requests(httpserver)[1]
    assert second.form["refresh_token"] == saved["refresh_token"]
    assert json.loads(token_file.read_text())["refresh_token"] in dinero.valid_refresh_tokens


def test_token_file_refresh_token_wins_over_config(
    httpserver: HTTPServer, dinero: DineroTokens, refresh_config: dict, make_client: Any
) -> None:
    make_client(refresh_config).get_json("/v1/{org}/a")  # spends the configured refresh token
    assert REFRESH_TOKEN not in dinero.valid_refresh_tokens

    # A later run with the same (now spent) config still works: the file's refresh token is used.
    token_file = Path(refresh_config["token_file"])
    state = json.loads(token_file.read_text())
    state.pop("access_token")  # force a refresh
    token_file.write_text(json.dumps(state))
    make_client(refresh_config).get_json("/v1/{org}/b")
    assert token_requests(httpserver)[-1].form["refresh_token"] == state["refresh_token"]


def test_two_processes_share_the_access_token_through_token_file(
    httpserver: HTTPServer, refresh_config: dict, make_client: Any
) -> None:
    tap = make_client(refresh_config)
    target = make_client(refresh_config)  # separate provider, as in a second process
    tap.get_json("/v1/{org}/a")
    target.get_json("/v1/{org}/b")
    assert len(token_requests(httpserver)) == 1  # the target reused the tap's token, no race on rotation


def test_refresh_without_token_file_keeps_rotation_in_memory(
    httpserver: HTTPServer, dinero: DineroTokens, refresh_config: dict, make_client: Any
) -> None:
    config = {k: v for k, v in refresh_config.items() if k != "token_file"}
    client = make_client(config)
    client.get_json("/v1/{org}/a")
    dinero.revoke_tokens()
    client.get_json("/v1/{org}/b")
    forms = [r.form["refresh_token"] for r in token_requests(httpserver)]
    assert forms[0] == REFRESH_TOKEN and forms[1].startswith("rotated-refresh-")


def test_spent_refresh_token_is_a_clear_error(
    dinero: DineroTokens, refresh_config: dict, make_client: Any
) -> None:
    dinero.valid_refresh_tokens.clear()
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


# -- a rotated refresh token is never lost ------------------------------------------------------------------
def _fail_writes_under(monkeypatch: pytest.MonkeyPatch, directory: Path, call: str, err: int) -> None:
    """Make ``os.<call>`` fail with ``err`` inside ``directory``: ``open`` for writing (a read-only disk),
    or ``replace`` onto a ``.json`` file (the disk fails only when the new token file is put in place)."""
    original = getattr(os, call)

    def failing(path: Any, *args: Any, **kwargs: Any) -> Any:
        if call == "open":
            hit = str(path).startswith(str(directory)) and bool(args and args[0] & (os.O_WRONLY | os.O_RDWR))
        else:
            hit = str(args[0]).startswith(str(directory)) and str(args[0]).endswith(".json")
        if hit:
            raise OSError(err, os.strerror(err), str(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(os, call, failing)


def test_an_unwritable_token_file_stops_before_the_refresh_token_is_spent(
    httpserver: HTTPServer,
    dinero: DineroTokens,
    refresh_config: dict,
    make_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token_file = Path(refresh_config["token_file"])
    token_file.parent.mkdir(parents=True)
    _fail_writes_under(monkeypatch, token_file.parent, "open", errno.EROFS)
    client = make_client(refresh_config)
    with pytest.raises(DineroTokenFileError) as info:
        client.get_json("/v1/{org}/a")
    message = str(info.value)
    assert "NOT spent" in message and str(token_file) in message and "Read-only file system" in message
    assert token_requests(httpserver) == [] and REFRESH_TOKEN in dinero.valid_refresh_tokens
    assert "\n" not in message and REFRESH_TOKEN not in message


def test_a_failed_write_after_the_refresh_stops_at_once_and_rescues_the_new_refresh_token(
    httpserver: HTTPServer,
    dinero: DineroTokens,
    refresh_config: dict,
    make_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The disk fails between the refresh (token spent) and the rename: the run stops with one line that
    says where the successor is; that file holds the one valid refresh token."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    token_file = Path(refresh_config["token_file"])
    _fail_writes_under(monkeypatch, token_file.parent, "replace", errno.ENOSPC)
    client = make_client(refresh_config)
    with pytest.raises(DineroTokenFileError) as info:
        client.get_json("/v1/{org}/a")
    message = str(info.value)
    assert "spent" in message and "No space left on device" in message and "\n" not in message
    assert api_requests(httpserver) == []  # stopped at once
    (rescued,) = (tmp_path / "cache" / "dinero-singer").glob("dinero-token-rescued-*.json")
    assert str(rescued) in message
    assert stat.S_IMODE(rescued.stat().st_mode) == 0o600
    saved = json.loads(rescued.read_text())["refresh_token"]
    assert dinero.valid_refresh_tokens == {saved}  # the only valid one is the one kept
    assert saved not in message and not list(token_file.parent.glob(".*.tmp"))

    # Recovery as the message says: move the file into place; the next run works.
    monkeypatch.undo()
    os.replace(rescued, token_file)
    dinero.revoke_tokens()
    make_client(refresh_config).get_json("/v1/{org}/b")
    assert token_requests(httpserver)[-1].form["refresh_token"] == saved


def test_the_token_file_is_replaced_atomically_and_synced(
    refresh_config: dict,
    make_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    synced: list[str] = []
    original = os.fsync

    def recording(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}") if os.path.exists(f"/proc/self/fd/{fd}") else "?")
        original(fd)

    monkeypatch.setattr(os, "fsync", recording)
    make_client(refresh_config).get_json("/v1/{org}/a")
    token_dir = str(Path(refresh_config["token_file"]).parent)
    assert any(p.endswith(".tmp") for p in synced)  # the new content before the rename
    assert token_dir in synced  # the directory after it


def test_the_quota_slot_is_taken_after_the_token_right_before_sending(
    httpserver: HTTPServer, dinero: DineroTokens, api_config: dict, make_client: Any, tmp_path: Path
) -> None:
    """A slow token answer must not sit between a counted slot and the request: Dinero would count the
    request seconds late, in the next window."""
    events: list[tuple[str, float]] = []

    class SlowTokens(ApiKeyTokenProvider):
        def _obtain(self) -> AccessToken:
            time.sleep(0.3)  # a slow token endpoint: the fault under test, not a wait
            token = super()._obtain()
            events.append(("token", time.monotonic()))
            return token

    class Recording(QuotaThrottle):
        def acquire(self) -> float:
            waited = super().acquire()
            events.append(("slot", time.monotonic()))
            return waited

    settings = DineroSettings.from_config(api_config)
    client = make_client(
        api_config,
        token_provider=SlowTokens(settings),
        throttle=Recording(("c", "o"), 100, 60, str(tmp_path / "q")),
    )
    client.get_json("/v1/{org}/a")
    dinero.revoke_tokens()  # the next request gets a 401, then a new (slow) token
    client.get_json("/v1/{org}/b")
    # token, slot, send; slot, send (401); token (slow), slot, send -- never a slot before a slow token
    assert [e for e, _ in events] == ["token", "slot", "slot", "token", "slot"]
    assert len(api_requests(httpserver)) == 3


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A really read-only directory: a read-only tmpfs (root can write anywhere else); skipped if the
    machine does not allow mounting."""
    mount_point = tmp_path / "ro"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a read-only file system here")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], capture_output=True, check=False)


def test_a_token_file_on_a_read_only_file_system_is_refused_before_spending(
    httpserver: HTTPServer, refresh_config: dict, make_client: Any, read_only_dir: Path
) -> None:
    client = make_client({**refresh_config, "token_file": str(read_only_dir / "dinero-token.json")})
    with pytest.raises(DineroTokenFileError) as info:
        client.get_json("/v1/{org}/a")
    assert "NOT spent" in str(info.value) and "Read-only file system" in str(info.value)
    assert token_requests(httpserver) == []
