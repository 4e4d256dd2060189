"""Bad records go to the rejects file without a request; max_rejects; dry run writes nothing; auth stops."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from target_dinero.gateway import RunStopped
from target_dinero.target import RejectsExceeded
from tests.harness import ORG, by_reference, make_target_config, read_rejects, run_target
from tests.harness import record_message as record
from tests.harness import schema_message as schema
from tests.harness import state_message as state

STREAM = "orders"


def invoice(n: int, **over: Any) -> dict[str, Any]:
    data = {
        "id": n,
        "ExternalReference": f"ORD-{n}",
        "Date": "2026-11-05",
        "Contact": {"Name": "Testkunde ApS", "VatNumber": "DK12345678", "CountryKey": "DK"},
        "ProductLines": [
            {
                "Description": "Vare",
                "Quantity": 1,
                "BaseAmountValue": 80,
                "AccountNumber": 1000,
                "Unit": "parts",
            }
        ],
    }
    data.update(over)
    return data


def line(**over: Any) -> list[dict[str, Any]]:
    return [
        {
            "Description": "Vare",
            "Quantity": 1,
            "BaseAmountValue": 80,
            "AccountNumber": 1000,
            "Unit": "parts",
            **over,
        }
    ]


BAD = [
    (invoice(1, ProductLines=line(AccountNumber=4242)), "ProductLines[0].AccountNumber", "4242"),
    (invoice(2, ProductLines=line(Unit="bucket")), "ProductLines[0].Unit", "bucket"),
    (invoice(3, ProductLines=line(BaseAmountValue=math.inf)), "ProductLines[0].BaseAmountValue", "finite"),
    (invoice(4, ExternalReference="x" * 129), "ExternalReference", "long"),
    (invoice(5, ProductLines=[]), "ProductLines", "non-empty"),
    (invoice(6, Date="2026-13-45"), "Date", "date"),
    (invoice(7, ProductLines=line(Description=None)), "ProductLines[0].Description", "Description"),
    (invoice(8, ProductLines=line(Discount=120)), "ProductLines[0].Discount", "0-100"),
    (invoice(10, Comment="x" * 5001), "Comment", "long"),
    (invoice(11, Contact={"Name": "Lang Adresse ApS", "Street": "Vej " * 70}), "Contact.Street", "long"),
]


def messages(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [schema(STREAM), *(record(STREAM, r) for r in records), state({"n": len(records)})]


@pytest.fixture
def config(sandbox_settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    return make_target_config(sandbox_settings, tmp_path, {STREAM: {"load_as": "invoice"}})


def test_bad_records_are_rejected_before_any_request(
    sandbox: Any, config: dict[str, Any], tmp_path: Path
) -> None:
    good = invoice(9)
    result = run_target(sandbox, config, messages([*(r for r, _, _ in BAD), good]))

    assert isinstance(result.error, RejectsExceeded)  # max_rejects defaults to 0: non-zero exit
    assert f"{len(BAD)} record(s) rejected" in str(result.error)
    rejects = read_rejects(tmp_path / "rejects.jsonl")
    assert [(r["stream"], r["record"]["id"], r["field"]) for r in rejects] == [
        (STREAM, r["id"], field) for r, field, _ in BAD
    ]
    for reject, (_, _, word) in zip(rejects, BAD, strict=True):
        assert word.lower() in reject["reason"].lower(), reject["reason"]
    # the good record was loaded; none of the bad ones produced a write
    assert [r["ExternalReference"] for r in by_reference(sandbox.dump(ORG, "invoices"), "ORD-")] == ["ORD-9"]
    invoice_writes = [w for w in result.writes if "/invoices" in w["path"]]
    assert len(invoice_writes) == 1
    assert result.states, "STATE is still emitted for what was written"


def test_max_rejects_tolerates_the_configured_number(sandbox: Any, config: dict[str, Any]) -> None:
    config["max_rejects"] = 1
    assert run_target(sandbox, config, messages([BAD[0][0], invoice(9)])).error is None
    assert isinstance(run_target(sandbox, config, messages([BAD[0][0], BAD[1][0]])).error, RejectsExceeded)


def test_dinero_refusal_becomes_a_reject(sandbox: Any, config: dict[str, Any], tmp_path: Path) -> None:
    config["max_rejects"] = 5
    unknown_contact = invoice(10, Contact=None, ContactGuid="00000000-0000-0000-0000-0000000000aa")
    result = run_target(sandbox, config, messages([unknown_contact, invoice(11)]))

    assert result.error is None, result.stderr
    [reject] = read_rejects(tmp_path / "rejects.jsonl")
    assert reject["record"]["id"] == 10
    assert "Dinero refused" in reject["reason"]
    assert [r["ExternalReference"] for r in by_reference(sandbox.dump(ORG, "invoices"), "ORD-")] == ["ORD-11"]
    # a refusal about the record itself costs no follow-up look-up of the invoice's own Guid
    assert [r for r in result.api_requests if r["method"] == "GET" and "/invoices/" in r["path"]] == []


def test_dry_run_validates_and_resolves_but_writes_nothing(sandbox: Any, config: dict[str, Any]) -> None:
    config["dry_run"] = True
    config["streams"][STREAM]["book"] = True
    result = run_target(sandbox, config, messages([invoice(1), invoice(2)]))

    assert result.error is None, result.stderr
    assert result.writes == []
    assert result.api_requests, "dry run still reads (accounts, existing invoices, contacts)"
    plans = [
        json.loads(line.split("dry run: ", 1)[1])
        for line in result.stderr.splitlines()
        if "dry run: {" in line
    ]
    assert [(p["action"], p["load_as"]) for p in plans] == [
        ("create", "contact"),
        ("create", "invoice"),
        ("create", "invoice"),
    ]
    assert plans[1]["payload"]["ProductLines"][0]["AccountNumber"] == 1000
    assert result.counts(STREAM) == {"would_create": 2, "would_book": 2, "would_create_contact": 1}
    assert by_reference(sandbox.dump(ORG, "invoices"), "ORD-") == []



def test_dry_run_emits_no_state_so_the_real_run_still_loads_the_records(
    sandbox: Any, config: dict[str, Any]
) -> None:
    """A STATE the target emits is what Meltano saves for the tap's next run: a dry run that emitted the
    tap's STATE would make the real run start after records that were never written to Dinero."""
    dry = run_target(sandbox, {**config, "dry_run": True}, messages([invoice(1), invoice(2)]))
    assert dry.error is None, dry.stderr
    assert dry.writes == []
    assert dry.states == []
    assert "STATE" in dry.stderr  # said, not silently dropped

    real = run_target(sandbox, config, messages([invoice(1), invoice(2)]))
    assert real.error is None, real.stderr
    assert real.states and real.counts(STREAM)["created"] == 2

def test_rejected_credentials_stop_the_run_at_once(sandbox: Any, config: dict[str, Any]) -> None:
    config["api_key"] = "sandbox-api-key-2"  # bound to organization 100001, not 100000
    result = run_target(sandbox, config, messages([invoice(n) for n in range(1, 6)]))

    assert isinstance(result.error, RunStopped), result.error
    refused = [r for r in result.api_requests if r["status"] in (401, 403)]
    assert 1 <= len(refused) <= 2  # the first refusal (and the client's one retry after a refresh)
    assert result.writes == []
    assert result.states == []  # nothing was written, so no STATE may claim otherwise


def test_dry_run_of_every_load_type_sends_no_write_and_keeps_no_journal(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    from test_target_daily_sales import sales
    from test_target_manual_vouchers import PDF, voucher

    receipt = tmp_path / "bilag.pdf"
    receipt.write_bytes(PDF)
    streams = {
        "orders": {"load_as": "invoice", "book": True},
        "je": {"load_as": "manual_voucher", "book": True},
        "pos": {
            "load_as": "daily_sales",
            "book": True,
            "payment_accounts": {"card": 55030, "mobilepay": 55020, "cash": 58000},
            "revenue_account": 1000,
            "vat_account": 64000,
            "vat_code": "U25",
            "date_field": "sold_at",
            "id_field": "sale_id",
        },
        "customers": {"load_as": "contact"},
        "catalog": {"load_as": "product"},
    }
    config = make_target_config(sandbox_settings, tmp_path, streams, dry_run=True)
    messages = [
        schema("orders"),
        record("orders", invoice(1)),
        schema("je"),
        record("je", voucher(1, File={"path": str(receipt)})),
        schema("pos", ("sale_id",)),
        *(record("pos", s) for s in sales()),
        schema("customers"),
        record("customers", {"id": 1, "Name": "Ny Kunde", "Email": "ny@kunde.dk"}),
        schema("catalog"),
        record(
            "catalog", {"id": 1, "Name": "Kop", "BaseAmountValue": 45, "AccountNumber": 1000, "Unit": "parts"}
        ),
        state({"all": 1}),
    ]

    result = run_target(sandbox, config, messages)

    assert result.error is None, result.stderr
    assert result.writes == []
    assert not (tmp_path / "ledger.jsonl").exists()
    assert not (tmp_path / "ledger.sqlite3").exists()  # the journal store is not even created
    summary = result.summary["streams"]
    assert summary["orders"]["would_create"] == 1
    assert summary["je"] == {"would_create": 1, "would_book": 1}
    assert summary["pos"]["would_create"] == summary["pos"]["would_book"] == 3  # one voucher per day
    assert summary["customers"] == {"would_create": 1}
    assert summary["catalog"] == {"would_create": 1}
    assert result.states == []  # nothing written: no STATE for the orchestrator to save


# -- the whole record is validated before its first request: nothing is left behind ------------------
def _contacts_named(sandbox: Any, name: str) -> list[dict[str, Any]]:
    return [c for c in sandbox.dump(ORG, "contacts") if c.get("Name") == name and not c.get("DeletedAt")]


@pytest.mark.parametrize("currency", ["XXX", "XTS", "XAU", "ABC"])
def test_currency_xxx_is_rejected_and_leaves_no_contact(
    sandbox: Any, config: dict[str, Any], tmp_path: Path, currency: str
) -> None:
    config["max_rejects"] = 5
    name = f"Valuta {currency} ApS"
    bad = invoice(20, Currency=currency, Contact={"Name": name, "Email": f"{currency}@valuta.dk"})
    result = run_target(sandbox, config, messages([bad, invoice(21, Currency="eur")]))

    assert result.error is None, result.stderr
    [reject] = read_rejects(tmp_path / "rejects.jsonl")
    assert (reject["record"]["id"], reject["field"]) == (20, "Currency")
    assert currency in reject["reason"]
    assert _contacts_named(sandbox, name) == []  # its contact was never created
    assert [w["path"].rsplit("/", 1)[-1] for w in result.writes] == ["contacts", "invoices"]  # ORD-21 only
    [stored] = by_reference(sandbox.dump(ORG, "invoices"), "ORD-")
    assert (stored["ExternalReference"], stored["Currency"]) == ("ORD-21", "EUR")


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"Comment": "Tak for k\ud83d"}, "Comment"),  # a lone high surrogate (half of an emoji)
        ({"Description": "\udc00"}, "Description"),
        ({"ProductLines": line(Description="Vare\x00")}, "ProductLines[0].Description"),
        ({"ProductLines": line(Description="Vare\x1b[31m")}, "ProductLines[0].Description"),
        ({"Contact": {"Name": "Kunde\ud800 ApS", "Email": "s@kunde.dk"}}, "Contact.Name"),
        ({"Contact": {"Name": "Kunde ApS", "Email": "s@kunde.dk", "CountryKey": "ZZ"}}, "Contact.CountryKey"),
    ],
)
def test_lone_surrogate_or_control_character_is_rejected_before_any_request(
    sandbox: Any, config: dict[str, Any], tmp_path: Path, over: dict[str, Any], field: str
) -> None:
    config["max_rejects"] = 5
    result = run_target(sandbox, config, messages([invoice(30, **over)]))

    assert result.error is None, result.stderr
    [reject] = read_rejects(tmp_path / "rejects.jsonl")
    assert (reject["record"]["id"], reject["field"]) == (30, field)
    assert result.writes == []  # no contact, no invoice
    assert by_reference(sandbox.dump(ORG, "invoices"), "ORD-") == []
    if "Comment" in over:  # the rejects file keeps the record, surrogate escaped, as valid JSON
        assert reject["record"]["Comment"] == over["Comment"]


def test_contact_created_for_an_invoice_dinero_refused_is_reused_on_the_next_try(
    sandbox: Any, config: dict[str, Any], tmp_path: Path
) -> None:
    config["max_rejects"] = 5
    name = "Genbrug ApS"
    contact_without_keys = {"Name": name, "Street": "Vej 1", "ZipCode": "8000"}  # no VAT number, no e-mail
    records = [invoice(40, Contact=contact_without_keys), invoice(41, Contact={"Name": name + " 2"})]
    # Dinero refuses the first invoice create after its contact was made (something no local check sees)
    # (a bare 400 may mean "Guid taken": the target GETs its Guid, finds nothing live, and sends it once
    # more with a server-chosen Guid; a refusal of the record's content repeats, so both are refused)
    sandbox.set_fault("5xx", count=2, path_contains="/invoices", method="POST", status=400)
    first = run_target(sandbox, config, messages(records))
    assert first.error is None, first.stderr
    assert [r["record"]["id"] for r in read_rejects(tmp_path / "rejects.jsonl")] == [40]
    assert len(_contacts_named(sandbox, name)) == 1

    second = run_target(sandbox, config, messages(records))
    assert second.error is None, second.stderr
    [contact] = _contacts_named(sandbox, name)  # found again by its derived reference, not created twice
    assert len(_contacts_named(sandbox, name + " 2")) == 1
    stored = {i["ExternalReference"]: i for i in by_reference(sandbox.dump(ORG, "invoices"), "ORD-")}
    assert sorted(stored) == ["ORD-40", "ORD-41"]
    assert stored["ORD-40"]["ContactGuid"] == contact["ContactGuid"]
    assert [w for w in second.writes if w["path"].endswith("/contacts")] == []
