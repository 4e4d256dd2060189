"""Benchmarks of tap-dinero and target-dinero against the offline sandbox.

    .venv/bin/python benchmarks/run.py            # full run (< 10 minutes on 2 cores)
    .venv/bin/python benchmarks/run.py --quick    # smaller sizes, 1-2 minutes
    .venv/bin/python benchmarks/run.py --only 1,4 # some figure groups only

Prints each figure as ``name: value`` on its own line. Groups (issue "Benchmarks: the quota is the
only bound"): 1 tap throughput vs a bare ``requests`` baseline (+ profile), 2 tap peak memory,
3 requests per 1000 records and of an incremental run, 4 quota use of tap + target together,
5 target requests per record and records per CPU-second, 6 scaling. The sandbox runs in its own
process; every measured tap/target runs in a fresh subprocess.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import quota_bench, tap_bench, target_bench
from benchmarks.common import Printer, code_version
from benchmarks.sandbox_proc import SandboxProcess

FULL = {
    "throughput_seed": "large",
    "throughput_runs": 5,
    "profile_seed": "invoices=10000",
    "memory_sizes": (10_000, 100_000),
    "scaling_base": 25_000,
    "requests_seed": "invoices=2000",
    "quota_windows": 10,
    "target_invoices": 200,
    "target_vouchers": 100,
    "target_days": 10,
    "target_sales_per_day": 20,
    "stub_invoices": 5000,
    "stub_vouchers": 1000,
    "stub_sales": 10_000,
}
QUICK = {
    "throughput_seed": "invoices=10000",
    "throughput_runs": 3,
    "profile_seed": "invoices=10000",
    "memory_sizes": (10_000, 50_000),
    "scaling_base": 5_000,
    "requests_seed": "invoices=500",
    "quota_windows": 4,
    "target_invoices": 100,
    "target_vouchers": 40,
    "target_days": 5,
    "target_sales_per_day": 20,
    "stub_invoices": 2000,
    "stub_vouchers": 300,
    "stub_sales": 4000,
}
#: The shortened quota window: Dinero's ratio (100 requests per 60 s) on a 6 s window.
QUOTA_REQUESTS, QUOTA_WINDOW = 100, 6.0


def main(argv: list[str] | None = None) -> int:
    """Run the selected groups and print their figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a 1-2 minute run")
    parser.add_argument("--only", default="1,2,3,4,5,6", help="comma-separated figure groups (1-6)")
    parser.add_argument(
        "--charts",
        action="store_true",
        help="also write benchmarks/results.json and the PNG charts of groups 4 and 6 into docs/ "
        "(needs matplotlib: pip install '.[bench]')",
    )
    args = parser.parse_args(argv)
    groups = {int(g) for g in args.only.split(",") if g.strip()}
    sizes = QUICK if args.quick else FULL
    out = Printer()
    started = time.perf_counter()
    out("benchmark_mode", "quick" if args.quick else "full")
    out("code_version", code_version())
    out("machine", f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}")
    # Other work on the machine stretches wall times (not CPU times): shown so readers can judge noise.
    out("machine_load_average_1m_at_start", f"{os.getloadavg()[0]:.2f}")
    with SandboxProcess("demo") as sandbox:
        if 1 in groups:
            tap_bench.throughput(sandbox, out, sizes["throughput_seed"], sizes["throughput_runs"])
            tap_bench.profile(sandbox, out, sizes["profile_seed"])
        if 2 in groups:
            tap_bench.memory(sandbox, out, sizes["memory_sizes"])
        if 3 in groups:
            tap_bench.full_and_incremental_requests(sandbox, out, sizes["requests_seed"])
        if 4 in groups:
            quota_bench.quota_use(
                sandbox,
                out,
                seed=sizes["requests_seed"],
                quota=QUOTA_REQUESTS,
                window=QUOTA_WINDOW,
                windows=sizes["quota_windows"],
            )
        if 5 in groups:
            target_bench.requests_per_record(
                sandbox,
                out,
                n_invoices=sizes["target_invoices"],
                n_vouchers=sizes["target_vouchers"],
                days=sizes["target_days"],
                per_day=sizes["target_sales_per_day"],
            )
            target_bench.stubbed_cpu(
                sandbox,
                out,
                n_invoices=sizes["stub_invoices"],
                n_vouchers=sizes["stub_vouchers"],
                n_sales=sizes["stub_sales"],
            )
        if 6 in groups:
            tap_bench.scaling(sandbox, out, sizes["scaling_base"])
    out("machine_load_average_1m_at_end", f"{os.getloadavg()[0]:.2f}")
    out("benchmark_wall_seconds", time.perf_counter() - started)
    if args.charts:
        from benchmarks import charts

        results = {"figures": out.figures, "data": out.data}
        charts.RESULTS.write_text(json.dumps(results, indent=1) + "\n")
        for path in charts.render(results):
            out("chart", str(path.relative_to(charts.REPO)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
