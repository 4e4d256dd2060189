"""Pipe Singer messages into TargetDinero in-process and look at what the sandbox received.

The runner and the message builders are the one harness, :mod:`tests.harness`; the target suite's short
names for them are kept here, with the target's config builder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tests.harness import ORG, TargetRun, live, read_rejects, run_target
from tests.harness import record_message as record
from tests.harness import schema_message as schema
from tests.harness import state_message as state

#: The result of :func:`run_target` (the target suite's name for :class:`tests.harness.TargetRun`).
RunResult = TargetRun

__all__ = [
    "ORG",
    "RunResult",
    "by_reference",
    "live",
    "make_config",
    "read_rejects",
    "record",
    "run_target",
    "schema",
    "state",
]


def make_config(
    settings: Mapping[str, Any], tmp_path: Path, streams: Mapping[str, Any], **extra: Any
) -> dict:
    """Target config: the sandbox's shared settings, the stream mapping, files under ``tmp_path``."""
    return {
        **settings,
        # the sandbox's quota is generous in tests; the client's own throttle must not wait a real minute
        "quota_requests": 100_000,
        "streams": dict(streams),
        "rejects_file": str(tmp_path / "rejects.jsonl"),
        "ledger_file": str(tmp_path / "ledger.jsonl"),
        **extra,
    }


def by_reference(rows: Iterable[Mapping[str, Any]], prefix: str) -> list[Mapping[str, Any]]:
    """Live rows whose ExternalReference starts with ``prefix``."""
    return [r for r in live(rows) if str(r.get("ExternalReference") or "").startswith(prefix)]
