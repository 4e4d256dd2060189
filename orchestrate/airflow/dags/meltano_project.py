"""Where the Meltano project and its ``meltano`` executable are, for the DAGs in this folder.

Both DAG files import this module (Airflow puts the DAGs folder on ``sys.path``); ``.airflowignore``
keeps the DAG processor from parsing it as a DAG file. Only the standard library is used here.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

#: Meltano project root: ``MELTANO_PROJECT_ROOT`` (set by ``meltano invoke airflow``), else this repository.
PROJECT_ROOT = Path(os.environ.get("MELTANO_PROJECT_ROOT") or Path(__file__).resolve().parents[3])


def meltano_executable() -> str:
    """The ``meltano`` command to run.

    ``MELTANO_BIN`` wins; then the symlink Meltano leaves in its project directory
    (``.meltano/run/bin``, pointing at the Meltano that last ran there); then the isolated Meltano that
    ``scripts/toolenv.py`` builds; then whatever ``meltano`` is on the PATH.
    """
    explicit = os.environ.get("MELTANO_BIN")
    if explicit:
        return explicit
    for candidate in (
        PROJECT_ROOT / ".meltano" / "run" / "bin",
        PROJECT_ROOT / ".meltano" / "cli-venv" / "bin" / "meltano",
    ):
        if candidate.exists():
            return str(candidate)
    return shutil.which("meltano") or "meltano"


def meltano_base_env() -> dict[str, str]:
    """Environment for every ``meltano`` call: project root, no telemetry, no update check."""
    return {
        "MELTANO_PROJECT_ROOT": str(PROJECT_ROOT),
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
        "NO_COLOR": "1",
    }
