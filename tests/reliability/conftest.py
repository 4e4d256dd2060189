"""Fixtures of the reliability suite (the sandbox fixtures come from tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import FAST_CLIENT


@pytest.fixture
def fast_settings(sandbox_settings: dict[str, Any]) -> dict[str, Any]:
    """Shared settings for the demo sandbox with fast retries, short timeouts and no client quota waits."""
    return {**sandbox_settings, **FAST_CLIENT}
