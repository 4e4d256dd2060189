"""Every known failure ends a ``tap-dinero`` / ``target-dinero`` run with one line and its exit code.

The commands run as the console scripts do (``python -m tap_dinero.cli``), against the in-process
sandbox: the last ERROR line names the cause, no traceback is printed (only at DEBUG), the exit code is
the one README's "Exit codes" table documents, and a configuration error writes nothing to stdout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dinero_api.cli import ExitCode

REPO = Path(__file__).resolve().parents[1]
FAST = {"quota_requests": 100_000, "quota_window_seconds": 60, "retry_backoff_seconds": 0, "max_retries": 1}


def closed_port_url() -> str:
    """A loopback URL on which nothing listens."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def run_cli(
    module: str, config: dict[str, Any], tmp_path: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m <module> --config ...`` the way the console script does."""
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    import os

    return subprocess.run(
        [sys.executable, "-m", module, "--config", str(path)],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "| ERROR" in line or "| CRITICAL" in line]


def assert_one_line_failure(result: subprocess.CompletedProcess[str], code: ExitCode, *words: str) -> str:
    errors = error_lines(result.stderr)
    assert result.returncode == int(code), result.stderr
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"[exit code {int(code)}]" in errors[0]
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def tap_cfg(sandbox_settings: dict[str, Any]) -> dict[str, Any]:
    return {**sandbox_settings, **FAST}


@pytest.fixture
def target_cfg(sandbox_settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    return {
        **sandbox_settings,
        **FAST,
        "streams": {"contacts": {"load_as": "contact"}},
        "rejects_file": str(tmp_path / "rejects.jsonl"),
        "ledger_file": str(tmp_path / "ledger.jsonl"),
    }


CONTACT_SCHEMA = json.dumps(
    {
        "type": "SCHEMA",
        "stream": "contacts",
        "schema": {"properties": {"id": {"type": "string"}, "Name": {"type": "string"}}},
        "key_properties": ["id"],
    }
)


def contact_input(*records: dict[str, Any], stream: str = "contacts") -> str:
    lines = [CONTACT_SCHEMA.replace('"contacts"', json.dumps(stream))]
    lines += [json.dumps({"type": "RECORD", "stream": stream, "record": r}) for r in records]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------ tap
@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"api_key": "not-the-key"}, ExitCode.CREDENTIALS, ["invalid_grant", "api_key"]),
        ({"client_secret": "not-the-secret"}, ExitCode.CREDENTIALS, ["invalid_client"]),
        ({"organization_id": "100001"}, ExitCode.NO_ACCESS, ["HTTP 403", "organization_id"]),
        ({"start_date": "yesterday"}, ExitCode.CONFIG, ["start_date", "yesterday"]),
        ({"entries_start_date": "last monday"}, ExitCode.CONFIG, ["entries_start_date"]),
        ({"api_key": None}, ExitCode.CONFIG, ["api_key", "refresh_token"]),
        ({"page_size": 5000}, ExitCode.CONFIG, ["page_size"]),
        ({"metrics_log_level": "LOUD"}, ExitCode.CONFIG, ["metrics_log_level"]),
        ({"organization_id": "acme"}, ExitCode.CONFIG, ["organization_id"]),
    ],
    ids=["api-key", "client-secret", "other-org", "start-date", "entries-start", "no-credentials",
         "page-size", "metrics-level", "org-not-digits"],
)
def test_tap_failure_is_one_line_with_its_exit_code(tap_cfg, tmp_path, change, code, words):
    config = {**tap_cfg, **change}
    config = {k: v for k, v in config.items() if v is not None}
    result = run_cli("tap_dinero.cli", config, tmp_path)
    assert_one_line_failure(result, code, *words)
    if code == ExitCode.CONFIG:
        assert result.stdout == ""  # validated at start-up: not even a SCHEMA message


def test_tap_unreachable_api_host(tap_cfg, tmp_path):
    url = closed_port_url()
    result = run_cli("tap_dinero.cli", {**tap_cfg, "api_url": url}, tmp_path)
    assert_one_line_failure(result, ExitCode.UNREACHABLE, "ConnectionError", "api_url")


def test_tap_unreachable_token_host(tap_cfg, tmp_path):
    result = run_cli("tap_dinero.cli", {**tap_cfg, "token_url": closed_port_url() + "/token"}, tmp_path)
    assert_one_line_failure(result, ExitCode.UNREACHABLE, "token_url")


def test_tap_token_endpoint_outage(sandbox, tap_cfg, tmp_path):
    sandbox.set_fault("5xx", count=50, path_contains="/token")
    result = run_cli("tap_dinero.cli", tap_cfg, tmp_path)
    assert_one_line_failure(result, ExitCode.UNREACHABLE, "HTTP 500", "not a refusal of the credentials")


def test_tap_403_answer_from_the_api(sandbox, tap_cfg, tmp_path):
    """Dinero answers 403 for an organization without a Pro subscription too (code 90)."""
    sandbox.set_fault("5xx", count=50, status=403, path_contains="/accountingyears")
    result = run_cli("tap_dinero.cli", tap_cfg, tmp_path)
    assert_one_line_failure(result, ExitCode.NO_ACCESS, "HTTP 403", "Pro subscription")


def test_tap_request_refused_by_dinero(sandbox, tap_cfg, tmp_path):
    """A 400 that is not about credentials or access (exit code 7 was documented but never checked)."""
    sandbox.set_fault("5xx", count=50, status=400, path_contains="/accountingyears")
    result = run_cli("tap_dinero.cli", tap_cfg, tmp_path)
    line = assert_one_line_failure(result, ExitCode.REFUSED, "400", "accountingyears")
    assert "api_key" not in line and "organization_id" not in line  # no misleading credential advice


def test_tap_quota_give_up(sandbox, tap_cfg, tmp_path):
    sandbox.set_fault("429", count=50, path_contains="/v1/")
    result = run_cli("tap_dinero.cli", {**tap_cfg, "max_rate_limit_wait_seconds": 0.5}, tmp_path)
    assert_one_line_failure(result, ExitCode.QUOTA, "429", "max_rate_limit_wait_seconds")


def test_traceback_only_at_debug(tap_cfg, tmp_path):
    config = {**tap_cfg, "api_key": "not-the-key"}
    quiet = run_cli("tap_dinero.cli", config, tmp_path)
    loud = run_cli("tap_dinero.cli", config, tmp_path, env={"TAP_DINERO_LOGLEVEL": "DEBUG"})
    assert "Traceback" not in quiet.stderr
    assert loud.returncode == quiet.returncode == int(ExitCode.CREDENTIALS)
    assert "Traceback" in loud.stderr


# --------------------------------------------------------------------------------------- target
def test_target_bad_credentials_exit_with_one_credentials_line(target_cfg, tmp_path):
    config = {**target_cfg, "api_key": "not-the-key"}
    result = run_cli("target_dinero.cli", config, tmp_path, contact_input({"id": "1", "Name": "A"}))
    assert_one_line_failure(result, ExitCode.CREDENTIALS, "invalid_grant")


def test_target_unmapped_stream_is_a_config_error_before_any_output(target_cfg, tmp_path):
    result = run_cli("target_dinero.cli", target_cfg, tmp_path, contact_input({"id": "1"}, stream="orders"))
    assert_one_line_failure(result, ExitCode.CONFIG, "'orders'", "load_as")
    assert result.stdout == ""


def test_target_bad_streams_setting(target_cfg, tmp_path):
    config = {**target_cfg, "streams": {"contacts": {"load_as": "nope"}}}
    result = run_cli("target_dinero.cli", config, tmp_path, contact_input({"id": "1", "Name": "A"}))
    assert_one_line_failure(result, ExitCode.CONFIG, "nope")


def test_target_rejects_over_the_limit(target_cfg, tmp_path):
    result = run_cli("target_dinero.cli", target_cfg, tmp_path, contact_input({"id": "1"}))  # no Name
    assert_one_line_failure(result, ExitCode.REJECTS, "rejected", "max_rejects")


def test_target_unreachable_api_exits_with_one_unreachable_line(target_cfg, tmp_path):
    url = closed_port_url()
    config = {**target_cfg, "api_url": url, "token_url": url + "/token"}
    result = run_cli("target_dinero.cli", config, tmp_path, contact_input({"id": "1", "Name": "A"}))
    assert_one_line_failure(result, ExitCode.UNREACHABLE)


def test_console_scripts_use_the_one_line_entry_points():
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'tap-dinero = "tap_dinero.cli:main"' in pyproject
    assert 'target-dinero = "target_dinero.cli:main"' in pyproject


def test_readme_documents_every_exit_code():
    readme = (REPO / "README.md").read_text()
    for code in ExitCode:
        assert f"| {int(code)} |" in readme, code


@pytest.mark.parametrize("module", ["tap_dinero.cli", "target_dinero.cli"])
def test_version_and_about_are_clean(module):
    def run(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=REPO, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "could not be detected" not in run("--version")
    assert run("--version").split()[1].startswith("v0.")
    markdown = run("--about", "--format", "markdown")
    assert markdown.startswith("# `")  # a heading, not an indented code block
    assert not any(line.startswith("    ") for line in markdown.splitlines()[:8])
    for role in (":mod:", ":class:", ":func:", ":meth:", "``"):
        assert role not in markdown
    json.loads(run("--about", "--format", "json"))
    assert run("--about").strip()
