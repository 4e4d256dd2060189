"""Pipe Singer messages into TargetDinero in-process and look at what the sandbox received."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from target_dinero.target import TargetDinero

ORG = "100000"
WRITE_METHODS = {"POST", "PUT", "DELETE"}


def schema(
    stream: str, key_properties: Sequence[str] = ("id",), properties: Mapping[str, Any] | None = None
) -> dict:
    """A SCHEMA message (the target validates against its load types, so properties may stay loose)."""
    props = dict(properties or {k: {"type": ["string", "integer", "null"]} for k in key_properties})
    return {
        "type": "SCHEMA",
        "stream": stream,
        "key_properties": list(key_properties),
        "schema": {"type": "object", "properties": props},
    }


def record(stream: str, data: Mapping[str, Any]) -> dict:
    """A RECORD message."""
    return {"type": "RECORD", "stream": stream, "record": dict(data)}


def state(value: Mapping[str, Any]) -> dict:
    """A STATE message."""
    return {"type": "STATE", "value": dict(value)}


@dataclasses.dataclass
class RunResult:
    """What one target run did."""

    target: TargetDinero | None
    states: list[dict[str, Any]]
    stderr: str
    error: BaseException | None
    requests: list[dict[str, Any]]

    @property
    def api_requests(self) -> list[dict[str, Any]]:
        """Requests to the Dinero API (token endpoints excluded)."""
        return [r for r in self.requests if str(r.get("path", "")).startswith("/v")]

    @property
    def writes(self) -> list[dict[str, Any]]:
        """Write requests (POST/PUT/DELETE) to the API."""
        return [r for r in self.api_requests if str(r.get("method", "")).upper() in WRITE_METHODS]

    @property
    def summary(self) -> dict[str, Any]:
        """The run summary (per-stream outcome counts)."""
        assert self.target is not None
        return self.target.run.summary()

    def counts(self, stream: str) -> dict[str, int]:
        """Outcome counts of one stream."""
        return self.summary["streams"].get(stream, {})


def run_target(sandbox: Any, config: Mapping[str, Any], messages: Iterable[Mapping[str, Any]]) -> RunResult:
    """Run TargetDinero over ``messages``; capture STATE output, stderr, any error and the sandbox log."""
    before = len(sandbox.requests())
    text = "".join(json.dumps(m, default=str) + "\n" for m in messages)
    stdout, stderr = io.StringIO(), io.StringIO()
    target: TargetDinero | None = None
    error: BaseException | None = None
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            target = TargetDinero(config=dict(config))
            target.listen(io.StringIO(text))
        except Exception as exc:  # the tests assert on it
            error = exc
    states = [json.loads(line) for line in stdout.getvalue().splitlines() if line.strip().startswith("{")]
    return RunResult(target, states, stderr.getvalue(), error, sandbox.requests()[before:])


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


def read_rejects(path: Path) -> list[dict[str, Any]]:
    """Lines of the rejects file."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def live(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Rows not deleted."""
    return [r for r in rows if not r.get("DeletedAt")]


def by_reference(rows: Iterable[Mapping[str, Any]], prefix: str) -> list[Mapping[str, Any]]:
    """Live rows whose ExternalReference starts with ``prefix``."""
    return [r for r in live(rows) if str(r.get("ExternalReference") or "").startswith(prefix)]
