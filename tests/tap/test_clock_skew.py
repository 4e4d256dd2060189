"""The machine running the tap has a clock that is off from Dinero's (no NTP in a container, a VM that
slept). Bookmarks are compared with Dinero's ``UpdatedAt`` and booking times, which Dinero stamps by its
own clock: with a tap clock ahead by more than ``lookback_seconds``, a bookmark taken from the local
clock lies in Dinero's future and every change made before Dinero's clock reaches it is never asked for.

The tap's clock is moved here (``utc_now`` of the incremental streams); Dinero's (the sandbox's) is not.
"""

from __future__ import annotations

import datetime as dt

import pytest

from dinero_api import dates
from tests.harness import run_tap
from tests.tap.test_incremental import _book_manual_voucher

ORG = "100000"


@pytest.fixture(params=[-3600, 900, 3 * 3600], ids=["behind-1h", "ahead-15min", "ahead-3h"])
def skewed_clock(request, monkeypatch) -> int:
    """Move the tap's request clock by ``request.param`` seconds."""
    skew = dt.timedelta(seconds=request.param)

    def skewed() -> dt.datetime:
        return dates.utc_now() + skew

    for module in ("tap_dinero.incremental", "tap_dinero.streams.ledger"):
        monkeypatch.setattr(f"{module}.utc_now", skewed)
    return request.param


def test_changes_made_after_a_run_reach_the_next_run_whatever_the_tap_clock(
    sandbox, tap_config, skewed_clock
):
    streams = ["contacts", "invoices", "entries", "manual_vouchers"]
    first = run_tap(tap_config, streams=streams)
    assert first.error is None, first.error

    contact = next(c for c in sandbox.dump(ORG, "contacts") if not c.get("DeletedAt"))
    sandbox.mutate(ORG, "contacts", "update", contact["ContactGuid"], {"City": "Aabenraa"})
    invoice = next(i for i in sandbox.dump(ORG, "invoices") if not i.get("DeletedAt"))
    sandbox.mutate(ORG, "invoices", "update", invoice["Guid"], {"Comment": "rettet"})
    voucher = _book_manual_voucher(tap_config)

    second = run_tap(tap_config, streams=streams, state=first.final_state)
    assert second.error is None, second.error
    assert contact["ContactGuid"] in {c["ContactGuid"] for c in second.stream("contacts")}
    assert invoice["Guid"] in {i["Guid"] for i in second.stream("invoices")}
    assert voucher in {e["VoucherGuid"] for e in second.stream("entries")}
    assert voucher in {v["Guid"] for v in second.stream("manual_vouchers")}

    # and a third run, with nothing changed, still finds the change window closed behind it
    third = run_tap(tap_config, streams=streams, state=second.final_state)
    assert third.error is None, third.error
    sandbox.mutate(ORG, "contacts", "update", contact["ContactGuid"], {"City": "Tønder"})
    fourth = run_tap(tap_config, streams=streams, state=third.final_state)
    assert [c["City"] for c in fourth.stream("contacts") if c["ContactGuid"] == contact["ContactGuid"]] == [
        "Tønder"
    ]


@pytest.fixture(
    params=[
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "Wed, 01 Jan 2099 00:00:00 GMT",
        "not a date",
        "",
    ],
    ids=["year-9999", "epoch", "year-2099", "garbage", "empty"],
)
def rewritten_date(request, monkeypatch) -> str:
    """A proxy between the tap and Dinero that rewrites every answer's ``Date`` header."""
    import requests.adapters

    send = requests.adapters.HTTPAdapter.send

    def rewriting(self, *args, **kwargs):
        response = send(self, *args, **kwargs)
        response.headers["Date"] = request.param
        return response

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", rewriting)
    return request.param


def test_a_proxy_rewriting_the_date_header_never_fails_the_run_nor_loses_a_change(
    sandbox, tap_config, rewritten_date
):
    """A ``Date`` header that is garbage, empty, or any date a datetime can hold (even the last second
    of year 9999, where adding the header's rounding second overflows) is a reading to distrust, not a
    reason to stop: the run completes and the next run sees a change made in between."""
    streams = ["contacts", "invoices"]
    first = run_tap(tap_config, streams=streams)
    assert first.error is None, first.error
    contact = next(c for c in sandbox.dump(ORG, "contacts") if not c.get("DeletedAt"))
    sandbox.mutate(ORG, "contacts", "update", contact["ContactGuid"], {"City": "Aabenraa"})

    second = run_tap(tap_config, streams=streams, state=first.final_state)

    assert second.error is None, second.error
    assert contact["ContactGuid"] in {c["ContactGuid"] for c in second.stream("contacts")}


def test_a_bookmark_in_dinero_future_is_not_trusted(sandbox, tap_config, sandbox_requests):
    """A state whose bookmarks lie in Dinero's future -- written by an older tap on a machine whose clock
    ran 3 h ahead (bookmarks were the machine's clock then), or edited by hand. Read from there, every
    change made between that run and Dinero's clock reaching the bookmark was asked for by no run, and
    the run's new bookmark (Dinero's clock, now) moved past them for good: each such stream is read in
    full once instead, and incrementally again after that."""
    streams = ["contacts", "invoices", "entries", "manual_vouchers"]
    first = run_tap(tap_config, streams=streams)
    assert first.error is None, first.error
    state = first.final_state
    ahead = (dates.utc_now() + dt.timedelta(hours=3)).isoformat()
    for stream in ("contacts", "invoices", "entries"):
        for partition in state["bookmarks"][stream]["partitions"]:
            partition["replication_key_value"] = ahead

    contact = next(c for c in sandbox.dump(ORG, "contacts") if not c.get("DeletedAt"))
    sandbox.mutate(ORG, "contacts", "update", contact["ContactGuid"], {"City": "Aabenraa"})
    invoice = next(i for i in sandbox.dump(ORG, "invoices") if not i.get("DeletedAt"))
    sandbox.mutate(ORG, "invoices", "update", invoice["Guid"], {"Comment": "rettet"})
    voucher = _book_manual_voucher(tap_config)

    second = run_tap(tap_config, streams=streams, state=state)
    assert second.error is None, second.error
    assert [c["City"] for c in second.stream("contacts") if c["ContactGuid"] == contact["ContactGuid"]] == [
        "Aabenraa"
    ]
    assert invoice["Guid"] in {i["Guid"] for i in second.stream("invoices")}
    assert voucher in {e["VoucherGuid"] for e in second.stream("entries")}
    assert voucher in {v["Guid"] for v in second.stream("manual_vouchers")}
    for stream in ("contacts", "invoices", "entries"):
        bookmark = dates.parse_api_datetime(second.partition_state(stream, ORG)["replication_key_value"])
        assert bookmark is not None and bookmark <= dates.utc_now() + dt.timedelta(seconds=2), stream

    mark = sandbox.requests()[-1]["id"]
    third = run_tap(tap_config, streams=streams, state=second.final_state)
    assert third.error is None, third.error
    assert not third.stream("contacts") and not third.stream("invoices")
    log = sandbox_requests(mark)
    assert all("changesSince" in r["params"] for r in log if r["path"] == f"/v1/{ORG}/contacts")
    assert not [r for r in log if r["path"] == f"/v1/{ORG}/entries"]


def test_a_bookmark_seconds_ahead_of_dinero_clock_stays_incremental(sandbox, tap_config, sandbox_requests):
    """Dinero's servers behind a load balancer differ by seconds, and a ``Date`` header has whole seconds:
    a bookmark taken from one server's clock can lie a few seconds past the clock of the server that
    answers the next run (a run started a moment after the last, a short window). Within
    ``lookback_seconds`` the overlap re-reads those seconds anyway, so nothing was missed: such a
    bookmark is trusted. Judged 'in Dinero's future' it cost a full read of every stream, each time the
    servers' order came out that way."""
    streams = ["contacts", "invoices", "entries"]
    first = run_tap(tap_config, streams=streams)
    assert first.error is None, first.error
    state = first.final_state
    ahead = (dates.utc_now() + dt.timedelta(seconds=20)).isoformat()  # lookback_seconds is 300
    for stream in streams:
        for partition in state["bookmarks"][stream]["partitions"]:
            partition["replication_key_value"] = ahead

    mark = sandbox.requests()[-1]["id"]
    second = run_tap(tap_config, streams=streams, state=state)
    assert second.error is None, second.error
    assert not second.stream("contacts") and not second.stream("invoices") and not second.stream("entries")
    log = sandbox_requests(mark)
    for stream in ("contacts", "invoices"):
        lists = [r for r in log if r["path"] == f"/v1/{ORG}/{stream}"]
        assert lists and all("changesSince" in r["params"] for r in lists), stream
    assert not [r for r in log if r["path"] == f"/v1/{ORG}/entries"]  # no year-by-year first load
