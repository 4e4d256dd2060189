"""Helpers shared by the Airflow tests and their conftest (a module of its own: test files must not
import ``conftest``, whose name several test folders share)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def meltano_env() -> dict[str, str]:
    """The caller's environment without plugin/Meltano/Airflow overrides, telemetry off."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("TAP_", "TARGET_", "MELTANO_", "AIRFLOW"))
    }
    env |= {"MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "MELTANO_CLI_DISABLE_VERSION_CHECK": "true"}
    return env
