"""Helpers of the reliability suite: fast configs, tap/target runs (in-process and as killable
subprocesses), and comparisons of what a run emitted or wrote with what the sandbox holds."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from singer_sdk.singerlib.encoding.simple import SimpleSingerWriter

from dinero_sandbox.testing import SandboxServer

ORG = "100000"
ORG_SECOND = "100001"

#: Client settings that keep fault tests fast: short backoff, few retries, short timeouts, no quota waits.
FAST_CLIENT = {
    "retry_backoff_seconds": 0.01,
    "max_retries": 3,
    "request_timeout": 2.0,
    "quota_requests": 100_000,
    "quota_window_seconds": 60,
    "max_rate_limit_wait_seconds": 60,
}

#: The console scripts' entry points (what `tap-dinero` / `target-dinero` run), from this checkout.
TAP_CODE = "from tap_dinero.cli import main; main()"
TARGET_CODE = "from target_dinero.cli import main; main()"
REPO = Path(__file__).resolve().parents[2]


def write_json(path: Path, value: Any) -> Path:
    """Write ``value`` as JSON and return the path."""
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------------------
# tap runs
# ------------------------------------------------------------------------------------------------------
class _Collector(SimpleSingerWriter):
    """Keeps every message as a target would read it (serialized, then parsed back)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def write_message(self, message: Any) -> None:
        self.messages.append(json.loads(self.format_message(message)))


@dataclass
class TapRun:
    """The messages of one tap run (possibly cut short) and how it ended."""

    messages: list[dict[str, Any]]
    error: BaseException | None = None
    returncode: int | None = None
    stderr: str = ""

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.messages if m.get("type") == "STATE"]

    @property
    def last_state(self) -> dict[str, Any] | None:
        states = self.states
        return copy.deepcopy(states[-1]) if states else None

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [m["record"] for m in self.messages if m.get("type") == "RECORD" and m["stream"] == stream]


def run_tap(
    config: Mapping[str, Any],
    *,
    streams: Iterable[str] | None = None,
    state: Mapping[str, Any] | None = None,
) -> TapRun:
    """Sync the tap in-process; any exception ends the run and is returned, not raised."""
    from tap_dinero.tap import TapDinero

    writer = _Collector()
    error: BaseException | None = None
    try:
        tap = TapDinero(
            config=dict(config), state=copy.deepcopy(dict(state)) if state else None, message_writer=writer
        )
        if streams is not None:
            wanted = set(streams)
            for name, stream in tap.streams.items():
                stream.selected = name in wanted
        tap.sync_all()
    except Exception as exc:
        error = exc
    return TapRun(writer.messages, error)


def tap_catalog(config: Mapping[str, Any], streams: Iterable[str], path: Path) -> Path:
    """A catalog file selecting ``streams`` (for tap subprocesses)."""
    from tap_dinero.tap import TapDinero

    tap = TapDinero(config=dict(config))
    wanted = set(streams)
    for name, stream in tap.streams.items():
        stream.selected = name in wanted
    return write_json(path, tap.catalog_dict)


def spawn_tap(
    config_path: Path, state_path: Path | None, catalog_path: Path | None, stderr: Any
) -> subprocess.Popen:
    """Start ``tap-dinero`` as its own process, STATE/RECORD lines on a pipe."""
    args = [sys.executable, "-c", TAP_CODE, "--config", str(config_path)]
    if catalog_path is not None:
        args += ["--catalog", str(catalog_path)]
    if state_path is not None:
        args += ["--state", str(state_path)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, cwd=REPO)


def run_tap_process(
    config_path: Path,
    state: Mapping[str, Any] | None,
    workdir: Path,
    *,
    catalog_path: Path | None = None,
    kill_after_lines: int | None = None,
    name: str = "tap",
) -> TapRun:
    """Run the tap as a process; with ``kill_after_lines`` SIGKILL it once that many lines were read.

    Only the lines read before the kill count as delivered (lines still in the pipe are lost, as they
    would be for a downstream target that died with the pipeline).
    """
    state_path = write_json(workdir / f"{name}.state.json", state) if state else None
    stderr_path = workdir / f"{name}.stderr.log"
    with stderr_path.open("wb") as stderr:
        proc = spawn_tap(config_path, state_path, catalog_path, stderr)
        assert proc.stdout is not None
        lines: list[bytes] = []
        for line in proc.stdout:
            lines.append(line)
            if kill_after_lines is not None and len(lines) >= kill_after_lines:
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.stdout.close()
        returncode = proc.wait(timeout=120)
    messages = [json.loads(line) for line in lines if line.strip().startswith(b"{")]
    return TapRun(messages, returncode=returncode, stderr=stderr_path.read_text(errors="replace"))


# ------------------------------------------------------------------------------------------------------
# what the tap must have emitted
# ------------------------------------------------------------------------------------------------------
#: tap stream -> (sandbox collection, key field)
DOCUMENT_STREAMS: dict[str, tuple[str, str]] = {
    "contacts": ("contacts", "ContactGuid"),
    "products": ("products", "ProductGuid"),
    "invoices": ("invoices", "Guid"),
    "sales_credit_notes": ("creditnotes", "Guid"),
    "trade_offers": ("tradeoffers", "Guid"),
}
LINE_STREAMS: dict[str, tuple[str, str]] = {
    "invoice_lines": ("invoices", "InvoiceGuid"),
    "credit_note_lines": ("creditnotes", "CreditNoteGuid"),
    "trade_offer_lines": ("tradeoffers", "TradeOfferGuid"),
}


def copy_problems(
    sandbox: SandboxServer, org: str, runs: Sequence[TapRun], streams: Iterable[str]
) -> dict[str, list[str]]:
    """What a downstream copy built from ``runs`` (in order, later rows win) gets wrong, per stream.

    Documents: every stored row (deleted ones included) must be present with the stored ``UpdatedAt``,
    and no unknown key may appear. Lines: one row per line of every live document. Entries and
    vouchers: every stored entry / booked voucher present.
    """
    problems: dict[str, list[str]] = {}
    wanted = set(streams)
    for stream, (collection, key) in DOCUMENT_STREAMS.items():
        if stream not in wanted:
            continue
        stored = {row[key]: row for row in sandbox.dump(org, collection)}
        latest: dict[str, dict[str, Any]] = {}
        for run in runs:
            for row in run.records(stream):
                latest[row[key]] = row
        issues = [f"missing {k}" for k in sorted(set(stored) - set(latest))]
        issues += [f"unknown {k}" for k in sorted(set(latest) - set(stored))]
        issues += [
            f"stale {k}: {latest[k].get('UpdatedAt')} != {stored[k].get('UpdatedAt')}"
            for k in sorted(set(stored) & set(latest))
            if latest[k].get("UpdatedAt") != stored[k].get("UpdatedAt")
        ]
        issues += [  # documents carry their lines (tap-dinero nests the detail's ProductLines)
            f"lines of {k}: {len(latest[k]['ProductLines'])} != {len(stored[k]['ProductLines'])}"
            for k in sorted(set(stored) & set(latest))
            if isinstance(latest[k].get("ProductLines"), list)
            and not stored[k].get("DeletedAt")
            and len(latest[k]["ProductLines"]) != len(stored[k]["ProductLines"])
        ]
        if issues:
            problems[stream] = issues
    for stream, (collection, parent_key) in LINE_STREAMS.items():
        if stream not in wanted:
            continue
        expected = {
            (doc["Guid"], n)
            for doc in sandbox.dump(org, collection)
            if not doc["DeletedAt"]
            for n in range(len(doc["ProductLines"]))
        }
        emitted = {(r[parent_key], r["LinePosition"]) for run in runs for r in run.records(stream)}
        if expected - emitted:
            problems[stream] = [f"missing line {k}" for k in sorted(expected - emitted)]
    if "entries" in wanted:
        stored_entries = {e["EntryGuid"] for e in sandbox.dump(org, "entries")}
        emitted_entries = {r["EntryGuid"] for run in runs for r in run.records("entries")}
        if stored_entries - emitted_entries:
            problems["entries"] = [f"missing entry {k}" for k in sorted(stored_entries - emitted_entries)]
    for stream, collection in (
        ("manual_vouchers", "manual_vouchers"),
        ("purchase_vouchers", "purchase_vouchers"),
    ):
        if stream not in wanted:
            continue
        booked = {
            v["Guid"] for v in sandbox.dump(org, collection) if v.get("VoucherNumber") and not v["DeletedAt"]
        }
        emitted_vouchers = {r["Guid"] for run in runs for r in run.records(stream)}
        if booked - emitted_vouchers:
            problems[stream] = [f"missing voucher {k}" for k in sorted(booked - emitted_vouchers)]
    return problems


# ------------------------------------------------------------------------------------------------------
# target runs
# ------------------------------------------------------------------------------------------------------
def singer_lines(messages: Iterable[Mapping[str, Any]]) -> str:
    """Messages as Singer JSONL."""
    return "".join(json.dumps(m, default=str) + "\n" for m in messages)


def schema_message(stream: str, key_properties: Sequence[str] = ("id",)) -> dict[str, Any]:
    """A loose SCHEMA message (the target validates against its load types)."""
    return {
        "type": "SCHEMA",
        "stream": stream,
        "key_properties": list(key_properties),
        "schema": {"type": "object", "properties": {k: {} for k in key_properties}},
    }


def record_message(stream: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """A RECORD message."""
    return {"type": "RECORD", "stream": stream, "record": dict(record)}


def state_message(value: Mapping[str, Any]) -> dict[str, Any]:
    """A STATE message."""
    return {"type": "STATE", "value": dict(value)}


@dataclass
class TargetRun:
    """One target run: its STATE output, log, error and the sandbox requests it caused."""

    states: list[dict[str, Any]]
    stderr: str
    error: BaseException | None
    requests: list[dict[str, Any]]
    returncode: int | None = None
    killed: bool = False
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def api_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if str(r.get("path", "")).startswith("/v")]

    @property
    def writes(self) -> list[dict[str, Any]]:
        return [r for r in self.api_requests if r["method"] in ("POST", "PUT", "DELETE")]


def _state_value(line: str) -> dict[str, Any]:
    """A target's stdout line: the state value itself (singer-sdk targets print the bare value)."""
    parsed = json.loads(line)
    return parsed["value"] if parsed.get("type") == "STATE" and "value" in parsed else parsed


def last_request_id(sandbox: SandboxServer) -> int:
    """Id of the newest request in the sandbox log (0 when empty)."""
    entries = sandbox.requests()
    return entries[-1]["id"] if entries else 0


def run_target(
    sandbox: SandboxServer, config: Mapping[str, Any], messages: Iterable[Mapping[str, Any]]
) -> TargetRun:
    """Run TargetDinero in-process over ``messages``; errors are returned, not raised."""
    from target_dinero.target import TargetDinero

    mark = last_request_id(sandbox)
    stdout, stderr = io.StringIO(), io.StringIO()
    error: BaseException | None = None
    summary: dict[str, Any] = {}
    threads_before = set(threading.enumerate())
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            target = TargetDinero(config=dict(config))
            try:
                target.listen(io.StringIO(singer_lines(messages)))
            finally:
                summary = target.run.summary()
        except Exception as exc:
            error = exc
        # When one sink's drain fails, the SDK's other drain threads run on (a process would wait for
        # them before exiting): let them finish, so the next run does not overlap this one.
        for thread in set(threading.enumerate()) - threads_before:
            if "worker" in thread.name:
                thread.join(timeout=120)
    states = [_state_value(x) for x in stdout.getvalue().splitlines() if x.startswith("{")]
    return TargetRun(states, stderr.getvalue(), error, sandbox.requests(mark), summary=summary)


def run_target_process(
    sandbox: SandboxServer,
    config_path: Path,
    input_path: Path,
    workdir: Path,
    *,
    kill_after_requests: int | None = None,
    name: str = "target",
    timeout: float = 120.0,
) -> TargetRun:
    """Run ``target-dinero`` as a process reading ``input_path``; with ``kill_after_requests``, SIGKILL it
    as soon as the sandbox has logged that many requests from this run."""
    mark = last_request_id(sandbox)
    stdout_path, stderr_path = workdir / f"{name}.stdout", workdir / f"{name}.stderr.log"
    killed = False
    with input_path.open("rb") as stdin, stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", TARGET_CODE, "--config", str(config_path)],
            stdin=stdin,
            stdout=out,
            stderr=err,
            cwd=REPO,
        )
        deadline = time.monotonic() + timeout
        while proc.poll() is None:
            if kill_after_requests is not None and len(sandbox.requests(mark)) >= kill_after_requests:
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                break
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"{name} did not finish within {timeout} s")
            time.sleep(0.003)
        returncode = proc.wait(timeout=30)
    states = [
        _state_value(x)
        for x in stdout_path.read_text(encoding="utf-8", errors="replace").splitlines()
        if x.startswith("{")
    ]
    return TargetRun(
        states,
        stderr_path.read_text(encoding="utf-8", errors="replace"),
        None,
        sandbox.requests(mark),
        returncode=returncode,
        killed=killed,
    )


def read_rejects(path: Path) -> list[dict[str, Any]]:
    """Lines of a rejects file."""
    if not path.exists():
        return []
    # split on "\n" only: str.splitlines() also splits on U+2028, U+0085 ..., which JSON leaves unescaped
    return [json.loads(x) for x in path.read_text(encoding="utf-8").split("\n") if x.strip()]


def live(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Rows not deleted."""
    return [r for r in rows if not r.get("DeletedAt")]


def count_by(rows: Iterable[Mapping[str, Any]], key: str) -> dict[Any, int]:
    """How many rows carry each value of ``key``."""
    counts: dict[Any, int] = defaultdict(int)
    for row in rows:
        counts[row.get(key)] += 1
    return dict(counts)


# ------------------------------------------------------------------------------------------------------
# quota
# ------------------------------------------------------------------------------------------------------
def max_in_any_window(stamps: Iterable[float], window: float) -> int:
    """Largest number of stamps inside any half-open interval [t, t + window)."""
    ordered = sorted(stamps)
    best, start = 0, 0
    for end, stamp in enumerate(ordered):
        while stamp - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best
