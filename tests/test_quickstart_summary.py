"""The quick start's verdict on loading the same sales twice reads what target-dinero reported."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "quickstart_summary.py"
spec = importlib.util.spec_from_file_location("quickstart_summary", SCRIPT)
assert spec and spec.loader
summary = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = summary
spec.loader.exec_module(summary)


def _log(path: Path, streams: dict) -> Path:
    line = json.dumps({"streams": streams, "requests": 4})
    path.write_text(f"2026-12-01T23:04:32Z [info     ] target-dinero target-dinero summary: {line}\n")
    return path


def test_second_load_that_creates_nothing_passes(tmp_path):
    first = _log(tmp_path / "1.log", {"sales": {"created": 3, "sales_seen": 16}})
    second = _log(tmp_path / "2.log", {"sales": {"unchanged": 3, "sales_seen": 16}})
    text, status = summary.second_load(first, second)
    assert status == 0
    assert "first load : 3 created" in text and "second load: 0 created" in text


def test_second_load_that_creates_again_fails(tmp_path):
    first = _log(tmp_path / "1.log", {"sales": {"created": 3}})
    second = _log(tmp_path / "2.log", {"sales": {"created": 1, "unchanged": 2}})
    assert summary.second_load(first, second)[1] == 1
    (tmp_path / "3.log").write_text("no summary: the target never finished\n")
    assert summary.second_load(first, tmp_path / "3.log")[1] == 1
