"""Tests that run under each plausible behaviour of an unverified Dinero fact (dinero_sandbox/behaviours.py).

Each test takes the session sandbox (reset to the demo seed and to the default behaviours before every
test) and switches the fact it depends on with ``sandbox.set_behaviours(...)``; parametrizing over
``CHOICES`` makes it run once per behaviour.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dinero_sandbox.testing import SandboxServer

FAST_QUOTA = {"quota_requests": 100_000, "quota_window_seconds": 60}


@pytest.fixture
def tap_config(sandbox_settings: dict[str, Any]) -> dict[str, Any]:
    """Tap config for organization 100000, no client-side quota waits."""
    return {**sandbox_settings, **FAST_QUOTA}


@pytest.fixture
def target_settings(sandbox_settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """Shared settings for target runs: quick retries (a 5xx answer is one of the behaviours)."""
    return {**sandbox_settings, "max_retries": 1, "retry_backoff_seconds": 0.01}


@pytest.fixture
def play(sandbox: SandboxServer):
    """``play(name=value)``: switch behaviours of the test's sandbox (the next test's reset undoes it)."""

    def switch(**values: str) -> SandboxServer:
        sandbox.set_behaviours(**values)
        assert {k: sandbox.behaviours()[k] for k in values} == values
        return sandbox

    return switch
