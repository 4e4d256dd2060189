"""organization_ids: every org-scoped stream syncs each organization as its own partition, with its own
bookmark and its own quota key (Visma Connect refresh token: one login reaches several organizations)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from dinero_api.auth import forget_cached_tokens
from dinero_sandbox.constants import DEMO_REFRESH_TOKEN
from tap_dinero.organizations import EXIT_PARTIAL, OrganizationsFailed
from tap_dinero.tap import TapDinero
from tests.harness import CollectingWriter, TapRun, run_tap

REPO = Path(__file__).resolve().parents[2]

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


# ------------------------------------------------------------------------------------------------------
# Isolation (issue 17, class 4) and organizations side by side in one process (issue 14, item 4)

MISSING_ORG = "999999"  # not in the sandbox: Dinero answers 403 code 41, as for a deleted organization


def _run_partial(config, *, streams, state=None):
    """Sync in-process; returns (TapRun, OrganizationsFailed or None)."""
    writer = CollectingWriter()
    tap = TapDinero(config=config, state=copy.deepcopy(state) if state else None, message_writer=writer)
    for name, stream in tap.streams.items():
        stream.selected = name in set(streams)
    failed = None
    try:
        tap.sync_all()
    except OrganizationsFailed as exc:
        failed = exc
    return TapRun(messages=writer.messages, tap=tap), failed


def _partitions(state, stream):
    return {p["context"]["organization_id"]: p for p in state["bookmarks"][stream].get("partitions", [])}


def _contact_keys(result, org):
    return {c["ContactGuid"] for c in result.stream("contacts") if c["organization_id"] == org}


def _live_contacts(sandbox, org):
    return {c["ContactGuid"] for c in sandbox.dump(org, "contacts")}


def test_a_refused_organization_does_not_stop_the_others(sandbox, tap_config, tmp_path):
    """A deleted organization (403) listed between two healthy ones: both healthy ones are synced in
    full, their bookmarks advance, the failure names the organization and Dinero's answer."""
    config = {
        **_config(sandbox, tap_config, tmp_path),
        "organization_ids": ["100000", MISSING_ORG, "100001"],
        "max_parallel_organizations": 1,  # one after another: the old order, the failing one in the middle
    }
    result, failed = _run_partial(config, streams=["contacts", "products", "invoices"])

    assert failed is not None and [f.organization_id for f in failed.failures] == [MISSING_ORG]
    assert "403" in failed.failures[0].cause and MISSING_ORG in str(failed)
    assert sorted(failed.synced) == ORGS
    for org in ORGS:
        assert _contact_keys(result, org) == _live_contacts(sandbox, org)
        invoices = [i for i in result.stream("invoices") if i["organization_id"] == org]
        assert len(invoices) == len(sandbox.dump(org, "invoices"))
    state = result.final_state
    for stream in ("contacts", "products", "invoices"):
        partitions = _partitions(state, stream)
        assert all(partitions[org]["replication_key_value"] for org in ORGS)
        assert not partitions.get(MISSING_ORG, {}).get("replication_key_value")
    health = state["organization_runs"]
    assert health[MISSING_ORG]["consecutive_failures"] == 1 and "403" in health[MISSING_ORG]["last_cause"]
    assert health["100000"]["consecutive_failures"] == 0
    assert DEMO_REFRESH_TOKEN not in json.dumps(state)


def test_an_outage_of_one_organization_keeps_its_bookmark_and_lets_the_others_advance(
    sandbox, tap_config, tmp_path, sandbox_requests
):
    config = {**_config(sandbox, tap_config, tmp_path), "max_retries": 1, "retry_backoff_seconds": 0}
    streams = ["contacts", "products"]
    first, failed = _run_partial(config, streams=streams)
    assert failed is None
    changed = {}
    for org in ORGS:
        contact = sandbox.dump(org, "contacts")[0]
        sandbox.mutate(org, "contacts", "update", contact["ContactGuid"], {"Name": f"Ændret {org}"})
        changed[org] = contact["ContactGuid"]

    # organization 100001 answers 500 to everything, longer than the retries last
    sandbox.set_fault("5xx", count=1_000_000, path_contains="/v1/100001/")
    second, failed = _run_partial(config, streams=streams, state=first.final_state)
    sandbox.clear_faults()

    assert failed is not None and [f.organization_id for f in failed.failures] == ["100001"]
    assert "500" in failed.failures[0].cause
    assert _contact_keys(second, "100000") == {changed["100000"]}
    before, after = _partitions(first.final_state, "contacts"), _partitions(second.final_state, "contacts")
    assert after["100000"]["replication_key_value"] > before["100000"]["replication_key_value"]
    assert after["100001"]["replication_key_value"] == before["100001"]["replication_key_value"]
    assert (
        _partitions(second.final_state, "products")["100001"]
        == _partitions(first.final_state, "products")["100001"]
    )

    # the outage is over: the next run reads what 100001 missed, nothing of 100000 again
    third, failed = _run_partial(config, streams=streams, state=second.final_state)
    assert failed is None
    assert _contact_keys(third, "100001") == {changed["100001"]}
    assert _contact_keys(third, "100000") == set()
    assert third.final_state["organization_runs"]["100001"]["consecutive_failures"] == 0


def test_organizations_that_failed_before_go_last(sandbox, tap_config, tmp_path, sandbox_requests):
    """A lapsed organization never delays the healthy ones: it is started after them."""
    config = {
        **_config(sandbox, tap_config, tmp_path),
        "organization_ids": [MISSING_ORG, *ORGS],
        "max_parallel_organizations": 1,
    }
    first, failed = _run_partial(config, streams=["contacts"])
    assert failed is not None
    sandbox.clear_requests()
    second, failed = _run_partial(config, streams=["contacts"], state=first.final_state)
    assert [f.organization_id for f in failed.failures] == [MISSING_ORG]
    orgs_in_order = [r["org"] for r in sandbox_requests() if "/contacts" in r["path"]]
    assert orgs_in_order[-1] == MISSING_ORG and orgs_in_order[0] == "100000"
    assert second.final_state["organization_runs"][MISSING_ORG]["consecutive_failures"] == 2


def test_the_cli_exits_10_naming_the_failed_organization(sandbox, tap_config, tmp_path):
    config = {**_config(sandbox, tap_config, tmp_path), "organization_ids": ["100000", MISSING_ORG]}
    catalog = tmp_path / "catalog.json"
    tap = TapDinero(config=config)
    for name, stream in tap.streams.items():
        stream.selected = name == "contacts"
    catalog.write_text(json.dumps(tap.catalog_dict))
    (tmp_path / "config.json").write_text(json.dumps(config))
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from tap_dinero.tap import TapDinero; TapDinero.cli()",
            "--config",
            str(tmp_path / "config.json"),
            "--catalog",
            str(catalog),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == EXIT_PARTIAL, proc.stderr[-3000:]
    failure_lines = [line for line in proc.stderr.splitlines() if "partly failed" in line]
    assert failure_lines and MISSING_ORG in failure_lines[-1] and "403" in failure_lines[-1]
    assert "Traceback" not in proc.stderr
    messages = [json.loads(line) for line in proc.stdout.splitlines()]
    synced = {m["record"]["ContactGuid"] for m in messages if m["type"] == "RECORD"}
    assert synced == _live_contacts(sandbox, "100000")
    assert _partitions(messages[-1]["value"], "contacts")["100000"]["replication_key_value"]


def test_organizations_are_synced_side_by_side(sandbox, tap_config, tmp_path, sandbox_requests):
    """One slow organization does not hold up the other: with max_parallel_organizations 2 the other's
    whole sync happens while the first waits for its answer; with 1, it waits its turn."""
    config = _config(sandbox, tap_config, tmp_path)
    timings = {}
    for parallel in (1, 2):
        sandbox.clear_requests()
        sandbox.set_fault("slow", count=1, path_contains="/v1/100000/contacts", seconds=1.5)
        result, failed = _run_partial(
            {**config, "max_parallel_organizations": parallel}, streams=["contacts", "products"]
        )
        assert failed is None
        for org in ORGS:
            assert _contact_keys(result, org) == _live_contacts(sandbox, org)
        log = sandbox_requests()
        slow = next(r for r in log if r["org"] == "100000" and "/contacts" in r["path"])
        other = [r for r in log if r["org"] == "100001"]
        timings[parallel] = (slow["ts"], max(r["ts"] for r in other))
    slow_answered, other_done = timings[2]
    assert other_done < slow_answered  # 100001 finished while 100000's first answer was on its way
    slow_answered, other_done = timings[1]
    assert other_done > slow_answered


def test_parallel_output_is_valid_singer(sandbox, tap_config, tmp_path):
    """Messages of organizations synced side by side: whole lines, each stream's SCHEMA once and before
    its records, every STATE holding each organization's partition once, bookmarks never going back."""
    config = {**_config(sandbox, tap_config, tmp_path), "max_parallel_organizations": 2}
    streams = ["contacts", "products", "invoices", "invoice_lines", "entries", "vat_types", "organizations"]
    result, failed = _run_partial(config, streams=streams)
    assert failed is None
    seen_schema: set[str] = set()
    last_value: dict[tuple[str, str], str] = {}
    for message in result.messages:
        if message["type"] == "SCHEMA":
            assert message["stream"] not in seen_schema
            seen_schema.add(message["stream"])
        elif message["type"] == "RECORD":
            assert message["stream"] in seen_schema
        elif message["type"] == "STATE":
            for stream, stream_state in message["value"]["bookmarks"].items():
                orgs = [p["context"]["organization_id"] for p in stream_state.get("partitions", [])]
                assert len(orgs) == len(set(orgs)), (stream, orgs)
                for partition in stream_state.get("partitions", []):
                    value = partition.get("replication_key_value")
                    key = (stream, partition["context"]["organization_id"])
                    if value:
                        assert value >= last_value.get(key, ""), key
                        last_value[key] = value
    assert seen_schema == set(streams)
    for org in ORGS:
        assert _contact_keys(result, org) == _live_contacts(sandbox, org)
        lines = [r for r in result.stream("invoice_lines") if r["organization_id"] == org]
        stored = sum(
            len(i.get("ProductLines") or []) for i in sandbox.dump(org, "invoices") if not i.get("DeletedAt")
        )
        assert len(lines) == stored
        for stream in ("contacts", "invoices", "entries"):
            assert result.partition_state(stream, org)["replication_key_value"]


def test_refused_credentials_stop_a_multi_organization_run_after_one_request(
    sandbox, tap_config, tmp_path, sandbox_requests
):
    """The login is shared by every organization: a refused client secret is not one organization's
    failure to isolate, it ends the run at once, with one refused token request in Dinero's log."""
    forget_cached_tokens()
    config = {
        **_config(sandbox, tap_config, tmp_path),
        "client_secret": "wrong-secret",
        "organization_ids": ["100000", "100001", MISSING_ORG],
    }
    with pytest.raises(Exception, match=r"invalid_client|401|refused") as raised:
        _run_partial(config, streams=["contacts", "products"])
    assert not isinstance(raised.value, OrganizationsFailed)
    log = sandbox_requests()
    assert len(log) == 1 and log[0]["path"].endswith("/token")


def test_organizations_that_all_answer_403_stop_the_run_after_the_refusal_limit(
    sandbox, tap_config, tmp_path, sandbox_requests
):
    """A client whose access was withdrawn (or a partner listing organizations it cannot reach): every
    organization answers 403. Each was one organization's failure, so a run over 5 of them sent 5 403s
    (hundreds for a partner with hundreds). With no organization read yet, ``max_consecutive_refusals``
    of them stop the run; their health is kept, so the next run asks the others first and, once one
    organization was read, goes on as before (each unreachable one: its own isolated failure)."""
    missing = [f"99990{n}" for n in range(5)]
    config = {
        **_config(sandbox, tap_config, tmp_path),
        "organization_ids": [*missing, "100000"],
        "max_parallel_organizations": 1,
        "max_consecutive_refusals": 3,
    }
    writer = CollectingWriter()
    tap = TapDinero(config=config, message_writer=writer)
    for name, stream in tap.streams.items():
        stream.selected = name == "contacts"
    with pytest.raises(Exception, match="403") as raised:
        tap.sync_all()
    assert not isinstance(raised.value, OrganizationsFailed)
    assert "none of them" in str(raised.value)
    refused = [r for r in sandbox_requests() if r["status"] == 403]
    assert len(refused) == 3, [r["path"] for r in refused]
    state = TapRun(messages=writer.messages, tap=tap).final_state

    assert {org for org, h in state["organization_runs"].items() if h.get("consecutive_failures")} == set(
        missing[:3]
    )
    result, failed = _run_partial(config, streams=["contacts"], state=state)  # the next run
    assert failed is not None and failed.synced == ["100000"]
    assert _contact_keys(result, "100000") == _live_contacts(sandbox, "100000")


def test_an_organization_listed_with_and_without_a_leading_zero_is_synced_once(tap_config, tmp_path):
    """``0100000`` is organization 100000 to Dinero: listed both ways, it was synced twice at once (two
    workers, two partitions of the same rows)."""
    config = {**tap_config, "organization_ids": ["100000", "0100000", " 100000 ", "100001"]}
    config.pop("organization_id", None)
    assert TapDinero(config=config).organization_ids == ["100000", "100001"]


def _open_files_under(directory: Path) -> list[str]:
    """Files under ``directory`` this process holds open (Linux /proc)."""
    held = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(directory)):
            held.append(target)
    return held


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_an_organization_done_releases_its_quota_store(sandbox, tap_config, tmp_path):
    """Each organization's quota store stayed open for the rest of the process: a run over hundreds of
    organizations held hundreds of SQLite files (plus their connections) and met the open-files limit
    (``ulimit -n`` is often 1024) half-way, failing every later organization. A finished organization's
    store is closed (and opened again if the organization is read again)."""
    quota_dir = tmp_path / "quota"
    config = {
        **_config(sandbox, tap_config, tmp_path),
        "quota_cache_dir": str(quota_dir),
        "max_parallel_organizations": 1,
    }
    result, failed = _run_partial(config, streams=["contacts"])
    assert failed is None and _contact_keys(result, "100001") == _live_contacts(sandbox, "100001")
    assert sorted(p.name for p in quota_dir.glob("quota-*.sqlite")) and not _open_files_under(quota_dir)
    _, failed = _run_partial(config, streams=["contacts"], state=result.final_state)  # reopened
    assert failed is None


def test_a_multi_organization_run_writes_its_merged_state_at_most_every_few_seconds(
    sandbox, tap_config, tmp_path
):
    """Every STATE of a multi-organization run holds every organization's state; one per worker STATE
    made the output grow with the square of the organizations (2 organizations: 40 STATE lines; 300:
    ~6 000 lines, ~10 GB). The merged STATE is written at most every 5 s and at the end, the last one
    holds every organization's bookmarks, and a second run from it reads nothing again."""
    config = _config(sandbox, tap_config, tmp_path)
    streams = ["contacts", "products", "invoices", "sales_credit_notes", "entry_accounts", "vat_types"]
    started = time.monotonic()
    first = run_tap(config, streams=streams)
    seconds = time.monotonic() - started
    assert first.error is None, first.error
    assert len(first.states) <= 2 + seconds / 5, (len(first.states), seconds)
    for stream in ("contacts", "invoices"):
        partitions = first.final_state["bookmarks"][stream]["partitions"]
        assert sorted(p["context"]["organization_id"] for p in partitions) == ORGS
        assert all(p["replication_key_value"] for p in partitions)
    again = run_tap(config, streams=streams, state=first.final_state)
    assert again.error is None
    assert not again.stream("contacts") and not again.stream("invoices")
