"""Invoice payments and refunds (credit notes): registered exactly once, statuses as Dinero computes them,
requests per object counted from the sandbox log."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.harness import (
    CLEARING,
    ORDERS,
    ORG,
    PAYMENTS,
    REFUNDS,
    by_reference,
    config_rejects,
    credit_notes_for,
    invoices_by_reference,
    live_payments,
    make_target_config,
    read_rejects,
    run_target,
    shop_order,
    shop_streams,
)
from tests.harness import stream_messages as msgs
from tests.sandbox.conftest import Api, api_key_token


def order(n: int, **over: Any) -> dict[str, Any]:
    """Order ``n`` (PAY-n, customer kunde{n}@example.dk, 125.00 incl. VAT)."""
    return shop_order(n, "PAY", "kunde", **over)


def invoices(sandbox: Any) -> dict[str, dict[str, Any]]:
    return invoices_by_reference(sandbox, "PAY-")


@pytest.fixture
def config(sandbox_settings: dict[str, Any], tmp_path: Any) -> dict[str, Any]:
    return make_target_config(sandbox_settings, tmp_path, shop_streams())


def test_payments_on_an_invoice_record_are_registered_once_and_make_it_paid(
    sandbox: Any, config: dict[str, Any]
) -> None:
    rows = [
        order(n, Payments=[{"Amount": 100.0, "PaymentDate": "2026-11-03"}, {"Amount": 25.0}])
        for n in range(1, 21)
    ]
    first = run_target(sandbox, config, msgs(ORDERS, rows))
    assert first.error is None, first.stderr
    held = invoices(sandbox)
    assert len(held) == 20 and {r["PaymentStatus"] for r in held.values()} == {"Paid"}
    pays = live_payments(sandbox, held["PAY-1"]["Guid"])
    assert sorted(p["ExternalReference"] for p in pays) == ["PAY-1/payment/1", "PAY-1/payment/2"]
    payment_posts = [r for r in first.writes if r["path"].endswith("/payments")]
    assert len(payment_posts) == 40
    # a payment on an invoice booked in the same run costs its POST and nothing else
    payment_reads = [r for r in first.api_requests if "/payments" in r["path"] and r["method"] == "GET"]
    assert payment_reads == []

    again = run_target(sandbox, config, msgs(ORDERS, rows))
    assert again.error is None, again.stderr
    assert again.writes == []
    assert again.counts(ORDERS).get("payment_exists") == 40
    assert all(len(live_payments(sandbox, r["Guid"])) == 2 for r in invoices(sandbox).values())


def test_invoice_payment_records_reconcile_after_a_lost_answer_and_create_the_clearing_account(
    sandbox: Any, config: dict[str, Any]
) -> None:
    first = run_target(sandbox, config, msgs(ORDERS, [order(n) for n in range(1, 4)]))
    assert first.error is None, first.stderr
    sandbox.set_fault("commit_then_500", count=1, path_contains="/payments", method="POST")
    payments = [
        {
            "id": f"ch_{n}",
            "InvoiceExternalReference": f"PAY-{n}",
            "Amount": 122.5,
            "RemainderIsFee": True,
            "PaymentDate": "2026-11-04",
            "Description": "Stripe payout",
        }
        for n in range(1, 4)
    ]
    second = run_target(sandbox, config, msgs(PAYMENTS, payments))
    assert second.error is None, second.stderr
    held = invoices(sandbox)
    for n in range(1, 4):
        pays = live_payments(sandbox, held[f"PAY-{n}"]["Guid"])
        assert len(pays) == 1, pays  # the lost answer was looked up, not paid twice
        assert pays[0]["DepositAccountNumber"] == CLEARING and pays[0]["RemainderIsFee"] is True
        assert held[f"PAY-{n}"]["PaymentStatus"] == "Paid"  # 2.50 card fee written off
    deposit = [a for a in sandbox.dump(ORG, "accounts") if a.get("AccountNumber") == CLEARING]
    assert len(deposit) == 1
    # invoices from an earlier run: GET invoice (Timestamp) + GET payments + POST, at most 3 per payment
    # (plus the run's shared look-ups: invoice index, deposit accounts, the lost answer's re-read)
    per_invoice = [r for r in second.api_requests if "/invoices/" in r["path"]]
    # 3 per payment + the lost answer's re-read (GET invoice + GET payments); the POST is not resent
    assert len(per_invoice) == 3 * 3 + 2, [r["path"] for r in per_invoice]
    assert len([r for r in second.writes if r["path"].endswith("/payments")]) == 3

    third = run_target(sandbox, config, msgs(PAYMENTS, payments))
    assert third.error is None and third.writes == []
    assert third.counts(PAYMENTS) == {"unchanged": 3}


def test_payment_records_are_validated_before_any_request(sandbox: Any, config: dict[str, Any]) -> None:
    bad = [
        {"id": "a", "InvoiceExternalReference": "PAY-1", "Amount": -5},
        {"id": "b", "Amount": 10},
        {"id": "c", "InvoiceExternalReference": "PAY-1", "Amount": 10.001},
        {"id": "d", "InvoiceExternalReference": "PAY-1", "Amount": 10, "PaymentDate": "2026-13-40"},
    ]
    result = run_target(sandbox, {**config, "max_rejects": 10}, msgs(PAYMENTS, bad))
    assert result.error is None, result.stderr
    reasons = [r["reason"] for r in config_rejects(config)]
    assert result.api_requests == [], reasons
    assert len(reasons) == 4 and "positive" in reasons[0] and "InvoiceExternalReference" in reasons[1]


def test_refunds_full_and_partial_credit_notes_booked_and_paid_back_once(
    sandbox: Any, config: dict[str, Any]
) -> None:
    rows = [order(n, Payments=[{"Amount": 125.0}]) for n in range(1, 22)]
    assert run_target(sandbox, config, msgs(ORDERS, rows)).error is None
    refunds = [{"id": f"re_{n}", "InvoiceExternalReference": f"PAY-{n}", "Book": True} for n in range(1, 21)]
    partial = {
        "id": "re_partial",
        "InvoiceExternalReference": "PAY-21",
        "Book": True,
        "ProductLines": [
            {"Description": "Te (returneret)", "Quantity": 1, "BaseAmountValue": 40.0, "AccountNumber": 1000}
        ],
        "Payment": {"Amount": 50.0, "PaymentDate": "2026-11-05"},
    }
    first = run_target(sandbox, config, msgs(REFUNDS, [*refunds, partial]))
    assert first.error is None, first.stderr
    notes = [n for n in sandbox.dump(ORG, "creditnotes") if not n.get("DeletedAt")]
    held = invoices(sandbox)
    by_invoice: dict[str, list[dict[str, Any]]] = {}
    for note in notes:
        by_invoice.setdefault(str(note.get("CreditNoteFor")).lower(), []).append(note)
    for n in range(1, 22):
        mine = by_invoice.get(held[f"PAY-{n}"]["Guid"].lower(), [])
        assert len(mine) == 1 and mine[0]["Status"] != "Draft", (n, mine)
    partial_note = by_invoice[held["PAY-21"]["Guid"].lower()][0]
    assert partial_note["TotalInclVat"] == pytest.approx(50.0)
    assert (
        partial_note["ExternalReference"] == "order_refunds-re_partial" or partial_note["ExternalReference"]
    )
    assert len(live_payments(sandbox, partial_note["Guid"])) == 1
    # full credit note generated and booked: generate + book, nothing else per note; the partial one costs
    # GET invoice + POST + book + POST payment; shared per run: invoice and credit-note listings, accounts
    generate_and_book = [
        r
        for r in first.api_requests
        if r["path"].endswith("/generate-creditnote") or r["path"].endswith("/book")
    ]
    assert len(generate_and_book) == 20 * 2 + 1
    listings = {
        f"/v1/{ORG}/{p}"
        # vatTypes: once per run, to compute a partial note's total (never more than the invoice)
        for p in ("invoices", "sales/creditnotes", "accounts/entry", "accounts/deposit", "vatTypes")
    }
    shared = [r for r in first.api_requests if r["method"] == "GET" and r["path"] in listings]
    assert len(first.api_requests) == 20 * 2 + 4 + len(shared), [r["path"] for r in first.api_requests]
    assert (
        len(shared) <= 5
    )  # 1 request per 1 000 invoices/credit notes, accounts and VAT types once: <= 0.05 per note at scale

    again = run_target(sandbox, config, msgs(REFUNDS, [*refunds, partial]))
    assert again.error is None, again.stderr
    assert again.writes == []
    assert len([n for n in sandbox.dump(ORG, "creditnotes") if not n.get("DeletedAt")]) == len(notes)


def test_a_lost_generate_answer_is_looked_up_not_generated_twice(
    sandbox: Any, config: dict[str, Any]
) -> None:
    assert run_target(sandbox, config, msgs(ORDERS, [order(1)])).error is None
    sandbox.set_fault("commit_then_500", count=1, path_contains="/generate-creditnote", method="POST")
    refund = [{"id": "re_1", "InvoiceExternalReference": "PAY-1", "Book": True}]
    result = run_target(sandbox, config, msgs(REFUNDS, refund))
    assert result.error is None, result.stderr
    mine = credit_notes_for(sandbox, invoices(sandbox)["PAY-1"]["Guid"])
    assert len(mine) == 1 and mine[0]["Status"] == "Booked"
    assert invoices(sandbox)["PAY-1"]["PaymentStatus"] in ("Paid", "Booked")


def test_dry_run_plans_payments_and_refunds_without_writing(sandbox: Any, config: dict[str, Any]) -> None:
    rows = [order(1, Payments=[{"Amount": 125.0}])]
    result = run_target(sandbox, {**config, "dry_run": True}, msgs(ORDERS, rows))
    assert result.error is None, result.stderr
    assert result.writes == []
    assert '"action": "pay"' in result.stderr


def mailouts_of(sandbox: Any, guid: str) -> list[dict[str, Any]]:
    return [m for m in sandbox.dump(ORG, "mailouts") if m.get("VoucherGuid") == guid.lower()]


def test_invoices_are_emailed_after_booking_once_even_after_a_lost_answer_and_reruns(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Any
) -> None:
    config = make_target_config(
        sandbox_settings,
        tmp_path,
        shop_streams(**{ORDERS: {"load_as": "invoice", "book": True, "send": "email"}}),
    )
    rows = [order(n, Payments=[{"Amount": 125.0, "DepositAccountNumber": 55000}]) for n in range(1, 4)]
    rows.append(order(4, Send=False))
    sandbox.set_fault("commit_then_500", count=1, path_contains="/email", method="POST")
    first = run_target(sandbox, config, msgs(ORDERS, rows))
    assert first.error is None, first.stderr
    held = invoices(sandbox)
    for n in range(1, 4):
        sent = mailouts_of(sandbox, held[f"PAY-{n}"]["Guid"])
        assert [m["Type"] for m in sent] == ["Mailout"], sent
        assert sent[0]["Receiver"] == f"kunde{n}@example.dk"
    assert mailouts_of(sandbox, held["PAY-4"]["Guid"]) == []
    assert first.counts(ORDERS)["sent"] == 3

    again = run_target(sandbox, config, msgs(ORDERS, rows))
    assert again.error is None, again.stderr
    assert again.writes == [] and again.counts(ORDERS)["already_sent"] == 3
    assert all(len(mailouts_of(sandbox, held[f"PAY-{n}"]["Guid"])) == 1 for n in range(1, 4))


def test_an_invoice_texted_by_sms_in_dinero_is_still_emailed_once(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Any
) -> None:
    """Dinero lists an invoice's SMS among its mailouts (``includeSms`` defaults to true), as a ``Mailout``
    flagged ``IsSmsMessage``: that is no e-mail, so the invoice is e-mailed -- once."""
    booked = make_target_config(sandbox_settings, tmp_path, shop_streams())
    assert run_target(sandbox, booked, msgs(ORDERS, [order(1)])).error is None
    invoice = invoices(sandbox)["PAY-1"]
    api = Api(sandbox, api_key_token(sandbox))
    timestamp = api.get(f"/v1/{{org}}/invoices/{invoice['Guid']}").json()["TimeStamp"]
    texted = {"ReceiverPhoneNumber": "+45 20 30 40 50", "ReceiverName": "Kunde 1", "Timestamp": timestamp}
    assert api.post(f"/v1/{{org}}/sms/{invoice['Guid']}/send-sms", {**texted, "IsReminder": False}).ok
    config = make_target_config(
        sandbox_settings,
        tmp_path,
        shop_streams(**{ORDERS: {"load_as": "invoice", "book": True, "send": "email"}}),
    )

    first = run_target(sandbox, config, msgs(ORDERS, [order(1)]))
    again = run_target(sandbox, config, msgs(ORDERS, [order(1)]))

    assert first.error is None and again.error is None, first.stderr + again.stderr
    sent = [(m["Type"], m["IsSmsMessage"]) for m in mailouts_of(sandbox, invoice["Guid"])]
    assert sent == [("Mailout", True), ("Mailout", False)]
    assert first.counts(ORDERS)["sent"] == 1 and again.counts(ORDERS)["already_sent"] == 1


def test_sending_an_invoice_that_is_not_booked_is_refused_before_any_request(
    sandbox: Any, config: dict[str, Any]
) -> None:
    result = run_target(
        sandbox, {**config, "max_rejects": 5}, msgs(ORDERS, [order(1, Book=False, Send="email")])
    )
    assert result.error is None, result.stderr
    assert result.writes == []
    assert "booked" in config_rejects(config)[0]["reason"]


def test_an_invoice_paid_in_full_by_other_payments_is_not_paid_again(
    sandbox: Any, config: dict[str, Any]
) -> None:
    assert run_target(sandbox, config, msgs(ORDERS, [order(1)])).error is None
    by_hand = [
        {"id": "manual", "InvoiceExternalReference": "PAY-1", "Amount": 125.0, "DepositAccountNumber": 55000}
    ]
    assert run_target(sandbox, config, msgs(PAYMENTS, by_hand)).error is None
    other = [
        {
            "id": "ch_other",
            "InvoiceExternalReference": "PAY-1",
            "Amount": 125.0,
            "DepositAccountNumber": 55000,
        }
    ]
    result = run_target(sandbox, {**config, "max_rejects": 1}, msgs(PAYMENTS, other))
    assert result.error is None, result.stderr
    assert [r for r in result.writes if r["path"].endswith("/payments")] == []
    assert len(live_payments(sandbox, invoices(sandbox)["PAY-1"]["Guid"])) == 1
    assert "already fully paid" in config_rejects(config)[-1]["reason"]


def test_a_generated_credit_note_without_the_invoices_reference_is_found_through_the_journal(
    sandbox: Any, config: dict[str, Any]
) -> None:
    """Should Dinero not copy the invoice's ExternalReference into a generated credit note, a re-run must
    still find the note (the Guid the generate answer gave is journaled) and not credit the invoice twice."""
    assert run_target(sandbox, config, msgs(ORDERS, [order(1)])).error is None
    refund = [{"id": "re_1", "InvoiceExternalReference": "PAY-1", "Book": False}]
    assert run_target(sandbox, config, msgs(REFUNDS, refund)).error is None
    guid = invoices(sandbox)["PAY-1"]["Guid"].lower()
    (note,) = [n for n in sandbox.dump(ORG, "creditnotes") if str(n.get("CreditNoteFor")).lower() == guid]
    sandbox.mutate(ORG, "creditnotes", "update", note["Guid"], {"ExternalReference": None})

    again = run_target(sandbox, config, msgs(REFUNDS, [{**refund[0], "Book": True}]))
    assert again.error is None, again.stderr
    mine = credit_notes_for(sandbox, guid)
    assert len(mine) == 1 and mine[0]["Status"] == "Booked"
    assert not [r for r in again.writes if r["path"].endswith("/generate-creditnote")]


def test_dry_run_of_payment_and_refund_records_reads_but_never_writes(
    sandbox: Any, config: dict[str, Any]
) -> None:
    assert run_target(sandbox, config, msgs(ORDERS, [order(1), order(2)])).error is None
    payments = [
        {"id": "ch_1", "InvoiceExternalReference": "PAY-1", "Amount": 125.0, "DepositAccountNumber": 55000}
    ]
    refunds = [
        {"id": "re_2", "InvoiceExternalReference": "PAY-2", "Book": True, "Payment": {"Amount": 125.0}}
    ]
    result = run_target(
        sandbox, {**config, "dry_run": True}, msgs(PAYMENTS, payments) + msgs(REFUNDS, refunds)
    )
    assert result.error is None, result.stderr
    assert result.writes == []
    assert '"action": "pay"' in result.stderr and '"load_as": "sales_credit_note"' in result.stderr
    assert result.counts(PAYMENTS) == {"would_pay": 1}  # once: planned, not counted twice


def test_einvoice_is_sent_once_to_a_contact_with_an_ean(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Any
) -> None:
    config = make_target_config(
        sandbox_settings, tmp_path, {ORDERS: {"load_as": "invoice", "book": True, "send": "einvoice"}}
    )
    row = order(
        1,
        Contact={"Name": "Region Nord", "EanNumber": "5798000000001", "CountryKey": "DK", "IsPerson": False},
    )
    for _ in range(2):
        result = run_target(sandbox, config, msgs(ORDERS, [row]))
        assert result.error is None, result.stderr
    sent = mailouts_of(sandbox, invoices(sandbox)["PAY-1"]["Guid"])
    assert [m["Type"] for m in sent] == ["Einvoice"]


def test_payments_on_invoices_the_target_did_not_create_are_found_by_reference_once(
    sandbox: Any, config: dict[str, Any]
) -> None:
    """Invoices made elsewhere (the seed's web-shop invoices) do not carry the target's Guid: the look-up
    by that Guid misses once, then the run's invoice index finds them; each payment is registered once."""
    unpaid = [
        i
        for i in by_reference(sandbox.dump(ORG, "invoices"), "WEBSHOP-")
        if i["Status"] == "Booked" and i["PaymentStatus"] in ("Booked", "Overdue") and i["Currency"] == "DKK"
    ][:3]
    assert len(unpaid) == 3
    rows = [
        {"id": f"w{n}", "InvoiceExternalReference": i["ExternalReference"], "Amount": 10.0}
        for n, i in enumerate(unpaid)
    ]

    first = run_target(sandbox, config, msgs(PAYMENTS, rows))
    again = run_target(sandbox, config, msgs(PAYMENTS, rows))

    assert first.error is None and again.error is None, first.stderr + again.stderr
    assert first.counts(PAYMENTS)["paid"] == 3 and again.counts(PAYMENTS) == {"unchanged": 3}
    assert again.writes == []
    for invoice in unpaid:
        assert [p["AmountInVoucherCurrency"] for p in live_payments(sandbox, invoice["Guid"])][-1:] == [10.0]
    own_guid_reads = [
        r
        for r in first.api_requests
        if r["method"] == "GET" and re.fullmatch(r"/v1/\d+/invoices/[0-9a-f-]{36}", r["path"])
    ]
    # one miss by the target's own Guid, then the index; the three invoices' own GETs for their Timestamp
    assert len(own_guid_reads) == 1 + 3


def test_a_partial_credit_note_deleted_in_dinero_is_created_again_not_refused_as_guid_taken(
    sandbox: Any, config: dict[str, Any], tmp_path: Any
) -> None:
    """A credit note with its own lines carries a Guid derived from its reference; a draft copy someone
    deleted in Dinero keeps that Guid, so Dinero refuses the same Guid again. The re-run creates the note
    once more (a server-chosen Guid) instead of rejecting it -- as it does for an invoice -- and a further
    run writes nothing."""
    config["streams"][REFUNDS]["book"] = False
    config["max_rejects"] = 5
    assert run_target(sandbox, config, msgs(ORDERS, [order(1)])).error is None
    partial = {
        "id": "re_partial",
        "InvoiceExternalReference": "PAY-1",
        "ProductLines": [
            {"Description": "Te (returneret)", "Quantity": 1, "BaseAmountValue": 40.0, "AccountNumber": 1000}
        ],
    }
    assert run_target(sandbox, config, msgs(REFUNDS, [partial])).error is None
    guid = invoices(sandbox)["PAY-1"]["Guid"].lower()

    def notes() -> list[dict[str, Any]]:
        return credit_notes_for(sandbox, guid)

    [first] = notes()
    sandbox.mutate(ORG, "creditnotes", "delete", first["Guid"])

    again = run_target(sandbox, config, msgs(REFUNDS, [partial]))

    assert again.error is None, again.stderr
    assert read_rejects(tmp_path / "rejects.jsonl") == []
    [second] = notes()
    assert second["TotalExclVat"] == pytest.approx(40.0)
    third = run_target(sandbox, config, msgs(REFUNDS, [partial]))
    assert third.error is None and third.writes == []
    assert len(notes()) == 1


def test_a_credit_note_booked_and_paid_back_by_another_run_meanwhile_is_not_paid_back_twice(
    sandbox: Any, config: dict[str, Any], tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs copy the same refund (two workers, two Meltano projects): between this run's look-up of the
    draft note and its book call the other run books the note and pays the refund. Dinero refuses this
    run's book (stale Timestamp, or "already booked"); the note is then booked, but not by this run, so
    its payments are read before paying: one refund, no reject."""
    from dinero_api.client import DineroClient
    from dinero_api.settings import DineroSettings
    from target_dinero.gateway import DineroGateway

    config["max_rejects"] = 5
    assert run_target(sandbox, config, msgs(ORDERS, [order(1, Payments=[{"Amount": 125.0}])])).error is None
    partial = {
        "id": "re_partial",
        "InvoiceExternalReference": "PAY-1",
        "ProductLines": [
            {"Description": "Te (returneret)", "Quantity": 1, "BaseAmountValue": 40.0, "AccountNumber": 1000}
        ],
    }
    config["streams"][REFUNDS]["book"] = False
    assert run_target(sandbox, config, msgs(REFUNDS, [partial])).error is None  # the draft note
    config["streams"][REFUNDS]["book"] = True
    invoice = invoices(sandbox)["PAY-1"]["Guid"].lower()
    [note] = [n for n in sandbox.dump(ORG, "creditnotes") if str(n.get("CreditNoteFor")).lower() == invoice]
    other = DineroClient(DineroSettings.from_config(config))
    post = DineroGateway.post
    done: list[str] = []

    def other_run_first(self: Any, path: str, payload: Any, **kwargs: Any) -> Any:
        if path.endswith(f"/sales/creditnotes/{note['Guid']}/book") and not done:
            done.append(path)
            fresh = other.get_json(f"/v1/{{org}}/sales/creditnotes/{note['Guid']}")
            booked = other.post_json(
                f"/v1/{{org}}/sales/creditnotes/{note['Guid']}/book", {"Timestamp": fresh["TimeStamp"]}
            )
            other.post_json(
                f"/v1/{{org}}/sales/creditnotes/{note['Guid']}/payments",
                {
                    "Timestamp": booked["TimeStamp"],
                    "DepositAccountNumber": 55000,
                    "ExternalReference": "order_refunds:re_partial/refund",  # the target's own
                    "PaymentDate": "2026-11-05",  # as the record says: the other run's copy of it
                    "Description": "Refusion",
                    "Amount": 50.0,
                    "RemainderIsFee": False,
                },
            )
        return post(self, path, payload, **kwargs)

    monkeypatch.setattr(DineroGateway, "post", other_run_first)
    refund = {**partial, "Payment": {"Amount": 50.0, "PaymentDate": "2026-11-05"}}

    result = run_target(sandbox, config, msgs(REFUNDS, [refund]))

    assert done, "the book call was reached"
    assert result.error is None, result.stderr
    assert read_rejects(tmp_path / "rejects.jsonl") == []
    assert [n["Status"] for n in sandbox.dump(ORG, "creditnotes") if n["Guid"] == note["Guid"]] == ["Booked"]
    assert [p["ExternalReference"] for p in live_payments(sandbox, note["Guid"])] == [
        "order_refunds:re_partial/refund"
    ]


@pytest.mark.parametrize("kind", [None, "None", "FutureSendKind"])
def test_an_invoice_with_a_mailout_of_a_type_the_spec_does_not_name_is_not_emailed_again(
    sandbox: Any,
    sandbox_settings: dict[str, Any],
    tmp_path: Any,
    kind: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A mailout Dinero lists with no type, ``None`` or a type its spec does not name cannot be told from
    an e-mail: the customer may already have it, and a second e-mail cannot be taken back, so the invoice
    is counted ``already_sent`` (with a warning naming it), not e-mailed again. SMS and the spec's other
    kinds (an e-invoice) still do not count as an e-mail."""
    booked = make_target_config(sandbox_settings, tmp_path, shop_streams())
    assert run_target(sandbox, booked, msgs(ORDERS, [order(1), order(2)])).error is None
    held = invoices(sandbox)
    sandbox.mutate(
        ORG,
        "mailouts",
        "create",
        fields={"VoucherGuid": held["PAY-1"]["Guid"].lower(), "Type": kind, "IsSmsMessage": False},
    )
    sandbox.mutate(
        ORG,
        "mailouts",
        "create",
        fields={"VoucherGuid": held["PAY-2"]["Guid"].lower(), "Type": "Einvoice", "IsSmsMessage": False},
    )
    config = make_target_config(
        sandbox_settings,
        tmp_path,
        shop_streams(**{ORDERS: {"load_as": "invoice", "book": True, "send": "email"}}),
    )

    result = run_target(sandbox, config, msgs(ORDERS, [order(1), order(2)]))

    assert result.error is None, result.stderr
    assert result.counts(ORDERS)["already_sent"] == 1 and result.counts(ORDERS)["sent"] == 1
    assert [m["Type"] for m in mailouts_of(sandbox, held["PAY-1"]["Guid"])] == [kind]
    assert sorted(m["Type"] for m in mailouts_of(sandbox, held["PAY-2"]["Guid"])) == ["Einvoice", "Mailout"]
    assert any("which Dinero's spec does not name" in r.getMessage() for r in caplog.records)
