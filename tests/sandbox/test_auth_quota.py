"""Authentication (both flows), token rejection and the quota, as the reference describes them."""

from __future__ import annotations

import requests

from dinero_sandbox.constants import (
    DEMO_API_KEY,
    DEMO_API_KEY_2,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
)
from dinero_sandbox.testing import SandboxServer
from tests.harness import wait_until

from .conftest import Api, api_key_token


def _refresh(
    sandbox: SandboxServer, refresh_token: str, secret: str = DEMO_CLIENT_SECRET
) -> requests.Response:
    return requests.post(
        sandbox.connect_token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": DEMO_CLIENT_ID,
            "client_secret": secret,
        },
        timeout=10,
    )


def test_api_key_grant_answers_bearer_token_without_refresh_token(sandbox: SandboxServer) -> None:
    response = requests.post(
        sandbox.token_url,
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        data={
            "grant_type": "password",
            "scope": "read write",
            "username": DEMO_API_KEY,
            "password": DEMO_API_KEY,
        },
        timeout=10,
    )
    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["refresh_token"] is None


def test_bad_client_secret_is_invalid_client(sandbox: SandboxServer) -> None:
    response = requests.post(
        sandbox.token_url,
        auth=(DEMO_CLIENT_ID, "wrong"),
        data={"grant_type": "password", "username": DEMO_API_KEY, "password": DEMO_API_KEY},
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


def test_unknown_api_key_is_invalid_grant(sandbox: SandboxServer) -> None:
    response = requests.post(
        sandbox.token_url,
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        data={"grant_type": "password", "username": "nope", "password": "nope"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_refresh_token_rotates_and_a_used_one_is_refused(sandbox: SandboxServer) -> None:
    first = _refresh(sandbox, DEMO_REFRESH_TOKEN).json()
    rotated = first["refresh_token"]
    assert rotated and rotated != DEMO_REFRESH_TOKEN
    second = _refresh(sandbox, rotated)
    assert second.status_code == 200
    assert _refresh(sandbox, rotated).json() == {"error": "invalid_grant"}  # valid once
    # a Visma Connect token reaches every organization
    api = Api(sandbox, first["access_token"], org="100001")
    assert api.get("/v1/{org}/contacts").status_code == 200
    orgs = api.get("/v1/organizations").json()
    assert [o["id"] for o in orgs] == [100000, 100001]


def test_missing_wrong_and_expired_tokens_answer_401_json(sandbox: SandboxServer, api: Api) -> None:
    bare = requests.get(f"{sandbox.url}/v1/100000/contacts", timeout=10)
    assert bare.status_code == 401 and bare.json()["code"] == 41
    wrong = Api(sandbox, "not-a-token").get("/v1/{org}/contacts")
    assert wrong.status_code == 401
    assert api.get("/v1/{org}/contacts").status_code == 200
    sandbox.expire_tokens()
    assert api.get("/v1/{org}/contacts").status_code == 401


def test_token_lifetime_is_configurable(sandbox: SandboxServer) -> None:
    sandbox.set_token_ttl(0.3)
    api = Api(sandbox, api_key_token(sandbox))
    assert api.get("/v1/{org}/vatTypes").status_code == 200
    # 0.3 s instead of the default hour: the token dies within seconds (polled, not slept for)
    wait_until(
        lambda: api.get("/v1/{org}/vatTypes").status_code == 401, timeout=30, what="the token to expire"
    )


def test_api_key_token_only_reaches_its_own_organization(sandbox: SandboxServer) -> None:
    api = Api(sandbox, api_key_token(sandbox, DEMO_API_KEY_2), org="100001")
    assert api.get("/v1/{org}/contacts").status_code == 200
    assert api.get("/v1/100000/contacts").status_code == 403
    assert [o["id"] for o in api.get("/v1/organizations").json()] == [100001]


def test_quota_answers_429_with_dinero_body_and_retry_after(sandbox: SandboxServer, api: Api) -> None:
    sandbox.set_quota(3, 1.0)
    statuses = [api.get("/v1/{org}/vatTypes").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = api.get("/v1/{org}/vatTypes")
    assert refused.text == "API calls quota exceeded! maximum admitted 3 per 1s."
    assert refused.headers["Content-Type"].startswith("text/plain")
    assert 1 <= int(refused.headers["Retry-After"]) <= 1
    # token requests do not count, another organization has its own budget
    api_key_token(sandbox)
    other = Api(sandbox, api_key_token(sandbox, DEMO_API_KEY_2), org="100001")
    assert other.get("/v1/{org}/vatTypes").status_code == 200
    assert sandbox.stats()["by_status"]["429"] == 2
    # The 1 s window reopens: poll for it (refused requests do not count, so polling cannot keep it shut).
    wait_until(
        lambda: api.get("/v1/{org}/vatTypes").status_code == 200,
        timeout=30,
        what="the quota window to reopen",
    )


def test_quota_message_for_a_minute_window(sandbox: SandboxServer, api: Api) -> None:
    sandbox.set_quota(1, 60)
    api.get("/v1/{org}/vatTypes")
    refused = api.get("/v1/{org}/vatTypes")
    assert refused.text == "API calls quota exceeded! maximum admitted 1 per 1m."
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_a_bare_quota_answer_carries_only_the_documented_text(sandbox: SandboxServer, api: Api) -> None:
    """``rate_limit_answer=bare``: the 429 as far as Dinero documents it, no header, no limit to learn."""
    sandbox.set_behaviours(rate_limit_answer="bare")
    sandbox.set_quota(1, 60)
    api.get("/v1/{org}/vatTypes")
    refused = api.get("/v1/{org}/vatTypes")
    assert refused.status_code == 429
    assert refused.text == "API calls quota exceeded!"
    assert refused.headers["Content-Type"].startswith("text/plain")
    assert "Retry-After" not in refused.headers


def test_request_log_records_route_status_and_org(sandbox: SandboxServer, api: Api) -> None:
    sandbox.clear_requests()
    api.get("/v1/{org}/contacts", pageSize=5)
    api.get("/v1/{org}/nothing-here")
    log = sandbox.requests()
    assert [(e["method"], e["path"], e["status"], e["org"]) for e in log] == [
        ("GET", "/v1/100000/contacts", 200, "100000"),
        ("GET", "/v1/100000/nothing-here", 404, None),
    ]
    assert log[0]["query"] == "pageSize=5" and log[0]["client_id"] == DEMO_CLIENT_ID
    stats = sandbox.stats()
    assert stats["by_route"]["GET /v1/{org}/contacts"] == 1
    assert sandbox.requests(since=log[0]["id"])[0]["path"] == "/v1/100000/nothing-here"
