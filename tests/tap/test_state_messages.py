"""How many STATE messages a run writes: a few per stream, not one per parent record.

The payment child streams keep a memory per paid document in the state, and the SDK writes the whole tap
state after every child context that changed it; that was one STATE line per paid invoice, each as large
as the state (8 873 lines, 3 GB on the medium seed). ``dinero_api.sdk_adapter`` writes a STATE inside a
stream at most every few seconds and always at the stream's end.
"""

from __future__ import annotations

import json

from tests.harness import run_tap


def test_a_child_stream_with_state_writes_a_few_state_messages_not_one_per_parent(tap_config):
    run = run_tap(tap_config, streams=["invoices", "invoice_payments"])
    assert run.error is None
    paid = {row["InvoiceGuid"] for row in run.stream("invoice_payments")}
    assert len(paid) > 20  # the demo seed has enough paid invoices for the old behaviour to show
    states = [m for m in run.messages if m["type"] == "STATE"]
    assert len(states) <= 6, f"{len(states)} STATE messages for {len(paid)} paid invoices"
    # the last message is the final STATE, and it holds the memory of every paid invoice
    assert run.messages[-1]["type"] == "STATE"
    text = json.dumps(run.final_state)
    assert all(guid in text for guid in paid)


def test_every_state_change_of_the_last_child_context_reaches_the_final_state(tap_config):
    """A skipped (throttled) STATE is carried by the stream's finalize: the second run starts from it and
    emits no payment again."""
    first = run_tap(tap_config, streams=["invoices", "invoice_payments"])
    assert first.error is None and first.stream("invoice_payments")
    second = run_tap(tap_config, streams=["invoices", "invoice_payments"], state=first.final_state)
    assert second.error is None
    assert second.stream("invoice_payments") == []
