"""(5) Target figures: requests per loaded record against the sandbox, and records per CPU-second
through validation and mapping with the network stubbed out."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks.common import BIN, ORG, Printer, credentials, run_cli, run_worker, write_json
from benchmarks.sandbox_proc import SandboxProcess
from benchmarks.target_input import (
    daily_sales,
    daily_sales_options,
    invoices,
    manual_vouchers,
    write_messages,
)

__all__ = ["requests_per_record", "stubbed_cpu"]

REFERENCE_PATHS = {
    "/accounts/entry": ("/v1/{org}/accounts/entry", {"fields": "AccountNumber,Name,VatCode,IsHidden"}),
    "/accounts/deposit": ("/v1/{org}/accounts/deposit", {"fields": "AccountNumber,Name,IsHidden"}),
    "/vatTypes": ("/v1/{org}/vatTypes", None),
    "/accountingyears": ("/v1/{org}/accountingyears", None),
}


def _config(url: str, work: Path, stream: str, options: dict[str, Any]) -> dict[str, Any]:
    return {
        **credentials(url),
        "quota_requests": 1_000_000,
        "quota_window_seconds": 60,
        "quota_backend": str(work / "quota"),
        "streams": {stream: options},
        "rejects_file": str(work / "rejects.jsonl"),
        "ledger_file": str(work / "ledger.jsonl"),
    }


def _rejects(work: Path) -> int:
    path = work / "rejects.jsonl"
    return (
        sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        if path.exists()
        else 0
    )


#: Reference data every run reads once, whatever its size (chart of accounts, VAT codes, years).
RUN_LOOKUPS = ("/accounts/", "/vatTypes", "/accountingyears")


def _load(
    sandbox: SandboxProcess,
    stream: str,
    keys: list[str],
    records: Iterable[dict[str, Any]],
    options: dict[str, Any],
) -> tuple[int, int, int, int]:
    """Run target-dinero over ``records``; returns (records, API requests, run-wide look-ups, rejects)."""
    work = Path(tempfile.mkdtemp(prefix="dinero-bench-target-"))
    input_path = work / "input.jsonl"
    n = write_messages(input_path, stream, keys, records)
    config = write_json(work, "target.json", _config(sandbox.url, work, stream, options))
    sandbox.clear_log()
    run_cli([str(BIN / "target-dinero"), "--config", config], stdin_path=str(input_path))
    logged = sandbox.api_requests()
    lookups = sum(1 for r in logged if r["method"] == "GET" and any(p in r["path"] for p in RUN_LOOKUPS))
    return n, len(logged), lookups, _rejects(work)


def requests_per_record(
    sandbox: SandboxProcess, out: Printer, *, n_invoices: int, n_vouchers: int, days: int, per_day: int
) -> None:
    """Requests per draft / booked invoice, per manual voucher with a file, per day of daily sales."""
    sandbox.reset("demo")
    contacts = [c["ContactGuid"] for c in sandbox.dump(ORG, "contacts") if not c.get("DeletedAt")][:5]
    cases = [
        (
            "draft_invoice",
            "shop_orders",
            ["id"],
            invoices(n_invoices, "DRAFT", contacts),
            {"load_as": "invoice"},
            1.05,
        ),
        (
            "booked_invoice",
            "shop_orders",
            ["id"],
            invoices(n_invoices, "BOOKED", contacts),
            {"load_as": "invoice", "book": True},
            2.05,
        ),
        (
            "manual_voucher_with_file",
            "receipts",
            ["id"],
            manual_vouchers(n_vouchers, "MV"),
            {"load_as": "manual_voucher"},
            2.05,
        ),
    ]
    for name, stream, keys, records, options, budget in cases:
        n, requests, lookups, rejects = _load(sandbox, stream, keys, records, options)
        out(f"target_{name}_records", n)
        out(f"target_{name}_run_lookups", lookups)
        out(f"target_requests_per_{name}", requests / n)
        if rejects:
            out(f"target_{name}_rejects", rejects)
        out(f"target_{name}_at_most_{budget}", "met" if requests / n <= budget and not rejects else "missed")
    # Customers given as Contact objects (10 distinct, found/created once each, then cached).
    n, requests, _, rejects = _load(
        sandbox, "shop_orders", ["id"], invoices(n_invoices, "CONTACTS", None, 10), {"load_as": "invoice"}
    )
    out("target_requests_per_draft_invoice_with_10_contact_objects", requests / n)
    for per in (per_day, per_day * 10):
        n, requests, lookups, rejects = _load(
            sandbox, "pos_sales", ["sale_id"], daily_sales(days, per, f"POS{per}"), daily_sales_options()
        )
        marginal = (requests - lookups) / days
        out(f"target_daily_sales_{per}_per_day_days", days)
        out(f"target_daily_sales_{per}_per_day_run_lookups", lookups)
        out(f"target_requests_per_day_of_daily_sales_{per}_per_day_incl_run_lookups", requests / days)
        out(f"target_requests_per_day_of_daily_sales_{per}_per_day", marginal)
        if rejects:
            out(f"target_daily_sales_{per}_per_day_rejects", rejects)
        out(
            f"target_daily_sales_{per}_per_day_at_most_2",
            "met" if marginal <= 2 and not rejects else "missed",
        )


def _reference(sandbox: SandboxProcess) -> dict[str, Any]:
    from dinero_api.client import DineroClient
    from dinero_api.settings import DineroSettings

    work = tempfile.mkdtemp(prefix="dinero-bench-ref-")
    settings = DineroSettings.from_config(
        {**credentials(sandbox.url), "quota_backend": work, "quota_requests": 1_000_000}
    )
    with DineroClient(settings) as client:
        return {suffix: client.get_json(path, params) for suffix, (path, params) in REFERENCE_PATHS.items()}


def stubbed_cpu(
    sandbox: SandboxProcess,
    out: Printer,
    *,
    n_invoices: int,
    n_vouchers: int,
    n_sales: int,
    profile: bool = True,
) -> dict[str, Any]:
    """Records per CPU-second through the target with the network stubbed out."""
    sandbox.reset("demo")
    reference = _reference(sandbox)
    contacts = [c["ContactGuid"] for c in sandbox.dump(ORG, "contacts") if not c.get("DeletedAt")][:5]
    cases = [
        ("invoice", "shop_orders", ["id"], invoices(n_invoices, "CPU", contacts), {"load_as": "invoice"}),
        (
            "manual_voucher_with_file",
            "receipts",
            ["id"],
            manual_vouchers(n_vouchers, "CPUMV"),
            {"load_as": "manual_voucher"},
        ),
        (
            "daily_sales_sale",
            "pos_sales",
            ["sale_id"],
            daily_sales(10, n_sales // 10, "CPUPOS"),
            daily_sales_options(),
        ),
    ]
    results: dict[str, Any] = {}
    for name, stream, keys, records, options in cases:
        work = Path(tempfile.mkdtemp(prefix="dinero-bench-stub-"))
        input_path = work / "input.jsonl"
        n = write_messages(input_path, stream, keys, records)
        spec: dict[str, Any] = {
            "config": _config(sandbox.url, work, stream, options),
            "input": str(input_path),
            "reference": reference,
        }
        if profile and name == "invoice":
            spec["profile"] = str(work / "target.prof")
        result = run_worker(spec, module="benchmarks.target_worker")
        if "profile" in spec:
            results["profile"] = spec["profile"]
            result = run_worker(
                {k: v for k, v in spec.items() if k != "profile"}, module="benchmarks.target_worker"
            )
        out(f"target_stubbed_{name}_records_per_cpu_s", n / result["cpu"])
        rejected = result["summary"].get("rejected")
        if rejected:
            out(f"target_stubbed_{name}_rejects", rejected)
        results[name] = result
    if "profile" in results:
        for category, pct in _target_profile(results["profile"]).items():
            out(f"target_profile_pct_{category}", pct)
    return results


def _target_profile(path: str) -> dict[str, float]:
    import pstats

    stats = pstats.Stats(path).stats  # type: ignore[attr-defined]

    def cum(suffix: str, name: str) -> float:
        return sum(v[3] for (f, _l, fn), v in stats.items() if fn == name and f.endswith(suffix))

    total = cum("singer_sdk/plugin_base.py", "listen") or 1.0
    parts = {
        "load_schema_validation": cum("target_dinero/records.py", "validate_shape"),
        "sink_prepare_other": cum("target_dinero/sinks/invoice.py", "prepare")
        - cum("target_dinero/records.py", "validate_shape"),
        "sink_load_and_payloads": cum("target_dinero/sinks/invoice.py", "load"),
        "singer_input_parsing": cum("singer_sdk/singerlib/encoding/simple.py", "deserialize_json"),
    }
    parts["sdk_and_other"] = max(0.0, total - sum(parts.values()))
    return {k: round(100.0 * v / total, 1) for k, v in parts.items()}


def dump_json(value: Any) -> str:
    """Compact JSON for a figure value."""
    return json.dumps(value, separators=(",", ":"))
