"""VCR cassettes of tap-dinero: record a sync from the sandbox with credentials filtered out, replay it.

Shared by ``tests/tap/test_cassettes.py`` (which records a throw-away cassette and replays both it and
the committed one) and ``scripts/record_cassettes.py`` (which re-records the committed one).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import vcr
import yaml

from dinero_sandbox.constants import DEMO_API_KEY_2, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, ORG_SECOND
from tests.harness import TapRun, run_tap
from tests.tap.conftest import FAST_QUOTA

__all__ = [
    "CASSETTE",
    "assert_no_secrets",
    "cassette_vcr",
    "record_cassette",
    "recorded_api_url",
    "tap_config",
]

#: The committed cassette: organization 100001 of the demo seed, API-key flow, every stream.
CASSETTE = Path(__file__).resolve().parents[1] / "cassettes" / "tap_dinero_org_100001.yaml"
FILTERED = "<filtered>"
TOKEN_PATHS = ("/dineroapi/oauth/token", "/connect/token")
SECRETS = (DEMO_CLIENT_SECRET, DEMO_API_KEY_2)


def _scrub_request(request: Any) -> Any:
    if urlsplit(request.uri).path.endswith(TOKEN_PATHS):
        request.body = FILTERED  # grant type, API key / refresh token, client id and secret
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body", {}).get("string") or b""
    if b"access_token" in body:
        payload = json.loads(body)
        for key in ("access_token", "refresh_token", "id_token"):
            if payload.get(key):
                payload[key] = FILTERED
        response["body"]["string"] = json.dumps(payload).encode()
    return response


def cassette_vcr(record_mode: str) -> vcr.VCR:
    """A VCR that strips Authorization headers, token request bodies and issued tokens."""
    return vcr.VCR(
        record_mode=record_mode,
        filter_headers=["authorization", "cookie", "set-cookie"],
        before_record_request=_scrub_request,
        before_record_response=_scrub_response,
        decode_compressed_response=True,
        match_on=["method", "scheme", "host", "port", "path", "query"],
    )


def tap_config(api_url: str, quota_dir: Path) -> dict[str, Any]:
    """Tap config for organization 100001 at ``api_url`` (API-key flow, no client-side quota waits)."""
    # token_file (unused by the API-key flow) makes the process-wide token cache key unique per run, so
    # every recording and replay starts with a token request of its own
    return {
        "token_file": str(quota_dir / "tokens.json"),
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "api_key": DEMO_API_KEY_2,
        "organization_id": ORG_SECOND,
        "api_url": api_url,
        "token_url": f"{api_url}/dineroapi/oauth/token",
        "quota_cache_dir": str(quota_dir),
        **FAST_QUOTA,
    }


def record_cassette(api_url: str, path: Path, quota_dir: Path) -> TapRun:
    """Sync every stream from the sandbox at ``api_url`` into a new cassette at ``path``."""
    path.unlink(missing_ok=True)
    with cassette_vcr("all").use_cassette(str(path)):
        result = run_tap(tap_config(api_url, quota_dir))
    if result.error is not None:
        raise result.error
    return result


def assert_no_secrets(path: Path, extra: tuple[str, ...] = ()) -> None:
    """Fail (AssertionError) when the cassette holds a credential, an issued token or an auth header."""
    text = path.read_text()
    for secret in (*SECRETS, *extra):
        assert secret not in text, "a credential was recorded"
    assert "Bearer " not in text and "Basic " not in text, "an Authorization value was recorded"
    interactions = yaml.safe_load(text)["interactions"]
    for interaction in interactions:
        headers = {k.lower() for k in interaction["request"]["headers"]}
        assert not headers & {"authorization", "cookie"}, "an Authorization/Cookie header was recorded"


def recorded_api_url(path: Path) -> str:
    """``scheme://host:port`` the cassette was recorded against (replays must ask the same URLs)."""
    first = yaml.safe_load(path.read_text())["interactions"][0]["request"]["uri"]
    parts = urlsplit(first)
    return f"{parts.scheme}://{parts.netloc}"
