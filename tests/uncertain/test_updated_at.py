"""``UpdatedAt`` in UTC or in Danish local time (REFERENCE.md §3.5, §7 q1): the tap's incremental runs lose
no change under either, including the hour that repeats when Danish clocks go back in October."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from dinero_sandbox.behaviours import CHOICES
from dinero_sandbox.testing import SandboxServer
from tests.harness import run_tap

ORG = "100000"


@pytest.mark.parametrize("updated_at", CHOICES["updated_at"])
def test_incremental_run_brings_every_change_and_deletion(
    updated_at: str, play: Any, sandbox: SandboxServer, tap_config: dict[str, Any]
) -> None:
    play(updated_at=updated_at)
    config = {**tap_config, "include_lines": False}
    first = run_tap(config, streams=["contacts", "products", "invoices"])
    assert first.error is None
    contact = sandbox.dump(ORG, "contacts")[3]
    product = sandbox.dump(ORG, "products")[2]
    invoice = next(i for i in sandbox.dump(ORG, "invoices") if not i["DeletedAt"])
    sandbox.mutate(ORG, "contacts", guid=contact["ContactGuid"], fields={"City": "Ærøskøbing"})
    sandbox.mutate(ORG, "products", guid=product["ProductGuid"], fields={"Name": "Ny vare"})
    sandbox.mutate(ORG, "invoices", action="delete", guid=invoice["Guid"])

    second = run_tap(config, streams=["contacts", "products", "invoices"], state=first.final_state)

    assert second.error is None
    assert {r["City"] for r in second.stream("contacts") if r["ContactGuid"] == contact["ContactGuid"]} == {
        "Ærøskøbing"
    }
    assert "Ny vare" in {
        r["Name"] for r in second.stream("products") if r["ProductGuid"] == product["ProductGuid"]
    }
    deleted = [r for r in second.stream("invoices") if r["Guid"] == invoice["Guid"]]
    assert deleted and deleted[-1]["_sdc_deleted_at"]


@pytest.mark.parametrize("updated_at", CHOICES["updated_at"])
def test_a_change_in_the_repeated_autumn_hour_is_not_lost(
    updated_at: str, play: Any, sandbox: SandboxServer, tap_config: dict[str, Any], monkeypatch: Any
) -> None:
    """Danish clocks go back at 01:00 UTC on 25 October 2026 (03:00 CEST -> 02:00 CET). A run at 00:50 UTC
    (02:50 local) is followed by a change at 01:05 UTC (02:05 local, the second time round). With local
    wall times compared as plain values, changesSince 00:45 UTC (02:45 local) would not list it."""
    play(updated_at=updated_at)
    clock = {"now": dt.datetime(2026, 10, 25, 0, 50, tzinfo=dt.timezone.utc)}
    monkeypatch.setattr("tap_dinero.incremental.utc_now", lambda: clock["now"])
    first = run_tap(tap_config, streams=["contacts"])
    assert first.error is None
    contact = sandbox.dump(ORG, "contacts")[5]
    sandbox.mutate(
        ORG,
        "contacts",
        guid=contact["ContactGuid"],
        fields={"City": "Sønderborg", "UpdatedAt": "2026-10-25T01:05:00.000"},
    )
    clock["now"] = dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.timezone.utc)

    second = run_tap(tap_config, streams=["contacts"], state=first.final_state)

    assert second.error is None
    changed = [r for r in second.stream("contacts") if r["ContactGuid"] == contact["ContactGuid"]]
    assert [r["City"] for r in changed] == ["Sønderborg"]
    expected_stamp = "2026-10-25T02:05:00.000" if updated_at == "local" else "2026-10-25T01:05:00.000"
    assert changed[0]["UpdatedAt"] == expected_stamp


@pytest.mark.parametrize("updated_at", CHOICES["updated_at"])
def test_entries_booked_in_the_repeated_autumn_hour_are_not_lost(
    updated_at: str, play: Any, sandbox: SandboxServer, tap_config: dict[str, Any], monkeypatch: Any
) -> None:
    """The ledger's change windows (``changesFrom``) meet the same clock: a voucher booked at 01:05 UTC on
    25 October 2026, after a run at 00:50 UTC, is read by the next run at 01:30 UTC."""
    play(updated_at=updated_at)
    clock = {"now": dt.datetime(2026, 10, 25, 0, 50, tzinfo=dt.timezone.utc)}
    monkeypatch.setattr("tap_dinero.streams.ledger.utc_now", lambda: clock["now"])
    first = run_tap(tap_config, streams=["entries"])
    assert first.error is None
    org = sandbox.state.orgs[ORG]
    vouchers = org.table("manual_vouchers")
    row = next(r for r in range(len(vouchers)) if vouchers.cols["_BookedAt"][r] is not None)
    with sandbox.state.lock:  # booked (again) in the repeated hour: Dinero's booking time, set directly
        vouchers.update(row, {"_BookedAt": "2026-10-25T01:05:00.000"})
    guid = vouchers.cols["Guid"][row]
    clock["now"] = dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.timezone.utc)

    second = run_tap(tap_config, streams=["entries"], state=first.final_state)

    assert second.error is None
    assert [e for e in second.stream("entries") if e["VoucherGuid"] == guid]
