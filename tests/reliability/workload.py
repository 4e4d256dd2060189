"""One small input of every load type, and the check that Dinero holds each of its objects exactly once.

Used by the fault matrix, the two-worker tests and ``scripts/kill_matrix.py``. ``prefix`` keeps the
references of one scenario apart from another's in the same sandbox; ``version`` 2 changes every amount,
price and phone number (the update cells of the fault matrix load version 1, then version 2).

What "exactly once" means here, per record: Dinero holds one live object with the record's reference and
the record's content (amounts, price, status: booked when asked), every voucher has a file attached to
it alone -- or the record is in the rejects file as "check by hand" and Dinero holds it at most once.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.harness import ORG, live, read_rejects, record_message, schema_message, state_message

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
SALE_ACCOUNTS = {"card": 55030, "mobilepay": 55020, "cash": 58000}
STREAMS = ("orders", "journal", "sales", "catalog", "customers")


def stream_options() -> dict[str, Any]:
    """The ``streams`` setting of the workload."""
    return {
        "orders": {"load_as": "invoice"},
        "journal": {"load_as": "manual_voucher"},
        "sales": {
            "load_as": "daily_sales",
            "book": True,
            "payment_accounts": SALE_ACCOUNTS,
            "revenue_account": 1000,
            "vat_account": 64000,
            "vat_code": "U25",
            "date_field": "sold_at",
            "amount_field": "amount",
            "payment_method_field": "payment_method",
            "id_field": "sale_id",
            "vat_rate_field": "vat_rate",
        },
        "catalog": {"load_as": "product"},
        "customers": {"load_as": "contact"},
    }


def target_config(settings: Mapping[str, Any], workdir: Path, prefix: str, **extra: Any) -> dict[str, Any]:
    """A fast target config for the workload, with its journal, rejects and quota under ``workdir``."""
    return {
        "external_reference_prefix": prefix,
        **settings,
        "retry_backoff_seconds": 0.01,
        "max_retries": 3,
        "request_timeout": 0.5,
        "quota_requests": 100_000,
        "quota_cache_dir": str(workdir),
        "streams": stream_options(),
        "rejects_file": str(workdir / "rejects.jsonl"),
        "ledger_file": str(workdir / "ledger.jsonl"),
        "max_rejects": 100,
        "commit_horizon_seconds": 2,
        **extra,
    }


def records(prefix: str, version: int = 1) -> dict[str, list[dict[str, Any]]]:
    """The records of every stream."""
    bump = 0 if version == 1 else 7
    orders = [
        {
            "id": n,
            "ExternalReference": f"{prefix}ORD-{n}",
            "Date": "2026-11-02",
            "Book": n == 1,
            "Contact": {"Name": f"{prefix}Kunde {n}", "Email": f"{prefix.lower()}kunde{n}@example.dk"},
            "ProductLines": [
                {
                    "Description": f"Vare {n}",
                    "Quantity": 2,
                    "BaseAmountValue": 100 + n + bump,
                    "AccountNumber": 1000,
                    "Unit": "parts",
                }
            ],
        }
        for n in (1, 2)
    ]
    journal = []
    for n in (1, 2):
        voucher: dict[str, Any] = {
            "id": n,
            "ExternalReference": f"{prefix}JE-{n}",
            "VoucherDate": "2026-11-03",
            "Book": n == 1,
            "Lines": [
                {
                    "Description": f"Bilag {n}",
                    "AccountNumber": 5000,
                    "BalancingAccountNumber": 55000,
                    "Amount": 300 + n + bump,
                    "AccountVatCode": "none",
                    "BalancingAccountVatCode": "none",
                }
            ],
        }
        if n == 1:
            content = PDF + f"% {prefix}{n}\n".encode()
            voucher["File"] = {
                "content_base64": base64.b64encode(content).decode(),
                "FileName": f"bilag{n}.pdf",
            }
        journal.append(voucher)
    sales = [
        {
            "sale_id": f"{prefix}S{n}",
            "sold_at": f"2026-11-0{4 + n % 2}T10:0{n}:00",
            "amount": f"{10 * n + 0.25:.2f}",
            "payment_method": ("card", "cash", "mobilepay")[n % 3],
            "vat_rate": "0.25",
        }
        for n in range(1, 5)
    ]
    catalog = [
        {
            "id": n,
            "ExternalReference": f"{prefix}PRD-{n}",
            "Name": f"{prefix}Vare {n}",
            "BaseAmountValue": 50 + n + bump,
            "AccountNumber": 1000,
            "Unit": "parts",
        }
        for n in (1, 2)
    ]
    customers = [
        {
            "id": n,
            "ExternalReference": f"{prefix}CUS-{n}",
            "Name": f"{prefix}Firma {n}",
            "Email": f"{prefix.lower()}firma{n}@example.dk",
            "Phone": f"+45 1{n} 00 00 0{version}",
        }
        for n in (1, 2)
    ]
    return {"orders": orders, "journal": journal, "sales": sales, "catalog": catalog, "customers": customers}


def messages(prefix: str, streams: Iterable[str] = STREAMS, version: int = 1) -> list[dict[str, Any]]:
    """Singer messages of ``streams`` (the sales stream is keyed by sale_id), ending in one STATE."""
    data = records(prefix, version)
    out: list[dict[str, Any]] = []
    for stream in streams:
        keys = ("sale_id",) if stream == "sales" else ("id",)
        out += [schema_message(stream, keys), *(record_message(stream, r) for r in data[stream])]
    return [*out, state_message({"done": prefix})]


def _mine(rows: Iterable[Mapping[str, Any]], field: str, prefix: str) -> list[Mapping[str, Any]]:
    return [r for r in live(rows) if str(r.get(field) or "").startswith(prefix)]


def check_by_hand(rejects_files: Iterable[Path]) -> set[str]:
    """References the rejects files hold as "check by hand"."""
    refs = set()
    for path in rejects_files:
        for reject in read_rejects(path):
            if "check by hand" in reject["reason"]:
                rec = reject.get("record") or {}
                refs.add(str(rec.get("ExternalReference") or rec.get("day_voucher") or rec.get("sale_id")))
    return refs


def problems(
    sandbox: Any,
    prefix: str,
    *,
    streams: Iterable[str] = STREAMS,
    version: int = 1,
    by_hand: set[str] = frozenset(),
) -> list[str]:
    """What is wrong with what Dinero holds for the workload (an empty list: each object exactly once)."""
    data = records(prefix, version)
    first = records(prefix, 1)
    # a booked invoice or voucher is never changed again: it keeps version 1's content
    data["orders"] = [first["orders"][i] if o["Book"] else o for i, o in enumerate(data["orders"])]
    data["journal"] = [first["journal"][i] if v["Book"] else v for i, v in enumerate(data["journal"])]
    wanted = set(streams)
    out: list[str] = []

    def once(kind: str, held: list[Mapping[str, Any]], field: str, expected: Iterable[str]) -> dict[str, Any]:
        counts = Counter(str(r.get(field)) for r in held)
        for key in expected:
            if counts.get(key, 0) != 1 and not (key in by_hand and counts.get(key, 0) == 0):
                out.append(f"{kind} {key}: {counts.get(key, 0)} in Dinero")
        return {str(r.get(field)): r for r in held}

    if "orders" in wanted:
        held = once(
            "invoice",
            _mine(sandbox.dump(ORG, "invoices"), "ExternalReference", prefix),
            "ExternalReference",
            [o["ExternalReference"] for o in data["orders"]],
        )
        for order in data["orders"]:
            row = held.get(order["ExternalReference"])
            if row is None:
                continue
            status = "Booked" if order["Book"] else "Draft"
            if row.get("Status") != status:
                out.append(f"invoice {order['ExternalReference']}: {row.get('Status')}, not {status}")
            price = order["ProductLines"][0]["BaseAmountValue"]
            if Decimal(str(row.get("TotalExclVat"))) != Decimal(2 * price):
                out.append(
                    f"invoice {order['ExternalReference']}: total {row.get('TotalExclVat')} != {2 * price}"
                )
        contacts = _mine(sandbox.dump(ORG, "contacts"), "Email", prefix.lower())
        once("invoice contact", contacts, "Email", [o["Contact"]["Email"] for o in data["orders"]])
    vouchers = _mine(sandbox.dump(ORG, "manual_vouchers"), "ExternalReference", prefix)
    files = sandbox.dump(ORG, "files")
    links: dict[str, list[str]] = {
        f["FileGuid"]: [x.get("VoucherGuid") for x in f.get("Linked") or []] for f in files
    }

    def voucher_ok(ref: str, row: Mapping[str, Any], amount: Decimal, booked: bool, balancing: int) -> None:
        total = sum(
            Decimal(str(ln.get("AmountInclVatValue") or 0))
            for ln in row.get("Lines") or []
            if ln.get("BalancingAccountNumber") == balancing
        )
        if total != amount:
            out.append(f"voucher {ref}: amount {total} != {amount}")
        if (row.get("Status") == "Booked") != booked:
            out.append(f"voucher {ref}: status {row.get('Status')}")
        if not row.get("FileGuid") or links.get(row["FileGuid"]) != [row["Guid"]]:
            out.append(f"voucher {ref}: file {row.get('FileGuid')} linked {links.get(row.get('FileGuid'))}")

    if "journal" in wanted:
        held = once(
            "voucher", vouchers, "ExternalReference", [v["ExternalReference"] for v in data["journal"]]
        )
        for voucher in data["journal"]:
            row = held.get(voucher["ExternalReference"])
            if row is not None:
                amount = Decimal(str(voucher["Lines"][0]["Amount"]))
                voucher_ok(voucher["ExternalReference"], row, amount, voucher["Book"], 55000)
    if "sales" in wanted:
        days: dict[str, Decimal] = {}
        for sale in data["sales"]:
            day = sale["sold_at"][:10]
            days[day] = days.get(day, Decimal(0)) + Decimal(sale["amount"])
        held = once("day voucher", vouchers, "ExternalReference", [f"{prefix}sales:{d}" for d in days])
        for day, amount in days.items():
            row = held.get(f"{prefix}sales:{day}")
            if row is not None:
                voucher_ok(f"{prefix}sales:{day}", row, amount, True, 1000)
    if "catalog" in wanted:
        held = once(
            "product",
            _mine(sandbox.dump(ORG, "products"), "ExternalReference", prefix),
            "ExternalReference",
            [p["ExternalReference"] for p in data["catalog"]],
        )
        for product in data["catalog"]:
            row = held.get(product["ExternalReference"])
            if row is not None and Decimal(str(row.get("BaseAmountValue"))) != Decimal(
                product["BaseAmountValue"]
            ):
                out.append(f"product {product['ExternalReference']}: price {row.get('BaseAmountValue')}")
    if "customers" in wanted:
        held = once(
            "contact",
            _mine(sandbox.dump(ORG, "contacts"), "ExternalReference", prefix),
            "ExternalReference",
            [c["ExternalReference"] for c in data["customers"]],
        )
        for customer in data["customers"]:
            row = held.get(customer["ExternalReference"])
            if row is not None and row.get("Phone") != customer["Phone"]:
                out.append(f"contact {customer['ExternalReference']}: phone {row.get('Phone')}")
    return out


def kill_scenario(
    sandbox: Any, settings: Mapping[str, Any], root: Path, kill_after: int, *, shared: bool = True
) -> dict[str, Any]:
    """Kill worker A after ``kill_after`` logged requests, then let worker B (same journal store, its own
    local files) run to completion, then A again; return what Dinero holds against the input.

    Each scenario has its own reference prefix, so scenarios share one sandbox without a reset.
    """
    from tests.harness import run_target_process, singer_lines, write_json

    attempt = 0
    while (root / f"K{kill_after}r{attempt}").exists():
        attempt += 1
    prefix = f"K{kill_after}R{attempt}-"
    base = root / f"K{kill_after}r{attempt}"
    base.mkdir(parents=True)
    store = {"journal_store": str(base / "journal.sqlite3")} if shared else {}
    dirs, configs = [], []
    for name in ("a", "b"):
        workdir = base / name
        workdir.mkdir()
        dirs.append(workdir)
        configs.append(write_json(workdir / "config.json", target_config(settings, workdir, prefix, **store)))
    input_path = base / "input.jsonl"
    input_path.write_text(singer_lines(messages(prefix)), encoding="utf-8")
    killed = run_target_process(sandbox, configs[0], input_path, dirs[0], kill_after_requests=kill_after)
    final = run_target_process(sandbox, configs[1], input_path, dirs[1], name="final")
    again = run_target_process(sandbox, configs[0], input_path, dirs[0], name="again")
    by_hand = check_by_hand([d / "rejects.jsonl" for d in dirs])
    return {
        "kill_after": kill_after,
        "killed": killed.killed,
        "final_rc": final.returncode,
        "again_rc": again.returncode,
        "again_writes": [
            (r["method"], r["path"])
            for r in again.requests
            if r["method"] != "GET" and r["path"].startswith("/v")
        ],
        "check_by_hand": sorted(by_hand),
        "problems": problems(sandbox, prefix, by_hand=by_hand),
        "stderr": final.stderr[-2000:],
    }
