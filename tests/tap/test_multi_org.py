"""organization_ids: every org-scoped stream syncs each organization as its own partition, with its own
bookmark and its own quota key (Visma Connect refresh token: one login reaches several organizations)."""

from __future__ import annotations

from collections import Counter

from dinero_sandbox.constants import DEMO_REFRESH_TOKEN
from tests.tap.helpers import run_tap

ORGS = ["100000", "100001"]


def _config(sandbox, tap_config, tmp_path):
    config = {k: v for k, v in tap_config.items() if k not in ("api_key", "organization_id")}
    return {
        **config,
        "refresh_token": DEMO_REFRESH_TOKEN,
        "token_url": sandbox.connect_token_url,
        "token_file": str(tmp_path / "tokens.json"),
        "organization_ids": ORGS,
    }


def test_each_organization_is_a_partition_with_its_own_bookmark(
    sandbox, tap_config, tmp_path, sandbox_requests
):
    config = _config(sandbox, tap_config, tmp_path)
    streams = ["contacts", "invoices", "entry_accounts", "organizations"]
    first = run_tap(config, streams=streams)
    assert first.error is None

    for org in ORGS:
        stored = {c["ContactGuid"] for c in sandbox.dump(org, "contacts")}
        emitted = {c["ContactGuid"] for c in first.stream("contacts") if c["organization_id"] == org}
        assert emitted == stored
        invoices = [i for i in first.stream("invoices") if i["organization_id"] == org]
        assert len(invoices) == len(sandbox.dump(org, "invoices"))
    # the same account number exists in both charts: the key includes the organization
    accounts = Counter((a["organization_id"], a["AccountNumber"]) for a in first.stream("entry_accounts"))
    assert max(accounts.values()) == 1 and {org for org, _ in accounts} == set(ORGS)
    assert sorted(str(o["Id"]) for o in first.stream("organizations")) == ORGS

    partitions = first.final_state["bookmarks"]["contacts"]["partitions"]
    assert [p["context"] for p in partitions] == [{"organization_id": org} for org in ORGS]
    assert all(p["replication_key_value"] for p in partitions)
    log = sandbox_requests()
    assert {r["org"] for r in log if "/contacts" in r["path"]} == set(ORGS)

    # one client, quota key and token chain per organization; the login is shared
    clients = [first.tap.client_for(org) for org in ORGS]
    assert clients[0].throttle.key != clients[1].throttle.key
    assert {c.throttle.key[1] for c in clients} == set(ORGS)

    # a change in one organization moves only that organization's rows
    contact = sandbox.dump("100001", "contacts")[0]
    sandbox.mutate("100001", "contacts", "update", contact["ContactGuid"], {"Name": "Omdøbt ApS"})
    second = run_tap(config, streams=streams, state=first.final_state)
    assert second.error is None, second.error
    assert [(c["organization_id"], c["ContactGuid"]) for c in second.stream("contacts")] == [
        ("100001", contact["ContactGuid"])
    ]
    assert not second.stream("invoices")
    before = {p["context"]["organization_id"]: p for p in partitions}
    after = {
        p["context"]["organization_id"]: p for p in second.final_state["bookmarks"]["contacts"]["partitions"]
    }
    for org in ORGS:
        assert after[org]["replication_key_value"] > before[org]["replication_key_value"]


def test_adding_an_organization_backfills_it_and_keeps_the_others_incremental(sandbox, tap_config, tmp_path):
    config = _config(sandbox, tap_config, tmp_path)
    first = run_tap({**config, "organization_ids": ["100000"]}, streams=["contacts"])
    assert first.error is None, first.error
    second = run_tap(config, streams=["contacts"], state=first.final_state)
    assert second.error is None, second.error
    assert {c["organization_id"] for c in second.stream("contacts")} == {"100001"}
    assert len(second.stream("contacts")) == len(sandbox.dump("100001", "contacts"))
