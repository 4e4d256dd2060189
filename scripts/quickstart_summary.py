"""Small helpers for scripts/quickstart.sh: a free port, waiting for the sandbox, and the final summary.

Standard library only, so it runs with any Python 3.10+.

    python scripts/quickstart_summary.py free-port
    python scripts/quickstart_summary.py wait URL [SECONDS]
    python scripts/quickstart_summary.py summary SANDBOX_URL OUTPUT_DIR ORG_ID [SALES_CSV]
    python scripts/quickstart_summary.py second-load FIRST_LOG SECOND_LOG
"""

from __future__ import annotations

import csv
import json
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str, timeout: float = 10.0) -> Any:
    """GET a JSON document."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8"))


def wait_for(url: str, seconds: float) -> bool:
    """Poll ``url`` until it answers 200 or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            get_json(url, timeout=2.0)
            return True
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            time.sleep(0.2)
    return False


def count_jsonl(output_dir: Path) -> dict[str, int]:
    """Records per stream in ``<output_dir>/<stream>.jsonl``."""
    counts = {}
    for path in sorted(output_dir.glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            counts[path.stem] = sum(1 for line in handle if line.strip())
    return counts


def sales_days(sales_csv: Path | None) -> tuple[int, int]:
    """(sales, distinct days) in the sample sales file."""
    if not sales_csv or not sales_csv.exists():
        return 0, 0
    with sales_csv.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return len(rows), len({row["sold_at"][:10] for row in rows})


def summary(sandbox_url: str, output_dir: Path, org_id: str, sales_csv: Path | None) -> str:
    """The text printed at the end of the quick start."""
    lines = []
    if output_dir.is_dir():  # the JSONL loader (QUICKSTART_LOADER=jsonl); DuckDB prints its own tables
        lines.append(f"Dinero -> local copy: {output_dir}/")
        counts = count_jsonl(output_dir)
        width = max((len(s) for s in counts), default=10)
        for stream, n in counts.items():
            lines.append(f"  {stream:<{width}}  {n:>6} records   ({output_dir / (stream + '.jsonl')})")
        lines.append(f"  {'total':<{width}}  {sum(counts.values()):>6} records in {len(counts)} streams")
    sales, days = sales_days(sales_csv)
    vouchers = get_json(f"{sandbox_url}/_sandbox/orgs/{org_id}/manual_vouchers")
    daily = [v for v in vouchers if str(v.get("ExternalReference") or "").startswith("sales:")]
    lines.append(
        f"Sales -> Dinero: {sales} sales on {days} days ({sales_csv}) became {len(daily)} daily-sales "
        f"manual vouchers in organization {org_id}:"
    )
    for voucher in sorted(daily, key=lambda v: v.get("VoucherDate") or ""):
        accounts = ", ".join(str(line.get("AccountNumber")) for line in voucher.get("Lines") or [])
        total = float(voucher.get("TotalInclVat") or 0)
        status = str(voucher.get("Status", "?")).lower()
        lines.append(
            f"  {voucher.get('VoucherDate')}  {total:>9.2f} DKK incl. VAT  {status}, "
            f"lines to accounts {accounts}  (ExternalReference {voucher.get('ExternalReference')})"
        )
    stats = get_json(f"{sandbox_url}/_sandbox/stats")
    by_status = stats.get("by_status", {})
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(by_status.items()))
    refused = sum(n for status, n in by_status.items() if status == "429")
    lines.append(
        f"Requests used on the sandbox: {stats.get('total', 0)} ({statuses}; refused with 429: {refused})"
    )
    routes = sorted(stats.get("by_route", {}).items(), key=lambda item: -item[1])
    for route, n in routes[:8]:
        lines.append(f"  {n:>5}  {route}")
    if len(routes) > 8:
        lines.append(f"  {sum(n for _, n in routes[8:]):>5}  ({len(routes) - 8} other routes)")
    return "\n".join(lines)


def load_summary(log: Path) -> dict[str, Any]:
    """The last ``target-dinero summary: {...}`` of a Meltano log (what one target run did)."""
    found: dict[str, Any] = {}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        marker = line.find("target-dinero summary: ")
        if marker >= 0:
            text = line[marker + len("target-dinero summary: ") :]
            found, _ = json.JSONDecoder().raw_decode(text)
    return found


def second_load(first_log: Path, second_log: Path) -> tuple[str, int]:
    """Lines comparing two loads of the same sales; exit status 1 if the second created anything."""

    def created(summary: dict[str, Any]) -> int:
        return sum(
            n for s in summary.get("streams", {}).values() for k, n in s.items() if k.startswith("created")
        )

    first, second = load_summary(first_log), load_summary(second_log)
    lines = ["Loading the same sales into Dinero twice (exactly once, by ExternalReference):"]
    for label, summary in (("first load ", first), ("second load", second)):
        streams = summary.get("streams", {})
        detail = (
            "; ".join(f"{name}: {json.dumps(counts)}" for name, counts in streams.items()) or "no records"
        )
        lines.append(
            f"  {label}: {created(summary)} created ({detail}), {summary.get('requests', '?')} requests"
        )
    ok = bool(second) and created(second) == 0
    lines.append(
        "  -> the second load created nothing" if ok else "  -> the second load CREATED objects again"
    )
    return "\n".join(lines), 0 if ok else 1


def main(argv: list[str]) -> int:
    """Dispatch the sub-commands described in the module docstring."""
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    command, *args = argv
    if command == "free-port":
        print(free_port())
        return 0
    if command == "wait":
        return 0 if wait_for(args[0], float(args[1]) if len(args) > 1 else 30.0) else 1
    if command == "second-load":
        text, status = second_load(Path(args[0]), Path(args[1]))
        print(text)
        return status
    if command == "summary":
        sales_csv = Path(args[3]) if len(args) > 3 else None
        print(summary(args[0].rstrip("/"), Path(args[1]), args[2], sales_csv))
        return 0
    print(f"unknown command {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
