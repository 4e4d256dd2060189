"""CLI behaviour (--about, --discover, --test), stream maps and flattening, and how failures surface."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from singer_sdk.exceptions import FatalAPIError

from dinero_api.auth import forget_cached_tokens
from tap_dinero.tap import TapDinero
from tests.harness import run_tap

ORG = "100000"


def _cli(args: list[str], config: dict | None = None, tmp_path=None):
    if config is not None:
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config))
        args = [*args, "--config", str(path)]
    return CliRunner().invoke(TapDinero.cli, args, catch_exceptions=False)


def test_about_and_discover_need_no_server(tmp_path):
    about = _cli(["--about", "--format", "json"])
    assert about.exit_code == 0
    settings = json.loads(about.output)["settings"]["properties"]
    assert settings["api_key"]["secret"] and settings["refresh_token"]["secret"]

    config = {"client_id": "x", "client_secret": "y", "api_key": "z", "organization_id": ORG}
    discover = _cli(["--discover"], config, tmp_path)
    assert discover.exit_code == 0
    streams = {s["tap_stream_id"]: s for s in json.loads(discover.output)["streams"]}
    assert streams["invoices"]["replication_method"] == "INCREMENTAL"
    assert streams["files"]["replication_method"] == "FULL_TABLE"


def test_connection_test_is_one_cheap_request(sandbox, tap_config, tmp_path, sandbox_requests):
    forget_cached_tokens()  # an earlier test may have revoked the cached token (a 401 + retry here)
    result = _cli(["--test"], tap_config, tmp_path)
    assert result.exit_code == 0
    api_calls = [r for r in sandbox_requests() if not r["path"].endswith("/token")]
    assert [r["path"] for r in api_calls] == [f"/v1/{ORG}/accountingyears"]


def test_catalog_selection_stream_maps_and_flattening(sandbox, tap_config):
    config = {
        **tap_config,
        "stream_maps": {"contacts": {"Email": None, "__alias__": "customers"}},
        "flattening_enabled": True,
        "flattening_max_depth": 1,
    }
    result = run_tap(config, streams=["contacts", "files"])
    assert result.error is None, result.error
    assert set(result.records) == {"customers", "files"}
    assert all("Email" not in c for c in result.stream("customers"))
    linked = [f for f in result.stream("files") if f.get("Linked")]
    assert linked and all(isinstance(f["Linked"], str) for f in linked)  # arrays flatten to JSON text


def test_server_errors_are_retried_by_the_shared_session_only(sandbox, tap_config, sandbox_requests):
    sandbox.set_fault("5xx", count=2, path_contains=f"/v1/{ORG}/products")
    config = {**tap_config, "retry_backoff_seconds": 0}
    result = run_tap(config, streams=["products"])
    assert result.error is None, result.error
    assert len(result.stream("products")) == len(sandbox.dump(ORG, "products"))
    calls = [r for r in sandbox_requests() if r["path"] == f"/v1/{ORG}/products"]
    assert [r["status"] for r in calls] == [500, 500, 200, 200]  # 2 retries, then the deletion pass


def test_exhausted_retries_fail_once_with_dinero_message(sandbox, tap_config, sandbox_requests):
    sandbox.set_fault("5xx", count=50, path_contains=f"/v1/{ORG}/products")
    config = {**tap_config, "retry_backoff_seconds": 0, "max_retries": 2}
    with pytest.raises(FatalAPIError, match="HTTP 500"):
        run_tap(config, streams=["products"], reraise=True)
    assert len([r for r in sandbox_requests() if r["path"] == f"/v1/{ORG}/products"]) == 3  # not 3 x 5


def test_a_failed_run_is_reported_in_result_error_so_the_assertions_after_run_tap_decide(
    sandbox, tap_config
) -> None:
    """issue 11 item 8: run_tap used to raise on every error but a kill, so ``assert result.error is None``
    after it could never fail; a failed run must come back in ``error``."""
    sandbox.set_fault("5xx", count=50, path_contains=f"/v1/{ORG}/products")
    result = run_tap({**tap_config, "retry_backoff_seconds": 0, "max_retries": 1}, streams=["products"])
    assert isinstance(result.error, FatalAPIError) and "HTTP 500" in str(result.error)


def test_client_errors_are_fatal_and_quote_dinero(sandbox, tap_config, sandbox_requests):
    config = {**tap_config, "organization_id": "100001"}  # the API key belongs to 100000
    with pytest.raises(Exception, match="100001") as failure:
        run_tap(config, streams=["contacts"], reraise=True)
    assert "sandbox-api-key" not in str(failure.value)
    assert len([r for r in sandbox_requests() if r["path"].endswith("/contacts")]) <= 2
