"""PNG charts of the benchmark results, for README "Performance" (docs/bench-*.png).

    .venv/bin/python benchmarks/run.py --only 4,6 --charts   # measure, write results.json and the charts
    .venv/bin/python benchmarks/charts.py                     # redraw from benchmarks/results.json

matplotlib is a benchmark-only dependency (``pip install '.[bench]'``); the plugins never import it.

* ``docs/bench-quota.png``: requests per quota window of the tap and the target running together
  (reads and writes stacked) against the quota line, and the most in any sliding window;
* ``docs/bench-scaling.png``: the tap's wall and CPU time, and its peak memory, against data size.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results.json"
DOCS = REPO / "docs"


def quota_chart(data: dict[str, Any], path: Path) -> Path:
    """Stacked bars of reads and writes per window, the quota as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    quota, window, windows = data["quota"], data["window"], data["windows"]
    reads = [0] * windows
    writes = [0] * windows
    refused = 0
    for offset, kind, status in data["requests"]:
        index = min(int(offset // window), windows - 1)
        (writes if kind == "write" else reads)[index] += 1
        refused += status == 429
    x = list(range(1, windows + 1))
    fig, ax = plt.subplots(figsize=(8, 4), dpi=110)
    ax.bar(x, reads, label="reads (tap, and the target's look-ups)", color="#4C72B0")
    ax.bar(x, writes, bottom=reads, label="writes (target)", color="#DD8452")
    ax.axhline(
        quota, color="#C44E52", linestyle="--", linewidth=1.5, label=f"quota: {quota} per {window:g} s"
    )
    ax.set_xlabel(f"quota window ({window:g} s each; Dinero's 100 per 60 s, 10x shorter)")
    ax.set_ylabel("requests")
    ax.set_ylim(0, quota * 1.25)
    ax.set_xticks(x)
    ax.set_title(
        f"tap-dinero + target-dinero together: {sum(reads) + sum(writes)} requests, {refused} answered 429"
    )
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def scaling_chart(data: dict[str, Any], path: Path) -> Path:
    """Time and peak memory of a full tap sync against the number of invoices."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = data["invoices"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8), dpi=110)
    left.plot(n, data["wall_seconds"], marker="o", label="wall time")
    left.plot(n, data["cpu_seconds"], marker="s", label="CPU time")
    left.plot(n, [data["wall_seconds"][0] * x / n[0] for x in n], linestyle=":", color="grey", label="linear")
    left.set_xlabel("invoices (+ contacts), quota lifted")
    left.set_ylabel("seconds")
    left.set_title("tap time grows linearly")
    left.legend(fontsize=8)
    right.plot(n, data["peak_rss_mib"], marker="o", color="#55A868")
    right.set_ylim(0, max(data["peak_rss_mib"]) * 1.4)
    right.set_xlabel("invoices (+ contacts)")
    right.set_ylabel("peak RSS (MiB)")
    right.set_title("tap memory stays flat")
    for ax in (left, right):
        ax.set_xticks(n)
        ax.set_xticklabels([f"{x:,}" for x in n])
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def render(results: dict[str, Any]) -> list[Path]:
    """Every chart whose data the results hold."""
    data = results.get("data", {})
    written = []
    if "quota_use" in data:
        written.append(quota_chart(data["quota_use"], DOCS / "bench-quota.png"))
    if "scaling" in data:
        written.append(scaling_chart(data["scaling"], DOCS / "bench-scaling.png"))
    return written


if __name__ == "__main__":
    for chart in render(json.loads(RESULTS.read_text())):
        print(chart.relative_to(REPO))
    sys.exit(0)
