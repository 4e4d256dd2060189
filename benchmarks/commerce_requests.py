"""Requests per object of target-dinero's commerce load types (payments, credit notes, purchase vouchers,
cashbook lines, invoice e-mails), counted from the sandbox's request log, against the issue's floors.

    .venv/bin/python -m benchmarks.commerce_requests            # N = 50 objects per load type
    .venv/bin/python -m benchmarks.commerce_requests --n 200

The sandbox runs in its own process; every target-dinero run is a process of its own (its CPU and wall
time from ``wait4``). Every count includes the run's shared look-ups (invoice and credit-note listings,
accounts, VAT codes, years) spread over N objects, which is why the figures are per N.

Two passes, each on a freshly seeded organization:

* **steady state** (what the floors are about): each load type is measured in a run after earlier
  ones, as a shop's pipeline runs every few minutes -- accounts, VAT codes, years and deposit accounts
  are kept between runs (``reference_cache_seconds``, default 3600);
* **first run**: nothing kept (``reference_cache_seconds: 0`` on every run), so every measured run
  reads the reference data it needs, as the first run on a new organization does.

``tests/target/test_target_commerce_requests.py`` runs :func:`measure` (steady state) and asserts the
floors: this module is the one definition of what is measured.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
import tempfile
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import BIN, Printer, code_version, credentials, run_cli, write_json

__all__ = ["FLOORS", "Figure", "main", "measure"]

DEPOSIT = 55000
#: The issue's floors (requests per object at N = 50, shared look-ups included), by figure name.
FLOORS: dict[str, float] = {
    "invoice_payment_same_run": 1.05,
    "invoice_payment_earlier_run": 3.0,
    "sales_credit_note_generated_booked": 2.05,
    "purchase_voucher_with_file_booked": 3.05,
    "ledger_item": 0.1,
}
#: What each figure is, for the printed table.
LABELS: dict[str, str] = {
    "invoice_payment_same_run": "payment on an invoice booked in the same run",
    "invoice_payment_earlier_run": "payment on an invoice from an earlier run",
    "sales_credit_note_generated_booked": "credit note generated and booked",
    "sales_credit_note_partial_booked": "credit note partial (lines), booked",
    "sales_credit_note_payment": "refund paid back on a booked credit note",
    "purchase_voucher_with_file_booked": "purchase voucher with file, booked",
    "ledger_item": "kassekladde item (unbooked)",
    "invoice_send_email": "invoice e-mail after booking",
}
STREAMS: dict[str, dict[str, Any]] = {
    "orders": {"load_as": "invoice", "book": True, "deposit_account": DEPOSIT},
    "paid_orders": {"load_as": "invoice", "book": True, "deposit_account": DEPOSIT},
    "mailed_orders": {"load_as": "invoice", "book": True, "send": "email"},
    "payments": {"load_as": "invoice_payment", "deposit_account": DEPOSIT},
    "refunds": {"load_as": "sales_credit_note", "book": True},
    "partial_refunds": {"load_as": "sales_credit_note", "book": True},
    "refund_payments": {"load_as": "sales_credit_note_payment", "deposit_account": DEPOSIT},
    "bills": {"load_as": "purchase_voucher", "book": True, "deposit_account": DEPOSIT},
    "cashbook": {"load_as": "ledger_item"},
}
PDF = b"%PDF-1.4\n%bill\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class Figure:
    """One load type's measurement: requests per object, the target process's CPU and wall seconds.

    For a figure taken as a difference of two runs (``minus`` names the baseline), the requests are the
    difference (what the payments or e-mails added to booking the same invoices); CPU and wall are those
    of the run with them (a difference of two noisy timings says little)."""

    name: str
    n: int
    requests: int
    cpu: float
    wall: float
    minus: str = ""
    by_route: Counter[str] | None = None

    @property
    def per_object(self) -> float:
        """Requests per object."""
        return self.requests / self.n

    @property
    def floor(self) -> float | None:
        """The issue's floor for this figure, if it sets one."""
        return FLOORS.get(self.name)

    @property
    def met(self) -> str:
        """``met`` / ``missed`` / ``-`` (no floor)."""
        if self.floor is None:
            return "-"
        return "met" if self.per_object <= self.floor else "missed"


def _order(n: int, prefix: str, **over: Any) -> dict[str, Any]:
    return {
        "id": f"{prefix}-{n}",
        "ExternalReference": f"{prefix}-{n}",
        "Date": "2026-11-02",
        "ContactGuid": None,
        "Contact": {"Name": "Kunde", "Email": "kunde@example.dk", "CountryKey": "DK"},
        "ProductLines": [{"Description": "Te", "Quantity": 1, "BaseAmountValue": 100, "AccountNumber": 1000}],
        **over,
    }


def _bill(n: int) -> dict[str, Any]:
    return {
        "id": n,
        "PurchaseType": "cash",
        "VoucherDate": "2026-11-03",
        "Lines": [{"AccountNumber": 2000, "Amount": 125, "VatCode": "I25"}],
        "File": {"content_base64": base64.b64encode(PDF + str(n).encode()).decode(), "FileName": f"{n}.pdf"},
    }


def _sandbox_call(url: str, method: str, path: str) -> Any:
    request = urllib.request.Request(f"{url}/_sandbox{path}", method=method)
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read() or b"null")


class _Runs:
    """Runs target-dinero as a process over Singer messages and counts its API requests in the log."""

    def __init__(self, url: str, settings: Mapping[str, Any], work: Path, extra: Mapping[str, Any]) -> None:
        self.url = url
        self.work = work
        self.config = {
            **settings,
            "quota_requests": 1_000_000,
            "quota_window_seconds": 60,
            "streams": STREAMS,
            "rejects_file": str(work / "rejects.jsonl"),
            "ledger_file": str(work / "ledger.jsonl"),
            **extra,
        }
        self.count = 0

    def __call__(self, name: str, stream: str, rows: list[dict[str, Any]]) -> Figure:
        self.count += 1
        input_path = self.work / f"{self.count:02d}-{stream}.jsonl"
        lines = [{"type": "SCHEMA", "stream": stream, "key_properties": ["id"], "schema": _ID_SCHEMA}]
        lines += [{"type": "RECORD", "stream": stream, "record": row} for row in rows]
        lines.append({"type": "STATE", "value": {"bookmarks": {stream: len(rows)}}})
        input_path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
        config = write_json(self.work, "target.json", self.config)
        _sandbox_call(self.url, "DELETE", "/requests")
        command = [str(BIN / "target-dinero")] if (BIN / "target-dinero").exists() else []
        command = command or [sys.executable, "-c", "from target_dinero.cli import main; main()"]
        timing = run_cli([*command, "--config", config], stdin_path=str(input_path))
        logged = [
            r
            for r in _sandbox_call(self.url, "GET", "/requests?since=0")
            if str(r.get("path", "")).startswith("/v")
        ]
        rejects = self.work / "rejects.jsonl"
        if rejects.exists() and rejects.read_text(encoding="utf-8").strip():
            raise RuntimeError(f"{name}: records rejected:\n{rejects.read_text(encoding='utf-8')[-2000:]}")
        routes = Counter(f"{r['method']} {re.sub(r'[0-9a-fA-F-]{36}', '{g}', r['path'])}" for r in logged)
        return Figure(name, len(rows), len(logged), timing["cpu"], timing["wall"], by_route=routes)


_ID_SCHEMA = {"type": "object", "properties": {"id": {"type": ["string", "integer", "null"]}}}


def _minus(figure: Figure, baseline: Figure, name: str) -> Figure:
    routes = Counter(figure.by_route or {})
    routes.subtract(baseline.by_route or {})
    return Figure(
        name,
        figure.n,
        figure.requests - baseline.requests,
        figure.cpu,
        figure.wall,
        minus=baseline.name,
        by_route=+routes,
    )


def measure(
    url: str,
    settings: Mapping[str, Any],
    work: Path,
    n: int = 50,
    *,
    first_run: bool = False,
    send: bool = True,
    progress: Callable[[Figure], None] | None = None,
) -> list[Figure]:
    """Load N objects of each commerce load type into the sandbox at ``url`` (organization of
    ``settings``), one target-dinero process per run; returns one :class:`Figure` per load type.

    The organization should be freshly seeded: the runs build on each other (payments need invoices,
    refunds paid back need credit notes). ``first_run`` keeps nothing between runs
    (``reference_cache_seconds: 0``)."""
    work.mkdir(parents=True, exist_ok=True)
    run = _Runs(url, settings, work, {"reference_cache_seconds": 0} if first_run else {})
    figures: list[Figure] = []

    def keep(figure: Figure) -> None:
        figures.append(figure)
        if progress:
            progress(figure)

    rows = range(n)
    # the invoices later runs pay; in steady state also the run that fills what is kept between runs
    run("setup_booked_invoices", "orders", [_order(i, "REQ") for i in rows])
    # the same booked invoices without payments: the baseline the same-run payment is the difference to
    booked = run("booked_invoice", "orders", [_order(i, "BASE") for i in rows])
    paid_rows = [_order(i, "PAID", Payments=[{"Amount": 125}]) for i in rows]
    keep(
        _minus(
            run("booked_invoice_with_payment", "paid_orders", paid_rows), booked, "invoice_payment_same_run"
        )
    )
    payments = [{"id": i, "InvoiceExternalReference": f"REQ-{i}", "Amount": 100} for i in rows]
    keep(run("invoice_payment_earlier_run", "payments", payments))
    # a full credit note takes the invoice's ExternalReference (PAID-i): what pays it back names
    refunds = [{"id": i, "InvoiceExternalReference": f"PAID-{i}"} for i in rows]
    keep(run("sales_credit_note_generated_booked", "refunds", refunds))
    partial = [
        {
            "id": i,
            "ExternalReference": f"PCN-{i}",
            "InvoiceExternalReference": f"BASE-{i}",
            "ProductLines": [
                {"Description": "Te", "Quantity": 1, "BaseAmountValue": 40, "AccountNumber": 1000}
            ],
        }
        for i in rows
    ]
    keep(run("sales_credit_note_partial_booked", "partial_refunds", partial))
    paybacks = [{"id": i, "CreditNoteExternalReference": f"PAID-{i}", "Amount": 125} for i in rows]
    keep(run("sales_credit_note_payment", "refund_payments", paybacks))
    keep(run("purchase_voucher_with_file_booked", "bills", [_bill(i) for i in rows]))
    items = [
        {
            "id": i,
            "VoucherDate": "2026-11-02",
            "Lines": [{"AccountNumber": DEPOSIT, "BalancingAccountNumber": 1000, "Amount": 10 + i}],
        }
        for i in rows
    ]
    keep(run("ledger_item", "cashbook", items))
    if send:
        # booked and e-mailed, against booking the same kind of invoices without e-mail
        booked_again = run("booked_invoice_2", "orders", [_order(i, "BASE2") for i in rows])
        mailed = run("booked_invoice_with_email", "mailed_orders", [_order(i, "MAIL") for i in rows])
        keep(_minus(mailed, booked_again, "invoice_send_email"))
    return figures


def _table(steady: list[Figure], first: list[Figure], n: int) -> str:
    first_by = {f.name: f for f in first}
    head = (
        f"| object (N = {n}) | requests / object | floor | met | first run | target CPU s | target wall s |\n"
        "|:--|--:|--:|:--|--:|--:|--:|"
    )
    rows = []
    for f in steady:
        floor = "—" if f.floor is None else f"≤ {f.floor:g}"
        one = first_by.get(f.name)
        first_cell = (
            f"{one.per_object:.3f} ({one.met})"
            if one and one.floor is not None
            else (f"{one.per_object:.3f}" if one else "—")
        )
        extra = " ¹" if f.minus else ""
        rows.append(
            f"| {LABELS.get(f.name, f.name)}{extra} | {f.per_object:.3f} | {floor} | {f.met} | {first_cell} "
            f"| {f.cpu:.2f} | {f.wall:.2f} |"
        )
    note = (
        "¹ requests: difference of two runs of N booked invoices, with and without the payment (or e-mail); "
        "CPU and wall: the run with them (booking included). Floors are the issue's, for N = 50."
    )
    return "\n".join([head, *rows, "", note])


def main(argv: list[str] | None = None) -> int:
    """Measure both passes against a sandbox process; print the figures, the table and a JSON line."""
    from benchmarks.sandbox_proc import SandboxProcess

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="objects per load type (default 50)")
    parser.add_argument("--no-first-run", action="store_true", help="steady state only")
    parser.add_argument("--no-send", action="store_true", help="leave out the invoice e-mail figure")
    parser.add_argument("--routes", action="store_true", help="print each figure's requests by route")
    args = parser.parse_args(argv)
    out = Printer()
    out("code_version", code_version())
    out("machine_load_average_1m_at_start", f"{os.getloadavg()[0]:.2f}")
    passes: dict[str, list[Figure]] = {}
    with SandboxProcess("demo") as sandbox:
        sandbox.wait_ready()
        for label, first in (("steady", False), ("first_run", True)):
            if first and args.no_first_run:
                continue
            sandbox.reset("demo")
            work = Path(tempfile.mkdtemp(prefix=f"dinero-bench-commerce-{label}-"))
            settings = {**credentials(sandbox.url), "quota_backend": str(work / "quota")}

            def show(figure: Figure, label: str = label) -> None:
                out(f"{label}_{figure.name}_requests_per_object", figure.per_object)
                if figure.floor is not None:
                    out(f"{label}_{figure.name}_at_most_{figure.floor:g}", figure.met)
                out(f"{label}_{figure.name}_target_cpu_seconds", figure.cpu)
                out(f"{label}_{figure.name}_target_wall_seconds", figure.wall)
                if args.routes and figure.by_route:
                    for route, count in sorted(figure.by_route.items()):
                        print(f"    {count / figure.n:7.3f}  {route}", flush=True)

            passes[label] = measure(
                sandbox.url, settings, work, args.n, first_run=first, send=not args.no_send, progress=show
            )
    steady = passes["steady"]
    out("floors_met_steady_state", "all" if all(f.met != "missed" for f in steady) else "not all")
    out("machine_load_average_1m_at_end", f"{os.getloadavg()[0]:.2f}")
    print()
    print(_table(steady, passes.get("first_run", []), args.n))
    print(json.dumps(out.figures), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
