"""Requests per object of the commerce load types against the issue's floors, counted from the sandbox's
request log by ``benchmarks/commerce_requests.py`` (the one definition of what is measured; run with ``-s``
to see the table, or ``python -m benchmarks.commerce_requests`` for it with the first-run figures). Every
count includes the run's shared look-ups (invoice and credit-note listings, accounts, VAT codes, years)
spread over N objects; each target run is a process of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.commerce_requests import FLOORS, LABELS, measure

N = 50


def test_requests_per_object_are_at_or_under_the_floors(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    """Each figure is measured in a run after an earlier one on the organization (a shop's pipeline runs
    every few minutes): accounts, VAT codes and years are kept between runs (reference_cache_seconds)."""
    figures = {f.name: f for f in measure(sandbox.url, sandbox_settings, tmp_path / "runs", N)}
    print()
    for f in figures.values():
        print(f"{LABELS[f.name]}: {f.per_object:.3f} requests per object (N={N}); floor {f.floor}: {f.met}")
    # every load type was measured, every floor of the issue has a figure
    assert set(FLOORS) <= set(figures) and set(LABELS) == set(figures)
    # the floors, at N = 50, shared look-ups included
    # the POST; shared: the deposit-account check
    assert figures["invoice_payment_same_run"].per_object <= 1.05
    # GET invoice (by the target's own Guid: its Timestamp and Status) + GET its payments (reconcile) + POST
    assert figures["invoice_payment_earlier_run"].per_object <= 3
    # generate + book; shared: invoice and credit-note listings
    assert figures["sales_credit_note_generated_booked"].per_object <= 2.05
    # upload + create + book; shared: the VAT codes (first use) and one GET /files -- the exactly-once
    # look-up of references the journal does not know (a lost or empty journal finds its vouchers
    # through their tagged files)
    assert figures["purchase_voucher_with_file_booked"].per_object <= 3.05
    assert figures["ledger_item"].per_object <= 0.1
    # never sent twice: the mailouts are read before each send
    assert figures["invoice_send_email"].per_object == 2
