"""VCR cassettes: the HTTP layer replayed without a server, with credentials filtered out.

``tests/cassettes/tap_dinero_org_100001.yaml`` was recorded from the sandbox (organization 100001, API-key
flow, every stream). Re-record it with ``python scripts/record_cassettes.py`` after changing the requests
the tap makes (the recording code is ``tests/tap/cassettes.py``, exercised by the first test here).
"""

from __future__ import annotations

from dinero_sandbox.constants import ORG_SECOND
from tests.harness import run_tap
from tests.tap.cassettes import (
    CASSETTE,
    assert_no_secrets,
    cassette_vcr,
    record_cassette,
    recorded_api_url,
    tap_config,
)

# Seed sizes of the demo's second organization (dinero_sandbox.seed.DEMO_SECOND), deleted rows included.
EXPECTED_COUNTS = {"contacts": 20, "products": 10, "invoices": 40, "sales_credit_notes": 3, "trade_offers": 6}


def test_recorded_cassette_has_no_secrets_and_replays_the_same_records(sandbox, tmp_path):
    path = tmp_path / "tap.yaml"
    live = record_cassette(sandbox.url, path, tmp_path / "q1")
    assert live.error is None
    token = live.tap.client_for(ORG_SECOND).session.token_provider.get_token()
    assert_no_secrets(path, extra=(token,))

    with cassette_vcr("none").use_cassette(str(path)) as cassette:
        replayed = run_tap(tap_config(sandbox.url, tmp_path / "q2"))
    assert replayed.error is None
    assert cassette.play_count > 0
    assert _without_sync_time(replayed.records) == _without_sync_time(live.records)


def _without_sync_time(records: dict[str, list[dict]]) -> dict[str, list[dict]]:
    return {name: [{**r, "_sdc_synced_at": None} for r in rows] for name, rows in records.items()}


def test_committed_cassette_replays_without_a_server(tmp_path):
    assert_no_secrets(CASSETTE)
    api_url = recorded_api_url(CASSETTE)
    with cassette_vcr("none").use_cassette(str(CASSETTE)) as cassette:
        result = run_tap(tap_config(api_url, tmp_path))
    assert result.error is None
    assert cassette.all_played or cassette.play_count == len(cassette.data)
    for stream, count in EXPECTED_COUNTS.items():
        assert len(result.stream(stream)) == count, stream
        assert {r["organization_id"] for r in result.stream(stream)} == {ORG_SECOND}
    assert [o["Id"] for o in result.stream("organizations")] == [int(ORG_SECOND)]
    invoice_guids = {i["Guid"] for i in result.stream("invoices") if not i["DeletedAt"]}
    assert {line["InvoiceGuid"] for line in result.stream("invoice_lines")} == invoice_guids
    assert all(i["ProductLines"] for i in result.stream("invoices") if not i["DeletedAt"])
    assert (
        result.stream("entries") and result.stream("manual_vouchers") and result.stream("purchase_vouchers")
    )
    assert result.partition_state("contacts", ORG_SECOND)["replication_key_value"]
