"""Tap CPU against a bare ``requests`` loop and a generic SDK REST tap, whole programs, start-up included.

``python -m benchmarks.cpu_ratio [--invoices 100000] [--runs 5] [--no-msdk]``

What is measured, per run, as three separate processes reading the same sandbox organization (the
sandbox runs in its own process; its CPU is not counted):

* **tap**: ``tap-dinero --config … --catalog …`` selecting ``invoices`` (lists only, ``include_lines``
  off), stdout to /dev/null: interpreter start-up, imports, settings, catalog, token, every page, every
  RECORD/STATE line.
* **bare loop**: ``python -c`` with a ``requests`` session that replays exactly the GETs the tap made
  (taken from the sandbox's request log of that run), parses each body and writes one JSON line per row.
* **msdk** (optional): MeltanoLabs' ``tap-rest-api-msdk`` in its own virtualenv (``.bench-venvs/msdk``,
  created on first use), configured for the same endpoint with the same page size.

CPU is user + system time of the child process (``os.wait4``), the headline; wall time is printed
beside it. Runs are paired (tap, bare, msdk in turn) and the ratios are medians over ``--runs``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from benchmarks.common import CHILD_ENV, ORG, REPO, Printer, catalog, median, tap_config, write_json
from benchmarks.sandbox_proc import SandboxProcess

__all__ = ["main"]

BIN = Path(sys.executable).parent
MSDK_VENV = REPO / ".bench-venvs" / "msdk"
MSDK_VERSION = "1.4.2"

BARE_LOOP = r"""
import json, os, sys
import requests
spec = json.load(open(sys.argv[1]))
session = requests.Session()
token = session.post(spec["token_url"], auth=(spec["client_id"], spec["client_secret"]),
    data={"grant_type": "password", "scope": "read write", "username": spec["api_key"],
          "password": spec["api_key"]}, timeout=30).json()["access_token"]
session.headers["Authorization"] = "Bearer " + token
out = sys.stdout
for url in spec["urls"]:
    response = session.get(url, timeout=60)
    response.raise_for_status()
    body = response.json()
    rows = body.get("Collection", [body]) if isinstance(body, dict) else body
    for row in rows:
        out.write(json.dumps({"type": "RECORD", "stream": "invoices", "record": row}) + "\n")
out.flush()
"""


def _run(command: list[str], env: dict[str, str] | None = None, timeout: float = 900) -> dict[str, float]:
    """Run ``command`` with stdout to /dev/null; wall and CPU seconds of the whole process."""
    with open(os.devnull, "wb") as devnull, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=devnull, stderr=err, cwd=REPO, env=env or CHILD_ENV)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"{command[0]} timed out")
            time.sleep(0.005)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise RuntimeError(f"{command[:3]} failed:\n{err.read()[-3000:].decode(errors='replace')}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime}


def _msdk_python() -> Path:
    """The msdk virtualenv's python, created on first use (PyPI, pinned version)."""
    python = MSDK_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(MSDK_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"tap-rest-api-msdk=={MSDK_VERSION}"], check=True
        )
    return python


def _msdk_config(url: str, token: str, page_size: int, fields: str) -> dict[str, Any]:
    """tap-rest-api-msdk for ``GET /v1/{org}/invoices``: page-number pagination, the envelope's rows,
    the same ``fields`` as the tap asks for (so both read rows of the same width)."""
    return {
        "api_url": url,
        "headers": {"Authorization": f"Bearer {token}", "Accept": "application/json"},
        "pagination_request_style": "page_number_paginator",
        "pagination_response_style": "page_number",
        "pagination_page_size": page_size,
        "pagination_initial_offset": 0,
        # Dinero's envelope has no "has more" flag: a page with rows means "ask for the next one", so
        # msdk stops on the first empty page (one request more than the tap, which reads the total).
        "next_page_token_path": "$.Collection[0]",
        "streams": [
            {
                "name": "invoices",
                "path": f"/v1/{ORG}/invoices",
                "params": {"pageSize": page_size, "fields": fields},
                "primary_keys": ["Guid"],
                "records_path": "$.Collection[*]",
                "num_inference_records": 50,
            }
        ],
    }


def _token(config: dict[str, Any]) -> str:
    import requests

    return requests.post(
        config["token_url"],
        auth=(config["client_id"], config["client_secret"]),
        data={
            "grant_type": "password",
            "scope": "read write",
            "username": config["api_key"],
            "password": config["api_key"],
        },
        timeout=30,
    ).json()["access_token"]


def main(argv: list[str] | None = None) -> int:
    """Measure and print ``name: value`` figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-msdk", action="store_true", help="skip tap-rest-api-msdk")
    args = parser.parse_args(argv)
    out = Printer()
    work = tempfile.mkdtemp(prefix="dinero-cpu-")
    with SandboxProcess(seed_size=f"invoices={args.invoices}") as sandbox:
        config = tap_config(sandbox.url, work, include_lines=False)
        cfg = write_json(work, "tap.json", config)
        cat = write_json(work, "catalog.json", catalog(config, ["invoices"]))
        msdk_python = None if args.no_msdk else _msdk_python()
        results: dict[str, list[dict[str, float]]] = {"tap": [], "bare": [], "msdk": []}
        requests_seen: dict[str, int] = {}
        for _ in range(args.runs):
            sandbox.clear_log()
            results["tap"].append(_run([str(BIN / "tap-dinero"), "--config", cfg, "--catalog", cat]))
            logged = sandbox.api_requests()
            requests_seen["tap"] = len(logged)
            urls = [
                f"{sandbox.url}{r['path']}?{r['query']}" if r["query"] else f"{sandbox.url}{r['path']}"
                for r in logged
            ]
            spec = write_json(work, "bare.json", {**config, "urls": urls})
            results["bare"].append(_run([sys.executable, "-c", BARE_LOOP, spec]))
            if msdk_python is not None:
                fields = parse_qs(logged[0]["query"]).get("fields", [""])[0]
                mcfg = write_json(work, "msdk.json", _msdk_config(sandbox.url, _token(config), 1000, fields))
                sandbox.clear_log()
                env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
                results["msdk"].append(
                    _run([str(msdk_python.parent / "tap-rest-api-msdk"), "--config", mcfg], env=env)
                )
                requests_seen["msdk"] = len(sandbox.api_requests())
    out("invoices", args.invoices)
    out("runs", args.runs)
    for name, runs in results.items():
        if runs:
            out(f"{name}_cpu_seconds_median", median(r["cpu"] for r in runs))
            out(f"{name}_wall_seconds_median", median(r["wall"] for r in runs))
    for name, count in requests_seen.items():
        out(f"{name}_requests", count)
    tap_cpu = [r["cpu"] for r in results["tap"]]
    ratio_bare = median(t / b["cpu"] for t, b in zip(tap_cpu, results["bare"], strict=True))
    out("tap_vs_bare_cpu_ratio", ratio_bare)
    walls = zip(results["tap"], results["bare"], strict=True)
    out("tap_vs_bare_wall_ratio", median(t["wall"] / b["wall"] for t, b in walls))
    out("target_tap_cpu_within_1_5x_bare", "met" if ratio_bare <= 1.5 else "missed")
    if results["msdk"]:
        ratio_msdk = median(t / m["cpu"] for t, m in zip(tap_cpu, results["msdk"], strict=True))
        out("tap_vs_msdk_cpu_ratio", ratio_msdk)
        pairs = zip(results["msdk"], results["bare"], strict=True)
        out("msdk_vs_bare_cpu_ratio", median(m["cpu"] / b["cpu"] for m, b in pairs))
        out("target_tap_cpu_within_0_3x_msdk", "met" if ratio_msdk <= 0.3 else "missed")
    print(json.dumps(out.figures), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
