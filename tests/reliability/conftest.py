"""Fixtures of the reliability suite (the sandbox fixtures come from tests/conftest.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .helpers import FAST_CLIENT


@pytest.fixture
def fast_settings(sandbox_settings: dict[str, Any]) -> dict[str, Any]:
    """Shared settings for the demo sandbox with fast retries, short timeouts and no client quota waits."""
    return {**sandbox_settings, **FAST_CLIENT}


@pytest.fixture(autouse=True)
def no_request_outlives_the_test() -> Iterator[None]:
    """Wait for the sandbox to finish every request a test started.

    A ``slow`` fault keeps serving a request after the client gave up on it; finished later, it would be
    logged (and, for a write, performed) inside the next test, which may count requests.
    """
    yield
    deadline = time.monotonic() + 15
    for thread in threading.enumerate():
        if "process_request_thread" in thread.name and thread is not threading.current_thread():
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
