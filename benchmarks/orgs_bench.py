"""N organizations x quota: how much of N organizations' quota the tap uses, and what each one costs.

Dinero's quota is per (client id, organization), so N organizations allow N x quota requests per window --
if they are read at the same time. Two ways of doing that are measured against a sandbox serving
``max(N)`` added organizations (``benchmarks/many_orgs.py``), with the quota shortened so that
N x quota per second fits this 2-core machine (default 30 requests per 6 s per organization, 5 requests
per second each: Dinero's 100 per 60 s is 1.7):

* ``processes``: one ``tap-dinero`` process per organization, all started at once -- what each mapped
  task of the Airflow DAG runs (without Meltano's own start-up around it);
* ``threads``: one ``tap-dinero`` process with ``organization_ids`` and ``max_parallel_organizations``
  = k (tap_dinero/organizations.py).

Per run it prints: requests per window / (organizations x quota) over the windows in which every
organization was busy ("steady"), the 429 answers, wall time, and CPU seconds and peak RSS per tap
process (from ``wait4``), plus the sandbox's own CPU (it is one Python process: its GIL is the first
thing to run out).

    .venv/bin/python benchmarks/orgs_bench.py                       # N = 4, 8, 20 processes; k = 1, 2, 4, 8
    .venv/bin/python benchmarks/orgs_bench.py --ns 4 --ks 1,2 --invoices 60    # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import CHILD_ENV, REPO, Printer, code_version
from benchmarks.many_orgs import extra_org_ids

__all__ = ["main"]

TAP_CODE = "from tap_dinero.tap import TapDinero; TapDinero.cli()"
EXCLUDED_STREAMS = {"organizations"}  # organization-free: not part of any organization's quota


class ManyOrgSandbox:
    """``benchmarks/many_orgs.py`` in a process of its own (its CPU is measured apart)."""

    def __init__(self, orgs: int, invoices: int, quota: int, window: float) -> None:
        self.args = ["--orgs", str(orgs), "--invoices", str(invoices), "--quota", str(quota)]
        self.args += ["--window", str(window)]
        self.url = ""
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> ManyOrgSandbox:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.many_orgs", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**CHILD_ENV, "PYTHONUNBUFFERED": "1"},
            cwd=REPO,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"listening on (http://\S+)", line)
        if not match:
            self.__exit__()
            raise RuntimeError(f"sandbox did not start: {line!r}")
        self.url = match.group(1)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One ``/_sandbox`` call."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/_sandbox{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=300) as response:
            return json.loads(response.read() or b"null")

    def cpu_seconds(self) -> float:
        """CPU time the sandbox process has used so far (Linux /proc)."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _config(url: str, work: Path, orgs: list[str], quota: int, window: float) -> dict[str, Any]:
    config: dict[str, Any] = {
        "client_id": "dinero-sandbox",
        "client_secret": "sandbox-secret",
        "refresh_token": "sandbox-refresh-token",
        "token_file": str(work / "tokens.json"),  # one login for every organization, as a partner has
        "api_url": url,
        "token_url": f"{url}/connect/token",
        "quota_requests": quota,
        "quota_window_seconds": window,
        "quota_cache_dir": str(work / "quota"),
    }
    if len(orgs) == 1:
        config["organization_id"] = orgs[0]
    else:
        config["organization_ids"] = orgs
        config["max_parallel_organizations"] = len(orgs)
    return config


def _catalog(work: Path, config: dict[str, Any]) -> Path:
    path = work / "catalog.json"
    if not path.exists():
        from tap_dinero.tap import TapDinero

        tap = TapDinero(config=config)
        for name, stream in tap.streams.items():
            stream.selected = name not in EXCLUDED_STREAMS
        path.write_text(json.dumps(tap.catalog_dict))
    return path


def _run_taps(
    sandbox: ManyOrgSandbox, work: Path, groups: list[list[str]], quota: int, window: float
) -> dict[str, Any]:
    """Start one tap process per group of organizations at once; wait for all; measure."""
    sandbox.call("DELETE", "/requests")
    sandbox.call("POST", "/quota", {"requests": quota, "window": window})
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=work))
    cpu_before = sandbox.cpu_seconds()
    started = time.monotonic()
    procs = []
    for index, orgs in enumerate(groups):
        config = _config(sandbox.url, run_dir, orgs, quota, window)
        config_path = run_dir / f"config-{index}.json"
        config_path.write_text(json.dumps(config))
        catalog = _catalog(work, config)
        err = open(run_dir / f"tap-{index}.log", "w")  # noqa: SIM115 - closed after wait
        proc = subprocess.Popen(
            [sys.executable, "-c", TAP_CODE, "--config", str(config_path), "--catalog", str(catalog)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=CHILD_ENV,
            cwd=REPO,
        )
        procs.append((proc, err))
    usages = []
    failed = 0
    for proc, err in procs:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.close()
        failed += proc.returncode != 0
        usages.append((usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024))
    wall = time.monotonic() - started
    sandbox_cpu = sandbox.cpu_seconds() - cpu_before
    log = [e for e in sandbox.call("GET", "/requests") if not str(e.get("path", "")).endswith("/token")]
    return {"log": log, "wall": wall, "usages": usages, "failed": failed, "sandbox_cpu": sandbox_cpu}


def _steady_fraction(
    log: list[dict[str, Any]], orgs: list[str], quota: int, window: float
) -> tuple[float, float]:
    """Mean requests per window / (orgs x quota) while every organization was busy: the mean count of
    answered requests in a sliding window of ``window`` seconds, over every start from the last
    organization's first request to the first organization's last request minus a window (the throttle
    sends a window's quota at once, so windows aligned to the bursts would overstate it). Also returns
    the number of windows that span covers."""
    by_org: dict[str, list[float]] = {org: [] for org in orgs}
    for entry in log:
        if entry.get("org") in by_org and entry.get("status") != 429:
            by_org[str(entry["org"])].append(float(entry["ts"]))
    if any(not stamps for stamps in by_org.values()):
        return 0.0, 0.0
    begin = max(min(stamps) for stamps in by_org.values())
    end = min(max(stamps) for stamps in by_org.values())
    if end - begin < 2 * window:
        return 0.0, (end - begin) / window
    stamps = sorted(t for values in by_org.values() for t in values)
    steps = 400
    total = 0
    for i in range(steps):
        start = begin + (end - window - begin) * i / (steps - 1)
        total += sum(1 for t in stamps if start <= t < start + window)
    return total / steps / (len(orgs) * quota), (end - begin) / window


def _report(
    out: Printer, label: str, result: dict[str, Any], orgs: list[str], quota: int, window: float
) -> None:
    fraction, windows = _steady_fraction(result["log"], orgs, quota, window)
    too_many = sum(1 for e in result["log"] if e.get("status") == 429)
    requests = sum(1 for e in result["log"] if e.get("org") in set(orgs))
    cpu = [u[0] for u in result["usages"]]
    rss = [u[1] for u in result["usages"]]
    out(f"{label}: requests / (N x quota) per window, over {windows:.1f} busy windows", fraction)
    out(f"{label}: HTTP 429 answers", too_many)
    out(
        f"{label}: requests / wall time / failed tap processes",
        f"{requests} / {result['wall']:.1f} s / {result['failed']}",
    )
    out(
        f"{label}: per tap process CPU s (mean, max) / peak RSS MiB (mean, max)",
        f"{sum(cpu) / len(cpu):.2f}, {max(cpu):.2f} / {sum(rss) / len(rss):.1f}, {max(rss):.1f}",
    )
    out(f"{label}: sandbox CPU s per API request", result["sandbox_cpu"] / max(requests, 1))


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print ``name: value`` lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ns", default="4,8,20", help="organizations run as that many tap processes")
    parser.add_argument("--ks", default="1,2,4,8", help="organizations in one tap process (threads)")
    parser.add_argument("--quota", type=int, default=30, help="requests per window per organization")
    parser.add_argument("--window", type=float, default=6.0, help="quota window in seconds")
    parser.add_argument("--invoices", type=int, default=100, help="invoices per organization")
    args = parser.parse_args(argv)
    ns = [int(n) for n in args.ns.split(",") if n]
    ks = [int(k) for k in args.ks.split(",") if k]
    out = Printer()
    print(
        f"code: {code_version()}  load average: {os.getloadavg()[0]:.2f}  cores: {os.cpu_count()}", flush=True
    )
    work = Path(tempfile.mkdtemp(prefix="dinero-orgs-bench-"))
    with ManyOrgSandbox(max([*ns, *ks, 1]), args.invoices, args.quota, args.window) as sandbox:
        all_orgs = extra_org_ids(max([*ns, *ks, 1]))
        for k in ks:
            orgs = all_orgs[:k]
            result = _run_taps(sandbox, work, [orgs], args.quota, args.window)
            _report(out, f"threads k={k}", result, orgs, args.quota, args.window)
        for n in ns:
            orgs = all_orgs[:n]
            result = _run_taps(sandbox, work, [[org] for org in orgs], args.quota, args.window)
            _report(out, f"processes N={n}", result, orgs, args.quota, args.window)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
