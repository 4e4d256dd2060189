"""What an operator reads in the logs: no METRIC flood by default, progress with totals, quota waits said.

Runs ``tap-dinero`` as the console script does (``python -m tap_dinero.cli``) or in-process, against the
in-process sandbox.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dinero_api.client import DineroClient
from dinero_api.settings import DineroSettings
from tap_dinero.progress import StreamProgress
from tests import seed_facts
from tests.harness import run_tap

REPO = Path(__file__).resolve().parents[1]
FAST = {"quota_requests": 100_000, "quota_window_seconds": 60}
STREAMS = ["contacts", "products", "accounting_years"]


def run_tap_cli(config: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    from tests.harness import tap_catalog

    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    catalog = tap_catalog(config, STREAMS, tmp_path / "catalog.json")
    result = subprocess.run(
        [sys.executable, "-m", "tap_dinero.cli", "--config", str(config_path), "--catalog", str(catalog)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


def test_no_metric_lines_by_default_and_back_when_switched_on(sandbox_settings, tmp_path):
    config = {**sandbox_settings, **FAST}
    quiet = run_tap_cli(config, tmp_path)
    records = quiet.stdout.count('"type":"RECORD"') + quiet.stdout.count('"type": "RECORD"')
    # every seeded contact and product (deleted ones included) and every accounting year
    org = seed_facts.ORG_MAIN
    seeded = seed_facts.count(org, "contacts") + seed_facts.count(org, "products")
    assert records == seeded + len(seed_facts.accounting_years(org))
    assert "METRIC" not in quiet.stderr
    assert "assumed to be unsorted" not in quiet.stderr  # contacts and products are incremental
    assert [line for line in quiet.stderr.splitlines() if "| WARNING" in line or "| ERROR" in line] == []

    loud = run_tap_cli({**config, "metrics_log_level": "INFO"}, tmp_path)
    metric_lines = [line for line in loud.stderr.splitlines() if "METRIC:" in line]
    assert any('"metric":"record_count"' in line for line in metric_lines)
    assert any('"metric":"http_request_count"' in line for line in metric_lines)


def test_progress_line_has_count_total_rate_and_eta():
    now = [0.0]
    progress = StreamProgress(interval=30, clock=lambda: now[0])
    progress.start_partition(" (organization 100000)")
    progress.note_total(4000, exact=True)
    progress.note_total(9999, exact=True)  # later pages do not change the partition's total
    progress.records, progress.requests = 1000, 40
    now[0] = 50.0
    line = progress.line("invoices")
    assert line.startswith("invoices (organization 100000): 1000 of 4000 records (25 %), 20.0 records/s")
    assert "ETA 2 min 30 s" in line and "40 requests" in line

    bounded = StreamProgress(clock=lambda: now[0])
    bounded.start_partition("")
    bounded.note_total(100_000, exact=False)  # under changesSince Dinero may count the unfiltered list
    assert "at most 100000" in bounded.line("contacts") and "ETA" not in bounded.line("contacts")


def test_progress_is_logged_with_the_first_pages_total(sandbox, sandbox_settings, monkeypatch, caplog):
    monkeypatch.setattr("tap_dinero.progress.PROGRESS_INTERVAL_SECONDS", 0.0)
    caplog.set_level(logging.INFO)
    result = run_tap({**sandbox_settings, **FAST, "page_size": 20}, streams=["contacts"])
    rows = result.stream("contacts")
    assert len(rows) == len(sandbox.dump("100000", "contacts"))
    total = len([row for row in rows if not row.get("DeletedAt")])  # the list's count: live rows
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Progress of contacts")]
    assert lines, "no progress line"
    assert any(f" of {total} records" in line and "records/s" in line for line in lines), lines
    assert any("ETA" in line for line in lines), lines


def test_a_long_quota_wait_is_logged_while_it_lasts(sandbox, sandbox_settings, monkeypatch, caplog):
    monkeypatch.setattr("dinero_api.logs.QUOTA_WAIT_ANNOUNCE_SECONDS", 0.2)
    caplog.set_level(logging.INFO, logger="dinero_api.quota")
    settings = DineroSettings.from_config(
        {**sandbox_settings, "quota_requests": 1, "quota_window_seconds": 1.5, "quota_backend": "memory"}
    )
    with DineroClient(settings) as client:
        client.get_json("/v1/{org}/accountingyears")
        client.get_json("/v1/{org}/accountingyears")  # waits ~1.5 s for the window
    messages = [r.getMessage() for r in caplog.records if r.name == "dinero_api.quota"]
    waiting = [m for m in messages if m.startswith("Waiting for the Dinero request quota")]
    assert waiting and "1 requests per 1.5 s for organization 100000" in waiting[0], messages
    assert any(m.startswith("Quota wait over after") for m in messages), messages


@pytest.mark.parametrize("level", ["WARNING", "INFO"])
def test_metrics_log_level_is_a_documented_option(level):
    from tap_dinero.tap import TapDinero
    from target_dinero.target import TargetDinero

    for plugin in (TapDinero, TargetDinero):
        prop = plugin.config_jsonschema["properties"]["metrics_log_level"]
        assert level in prop["enum"] and prop["default"] == "WARNING"
    assert "metrics_log_level" in (REPO / "README.md").read_text()
