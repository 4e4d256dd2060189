"""With a short quota window the tap waits for quota slots itself: Dinero never has to answer 429."""

from __future__ import annotations

from tests.harness import run_tap

STREAMS = [
    "organizations",
    "accounting_years",
    "vat_types",
    "entry_accounts",
    "purchase_accounts",
    "deposit_accounts",
    "contacts",
    "products",
    "files",
]


def test_short_quota_window_never_produces_a_429(sandbox, tap_config, caplog):
    caplog.set_level("INFO")
    sandbox.set_quota(5, 1.0)
    config = {**tap_config, "quota_requests": 5, "quota_window_seconds": 1.0}
    result = run_tap(config, streams=STREAMS)
    assert result.error is None

    stats = sandbox.stats()
    api_calls = stats["total"] - stats["by_route"].get("POST /dineroapi/oauth/token", 0)
    assert api_calls > 5  # more than one window's worth, so the throttle had to hold requests back
    assert "429" not in stats["by_status"]
    assert len(result.stream("contacts")) == len(sandbox.dump("100000", "contacts"))

    # the tap reports the requests and the time it spent waiting for the quota per stream
    progress = {name: result.tap.streams[name].progress for name in STREAMS}
    assert sum(p.requests for p in progress.values()) == api_calls
    assert sum(p.quota_wait_seconds for p in progress.values()) > 0
    messages = [r.getMessage() for r in caplog.records]
    assert any(
        m.startswith("Stream contacts (organization 100000): ") and "quota wait" in m for m in messages
    )
    assert any(m.startswith("Totals of stream contacts: ") for m in messages)
