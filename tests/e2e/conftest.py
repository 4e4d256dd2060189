"""Fixtures for the end-to-end tests: Meltano in its own virtualenv, the project's plugins installed by
Meltano itself (``meltano install``), and an environment that points the ``dev`` Meltano environment at
the test's sandbox with a private system database, quota store, output and rejects paths.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from meltano_runner import PLUGINS, QUOTA_REQUESTS, QUOTA_WINDOW, ROOT, Meltano, base_env, ensure_tool

from dinero_sandbox.testing import SandboxServer


@pytest.fixture(scope="session")
def meltano_executable() -> Path:
    """Meltano's own virtualenv, with the project's plugins installed into Meltano's plugin venvs."""
    executable = ensure_tool("meltano") / "meltano"
    result = subprocess.run(
        [str(executable), "install", *PLUGINS],
        cwd=ROOT,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, f"meltano install failed:\n{result.stderr[-6000:]}"
    return executable


@pytest.fixture
def meltano(meltano_executable: Path, sandbox: SandboxServer, tmp_path: Path) -> Meltano:
    """``meltano`` for one test: dev environment aimed at this test's sandbox, everything else private."""
    sandbox.set_quota(QUOTA_REQUESTS, QUOTA_WINDOW)
    env = base_env()
    env["MELTANO_DATABASE_URI"] = f"sqlite:///{tmp_path / 'meltano.db'}"
    for prefix in ("TAP_DINERO_", "TARGET_DINERO_"):
        env[f"{prefix}API_URL"] = sandbox.url
        env[f"{prefix}TOKEN_URL"] = sandbox.token_url
        env[f"{prefix}QUOTA_BACKEND"] = str(tmp_path / "quota")
        env[f"{prefix}QUOTA_REQUESTS"] = str(QUOTA_REQUESTS)
        env[f"{prefix}QUOTA_WINDOW_SECONDS"] = str(QUOTA_WINDOW)
    env["TARGET_JSONL_DESTINATION_PATH"] = str(tmp_path / "out")
    env["TARGET_DINERO_REJECTS_FILE"] = str(tmp_path / "rejects.jsonl")
    env["TARGET_DINERO__ORG2_REJECTS_FILE"] = str(tmp_path / "rejects-org2.jsonl")
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    return Meltano(meltano_executable, env, log_dir)
