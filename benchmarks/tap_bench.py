"""Tap figures: throughput vs a bare baseline (1), peak memory (2), requests per record (3), scaling (6)."""

from __future__ import annotations

import math
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.common import (
    BIN,
    ORG,
    Printer,
    catalog,
    median,
    run_cli,
    run_worker,
    tap_config,
    write_json,
)
from benchmarks.profile_summary import summarize
from benchmarks.sandbox_proc import SandboxProcess

__all__ = ["full_and_incremental_requests", "memory", "profile", "scaling", "throughput"]

THROUGHPUT_STREAMS = ("invoices", "contacts")
#: List throughput, memory and scaling read the lists only: with ``include_lines`` (the default) the
#: invoices stream also reads one detail per live invoice, which group 3 counts.
LISTS_ONLY = {"include_lines": False}
#: sandbox collection of each incremental stream (for the 1 % mutation)
MUTABLE = {
    "contacts": ("contacts", "ContactGuid"),
    "products": ("products", "ProductGuid"),
    "invoices": ("invoices", "Guid"),
    "sales_credit_notes": ("creditnotes", "Guid"),
    "trade_offers": ("tradeoffers", "Guid"),
}


def _stream_of(path: str) -> str:
    return "contacts" if "/contacts" in path else "invoices"


def throughput(sandbox: SandboxProcess, out: Printer, seed: str, runs: int) -> dict[str, Any]:
    """(1) records/s of the tap vs the bare ``requests`` baseline on the same pages (median of runs)."""
    sandbox.reset(seed)
    work = tempfile.mkdtemp(prefix="dinero-bench-tp-")
    config = tap_config(sandbox.url, work, **LISTS_ONLY)
    cat = catalog(config, THROUGHPUT_STREAMS)
    taps: list[dict[str, Any]] = []
    bases: list[dict[str, Any]] = []
    urls: list[list[str]] = []
    for i in range(runs):
        sandbox.clear_log()
        taps.append(run_worker({"mode": "tap", "config": config, "catalog": cat}))
        if i == 0:
            logged = sandbox.api_requests()
            urls = [[_stream_of(r["path"]), r["path"], r["query"]] for r in logged]
        bases.append(run_worker({"mode": "baseline", "config": config, "urls": urls}))
    records = taps[0]["records"]
    if bases[0]["records"] != records:
        print(f"# warning: baseline read {bases[0]['records']} records, the tap {records}", file=sys.stderr)
    tap_s = median(r["seconds"] for r in taps)
    base_s = median(r["seconds"] for r in bases)
    tap_cpu = median(r["cpu"] for r in taps)
    base_cpu = median(r["cpu"] for r in bases)
    out("throughput_seed", seed)
    out("throughput_records", records)
    out("throughput_runs", runs)
    out("tap_records_per_s", records / tap_s)
    out("baseline_records_per_s", records / base_s)
    out("tap_seconds_median", tap_s)
    out("baseline_seconds_median", base_s)
    out("tap_vs_baseline_time_ratio", tap_s / base_s)
    out("tap_cpu_seconds_median", tap_cpu)
    out("baseline_cpu_seconds_median", base_cpu)
    out("tap_vs_baseline_cpu_ratio", tap_cpu / base_cpu)
    out("tap_cpu_us_per_record", tap_cpu / records * 1e6)
    out("target_tap_within_1_5x_baseline_time", "met" if tap_s <= 1.5 * base_s else "missed")
    # What the quota lets through on full list pages: 1000 rows per request, 100 requests per minute.
    out("tap_records_per_s_over_quota_limit_on_lists", (records / tap_s) / (1000 * 100 / 60))
    for stream in THROUGHPUT_STREAMS:
        n = taps[0]["records_by_stream"].get(stream, 0)
        req = taps[0]["requests_by_stream"].get(stream, 0)
        out(f"large_list_requests_per_1000_records_{stream}", 1000 * req / n if n else float("nan"))
    return {"tap": taps, "baseline": bases}


def profile(sandbox: SandboxProcess, out: Printer, seed: str) -> dict[str, float]:
    """Where the tap's time goes (one cProfile run of the throughput sync)."""
    sandbox.reset(seed)
    work = tempfile.mkdtemp(prefix="dinero-bench-prof-")
    config = tap_config(sandbox.url, work, **LISTS_ONLY)
    prof = str(Path(work) / "tap.prof")
    run_worker(
        {"mode": "tap", "config": config, "catalog": catalog(config, THROUGHPUT_STREAMS), "profile": prof}
    )
    shares = summarize(prof)
    total = shares.pop("total") or 1.0
    out("profile_seed", seed)
    for category, seconds in sorted(shares.items(), key=lambda kv: -kv[1]):
        out(f"profile_pct_{category}", 100.0 * seconds / total)
    return shares


def _cli_tap(config: dict[str, Any], cat: dict[str, Any], work: str) -> dict[str, Any]:
    cfg = write_json(work, "tap.json", config)
    cat_path = write_json(work, "catalog.json", cat)
    return run_cli([str(BIN / "tap-dinero"), "--config", cfg, "--catalog", cat_path])


def memory(sandbox: SandboxProcess, out: Printer, sizes: tuple[int, int]) -> None:
    """(2) peak RSS of the ``tap-dinero`` process (invoices + contacts) at two organization sizes."""
    rss: list[float] = []
    for n in sizes:
        sandbox.reset(f"invoices={n}")
        work = tempfile.mkdtemp(prefix="dinero-bench-mem-")
        config = tap_config(sandbox.url, work, **LISTS_ONLY)
        result = _cli_tap(config, catalog(config, THROUGHPUT_STREAMS), work)
        rss.append(result["maxrss_mib"])
        out(f"tap_peak_rss_mib_{n}_invoices", result["maxrss_mib"])
    growth = 100.0 * (rss[1] - rss[0]) / rss[0]
    out(f"tap_peak_rss_growth_pct_{sizes[0]}_to_{sizes[1]}", growth)
    out("target_tap_memory_growth_under_20pct", "met" if growth < 20 else "missed")


def scaling(sandbox: SandboxProcess, out: Printer, base: int, runs: int = 2) -> None:
    """(6) tap wall/CPU time (median of ``runs``) and peak RSS at 1x, 2x, 4x data (invoices + contacts)."""
    walls: list[float] = []
    cpus: list[float] = []
    rss: list[float] = []
    for factor in (1, 2, 4):
        n = base * factor
        sandbox.reset(f"invoices={n}")
        work = tempfile.mkdtemp(prefix="dinero-bench-scale-")
        config = tap_config(sandbox.url, work, **LISTS_ONLY)
        cat = catalog(config, THROUGHPUT_STREAMS)
        results = [run_worker({"mode": "tap", "config": config, "catalog": cat}) for _ in range(runs)]
        walls.append(median(r["seconds"] for r in results))
        cpus.append(median(r["cpu"] for r in results))
        rss.append(max(r["maxrss_mib"] for r in results))
        records = results[0]["records"]
        out(f"scaling_{factor}x_invoices", n)
        out(f"scaling_{factor}x_seconds", walls[-1])
        out(f"scaling_{factor}x_cpu_seconds", cpus[-1])
        out(f"scaling_{factor}x_cpu_us_per_record", 1e6 * cpus[-1] / records)
        out(f"scaling_{factor}x_peak_rss_mib", rss[-1])
    out.data["scaling"] = {
        "invoices": [base * f for f in (1, 2, 4)],
        "wall_seconds": walls,
        "cpu_seconds": cpus,
        "peak_rss_mib": rss,
    }
    out("scaling_time_ratio_2x", walls[1] / walls[0])
    out("scaling_time_ratio_4x", walls[2] / walls[0])
    out("scaling_cpu_ratio_2x", cpus[1] / cpus[0])
    out("scaling_cpu_ratio_4x", cpus[2] / cpus[0])
    out("scaling_rss_growth_pct_4x", 100.0 * (rss[2] - rss[0]) / rss[0])


def _by_route(logged: list[dict[str, Any]]) -> Counter[str]:
    """Requests per route, ids replaced by ``{org}`` and ``{guid}``."""
    routes: Counter[str] = Counter()
    for entry in logged:
        parts = entry["path"].split("/")
        route = "/".join("{guid}" if len(p) >= 32 and "-" in p else p for p in parts)
        routes[route.replace(f"/{ORG}/", "/{org}/")] += 1
    return routes


def _mutate_one_percent(sandbox: SandboxProcess, rng: random.Random) -> dict[str, int]:
    changed: dict[str, int] = {}
    for stream, (collection, key) in MUTABLE.items():
        rows = [r for r in sandbox.dump(ORG, collection) if not r.get("DeletedAt")]
        k = max(1, math.ceil(len(rows) / 100))
        for row in rng.sample(rows, k):
            sandbox.mutate(ORG, collection, "update", str(row[key]), {})
        changed[stream] = k
    return changed


def full_and_incremental_requests(sandbox: SandboxProcess, out: Printer, seed: str) -> None:
    """(3) requests per 1000 records per stream in a full sync of every stream, then the requests of an
    incremental run after 1 % of the records of each incremental stream changed."""
    sandbox.reset(seed)
    work = tempfile.mkdtemp(prefix="dinero-bench-req-")
    config = tap_config(sandbox.url, work)
    cat = catalog(config, None)
    sandbox.clear_log()
    full = run_worker({"mode": "tap", "config": config, "catalog": cat})
    logged = sandbox.api_requests()
    out("requests_seed", seed)
    out("full_sync_requests_total", len(logged))
    out("full_sync_records_total", full["records"])
    records = full["records_by_stream"]
    for stream in sorted(full["requests_by_stream"]):
        n, req = records.get(stream, 0), full["requests_by_stream"][stream]
        per = 1000.0 * req / n if n else float("nan")
        out(f"full_sync_{stream}_records", n)
        out(f"full_sync_{stream}_requests", req)
        out(f"full_sync_{stream}_requests_per_1000_records", per)
    routes = _by_route(logged)
    out("full_sync_requests_by_route", ", ".join(f"{k}={v}" for k, v in sorted(routes.items())))
    details = {
        "invoices": "/v1/{org}/invoices/{guid}",
        "sales_credit_notes": "/v1/{org}/sales/creditnotes/{guid}",
        "trade_offers": "/v1/{org}/tradeoffers/{guid}",
    }
    for stream, route in details.items():
        if records.get(stream):
            out(
                f"full_sync_{stream}_detail_requests_per_1000_records",
                1000.0 * routes[route] / records[stream],
            )

    changed = _mutate_one_percent(sandbox, random.Random(6))
    out("incremental_changed_records", sum(changed.values()))
    sandbox.clear_log()
    inc = run_worker({"mode": "tap", "config": config, "catalog": cat, "state": full["state"]})
    logged = sandbox.api_requests()
    by_route = _by_route(logged)
    out("incremental_requests_total", len(logged))
    out("incremental_records_total", inc["records"])
    out("incremental_requests_by_route", ", ".join(f"{k}={v}" for k, v in sorted(by_route.items())))
