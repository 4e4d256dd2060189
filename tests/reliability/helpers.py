"""Helpers of the reliability suite: fast configs and comparisons of what a run emitted or wrote with what
the sandbox holds. Tap/target runs (in-process and as killable processes) and the message builders are the
one harness, :mod:`tests.harness`; tests import them from there."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dinero_sandbox.testing import SandboxServer
from tests.harness import TapRun

ORG_SECOND = "100001"

#: Client settings that keep fault tests fast: short backoff, few retries, short timeouts, no quota waits.
FAST_CLIENT = {
    "retry_backoff_seconds": 0.01,
    "max_retries": 3,
    "request_timeout": 2.0,
    "quota_requests": 100_000,
    "quota_window_seconds": 60,
    "max_rate_limit_wait_seconds": 60,
}

# ------------------------------------------------------------------------------------------------------
# what the tap must have emitted
# ------------------------------------------------------------------------------------------------------
#: tap stream -> (sandbox collection, key field)
DOCUMENT_STREAMS: dict[str, tuple[str, str]] = {
    "contacts": ("contacts", "ContactGuid"),
    "products": ("products", "ProductGuid"),
    "invoices": ("invoices", "Guid"),
    "sales_credit_notes": ("creditnotes", "Guid"),
    "trade_offers": ("tradeoffers", "Guid"),
}
LINE_STREAMS: dict[str, tuple[str, str]] = {
    "invoice_lines": ("invoices", "InvoiceGuid"),
    "credit_note_lines": ("creditnotes", "CreditNoteGuid"),
    "trade_offer_lines": ("tradeoffers", "TradeOfferGuid"),
}


def copy_problems(
    sandbox: SandboxServer, org: str, runs: Sequence[TapRun], streams: Iterable[str]
) -> dict[str, list[str]]:
    """What a downstream copy built from ``runs`` (in order, later rows win) gets wrong, per stream.

    Documents: every stored row (deleted ones included) must be present with the stored ``UpdatedAt``,
    and no unknown key may appear. Lines: one row per line of every live document. Entries and
    vouchers: every stored entry / booked voucher present.
    """
    problems: dict[str, list[str]] = {}
    wanted = set(streams)
    for stream, (collection, key) in DOCUMENT_STREAMS.items():
        if stream not in wanted:
            continue
        stored = {row[key]: row for row in sandbox.dump(org, collection)}
        latest: dict[str, dict[str, Any]] = {}
        for run in runs:
            for row in run.stream(stream):
                latest[row[key]] = row
        issues = [f"missing {k}" for k in sorted(set(stored) - set(latest))]
        issues += [f"unknown {k}" for k in sorted(set(latest) - set(stored))]
        issues += [
            f"stale {k}: {latest[k].get('UpdatedAt')} != {stored[k].get('UpdatedAt')}"
            for k in sorted(set(stored) & set(latest))
            if latest[k].get("UpdatedAt") != stored[k].get("UpdatedAt")
        ]
        issues += [  # documents carry their lines (tap-dinero nests the detail's ProductLines)
            f"lines of {k}: {len(latest[k]['ProductLines'])} != {len(stored[k]['ProductLines'])}"
            for k in sorted(set(stored) & set(latest))
            if isinstance(latest[k].get("ProductLines"), list)
            and not stored[k].get("DeletedAt")
            and len(latest[k]["ProductLines"]) != len(stored[k]["ProductLines"])
        ]
        if issues:
            problems[stream] = issues
    for stream, (collection, parent_key) in LINE_STREAMS.items():
        if stream not in wanted:
            continue
        expected = {
            (doc["Guid"], n)
            for doc in sandbox.dump(org, collection)
            if not doc["DeletedAt"]
            for n in range(len(doc["ProductLines"]))
        }
        emitted = {(r[parent_key], r["LinePosition"]) for run in runs for r in run.stream(stream)}
        if expected - emitted:
            problems[stream] = [f"missing line {k}" for k in sorted(expected - emitted)]
    if "entries" in wanted:
        stored_entries = {e["EntryGuid"] for e in sandbox.dump(org, "entries")}
        emitted_entries = {r["EntryGuid"] for run in runs for r in run.stream("entries")}
        if stored_entries - emitted_entries:
            problems["entries"] = [f"missing entry {k}" for k in sorted(stored_entries - emitted_entries)]
    for stream, collection in (
        ("manual_vouchers", "manual_vouchers"),
        ("purchase_vouchers", "purchase_vouchers"),
    ):
        if stream not in wanted:
            continue
        booked = {
            v["Guid"] for v in sandbox.dump(org, collection) if v.get("VoucherNumber") and not v["DeletedAt"]
        }
        emitted_vouchers = {r["Guid"] for run in runs for r in run.stream(stream)}
        if booked - emitted_vouchers:
            problems[stream] = [f"missing voucher {k}" for k in sorted(booked - emitted_vouchers)]
    return problems


def count_by(rows: Iterable[Mapping[str, Any]], key: str) -> dict[Any, int]:
    """How many rows carry each value of ``key``."""
    counts: dict[Any, int] = defaultdict(int)
    for row in rows:
        counts[row.get(key)] += 1
    return dict(counts)


# ------------------------------------------------------------------------------------------------------
# quota
# ------------------------------------------------------------------------------------------------------
def max_in_any_window(stamps: Iterable[float], window: float) -> int:
    """Largest number of stamps inside any half-open interval [t, t + window)."""
    ordered = sorted(stamps)
    best, start = 0, 0
    for end, stamp in enumerate(ordered):
        while stamp - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best
