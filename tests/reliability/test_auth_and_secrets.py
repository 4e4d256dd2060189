"""Authentication failures stop a run at once with one request and a clear message, and no secret ever
reaches an output: stdout (records, STATE), stderr (logs, tracebacks), the rejects file, the ledger,
the quota files, or a VCR cassette recorded with the plugins' filters.

The sandbox is given distinctive credentials for this (nothing else could contain them by chance).
Guarantee: no secret in output (docs/GUARANTEES.md).
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from dinero_sandbox import auth as sandbox_auth
from dinero_sandbox import constants
from tests.harness import (
    ORG,
    REPO,
    TAP_CODE,
    TARGET_CODE,
    record_message,
    run_tap,
    schema_message,
    singer_lines,
    state_message,
    tap_catalog,
    write_json,
)

CLIENT_ID = "rel-secrets-client"
CLIENT_SECRET = "S3cr3t-REL-client-8d7c6b5a"
API_KEY = "Ak-REL-apikey-1f2e3d4c"
REFRESH_TOKEN = "Rt-REL-refresh-9a8b7c6d"
WRONG_SECRET = "Wr0ng-REL-secret-5e4d3c2b"
WRONG_KEY = "Wr0ng-REL-apikey-0a1b2c3d"
OTHER_ORG_KEY = "Ak-REL-other-org-7e6f5a4b"
SECRETS = (CLIENT_SECRET, API_KEY, REFRESH_TOKEN, WRONG_SECRET, WRONG_KEY, OTHER_ORG_KEY)
ISSUED_TOKEN = re.compile(rb"sbx_(?:rt_)?[A-Za-z0-9_\-]{16,}")  # the sandbox's access/refresh tokens
STREAMS = ("accounting_years", "contacts", "invoices")


@pytest.fixture
def credentials(sandbox, monkeypatch) -> dict[str, Any]:
    """Register the distinctive client, API keys and refresh token with the (in-process) sandbox."""
    monkeypatch.setitem(constants.CLIENTS, CLIENT_ID, CLIENT_SECRET)
    monkeypatch.setitem(constants.API_KEYS, API_KEY, ORG)
    monkeypatch.setitem(constants.API_KEYS, OTHER_ORG_KEY, "100001")
    monkeypatch.setattr(sandbox_auth, "DEMO_REFRESH_TOKEN", REFRESH_TOKEN)
    return {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "api_key": API_KEY,
        "organization_id": ORG,
        "api_url": sandbox.url,
        "token_url": sandbox.token_url,
        "retry_backoff_seconds": 0.01,
        "max_retries": 2,
        "quota_requests": 100_000,
    }


def _forms(secret: str) -> list[bytes]:
    """The ways a secret could leak: as is, URL-encoded, and inside a Basic auth header."""
    forms = {secret, quote(secret), quote_plus(secret)}
    if secret in (CLIENT_SECRET, WRONG_SECRET):
        forms.add(base64.b64encode(f"{CLIENT_ID}:{secret}".encode()).decode())
    return [f.encode() for f in forms]


def _leaks(paths: list[Path]) -> list[str]:
    found = []
    for path in paths:
        data = path.read_bytes()
        for secret in SECRETS:
            found += [f"{path.name}: {form.decode()}" for form in _forms(secret) if form in data]
        found += [f"{path.name}: issued token {m.group().decode()}" for m in ISSUED_TOKEN.finditer(data)]
    return found


def _run(code: str, config: dict[str, Any], workdir: Path, name: str, *, stdin: str = "", extra=()) -> int:
    config_path = write_json(workdir / f"{name}.config.json", config)
    with (workdir / f"{name}.stdout").open("wb") as out, (workdir / f"{name}.stderr").open("wb") as err:
        return subprocess.run(
            [sys.executable, "-c", code, "--config", str(config_path), *extra],
            input=stdin.encode(),
            stdout=out,
            stderr=err,
            cwd=REPO,
            timeout=120,
            check=False,
        ).returncode


def _invoice(n: int, **over: Any) -> dict[str, Any]:
    return {
        "id": n,
        "ExternalReference": f"SEC-{n}",
        "Contact": {"Name": "Hemmelig ApS", "Email": "hemmelig@example.dk"},
        "ProductLines": [{"Description": "x", "Quantity": 1, "BaseAmountValue": 10, "AccountNumber": 1000}],
        **over,
    }


TARGET_INPUT = singer_lines(
    [schema_message("orders"), record_message("orders", _invoice(1)), state_message({"orders": 1})]
)

AUTH_FAILURES = {
    "wrong_secret": ({"client_secret": WRONG_SECRET}, "invalid_client", 1, 0),
    "revoked_api_key": ({"api_key": WRONG_KEY}, "invalid_grant", 1, 0),
    "spent_refresh_token": ({"api_key": None, "refresh_token": WRONG_KEY}, "invalid_grant", 1, 0),
    "key_of_another_org": ({"api_key": OTHER_ORG_KEY}, "403", 1, 1),
}


@pytest.mark.parametrize("tool", ["tap", "target"])
@pytest.mark.parametrize("case", list(AUTH_FAILURES))
def test_refused_credentials_fail_fast_with_one_request_and_a_clear_message(
    sandbox, credentials, tmp_path: Path, tool: str, case: str
) -> None:
    overrides, wording, token_requests, api_requests = AUTH_FAILURES[case]
    config = {**credentials, **overrides, "quota_cache_dir": str(tmp_path)}
    if config.get("refresh_token"):
        config["token_url"] = sandbox.connect_token_url
    config = {k: v for k, v in config.items() if v is not None}
    if tool == "target":
        config.update(
            streams={"orders": {"load_as": "invoice"}}, rejects_file=str(tmp_path / "rejects.jsonl")
        )
    before = len(sandbox.requests())

    code = TAP_CODE if tool == "tap" else TARGET_CODE
    returncode = _run(code, config, tmp_path, tool, stdin=TARGET_INPUT if tool == "target" else "")

    assert returncode != 0
    requests = sandbox.requests()[before:]
    assert len([r for r in requests if "token" in r["path"]]) == token_requests, requests
    assert len([r for r in requests if r["path"].startswith("/v")]) == api_requests, requests
    stderr = (tmp_path / f"{tool}.stderr").read_text(errors="replace")
    assert wording in stderr, stderr[-3000:]
    assert (tmp_path / f"{tool}.stdout").read_text() == "" or tool == "tap"
    assert (
        _leaks(sorted(p for p in tmp_path.iterdir() if p.is_file() and not p.name.endswith("config.json")))
        == []
    )


def test_no_secret_in_any_output_of_tap_and_target_runs(sandbox, credentials, tmp_path: Path) -> None:
    catalog = tap_catalog(
        {**credentials, "quota_cache_dir": str(tmp_path)}, STREAMS, tmp_path / "catalog.json"
    )
    tap = {**credentials, "quota_cache_dir": str(tmp_path), "page_size": 50}

    # 1. a full tap run (API-key flow), then one through Visma Connect with a rotating refresh token
    assert _run(TAP_CODE, tap, tmp_path, "tap", extra=["--catalog", str(catalog)]) == 0
    token_file = tmp_path / "tokens" / "dinero-token.json"
    connect = {
        **{k: v for k, v in tap.items() if k != "api_key"},
        "refresh_token": REFRESH_TOKEN,
        "token_url": sandbox.connect_token_url,
        "token_file": str(token_file),
    }
    assert _run(TAP_CODE, connect, tmp_path, "tap-connect", extra=["--catalog", str(catalog)]) == 0
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600  # the one place a refresh token may live
    # 2. a tap run that dies on a persistent server error (traceback in the log)
    sandbox.set_fault("5xx", count=1000, path_contains="/invoices", method="GET")
    assert _run(TAP_CODE, tap, tmp_path, "tap-5xx", extra=["--catalog", str(catalog)]) != 0
    sandbox.clear_faults()
    # 3. a target run with rejected records, a lost answer and booking; then a dry run
    target = {
        **credentials,
        "quota_cache_dir": str(tmp_path),
        "streams": {
            "orders": {"load_as": "invoice", "book": True},
            "receipts": {"load_as": "manual_voucher"},
        },
        "rejects_file": str(tmp_path / "rejects.jsonl"),
        "ledger_file": str(tmp_path / "ledger.jsonl"),
        "max_rejects": 10,
    }
    orders = [
        _invoice(1),
        _invoice(2, Date="2026-02-30"),
        _invoice(3, ExternalReference="x" * 200),
        _invoice(4),
    ]
    orders.append(_invoice(5, ProductLines=[{"Quantity": 1, "BaseAmountValue": 1, "AccountNumber": 4242}]))
    receipt = {
        "id": 1,
        "ExternalReference": "SEC-R1",
        "VoucherDate": "2026-11-03",
        "Lines": [{"AccountNumber": 5000, "BalancingAccountNumber": 55000, "Amount": 10}],
    }
    text = singer_lines(
        [
            schema_message("orders"),
            *(record_message("orders", o) for o in orders),
            schema_message("receipts"),
            record_message("receipts", receipt),
            state_message({"n": 6}),
        ]
    )
    sandbox.set_fault("commit_then_500", count=1, path_contains="/book", method="POST")
    assert _run(TARGET_CODE, target, tmp_path, "target", stdin=text) == 0
    assert _run(TARGET_CODE, {**target, "dry_run": True}, tmp_path, "target-dry", stdin=text) == 0
    # 4. failures caused by wrong credentials
    assert _run(TAP_CODE, {**tap, "client_secret": WRONG_SECRET}, tmp_path, "tap-wrong-secret") != 0
    assert _run(TARGET_CODE, {**target, "api_key": WRONG_KEY}, tmp_path, "target-wrong-key", stdin=text) != 0

    outputs = [
        p
        for p in tmp_path.rglob("*")
        if p.is_file() and not p.name.endswith("config.json") and not p.name.startswith(token_file.name)
    ]
    assert {p.name for p in outputs} >= {"tap.stdout", "tap.stderr", "rejects.jsonl", "ledger.sqlite3"}
    lines = (tmp_path / "rejects.jsonl").read_text().splitlines()
    rejected = [json.loads(line)["record"]["id"] for line in lines]
    # the 3 bad orders, by the run and the dry run; the wrong-key run may reject the ones it can tell bad
    # without a request (the chart is kept from the earlier run) before its first request is refused
    assert sorted(rejected[:6]) == [2, 2, 3, 3, 5, 5] and set(rejected[6:]) <= {2, 3, 5}
    assert _leaks(outputs) == []
    assert "RECORD" in (tmp_path / "tap.stdout").read_text()  # the grep looked at real output


def test_cassettes_hold_no_secret(sandbox, credentials, tmp_path: Path) -> None:
    """The committed cassettes, and a cassette recorded now with the tap's VCR filters from a run
    holding the distinctive credentials."""
    from tests.tap.test_cassettes import cassette_vcr

    committed = sorted((REPO / "tests" / "cassettes").glob("*.yaml"))
    demo = (constants.DEMO_CLIENT_SECRET, constants.DEMO_API_KEY, constants.DEMO_REFRESH_TOKEN)
    basic = base64.b64encode(f"{constants.DEMO_CLIENT_ID}:{constants.DEMO_CLIENT_SECRET}".encode())
    for path in committed:
        data = path.read_bytes()
        assert not [s for s in demo if s.encode() in data] and basic not in data, path
        assert not ISSUED_TOKEN.search(data), path

    sandbox.expire_tokens()  # no cached token: the recording includes the token exchange
    cassette = tmp_path / "recorded.yaml"
    with cassette_vcr("all").use_cassette(str(cassette)):
        run = run_tap({**credentials, "quota_cache_dir": str(tmp_path)}, streams=STREAMS)
    assert run.error is None, run.error
    assert b"/dineroapi/oauth/token" in cassette.read_bytes()
    assert _leaks([cassette]) == []


# ------------------------------------------------------------------------------------------------------
# Secrets of every JSON type are refused without being echoed
# ------------------------------------------------------------------------------------------------------
WRONG_TYPED = {
    "int": (98765432123, 12345678901),
    "float": (1234567.891, 7654321.123),
    "bool": (True, False),
    "list": (["ListSecret-abcdef", 424242424242], ["ListKey-fedcba"]),
    "object": ({"ObjKey-123456": "ObjSecret-654321"}, {"nested": {"deep": "DeepSecret-777777"}}),
}


def _leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *_leaves(v))]
    if isinstance(value, list):
        return [s for v in value for s in _leaves(v)]
    if isinstance(value, bool):
        return []  # "True"/"False" are ordinary words; the type name is asserted instead
    return [str(value), repr(value)]


@pytest.mark.parametrize("tool", ["tap", "target"])
@pytest.mark.parametrize("kind", list(WRONG_TYPED))
def test_secrets_of_any_json_type_are_never_echoed(
    sandbox, credentials, tmp_path: Path, tool: str, kind: str
) -> None:
    """An all-digit secret left unquoted in YAML, a list, an object...: the run stops before any request
    with a message naming the setting and the type, and the value appears in no output."""
    first, second = WRONG_TYPED[kind]
    configs = {
        "key": {**credentials, "client_secret": first, "api_key": second},
        "refresh": {
            **{k: v for k, v in credentials.items() if k != "api_key"},
            "refresh_token": second,
            "token_url": sandbox.connect_token_url,
        },
    }
    before = len(sandbox.requests())
    for name, config in configs.items():
        config = {**config, "quota_cache_dir": str(tmp_path)}
        if tool == "target":
            config.update(streams={"orders": {"load_as": "invoice"}}, rejects_file=str(tmp_path / "r.jsonl"))
            code = _run(TARGET_CODE, config, tmp_path, f"{tool}-{name}", stdin=TARGET_INPUT)
        else:
            catalog = tap_catalog(credentials, ("vat_types",), tmp_path / "catalog.json")
            code = _run(TAP_CODE, config, tmp_path, f"{tool}-{name}", extra=["--catalog", str(catalog)])
        output = (tmp_path / f"{tool}-{name}.stderr").read_text(errors="replace")
        output += (tmp_path / f"{tool}-{name}.stdout").read_text(errors="replace")
        assert code != 0
        assert "must be a string" in output, output[-3000:]
        for secret in _leaves(first) + _leaves(second):
            assert secret not in output, (secret, output[-3000:])
    assert [r for r in sandbox.requests()[before:] if r["path"].startswith("/v")] == []


# ------------------------------------------------------------------------------------------------------
# Credentials go only where the user pointed
# ------------------------------------------------------------------------------------------------------
ONLY_LOOPBACK = """
import socket, sys
_real = socket.getaddrinfo
def guarded(host, *args, **kwargs):
    with open(__import__("os").environ["HOSTS_LOG"], "a") as log:
        log.write(f"{host}\\n")
    if host not in ("127.0.0.1", "localhost"):
        raise socket.gaierror(f"test: no network to {host}")
    return _real(host, *args, **kwargs)
socket.getaddrinfo = guarded
"""


@pytest.mark.parametrize("tool", ["tap", "target"])
def test_with_only_api_url_changed_no_request_goes_to_another_host(
    sandbox, credentials, tmp_path: Path, tool: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``api_url`` points at the sandbox, ``token_url`` is not set: the token request goes to the sandbox
    too (before, the API key went to Dinero's real token host)."""
    hosts = tmp_path / "hosts.log"
    monkeypatch.setenv("HOSTS_LOG", str(hosts))
    config = {k: v for k, v in credentials.items() if k != "token_url"}
    config["quota_cache_dir"] = str(tmp_path)
    before = len(sandbox.requests())
    if tool == "tap":
        catalog = tap_catalog(credentials, ("vat_types",), tmp_path / "catalog.json")
        code = _run(ONLY_LOOPBACK + TAP_CODE, config, tmp_path, tool, extra=["--catalog", str(catalog)])
    else:
        config.update(streams={"orders": {"load_as": "invoice"}}, rejects_file=str(tmp_path / "r.jsonl"))
        code = _run(ONLY_LOOPBACK + TARGET_CODE, config, tmp_path, tool, stdin=TARGET_INPUT)
    assert code == 0, (tmp_path / f"{tool}.stderr").read_text()[-3000:]
    assert set(hosts.read_text().split()) == {"127.0.0.1"}
    paths = [r["path"] for r in sandbox.requests()[before:]]
    assert "/dineroapi/oauth/token" in paths and any(p.startswith("/v1/") for p in paths)


# ------------------------------------------------------------------------------------------------------
# A rotated refresh token is never lost (through the CLI)
# ------------------------------------------------------------------------------------------------------
FAIL_TOKEN_FILE = """
import errno, os
_target = os.environ["FAIL_UNDER"]
_mode = os.environ["FAIL_MODE"]
_open, _replace = os.open, os.replace
def _open_guard(path, flags, *args, **kwargs):
    if _mode == "read-only" and str(path).startswith(_target) and flags & (os.O_WRONLY | os.O_RDWR):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
    return _open(path, flags, *args, **kwargs)
def _replace_guard(src, dst, *args, **kwargs):
    if _mode == "disk-fails" and str(dst).startswith(_target) and str(dst).endswith(".json"):
        raise OSError(errno.EIO, os.strerror(errno.EIO), str(dst))
    return _replace(src, dst, *args, **kwargs)
os.open, os.replace = _open_guard, _replace_guard
"""


@pytest.mark.parametrize("mode", ["read-only", "disk-fails"])
def test_a_refresh_token_is_never_lost_when_the_token_file_cannot_be_written(
    sandbox, credentials, tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """read-only: the run stops before spending the refresh token (the next run still has a valid one).
    disk-fails (after the refresh): the run stops at once with one line naming where the successor was
    rescued; that file holds the one valid refresh token and the next run works after moving it."""
    token_dir = tmp_path / "tokens"
    token_dir.mkdir()
    monkeypatch.setenv("FAIL_UNDER", str(token_dir))
    monkeypatch.setenv("FAIL_MODE", mode)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    catalog = tap_catalog(credentials, ("vat_types",), tmp_path / "catalog.json")
    config = {
        **{k: v for k, v in credentials.items() if k != "api_key"},
        "refresh_token": REFRESH_TOKEN,
        "token_url": sandbox.connect_token_url,
        "token_file": str(token_dir / "dinero-token.json"),
        "quota_cache_dir": str(tmp_path),
    }
    before = len(sandbox.requests())
    code = _run(FAIL_TOKEN_FILE + TAP_CODE, config, tmp_path, "tap", extra=["--catalog", str(catalog)])
    stderr = (tmp_path / "tap.stderr").read_text(errors="replace")
    assert code != 0
    assert "RECORD" not in (tmp_path / "tap.stdout").read_text()
    assert [r for r in sandbox.requests()[before:] if r["path"].startswith("/v")] == []
    assert _leaks([tmp_path / "tap.stderr", tmp_path / "tap.stdout"]) == []
    token_requests = [r for r in sandbox.requests()[before:] if r["path"] == "/connect/token"]
    monkeypatch.setenv("FAIL_MODE", "none")
    if mode == "read-only":
        assert "the refresh token was NOT spent" in stderr, stderr[-3000:]
        assert token_requests == []
    else:
        line = next(line for line in stderr.splitlines() if "successor could not be written" in line)
        rescued = Path(line.split("saved to ", 1)[1].split(" (mode 0600)", 1)[0])
        assert rescued.is_relative_to(tmp_path / "cache") and len(token_requests) == 1
        os.replace(rescued, token_dir / "dinero-token.json")  # the recovery the line tells
    # The next run works (the refresh token in use was never lost).
    sandbox_auth.DEMO_REFRESH_TOKEN = "no-longer-valid"  # only a rotated token can work now
    if mode == "read-only":
        sandbox_auth.DEMO_REFRESH_TOKEN = REFRESH_TOKEN
    assert _run(TAP_CODE, config, tmp_path, "tap-next", extra=["--catalog", str(catalog)]) == 0
