"""Fixtures for the tap tests: a tap config pointing at the (reset) demo sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from dinero_sandbox.testing import SandboxServer

#: Client-side quota for tests that do not exercise the quota (the sandbox fixture is generous too).
FAST_QUOTA = {"quota_requests": 100_000, "quota_window_seconds": 60}


@pytest.fixture
def tap_config(sandbox_settings: dict[str, Any]) -> dict[str, Any]:
    """Tap config for organization 100000 on the demo sandbox, without client-side quota waits."""
    return {**sandbox_settings, **FAST_QUOTA}


@pytest.fixture
def sandbox_requests(sandbox: SandboxServer):
    """A function returning the sandbox's request log parsed (path, query dict, status) since a mark."""
    from urllib.parse import parse_qs

    def read(since: int = 0) -> list[dict[str, Any]]:
        out = []
        for entry in sandbox.requests(since):
            query = {k: v[0] for k, v in parse_qs(entry.get("query") or "").items()}
            out.append({**entry, "params": query})
        return out

    return read
