"""Fixtures for the Airflow tests: the isolated Airflow and Meltano environments, the DAG folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = ROOT / "orchestrate" / "airflow" / "dags"


def ensure_tool(name: str) -> Path:
    """The ``bin`` directory of a tool's own virtualenv, built by scripts/toolenv.py on first use."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "toolenv.py"), name],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert result.returncode == 0, f"could not set up {name}: {result.stderr[-3000:]}"
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def airflow_bin() -> Path:
    """Airflow's virtualenv (apache-airflow, nothing of this project), as Meltano's utility installs it."""
    return ensure_tool("airflow")


@pytest.fixture(scope="session")
def meltano_bin() -> Path:
    """Meltano's own virtualenv."""
    return ensure_tool("meltano")
