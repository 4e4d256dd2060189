"""Run every kill point of the two-worker scenario and print what Dinero (the sandbox) holds afterwards.

For k = 0 .. N (N = requests of one whole run of the workload: invoices, manual vouchers with and
without a file, daily sales, products, contacts), worker A is SIGKILLed after the sandbox logged k of its
requests (0: before its first request; k: after request k, before request k+1), worker B -- its own local
files, the same journal_store -- runs to completion, then A runs again (and must write nothing). Each
point gets its own reference prefix in one sandbox. ``tests/reliability/test_target_kill_matrix.py``
samples the same points with a recorded seed.

    .venv/bin/python scripts/kill_matrix.py            # every kill point
    .venv/bin/python scripts/kill_matrix.py --points 0,5,17

Prints one line per point and a summary: points run, points with a problem (a duplicate, a missing
object, a wrong amount or status, a write on the last run), records left "check by hand".
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dinero_sandbox.constants import DEMO_API_KEY, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, ORG_MAIN  # noqa: E402
from dinero_sandbox.testing import SandboxServer  # noqa: E402
from tests.reliability.helpers import run_target_process, singer_lines, write_json  # noqa: E402
from tests.reliability.workload import kill_scenario, messages, target_config  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", help="comma-separated kill points (default: all)")
    parser.add_argument("--no-shared-store", action="store_true", help="workers share only Dinero")
    args = parser.parse_args()
    started = time.monotonic()
    with SandboxServer(seed_size="demo", quota_requests=100_000, quota_window=60.0) as sandbox:
        root = Path(tempfile.mkdtemp(prefix="kill-matrix-"))
        settings = {
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "api_key": DEMO_API_KEY,
            "organization_id": ORG_MAIN,
            "api_url": sandbox.url,
            "token_url": sandbox.token_url,
        }
        base = root / "baseline"
        base.mkdir()
        config = write_json(base / "config.json", target_config(settings, base, "KB-"))
        (base / "input.jsonl").write_text(singer_lines(messages("KB-")), encoding="utf-8")
        baseline = run_target_process(sandbox, config, base / "input.jsonl", base)
        if baseline.returncode != 0:
            print(baseline.stderr[-3000:])
            return 2
        total = len(baseline.requests)
        points = [int(p) for p in args.points.split(",")] if args.points else list(range(total + 1))
        print(f"one run makes {total} requests; kill points: {len(points)}", flush=True)
        failed, by_hand = [], []
        for point in points:
            outcome = kill_scenario(sandbox, settings, root / "kills", point, shared=not args.no_shared_store)
            bad = (
                outcome["problems"]
                or outcome["final_rc"] != 0
                or outcome["again_rc"] != 0
                or outcome["again_writes"]
            )
            by_hand += outcome["check_by_hand"]
            if bad:
                failed.append(point)
            shown = {k: v for k, v in outcome.items() if k != "stderr" and (v or k == "kill_after")}
            print(("PROBLEM " if bad else "ok      ") + json.dumps(shown), flush=True)
            if bad:
                tail = outcome["stderr"][-1500:].replace("\n", "\n  ")
                print(f"  worker B stderr (tail): {tail}", flush=True)
        print(
            f"summary: {len(points)} kill points, {len(failed)} with a problem {failed}, "
            f"{len(by_hand)} records left 'check by hand', {time.monotonic() - started:.0f} s"
        )
        return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
