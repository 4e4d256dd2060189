"""Fixtures for the Airflow tests: Meltano in its own virtualenv, and Airflow as Meltano's ``airflow``
utility installs it (``meltano install --plugin-type utility airflow``: apache-airflow alone in
``.meltano/utilities/airflow/venv``, apart from the project and its plugins).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from airflow_helpers import ROOT, meltano_env


@pytest.fixture(scope="session")
def meltano_bin() -> Path:
    """Meltano's own virtualenv (scripts/toolenv.py builds it on first use)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "toolenv.py"), "meltano"],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert result.returncode == 0, f"could not set up Meltano: {result.stderr[-3000:]}"
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def airflow_bin(meltano_bin: Path) -> Path:
    """The airflow utility's virtualenv, installed by Meltano from meltano.yml."""
    result = subprocess.run(
        [str(meltano_bin / "meltano"), "install", "--plugin-type", "utility", "airflow"],
        cwd=ROOT,
        env=meltano_env(),
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert result.returncode == 0, f"meltano install utility airflow failed: {result.stderr[-3000:]}"
    return ROOT / ".meltano" / "utilities" / "airflow" / "venv" / "bin"
