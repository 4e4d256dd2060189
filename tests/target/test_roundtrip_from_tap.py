"""Round trip: tap-dinero reads invoices of organization 100000, target-dinero copies them into 100001.

The tap's invoice records carry the detail's ProductLines, so they load with ``load_as: invoice`` as
they are. They name organization 100000's contact and products, which 100001 does not have: the target
takes the customer by ContactName and drops the lines' ProductGuid (lines and totals stay the same).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dinero_sandbox.constants import DEMO_API_KEY_2
from tests.harness import live, make_target_config, read_rejects, run_tap, run_target

SOURCE = "100000"
COPY = "100001"
HANDFUL = 8
LINE_FIELDS = (
    "Description",
    "Quantity",
    "BaseAmountValue",
    "Discount",
    "AccountNumber",
    "Unit",
    "LineType",
    "TotalAmount",
    "TotalAmountInclVat",
)
TOTAL_FIELDS = ("Currency", "TotalExclVat", "TotalVat", "TotalInclVat", "TotalLines", "Date")


@pytest.fixture
def tap_config(sandbox: Any, sandbox_settings: dict[str, Any]) -> dict[str, Any]:
    """The tap on organization 100000, reading the last few invoices changed (start_date)."""
    stamps = sorted(i["UpdatedAt"] for i in sandbox.dump(SOURCE, "invoices"))
    return {**sandbox_settings, "quota_requests": 100_000, "start_date": stamps[-HANDFUL] + "Z"}


@pytest.fixture
def target_config(sandbox_settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The target loading into organization 100001."""
    second = {**sandbox_settings, "organization_id": COPY, "api_key": "sandbox-api-key-2"}
    streams = {"invoices": {"load_as": "invoice"}, "contacts": {"load_as": "contact"}}
    return make_target_config(second, tmp_path, streams)


def _api(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in requests if str(r["path"]).startswith("/v")]


def _reference(invoice: dict[str, Any]) -> str:
    """The copy's ExternalReference: the invoice's own, else stream + the tap's primary key."""
    return invoice["ExternalReference"] or f"invoices:{SOURCE}|{invoice['Guid']}"


def _copies(sandbox: Any) -> dict[str, list[dict[str, Any]]]:
    copies: dict[str, list[dict[str, Any]]] = {}
    for invoice in live(sandbox.dump(COPY, "invoices")):
        copies.setdefault(str(invoice.get("ExternalReference")), []).append(dict(invoice))
    return copies


def _assert_same_document(source: dict[str, Any], copy: dict[str, Any]) -> None:
    for field in TOTAL_FIELDS:
        assert copy[field] == source[field], (source["Guid"], field)
    assert copy["ContactName"] == source["ContactName"]
    assert len(copy["ProductLines"]) == len(source["ProductLines"])
    for theirs, ours in zip(source["ProductLines"], copy["ProductLines"], strict=True):
        assert {f: ours[f] for f in LINE_FIELDS} == {f: theirs[f] for f in LINE_FIELDS}
        assert ours["ProductGuid"] is None  # organization 100000's product does not exist in 100001


def test_tap_invoices_copy_into_another_organization_once(
    sandbox: Any, tap_config: dict[str, Any], target_config: dict[str, Any]
) -> None:
    sandbox.clear_requests()
    tapped = run_tap(tap_config, streams=["invoices"])
    assert tapped.error is None
    tap_requests = _api(sandbox.requests())
    invoices = tapped.stream("invoices")
    copied = [i for i in invoices if not i["DeletedAt"]]
    assert len(invoices) == HANDFUL and copied and len(copied) < HANDFUL  # a deleted one is not copied
    # the tap: one list request, one deletion pass, one detail GET per live invoice -- nothing else
    details = [r for r in tap_requests if r["path"].startswith(f"/v1/{SOURCE}/invoices/")]
    assert sorted(r["path"].rsplit("/", 1)[1] for r in details) == sorted(i["Guid"] for i in copied)
    assert len(tap_requests) == 2 + len(copied)
    contacts_before = len(sandbox.dump(COPY, "contacts"))

    result = run_target(sandbox, target_config, tapped.messages)

    assert result.error is None, result.stderr
    assert result.counts("invoices") == {"created": len(copied), "skipped_deleted": 1}
    posts = [r for r in result.writes if r["method"] == "POST"]
    new_contacts = {i["ContactName"] for i in copied}
    assert len(posts) == len(copied) + len(new_contacts)  # one per invoice, one per new customer
    stored = {str(i["Guid"]): i for i in sandbox.dump(SOURCE, "invoices")}
    copies = _copies(sandbox)
    for invoice in copied:
        [copy] = copies[_reference(invoice)]  # exactly once
        assert copy["Status"] == "Draft"
        _assert_same_document(stored[invoice["Guid"]], copy)
    assert len(sandbox.dump(COPY, "contacts")) == contacts_before + len(new_contacts)

    # a re-run (tap and target again) finds every copy and writes nothing
    again = run_target(sandbox, target_config, run_tap(tap_config, streams=["invoices"]).messages)
    assert again.error is None, again.stderr
    assert again.writes == []
    assert again.counts("invoices") == {"unchanged": len(copied), "skipped_deleted": 1}
    assert {ref: len(rows) for ref, rows in _copies(sandbox).items()} == {
        ref: len(rows) for ref, rows in copies.items()
    }
    assert len(sandbox.dump(COPY, "contacts")) == contacts_before + len(new_contacts)


def test_invoices_take_the_contacts_copied_before_them(
    sandbox: Any, tap_config: dict[str, Any], target_config: dict[str, Any]
) -> None:
    everything = {k: v for k, v in tap_config.items() if k != "start_date"}
    contacts = run_target(sandbox, target_config, run_tap(everything, streams=["contacts"]).messages)
    assert contacts.error is None, contacts.stderr
    copied_contacts = {c["Name"]: c["ContactGuid"] for c in live(sandbox.dump(COPY, "contacts"))}
    tapped = run_tap(tap_config, streams=["invoices"])

    result = run_target(sandbox, target_config, tapped.messages)

    assert result.error is None, result.stderr
    assert result.summary["contacts_created"] == 0
    copies = _copies(sandbox)
    for invoice in (i for i in tapped.stream("invoices") if not i["DeletedAt"]):
        [copy] = copies[_reference(invoice)]
        assert copy["ContactGuid"] == copied_contacts[invoice["ContactName"]]


# ------------------------------------------------------------------------------------------------------
# The whole round trip: invoices with their payments and credit notes (and theirs), the README recipe
# ------------------------------------------------------------------------------------------------------
RECIPE = Path(__file__).resolve().parents[2] / "sample_config" / "target-dinero.copy.sandbox.json"
A, B = "100001", "100000"
COPY_STREAMS = [
    "contacts",
    "invoices",
    "invoice_payments",
    "sales_credit_notes",
    "sales_credit_note_payments",
]


def _ref(guid: str) -> str:
    """The copy's ExternalReference in B, as the recipe derives it from A's Guid."""
    return f"dinero:{A}:{guid}"


def _payment_sums(sandbox: Any, org: str, field: str = "AmountInVoucherCurrency") -> dict[str, Decimal]:
    """Live payments per document Guid, summed in the document's currency (``Amount``: in DKK, what the
    bank account received)."""
    sums: dict[str, Decimal] = {}
    for payment in live(sandbox.dump(org, "payments")):
        guid = str(payment["VoucherGuid"]).lower()
        sums[guid] = sums.get(guid, Decimal(0)) + Decimal(str(payment[field]))
    return sums


def _pay_in_euro_at_another_rate(sandbox: Any, tap_config: dict[str, Any]) -> None:
    """A booked EUR invoice of A (1 250.00 EUR at the invoice's 7.46), half paid at 7.5213 DKK/EUR: the bank
    received a DKK amount that the invoice's rate does not give (an exchange gain in A)."""
    from dinero_api.client import DineroClient
    from dinero_api.settings import DineroSettings

    contact = next(c for c in live(sandbox.dump(A, "contacts")) if c.get("Name"))
    with DineroClient(DineroSettings.from_config(tap_config)) as client:
        made = client.post_json(
            f"/v1/{A}/invoices",
            {
                "ContactGuid": contact["ContactGuid"],
                "Currency": "EUR",
                "Date": live(sandbox.dump(A, "invoices"))[0]["Date"],
                "ExternalReference": "eur-wire",
                "ProductLines": [
                    {
                        "Description": "Consulting",
                        "Quantity": 1,
                        "BaseAmountValue": 1000.0,
                        "AccountNumber": 1000,
                        "Unit": "hours",
                    }
                ],
            },
        )
        booked = client.post_json(f"/v1/{A}/invoices/{made['Guid']}/book", {"Timestamp": made["TimeStamp"]})
        euro = Decimal("625.00")
        body = {
            "Timestamp": booked["TimeStamp"],
            "Amount": float((euro * Decimal("7.5213")).quantize(Decimal("0.01"))),
            "AmountInForeignCurrency": float(euro),
            "DepositAccountNumber": 55000,
            "Description": "Wire in EUR",
            "RemainderIsFee": False,
        }
        client.post_json(f"/v1/{A}/invoices/{made['Guid']}/payments", body)
    paid = [p for p in live(sandbox.dump(A, "payments")) if p["VoucherGuid"] == made["Guid"].lower()]
    assert [p["Amount"] for p in paid] == [4700.81]


def _unpaid(status: str) -> str:
    """Paid, OverPaid, Draft as they are; Overdue is Booked past its due date (Dinero derives it from the
    day, the sandbox sets it only when a payment settles the invoice)."""
    return "Booked" if status == "Overdue" else status


def _one_copy_each(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    copies: dict[str, list[dict[str, Any]]] = {}
    for row in live(rows):
        if str(row.get("ExternalReference") or "").startswith(f"dinero:{A}:"):  # B's own are not copies
            copies.setdefault(str(row["ExternalReference"]), []).append(dict(row))
    assert all(len(found) == 1 for found in copies.values()), "a document copied twice"
    return {ref: found[0] for ref, found in copies.items()}


def _assert_b_equals_a(sandbox: Any) -> None:
    """What B holds for every copied document equals A, computed from A's own data."""
    a_paid, b_paid = _payment_sums(sandbox, A), _payment_sums(sandbox, B)
    a_dkk, b_dkk = _payment_sums(sandbox, A, "Amount"), _payment_sums(sandbox, B, "Amount")
    b_invoices = _one_copy_each(sandbox.dump(B, "invoices"))
    a_invoices = live(sandbox.dump(A, "invoices"))
    assert a_invoices
    guid_in_b: dict[str, str] = {}
    for source in a_invoices:
        copy = b_invoices[_ref(source["Guid"])]
        guid_in_b[source["Guid"].lower()] = copy["Guid"].lower()
        _assert_same_document(source, copy)
        assert copy["Status"] == source["Status"], source["Guid"]  # Draft / Booked
        assert _unpaid(copy["PaymentStatus"]) == _unpaid(source["PaymentStatus"]), source["Guid"]
        assert copy["PaymentDate"] == source["PaymentDate"], source["Guid"]  # the due date: same terms
        assert b_paid.get(copy["Guid"].lower(), 0) == a_paid.get(source["Guid"].lower(), 0), source["Guid"]
        assert b_dkk.get(copy["Guid"].lower(), 0) == a_dkk.get(source["Guid"].lower(), 0), source["Guid"]
    b_notes = _one_copy_each(sandbox.dump(B, "creditnotes"))
    linked = [n for n in live(sandbox.dump(A, "creditnotes")) if n.get("CreditNoteFor")]
    assert linked and any(a_paid.get(n["Guid"].lower()) for n in linked)
    for source in linked:
        copy = b_notes[_ref(source["Guid"])]
        for field in ("Currency", "TotalExclVat", "TotalVat", "TotalInclVat", "Date", "Status"):
            assert copy[field] == source[field], (source["Guid"], field)
        assert copy["PaymentStatus"] == source["PaymentStatus"], source["Guid"]
        assert copy["CreditNoteFor"].lower() == guid_in_b[source["CreditNoteFor"].lower()]
        assert b_paid.get(copy["Guid"].lower(), 0) == a_paid.get(source["Guid"].lower(), 0)
        assert b_dkk.get(copy["Guid"].lower(), 0) == a_dkk.get(source["Guid"].lower(), 0)


def test_invoices_with_payments_and_credit_notes_copy_into_another_organization_once(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    """tap-dinero on A piped into target-dinero on B with the README's recipe
    (``sample_config/target-dinero.copy.sandbox.json``): every live invoice of A is in B once, booked
    when booked in A, with the same lines, totals, payments and payment status; every credit note linked
    to its invoice's copy with its refunds. What cannot be copied is rejected with its reason. A re-run of
    the whole pipeline writes nothing."""
    recipe = json.loads(RECIPE.read_text(encoding="utf-8"))
    # A credit note that credits no invoice (Dinero allows them): it and its refund cannot be copied.
    orphan = next(
        n
        for n in live(sandbox.dump(A, "creditnotes"))
        if n["Status"] == "Booked" and n["PaymentStatus"] == "Paid"
    )
    sandbox.mutate(A, "creditnotes", "update", orphan["Guid"], {"CreditNoteFor": None})
    tap_config = {
        **sandbox_settings,
        "api_key": DEMO_API_KEY_2,
        "organization_id": A,
        "quota_requests": 100_000,
    }
    target_config = {
        **sandbox_settings,
        **{k: recipe[k] for k in ("streams", "stream_maps")},
        "organization_id": B,
        "quota_requests": 100_000,
        "rejects_file": str(tmp_path / "rejects.jsonl"),
        "ledger_file": str(tmp_path / "ledger.jsonl"),
        "max_rejects": 2,
    }
    _pay_in_euro_at_another_rate(sandbox, tap_config)

    tapped = run_tap(tap_config, streams=COPY_STREAMS)
    assert tapped.error is None
    result = run_target(sandbox, target_config, tapped.messages)

    assert result.error is None, result.stderr
    a_invoices = sandbox.dump(A, "invoices")
    booked = [i for i in live(a_invoices) if i["Status"] != "Draft"]
    counts = result.counts("invoices")
    assert counts["created"] == len(live(a_invoices)) and counts["booked"] == len(booked)
    assert counts["skipped_deleted"] == len(a_invoices) - len(live(a_invoices))
    assert result.counts("invoice_payments") == {"paid": len(tapped.stream("invoice_payments"))}
    # the orphan credit note and its refund: rejected with the reason, nothing else
    rejects = read_rejects(tmp_path / "rejects.jsonl")
    assert sorted((r["stream"], r["record"]["Guid"]) for r in rejects) == sorted(
        [("sales_credit_notes", orphan["Guid"])]
        + [
            ("sales_credit_note_payments", p["Guid"])
            for p in tapped.stream("sales_credit_note_payments")
            if p["CreditNoteGuid"] == orphan["Guid"]
        ]
    )
    assert len(rejects) == 2
    assert "names no invoice" in rejects[0]["reason"] or "names no invoice" in rejects[1]["reason"]
    assert any("does not exist in Dinero" in r["reason"] for r in rejects)
    _assert_b_equals_a(sandbox)

    # the same pipeline again: B is not written to at all, nothing is created
    again_tap = run_tap(tap_config, streams=COPY_STREAMS)
    assert again_tap.error is None
    again = run_target(sandbox, target_config, again_tap.messages)
    assert again.error is None, again.stderr
    assert again.writes == []
    assert not any(r["method"] in ("POST", "PUT", "DELETE") and f"/{B}/" in r["path"] for r in again.requests)
    for stream in COPY_STREAMS:
        assert "created" not in again.counts(stream) and "paid" not in again.counts(stream), stream
    _assert_b_equals_a(sandbox)


def test_the_readme_recipe_is_the_tested_config() -> None:
    """The YAML recipe in README.md says exactly what the tested sample config says."""
    import yaml

    readme = (RECIPE.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("**Recipe: copy an organization's invoices", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    recipe = json.loads(RECIPE.read_text(encoding="utf-8"))
    assert yaml.safe_load(block) == {k: recipe[k] for k in ("streams", "stream_maps")}


def test_a_payment_deleted_in_a_after_the_copy_is_rejected_with_its_reason(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    """The recipe's payment maps read ``Currency``/``Amount``, which tap-dinero's deleted-payment row does
    not carry: the deletion still reaches the target, rejected as "delete it in Dinero by hand" (not as a
    map failure), and nothing is written to B."""
    from dinero_api.client import DineroClient
    from dinero_api.settings import DineroSettings

    recipe = json.loads(RECIPE.read_text(encoding="utf-8"))
    tap_config = {
        **sandbox_settings,
        "api_key": DEMO_API_KEY_2,
        "organization_id": A,
        "quota_requests": 100_000,
    }
    target_config = {
        **sandbox_settings,
        **{k: recipe[k] for k in ("streams", "stream_maps")},
        "organization_id": B,
        "quota_requests": 100_000,
        "rejects_file": str(tmp_path / "rejects.jsonl"),
        "max_rejects": 10,
    }
    first = run_tap(tap_config, streams=COPY_STREAMS)
    assert first.error is None
    assert run_target(sandbox, target_config, first.messages).error is None
    invoices = {str(i["Guid"]).lower(): i for i in live(sandbox.dump(A, "invoices"))}
    payment = next(p for p in live(sandbox.dump(A, "payments")) if str(p["VoucherGuid"]).lower() in invoices)
    invoice = invoices[str(payment["VoucherGuid"]).lower()]
    with DineroClient(DineroSettings.from_config(tap_config)) as client:
        path = f"/v1/{A}/invoices/{invoice['Guid']}/payments/{payment['Guid']}"
        client.delete(path, {"Timestamp": invoice["TimeStamp"]})

    second = run_tap(tap_config, streams=COPY_STREAMS, state=first.final_state)
    assert second.error is None
    result = run_target(sandbox, target_config, second.messages)

    assert result.error is None, result.stderr
    assert result.writes == []
    [reject] = read_rejects(tmp_path / "rejects.jsonl")
    assert (reject["stream"], reject["record"]["Guid"]) == ("invoice_payments", payment["Guid"])
    assert "delete it in Dinero by hand" in reject["reason"]


def test_copy_of_overpaid_and_fee_written_off_invoices_loads_without_rejects(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    """Normal bookkeeping in A: an invoice paid in full and then paid again (OverPaid: the customer paid
    twice), and one paid 30 % short with the rest written off as a fee (RemainderIsFee, Paid in A). The copy
    recipe loads both without a reject: the second payment registers (allow_overpayment) and the short
    payment registers as the money received (Dinero does not report the fee, so B's invoice stays open by
    it, as the README says). A re-run writes nothing."""
    from dinero_api.client import DineroClient
    from dinero_api.settings import DineroSettings

    recipe = json.loads(RECIPE.read_text(encoding="utf-8"))
    tap_config = {
        **sandbox_settings,
        "api_key": DEMO_API_KEY_2,
        "organization_id": A,
        "quota_requests": 100_000,
    }
    contact = next(c for c in live(sandbox.dump(A, "contacts")) if c.get("Name"))
    made: dict[str, str] = {}
    with DineroClient(DineroSettings.from_config(tap_config)) as client:
        for name, payments in (("twice", [(125.0, False), (125.0, False)]), ("fee", [(87.5, True)])):
            draft = client.post_json(
                f"/v1/{A}/invoices",
                {
                    "ContactGuid": contact["ContactGuid"],
                    "Date": "2026-11-02",
                    "ExternalReference": f"normal-{name}",
                    "ProductLines": [
                        {
                            "Description": "Te",
                            "Quantity": 1,
                            "BaseAmountValue": 100.0,
                            "AccountNumber": 1000,
                            "Unit": "parts",
                        }
                    ],
                },
            )
            booked = client.post_json(
                f"/v1/{A}/invoices/{draft['Guid']}/book", {"Timestamp": draft["TimeStamp"]}
            )
            stamp = booked["TimeStamp"]
            for amount, fee in payments:
                body = {
                    "Timestamp": stamp,
                    "Amount": amount,
                    "DepositAccountNumber": 55000,
                    "Description": "Bank",
                    "RemainderIsFee": fee,
                }
                stamp = client.post_json(f"/v1/{A}/invoices/{draft['Guid']}/payments", body)["TimeStamp"]
            made[name] = draft["Guid"]
    status = {i["Guid"]: i["PaymentStatus"] for i in sandbox.dump(A, "invoices")}
    assert (status[made["twice"]], status[made["fee"]]) == ("OverPaid", "Paid")
    target_config = {
        **sandbox_settings,
        **{k: recipe[k] for k in ("streams", "stream_maps")},
        "organization_id": B,
        "quota_requests": 100_000,
        "rejects_file": str(tmp_path / "rejects.jsonl"),
        "ledger_file": str(tmp_path / "ledger.jsonl"),
        "max_rejects": 10,
    }
    for _ in range(2):
        tapped = run_tap(tap_config, streams=COPY_STREAMS)
        assert tapped.error is None
        run = run_target(sandbox, target_config, tapped.messages)
        assert run.error is None, run.stderr
    mine = [
        r
        for r in read_rejects(tmp_path / "rejects.jsonl")
        if r["record"].get("InvoiceGuid") in made.values() or r["record"].get("Guid") in made.values()
    ]
    assert mine == []
    b = {str(i.get("ExternalReference")): i for i in live(sandbox.dump(B, "invoices"))}
    twice, fee = b[f"dinero:{A}:{made['twice']}"], b[f"dinero:{A}:{made['fee']}"]
    assert twice["PaymentStatus"] == "OverPaid"
    paid = _payment_sums(sandbox, B)
    assert paid[twice["Guid"].lower()] == Decimal("250.00") and paid[fee["Guid"].lower()] == Decimal("87.50")
