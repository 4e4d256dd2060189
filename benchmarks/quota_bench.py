"""(4) Quota use: the tap and the target on one organization at the same time, quota on (shortened
window, same ratio as Dinero's 100 per 60 s), measured from the sandbox's request log."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import BIN, CHILD_ENV, ORG, REPO, Printer, catalog, credentials, tap_config, write_json
from benchmarks.sandbox_proc import SandboxProcess
from benchmarks.target_input import invoices, write_messages

__all__ = ["quota_use"]


def _count_in(ts: list[float], start: float, end: float) -> int:
    return sum(1 for t in ts if start <= t < end)


def _max_in_window(ts: list[float], window: float) -> int:
    best, j = 0, 0
    for i, t in enumerate(ts):
        while ts[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def quota_use(
    sandbox: SandboxProcess, out: Printer, *, seed: str, quota: int, window: float, windows: int
) -> None:
    """Run tap (full sync, every stream) and target (draft invoices) together for ``windows`` windows."""
    sandbox.reset(seed)
    sandbox.set_quota(quota, window)
    work = Path(tempfile.mkdtemp(prefix="dinero-bench-quota-"))
    shared_quota_dir = str(work / "quota")  # both plugins share the throttle state, as in a pipeline
    tap_cfg = tap_config(sandbox.url, shared_quota_dir, quota=quota, window=window)
    cat = catalog(tap_cfg, None)
    contacts = [c["ContactGuid"] for c in sandbox.dump(ORG, "contacts") if not c.get("DeletedAt")][:5]
    n_invoices = quota * windows  # more than the target can send in the time: it stays busy
    target_input = work / "orders.jsonl"
    write_messages(target_input, "bench_orders", ["id"], invoices(n_invoices, "QUOTA", contacts))
    target_cfg = {
        **credentials(sandbox.url),
        "quota_requests": quota,
        "quota_window_seconds": window,
        "quota_backend": shared_quota_dir,
        "streams": {"bench_orders": {"load_as": "invoice"}},
        "rejects_file": str(work / "rejects.jsonl"),
        "ledger_file": str(work / "ledger.jsonl"),
    }
    tap_cmd = [
        str(BIN / "tap-dinero"),
        "--config",
        write_json(work, "tap.json", tap_cfg),
        "--catalog",
        write_json(work, "catalog.json", cat),
    ]
    target_cmd = [str(BIN / "target-dinero"), "--config", write_json(work, "target.json", target_cfg)]
    sandbox.clear_log()
    with (
        open(target_input, "rb") as stdin,
        open(work / "tap.err", "wb") as tap_err,
        open(work / "target.err", "wb") as target_err,
    ):
        started = time.time()
        tap = subprocess.Popen(tap_cmd, stdout=subprocess.DEVNULL, stderr=tap_err, cwd=REPO, env=CHILD_ENV)
        target = subprocess.Popen(
            target_cmd, stdin=stdin, stdout=subprocess.DEVNULL, stderr=target_err, cwd=REPO, env=CHILD_ENV
        )
        # Measure whole windows from the first API request on, while both run.
        deadline = started + 30
        first: float | None = None
        while first is None and time.time() < deadline:
            time.sleep(0.2)
            logged = sandbox.api_requests()
            first = logged[0]["ts"] if logged else None
        if first is None:
            raise RuntimeError("no API request reached the sandbox")
        end = first + windows * window
        while time.time() < end + 0.5 and (tap.poll() is None or target.poll() is None):
            time.sleep(0.2)
        ended_early = [name for name, p in (("tap", tap), ("target", target)) if p.poll() is not None]
        for proc in (tap, target):
            if proc.poll() is None:
                proc.terminate()
        for proc in (tap, target):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    logged = sandbox.api_requests()
    ts = sorted(r["ts"] for r in logged if first <= r["ts"] < end)
    rejected = sum(1 for r in logged if r["status"] == 429)
    posts = sum(1 for r in logged if r["method"] != "GET" and first <= r["ts"] < end)
    fraction = len(ts) / (windows * quota)
    # Steady state, free of the first burst: the time the run took to get through m whole quotas.
    every = sorted(r["ts"] for r in logged if r["status"] != 429)
    m = (len(every) - 1) // quota
    steady = m * window / (every[m * quota] - every[0]) if m else float("nan")
    out.data["quota_use"] = {
        "quota": quota,
        "window": window,
        "windows": windows,
        "requests": [
            [round(r["ts"] - first, 3), "read" if r["method"] == "GET" else "write", r["status"]]
            for r in logged
            if first <= r["ts"] < end
        ],
    }
    out("quota_setting", f"{quota} per {window:g} s (Dinero: 100 per 60 s)")
    out("quota_measured_windows", windows)
    out("quota_requests_in_measured_windows", len(ts))
    out("quota_target_writes_in_measured_windows", posts)
    out("quota_tap_and_target_requests_per_window", len(ts) / windows)
    out("quota_fraction_used_in_whole_windows", fraction)
    out("quota_fraction_used_steady_state", steady)
    out("quota_max_requests_in_any_sliding_window", _max_in_window(ts, window))
    out("quota_429_responses", rejected)
    if rejected:
        refused = [f"{r['method']} {r['path']}" for r in logged if r["status"] == 429]
        out("quota_429_requests", ", ".join(refused[:5]))
    out("target_quota_fraction_at_least_0_95", "met" if min(fraction, steady) >= 0.95 else "missed")
    out("target_zero_429", "met" if rejected == 0 else "missed")
    if ended_early:
        out("quota_note", f"{' and '.join(ended_early)} ended before the measurement did")
    sandbox.set_quota(1_000_000, 60.0)
