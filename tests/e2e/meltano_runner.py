"""Running this project's Meltano from the end-to-end tests (helpers shared by conftest and the tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The real quota (100 requests) over a shortened window, for the sandbox and the plugins alike.
QUOTA_REQUESTS = 100
QUOTA_WINDOW = 2
#: The plugins the jobs run (the airflow utility is the Airflow tests' business).
PLUGINS = ("tap-dinero", "tap-pos-sales", "target-jsonl", "target-dinero")


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


@dataclass
class Meltano:
    """Runs the meltano CLI of this project with a given environment."""

    executable: Path
    env: dict[str, str]
    log_dir: Path

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``meltano --environment=dev <args>``; on failure the assertion shows the log's tail."""
        result = subprocess.run(
            [str(self.executable), "--environment=dev", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        log = self.log_dir / f"meltano-{len(list(self.log_dir.glob('meltano-*.log')))}.log"
        log.write_text(f"$ meltano {' '.join(args)}\n{result.stdout}\n{result.stderr}")
        if check:
            assert result.returncode == 0, (
                f"meltano {' '.join(args)} failed (log {log}):\n{result.stderr[-6000:]}"
            )
        return result


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_", "TARGET_", "MELTANO_"))}
    env.update(
        {
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
            "NO_COLOR": "1",
        }
    )
    return env
