"""The one test harness: run tap-dinero and target-dinero (in-process or as processes) and read what they did.

Every suite imports these definitions from here (there are no per-suite copies or re-export modules), so a
fix to how a run is captured -- like splitting the rejects file on ``\\n`` only -- reaches every test at once.
"""

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
import typing as t
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from singer_sdk.singerlib.encoding.simple import SimpleSingerWriter

if t.TYPE_CHECKING:
    from dinero_sandbox.testing import SandboxServer
    from tap_dinero.tap import TapDinero

ORG = "100000"
REPO = Path(__file__).resolve().parents[1]
#: The console scripts' entry points (what `tap-dinero` / `target-dinero` run), from this checkout.
TAP_CODE = "from tap_dinero.cli import main; main()"
TARGET_CODE = "from target_dinero.cli import main; main()"
WRITE_METHODS = {"POST", "PUT", "DELETE"}


def wait_until(
    check: t.Callable[[], t.Any], timeout: float = 30.0, what: str = "condition", interval: float = 0.02
) -> t.Any:
    """Poll ``check()`` until it returns something truthy and return that; fail after ``timeout`` seconds.

    Tests wait for a *condition* (a server up, a file written, a process state, a request logged), never
    for a fixed time: a fixed sleep is either too short on a busy machine or wastes time on an idle one.
    The timeout is generous because reaching it means the test fails anyway.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def write_json(path: Path, value: t.Any) -> Path:
    """Write ``value`` as JSON and return the path."""
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def live(rows: Iterable[Mapping[str, t.Any]]) -> list[Mapping[str, t.Any]]:
    """Rows not deleted."""
    return [r for r in rows if not r.get("DeletedAt")]


# ------------------------------------------------------------------------------------------------------
# Singer messages
# ------------------------------------------------------------------------------------------------------
def singer_lines(messages: Iterable[Mapping[str, t.Any]]) -> str:
    """Messages as Singer JSONL."""
    return "".join(json.dumps(m, default=str) + "\n" for m in messages)


def schema_message(
    stream: str, key_properties: Sequence[str] = ("id",), properties: Mapping[str, t.Any] | None = None
) -> dict[str, t.Any]:
    """A SCHEMA message (the target validates against its load types, so properties may stay loose)."""
    props = dict(properties or {k: {"type": ["string", "integer", "null"]} for k in key_properties})
    return {
        "type": "SCHEMA",
        "stream": stream,
        "key_properties": list(key_properties),
        "schema": {"type": "object", "properties": props},
    }


def record_message(stream: str, record: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """A RECORD message."""
    return {"type": "RECORD", "stream": stream, "record": dict(record)}


def state_message(value: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """A STATE message."""
    return {"type": "STATE", "value": dict(value)}


def stream_messages(stream: str, rows: Sequence[Mapping[str, t.Any]]) -> list[dict[str, t.Any]]:
    """One stream's input as a tap sends it: SCHEMA, a RECORD per row, then a STATE covering them."""
    return [
        schema_message(stream),
        *(record_message(stream, r) for r in rows),
        state_message({"bookmarks": {stream: len(rows)}}),
    ]


# ------------------------------------------------------------------------------------------------------
# tap runs
# ------------------------------------------------------------------------------------------------------
class Killed(Exception):
    """Raised by :class:`CollectingWriter` to simulate a tap killed mid-stream."""


class CollectingWriter(SimpleSingerWriter):
    """Keeps every message as the dict a target would read (serialized then parsed back)."""

    def __init__(self, kill_after: tuple[str, int] | None = None) -> None:
        self.messages: list[dict[str, t.Any]] = []
        self._kill_after = kill_after
        self._seen: dict[str, int] = defaultdict(int)

    def write_message(self, message: t.Any) -> None:
        parsed = json.loads(self.format_message(message))
        self.messages.append(parsed)
        if self._kill_after and parsed["type"] == "RECORD":
            stream, limit = self._kill_after
            if parsed["stream"] == stream:
                self._seen[stream] += 1
                if self._seen[stream] >= limit:
                    raise Killed(f"killed after {limit} {stream} records")


@dataclass
class TapRun:
    """What one tap run emitted (possibly cut short) and how it ended."""

    messages: list[dict[str, t.Any]]
    tap: TapDinero | None = None
    error: BaseException | None = None
    returncode: int | None = None
    stderr: str = ""
    records: dict[str, list[dict[str, t.Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        grouped: dict[str, list[dict[str, t.Any]]] = defaultdict(list)
        for message in self.messages:
            if message.get("type") == "RECORD":
                grouped[message["stream"]].append(message["record"])
        self.records = dict(grouped)

    @property
    def states(self) -> list[dict[str, t.Any]]:
        return [m["value"] for m in self.messages if m.get("type") == "STATE"]

    @property
    def final_state(self) -> dict[str, t.Any]:
        """The last STATE value ({} when none)."""
        return copy.deepcopy(self.states[-1]) if self.states else {}

    @property
    def last_state(self) -> dict[str, t.Any] | None:
        """The last STATE value (None when none)."""
        return self.final_state if self.states else None

    def stream(self, name: str) -> list[dict[str, t.Any]]:
        """The records of one stream, in order."""
        return self.records.get(name, [])

    def keys(self, name: str, key: str) -> set[t.Any]:
        return {record[key] for record in self.stream(name)}

    def partition_state(self, stream: str, org: str) -> dict[str, t.Any]:
        for partition in self.final_state["bookmarks"][stream].get("partitions", []):
            if partition["context"] == {"organization_id": org}:
                return partition
        raise KeyError(f"no state partition for {stream} / {org}")


def select_streams(tap: TapDinero, streams: Iterable[str]) -> None:
    """Select exactly ``streams`` (children need their parent listed); an unknown name is a test bug."""
    wanted = set(streams)
    unknown = wanted - set(tap.streams)
    assert not unknown, f"unknown streams {unknown}"
    for name, stream in tap.streams.items():
        stream.selected = name in wanted


def run_tap(
    config: Mapping[str, t.Any],
    *,
    streams: Iterable[str] | None = None,
    state: Mapping[str, t.Any] | None = None,
    kill_after: tuple[str, int] | None = None,
    reraise: bool = False,
) -> TapRun:
    """Sync the tap in-process; ``streams`` limits the selection (children need their parent listed).

    Any exception of the run -- a simulated kill, a refused config or a real failure -- is returned in
    ``result.error``, so an ``assert result.error is None`` after the call decides whether the run
    succeeded (every call site asserts it, or expects an error). ``reraise=True`` raises a real failure
    instead (for ``pytest.raises``).
    """
    from tap_dinero.tap import TapDinero

    writer = CollectingWriter(kill_after=kill_after)
    try:
        tap = TapDinero(
            config=dict(config), state=copy.deepcopy(dict(state)) if state else None, message_writer=writer
        )
    except Exception as exc:
        if reraise:
            raise
        return TapRun(writer.messages, error=exc)
    if streams is not None:
        select_streams(tap, streams)
    error: BaseException | None = None
    try:
        tap.sync_all()
    except Killed as exc:
        error = exc
    except Exception as exc:
        if reraise:
            raise
        error = exc
    return TapRun(writer.messages, tap=tap, error=error)


def tap_catalog(config: Mapping[str, t.Any], streams: Iterable[str], path: Path) -> Path:
    """A catalog file selecting ``streams`` (for tap processes)."""
    from tap_dinero.tap import TapDinero

    tap = TapDinero(config=dict(config))
    select_streams(tap, streams)
    return write_json(path, tap.catalog_dict)


def spawn_tap(
    config_path: Path, state_path: Path | None, catalog_path: Path | None, stderr: t.Any
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
    state: Mapping[str, t.Any] | None,
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
# target runs
# ------------------------------------------------------------------------------------------------------
@dataclass
class TargetRun:
    """One target run: its STATE output, log, error and the sandbox requests it caused."""

    states: list[dict[str, t.Any]]
    stderr: str
    error: BaseException | None
    requests: list[dict[str, t.Any]]
    returncode: int | None = None
    killed: bool = False
    summary: dict[str, t.Any] = field(default_factory=dict)
    target: t.Any = None  # the in-process TargetDinero (None for a process)

    @property
    def api_requests(self) -> list[dict[str, t.Any]]:
        """Requests to the Dinero API (token endpoints excluded)."""
        return [r for r in self.requests if str(r.get("path", "")).startswith("/v")]

    @property
    def writes(self) -> list[dict[str, t.Any]]:
        """Write requests (POST/PUT/DELETE) to the API."""
        return [r for r in self.api_requests if str(r.get("method", "")).upper() in WRITE_METHODS]

    def counts(self, stream: str) -> dict[str, int]:
        """Outcome counts of one stream (from the run summary)."""
        return self.summary["streams"].get(stream, {})


def _state_value(line: str) -> dict[str, t.Any]:
    """A target's stdout line: the state value itself (singer-sdk targets print the bare value)."""
    parsed = json.loads(line)
    return parsed["value"] if parsed.get("type") == "STATE" and "value" in parsed else parsed


def last_request_id(sandbox: SandboxServer) -> int:
    """Id of the newest request in the sandbox log (0 when empty)."""
    entries = sandbox.requests()
    return entries[-1]["id"] if entries else 0


def wait_answered(sandbox: SandboxServer, timeout: float = 120.0) -> None:
    """Wait until the sandbox has answered every API request it received (``in_flight`` 0).

    The sandbox logs a request when it answers it: one a ``slow``/``slow_answer`` fault holds past its
    client's timeout is logged after the client gave up -- perhaps after the run ended. Read the log of a
    run only once nothing of it is in flight, or its late answers are counted as the next run's requests.
    """
    deadline = time.monotonic() + timeout
    while sandbox.stats().get("in_flight", 0):
        if time.monotonic() > deadline:
            raise AssertionError(f"the sandbox still holds {sandbox.stats()['in_flight']} requests")
        time.sleep(0.02)


def run_target(
    sandbox: SandboxServer, config: Mapping[str, t.Any], messages: Iterable[Mapping[str, t.Any]]
) -> TargetRun:
    """Run TargetDinero in-process over ``messages``; STATE output, stderr, the summary and the sandbox
    requests of the run are captured, errors are returned, not raised."""
    from target_dinero.target import TargetDinero

    mark = last_request_id(sandbox)
    stdout, stderr = io.StringIO(), io.StringIO()
    target: TargetDinero | None = None
    error: BaseException | None = None
    summary: dict[str, t.Any] = {}
    threads_before = set(threading.enumerate())
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            target = TargetDinero(config=dict(config))
            try:
                target.listen(io.StringIO(singer_lines(messages)))
            finally:
                summary = target.run.summary()
        except Exception as exc:  # the tests assert on it
            error = exc
        # When one sink's drain fails, the SDK's other drain threads run on (a process would wait for
        # them before exiting): let them finish, so the next run does not overlap this one.
        for thread in set(threading.enumerate()) - threads_before:
            if "worker" in thread.name:
                thread.join(timeout=120)
    wait_answered(sandbox)
    states = [_state_value(x) for x in stdout.getvalue().splitlines() if x.strip().startswith("{")]
    return TargetRun(states, stderr.getvalue(), error, sandbox.requests(mark), summary=summary, target=target)


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
    wait_answered(sandbox)
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


def make_target_config(
    settings: Mapping[str, t.Any], tmp_path: Path, streams: Mapping[str, t.Any], **extra: t.Any
) -> dict[str, t.Any]:
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


def by_reference(rows: Iterable[Mapping[str, t.Any]], prefix: str) -> list[Mapping[str, t.Any]]:
    """Live rows whose ExternalReference starts with ``prefix``."""
    return [r for r in live(rows) if str(r.get("ExternalReference") or "").startswith(prefix)]


def read_rejects(path: Path) -> list[dict[str, t.Any]]:
    """Lines of a rejects file."""
    if not path.exists():
        return []
    # split on "\n" only: str.splitlines() also splits on U+2028, U+0085 ..., which JSON leaves unescaped
    return [json.loads(x) for x in path.read_text(encoding="utf-8").split("\n") if x.strip()]


def config_rejects(config: Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    """Lines of the rejects file a target config names."""
    return read_rejects(Path(config["rejects_file"]))


# ------------------------------------------------------------------------------------------------------
# a web shop's orders, payments and refunds (the commerce load types)
# ------------------------------------------------------------------------------------------------------
ORDERS, PAYMENTS, REFUNDS = "orders", "order_payments", "order_refunds"
#: a card provider's clearing account: not in the demo chart, so the target creates it on first use
CLEARING = 55900


def shop_order(n: int, prefix: str, mailbox: str, **over: t.Any) -> dict[str, t.Any]:
    """Order ``n`` for the ``invoice`` load type: ExternalReference ``{prefix}-{n}``, a customer of its own
    (``{mailbox}{n}@example.dk``), one line of 100.00 excl. VAT (125.00 incl. VAT); ``over`` replaces keys."""
    data: dict[str, t.Any] = {
        "id": n,
        "ExternalReference": f"{prefix}-{n}",
        "Date": "2026-11-02",
        "Contact": {"Name": f"Kunde {n}", "Email": f"{mailbox}{n}@example.dk", "CountryKey": "DK"},
        "ProductLines": [
            {
                "Description": "Te",
                "Quantity": 1,
                "BaseAmountValue": 100.0,
                "AccountNumber": 1000,
                "Unit": "parts",
            }
        ],
    }
    data.update(over)
    return data


def shop_streams(**extra: t.Any) -> dict[str, t.Any]:
    """The stream mapping of a shop: orders booked as invoices, payments onto the clearing account (created
    on first use), refunds as booked credit notes; ``extra`` adds or replaces streams."""
    return {
        ORDERS: {"load_as": "invoice", "book": True, "deposit_account": 55000},
        PAYMENTS: {"load_as": "invoice_payment", "deposit_account": CLEARING, "create_deposit_account": True},
        REFUNDS: {"load_as": "sales_credit_note", "book": True, "deposit_account": 55000},
        **extra,
    }


def invoices_by_reference(sandbox: SandboxServer, prefix: str) -> dict[str, dict[str, t.Any]]:
    """The live invoices the sandbox holds whose ExternalReference starts with ``prefix``, by reference."""
    return {r["ExternalReference"]: dict(r) for r in by_reference(sandbox.dump(ORG, "invoices"), prefix)}


def live_payments(sandbox: SandboxServer, voucher_guid: str) -> list[dict[str, t.Any]]:
    """The payments not deleted that the sandbox holds on one invoice or credit note."""
    return [
        p
        for p in sandbox.dump(ORG, "payments")
        if p.get("VoucherGuid") == voucher_guid.lower() and not p.get("DeletedAt")
    ]


def credit_notes_for(sandbox: SandboxServer, invoice_guid: str) -> list[dict[str, t.Any]]:
    """The live credit notes the sandbox holds that credit one invoice (CreditNoteFor, any case)."""
    return [
        n
        for n in sandbox.dump(ORG, "creditnotes")
        if str(n.get("CreditNoteFor") or "").lower() == invoice_guid.lower() and not n.get("DeletedAt")
    ]
