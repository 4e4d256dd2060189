"""Any number of organizations: the ``,orgs=N[:SIZE]`` seed setting, credentials that reach them as
Dinero's do (one Visma Connect client for all, an API key per organization), each with its own data and
quota; 200 small organizations seed in seconds."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime

import pytest
import requests

from dinero_sandbox.constants import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN
from dinero_sandbox.seed import DEMO_MAIN, DEMO_SECOND, TINY, build_all, parse_seed_size
from dinero_sandbox.testing import SandboxServer

from .conftest import Api, api_key_token

ANCHOR = datetime(2026, 6, 1)


def test_seed_size_grammar() -> None:
    assert list(parse_seed_size("demo")) == ["100000", "100001"]
    sizes = parse_seed_size("large,orgs=5:tiny")
    assert list(sizes) == ["100000", "100001", "100002", "100003", "100004"]
    assert sizes["100000"].invoices == 100_000 and sizes["100001"] == DEMO_SECOND and sizes["100004"] == TINY
    assert parse_seed_size("orgs=3")["100002"] == DEMO_SECOND
    assert parse_seed_size("demo,orgs=3:demo")["100002"] == DEMO_MAIN
    assert parse_seed_size("demo,orgs=3:invoices=70")["100002"].invoices == 70
    assert list(parse_seed_size("demo,orgs=1")) == ["100000"]
    for bad in ("demo,orgs=0", "demo,orgs=3:huge", "demo,large", "orgs=x"):
        with pytest.raises(ValueError):
            parse_seed_size(bad)


def test_two_hundred_small_organizations_seed_in_seconds() -> None:
    started = time.perf_counter()
    orgs = build_all("demo,orgs=200", anchor=ANCHOR)
    seconds = time.perf_counter() - started
    assert len(orgs) == 200 and list(orgs)[-1] == "100199"
    assert len({o.info["Name"] for o in orgs.values()}) == 200
    assert all(len(o.table("invoices")) == DEMO_SECOND.invoices for oid, o in orgs.items() if oid != "100000")
    first, other = orgs["100002"].table("contacts"), orgs["100003"].table("contacts")
    assert first.cols["ContactGuid"][0] != other.cols["ContactGuid"][0]  # each seeded from its own id
    assert seconds < 60, f"200 small organizations took {seconds:.1f} s"  # ~1.5 s on a quiet machine


def test_credentials_reach_many_organizations_each_with_its_own_data(sandbox: SandboxServer) -> None:
    sandbox.reset("demo,orgs=12:tiny")
    sandbox.set_quota(100_000, 60.0)
    connect = requests.post(
        sandbox.connect_token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": DEMO_REFRESH_TOKEN,
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        },
        timeout=10,
    ).json()["access_token"]
    everyone = Api(sandbox, connect)
    assert [o["id"] for o in everyone.get("/v1/organizations").json()] == list(range(100000, 100012))
    key_api = Api(sandbox, api_key_token(sandbox, "sandbox-api-key-100011"), org="100011")
    assert [o["id"] for o in key_api.get("/v1/organizations").json()] == [100011]
    assert key_api.get("/v1/100010/contacts").status_code == 403
    contact = {
        "Name": "Kun i 100011",
        "CountryKey": "DK",
        "IsPerson": False,
        "IsMember": False,
        "UseCvr": False,
    }
    guid = key_api.post("/v1/{org}/contacts", contact).json()["ContactGuid"]
    assert Api(sandbox, connect, org="100011").get(f"/v1/{{org}}/contacts/{guid}").status_code == 200
    assert Api(sandbox, connect, org="100010").get(f"/v1/{{org}}/contacts/{guid}").status_code == 404
    assert set(sandbox.orgs()) == {str(100000 + k) for k in range(12)}


def test_cli_serves_many_organizations() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dinero_sandbox.cli", "--port", "0", "--orgs", "7", "--org-size", "tiny"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        text = "".join(proc.stdout.readline() for _ in range(9))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "orgs=7:tiny" in text and "sandbox-api-key-<org id> for any of the 7 organizations" in text
