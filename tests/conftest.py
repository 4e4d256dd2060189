"""Shared pytest fixtures: an in-process Dinero sandbox.

* ``sandbox_server`` (session): one ``SandboxServer`` (demo seed) for the whole run.
* ``sandbox`` (function): the same server reset to the demo seed (log, quota counters and faults
  cleared, generous quota, default token lifetime) before each test.
* ``sandbox_settings``: the shared config keys pointing at it (API-key flow, organization 100000).
* ``_no_process_outlives_its_test`` (autouse): every process a test starts is killed when the test ends.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dinero_api.auth import forget_cached_tokens
from dinero_sandbox.constants import (
    DEMO_API_KEY,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    ORG_MAIN,
    TOKEN_TTL_SECONDS,
)
from dinero_sandbox.testing import SandboxServer

GENEROUS_QUOTA = 100_000


@pytest.fixture(autouse=True)
def _no_process_outlives_its_test(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Kill what a test started and left running (a failed assertion before its ``wait()``).

    The sandbox is shared by the session and tests count its requests: a tap or loop left running by one
    failed test would keep sending and fail the next tests with its requests. Every ``subprocess.Popen``
    made during the test (``subprocess.run`` too) is tracked; session- and module-scoped fixtures start
    before this one, so their servers are not touched.
    """
    started: list[subprocess.Popen] = []
    original = subprocess.Popen

    class TrackedPopen(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(subprocess, "Popen", TrackedPopen)
    yield
    monkeypatch.setattr(subprocess, "Popen", original)
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    """One sandbox server for the test session."""
    with SandboxServer(seed_size="demo", quota_requests=GENEROUS_QUOTA, quota_window=60.0) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> SandboxServer:
    """The session's sandbox, reset to the demo seed with a generous quota.

    The reset voids every token the sandbox issued, so the process-wide token cache is emptied too: a
    token kept from an earlier test would cost this test's first request a 401 and a retry, and a test
    counting its requests would count one more (seen once in 169 runs, depending on test order).
    """
    sandbox_server.reset("demo")
    forget_cached_tokens()
    sandbox_server.set_quota(GENEROUS_QUOTA, 60.0)
    sandbox_server.set_token_ttl(TOKEN_TTL_SECONDS)
    return sandbox_server


@pytest.fixture
def sandbox_settings(sandbox: SandboxServer, tmp_path: Path) -> dict[str, Any]:
    """Shared tap/target config keys for the sandbox (API-key flow, organization 100000)."""
    return {
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "api_key": DEMO_API_KEY,
        "organization_id": ORG_MAIN,
        "api_url": sandbox.url,
        "token_url": sandbox.token_url,
        "quota_cache_dir": str(tmp_path),
    }
