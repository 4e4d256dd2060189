"""Configs, catalogs and subprocess runners shared by the benchmark groups."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "ORG",
    "Printer",
    "catalog",
    "median",
    "run_cli",
    "run_worker",
    "tap_config",
]

ORG = "100000"
REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LIFTED_QUOTA = 1_000_000
#: Subprocesses (workers, the plugins' CLIs, the sandbox) import the code of this tree, whatever the
#: virtualenv's editable install points at (so a clean snapshot of a commit can be measured).
CHILD_ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
}


def code_version() -> str:
    """``git describe --dirty`` of the measured tree, else ``$DINERO_BENCH_COMMIT``."""
    try:
        described = subprocess.run(
            ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        described = ""
    return described or os.environ.get("DINERO_BENCH_COMMIT", "unknown")


class Printer:
    """Prints ``name: value`` lines as they are measured and keeps them for the summary."""

    def __init__(self) -> None:
        self.figures: dict[str, Any] = {}
        #: Series behind the figures, for the charts (benchmarks/charts.py): name -> JSON-able value.
        self.data: dict[str, Any] = {}

    def __call__(self, name: str, value: Any) -> None:
        if isinstance(value, float):
            value = f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
        self.figures[name] = value
        print(f"{name}: {value}", flush=True)


def credentials(url: str) -> dict[str, Any]:
    """Shared settings pointing at the sandbox (API-key flow, organization 100000)."""
    return {
        "client_id": "dinero-sandbox",
        "client_secret": "sandbox-secret",
        "api_key": "sandbox-api-key",
        "organization_id": ORG,
        "api_url": url,
        "token_url": f"{url}/dineroapi/oauth/token",
    }


def tap_config(
    url: str, quota_dir: str, *, quota: int = LIFTED_QUOTA, window: float = 60.0, **extra: Any
) -> dict[str, Any]:
    """A tap config for the sandbox with its own quota backend directory."""
    return {
        **credentials(url),
        "quota_requests": quota,
        "quota_window_seconds": window,
        "quota_backend": quota_dir,
        "page_size": 1000,
        **extra,
    }


def catalog(config: Mapping[str, Any], selected: Iterable[str] | None) -> dict[str, Any]:
    """The tap's catalog with only ``selected`` streams selected (all when None)."""
    from tap_dinero.tap import TapDinero

    wanted = None if selected is None else set(selected)
    tap = TapDinero(config=dict(config), validate_config=False, setup_mapper=False)
    data = json.loads(json.dumps(tap.catalog_dict))
    for stream in data["streams"]:
        on = wanted is None or stream["tap_stream_id"] in wanted
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = on
    return data


def median(values: Iterable[float]) -> float:
    """Median of ``values``."""
    return float(statistics.median(list(values)))


def run_worker(
    spec: Mapping[str, Any], timeout: float = 600, module: str = "benchmarks.tap_worker"
) -> dict[str, Any]:
    """Run a worker module (default the tap worker) on ``spec`` in a fresh subprocess; returns its result."""
    with tempfile.TemporaryDirectory(prefix="dinero-bench-") as tmp:
        spec_path = Path(tmp) / "spec.json"
        result_path = Path(tmp) / "result.json"
        spec_path.write_text(json.dumps({**spec, "result": str(result_path)}), encoding="utf-8")
        completed = subprocess.run(
            [sys.executable, "-m", module, str(spec_path)],
            cwd=REPO,
            env=CHILD_ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=timeout,
            check=False,
        )
        if completed.returncode != 0 or not result_path.exists():
            raise RuntimeError(f"{module} failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
        return json.loads(result_path.read_text(encoding="utf-8"))


def run_cli(
    command: list[str], *, stdin_path: str | None = None, stdout_path: str | None = None, timeout: float = 900
) -> dict[str, Any]:
    """Run a plugin CLI; returns wall seconds, peak RSS (MiB, from wait4) and the exit code."""
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL  # noqa: SIM115
    stdout = open(stdout_path or os.devnull, "wb")  # noqa: SIM115
    stderr = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdin=stdin, stdout=stdout, stderr=stderr, cwd=REPO, env=CHILD_ENV)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"{command[0]} timed out")
            time.sleep(0.01)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            stderr.seek(0)
            raise RuntimeError(f"{command} exited {proc.returncode}:\n{stderr.read()[-3000:].decode()}")
        return {
            "wall": wall,
            "cpu": usage.ru_utime + usage.ru_stime,
            "maxrss_mib": usage.ru_maxrss / 1024.0,
        }
    finally:
        if stdin is not subprocess.DEVNULL:
            stdin.close()
        stdout.close()
        stderr.close()


def self_maxrss_mib() -> float:
    """Peak RSS of this process in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def write_json(directory: str | Path, name: str, data: Any) -> str:
    """Write ``data`` as JSON to ``directory/name``; returns the path."""
    path = Path(directory) / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)
