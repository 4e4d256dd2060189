"""VCR cassettes: the HTTP layer replayed without a server, with credentials filtered out.

``tests/cassettes/tap_dinero_org_100001.yaml`` was recorded from the sandbox (organization 100001, API-key
flow, every stream). Re-record it with ``DINERO_RECORD_CASSETTES=1 pytest tests/tap/test_cassettes.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import vcr
import yaml

from dinero_sandbox.constants import DEMO_API_KEY_2, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, ORG_SECOND
from tests.tap.conftest import FAST_QUOTA
from tests.tap.helpers import run_tap

CASSETTE = Path(__file__).resolve().parents[1] / "cassettes" / "tap_dinero_org_100001.yaml"
FILTERED = "<filtered>"
TOKEN_PATHS = ("/dineroapi/oauth/token", "/connect/token")
SECRETS = (DEMO_CLIENT_SECRET, DEMO_API_KEY_2)
# Seed sizes of the demo's second organization (dinero_sandbox.seed.DEMO_SECOND), deleted rows included.
EXPECTED_COUNTS = {"contacts": 20, "products": 10, "invoices": 40, "sales_credit_notes": 3, "trade_offers": 6}


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


def _config(api_url: str, quota_dir: Path) -> dict[str, Any]:
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


def _record(sandbox, path: Path, quota_dir: Path):
    path.unlink(missing_ok=True)
    with cassette_vcr("all").use_cassette(str(path)):
        return run_tap(_config(sandbox.url, quota_dir))


def _assert_no_secrets(path: Path, extra: tuple[str, ...] = ()) -> None:
    text = path.read_text()
    for secret in (*SECRETS, *extra):
        assert secret not in text
    assert "Bearer " not in text and "Basic " not in text
    interactions = yaml.safe_load(text)["interactions"]
    for interaction in interactions:
        assert not {k.lower() for k in interaction["request"]["headers"]} & {"authorization", "cookie"}


def _recorded_api_url(path: Path) -> str:
    first = yaml.safe_load(path.read_text())["interactions"][0]["request"]["uri"]
    parts = urlsplit(first)
    return f"{parts.scheme}://{parts.netloc}"


def test_recorded_cassette_has_no_secrets_and_replays_the_same_records(sandbox, tmp_path):
    path = tmp_path / "tap.yaml"
    live = _record(sandbox, path, tmp_path / "q1")
    assert live.error is None
    token = live.tap.client_for(ORG_SECOND).session.token_provider.get_token()
    _assert_no_secrets(path, extra=(token,))

    with cassette_vcr("none").use_cassette(str(path)) as cassette:
        replayed = run_tap(_config(sandbox.url, tmp_path / "q2"))
    assert replayed.error is None
    assert cassette.play_count > 0
    assert _without_sync_time(replayed.records) == _without_sync_time(live.records)


def _without_sync_time(records: dict[str, list[dict]]) -> dict[str, list[dict]]:
    return {name: [{**r, "_sdc_synced_at": None} for r in rows] for name, rows in records.items()}


@pytest.mark.skipif(not os.environ.get("DINERO_RECORD_CASSETTES"), reason="set DINERO_RECORD_CASSETTES=1")
def test_rerecord_committed_cassette(sandbox, tmp_path):
    result = _record(sandbox, CASSETTE, tmp_path)
    assert result.error is None
    _assert_no_secrets(CASSETTE)


def test_committed_cassette_replays_without_a_server(tmp_path):
    _assert_no_secrets(CASSETTE)
    api_url = _recorded_api_url(CASSETTE)
    with cassette_vcr("none").use_cassette(str(CASSETTE)) as cassette:
        result = run_tap(_config(api_url, tmp_path))
    assert result.error is None
    assert cassette.all_played or cassette.play_count == len(cassette.data)
    for stream, count in EXPECTED_COUNTS.items():
        assert len(result.stream(stream)) == count, stream
        assert {r["organization_id"] for r in result.stream(stream)} == {ORG_SECOND}
    assert [o["Id"] for o in result.stream("organizations")] == [int(ORG_SECOND)]
    invoice_guids = {i["Guid"] for i in result.stream("invoices") if not i["DeletedAt"]}
    assert {line["InvoiceGuid"] for line in result.stream("invoice_lines")} == invoice_guids
    assert (
        result.stream("entries") and result.stream("manual_vouchers") and result.stream("purchase_vouchers")
    )
    assert result.partition_state("contacts", ORG_SECOND)["replication_key_value"]
