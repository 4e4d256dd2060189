"""Attacks from outside the suite: identities whose content changed, amounts Dinero would round, refunds
that exceed what was invoiced, refusals repeated per record. Each test names the promise it holds."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.harness import (
    ORDERS,
    ORG,
    PAYMENTS,
    REFUNDS,
    config_rejects,
    credit_notes_for,
    invoices_by_reference,
    live,
    live_payments,
    make_target_config,
    run_target,
    shop_order,
    shop_streams,
    wait_until,
)
from tests.harness import stream_messages as msgs


def order(n: int, **over: Any) -> dict[str, Any]:
    """Order ``n`` (ADV-n, 125.00 incl. VAT)."""
    return shop_order(n, "ADV", "adv", **over)


def invoices(sandbox: Any) -> dict[str, dict[str, Any]]:
    return invoices_by_reference(sandbox, "ADV-")


rejects = config_rejects


@pytest.fixture
def config(sandbox_settings: dict[str, Any], tmp_path: Any) -> dict[str, Any]:
    return make_target_config(sandbox_settings, tmp_path, shop_streams(), max_rejects=100)


def test_a_payment_whose_amount_changed_upstream_is_rejected_not_counted_as_there(
    sandbox: Any, config: dict[str, Any]
) -> None:
    assert run_target(sandbox, config, msgs(ORDERS, [order(1)])).error is None
    pay = {"id": "ch_1", "InvoiceExternalReference": "ADV-1", "Amount": 100.0, "PaymentDate": "2026-11-04"}
    first = run_target(sandbox, config, msgs(PAYMENTS, [pay]))
    assert first.error is None, first.stderr
    changed = run_target(sandbox, config, msgs(PAYMENTS, [{**pay, "Amount": 125.0}]))
    assert changed.error is None, changed.stderr
    held = live_payments(sandbox, invoices(sandbox)["ADV-1"]["Guid"])
    assert [p["Amount"] for p in held] == [100.0]
    reasons = [r["reason"] for r in rejects(config)]
    assert len(reasons) == 1 and "125" in reasons[0] and "100" in reasons[0], reasons
    assert changed.counts(PAYMENTS).get("unchanged") is None


def test_payments_on_an_order_reordered_upstream_are_not_paid_twice(
    sandbox: Any, config: dict[str, Any]
) -> None:
    a, b = {"Amount": 100.0}, {"Amount": 25.0}
    assert run_target(sandbox, config, msgs(ORDERS, [order(2, Payments=[a])])).error is None
    again = run_target(sandbox, config, msgs(ORDERS, [order(2, Payments=[b, a])]))
    assert again.error is None, again.stderr
    held = live_payments(sandbox, invoices(sandbox)["ADV-2"]["Guid"])
    # never 100 twice: what Dinero holds is a subset of the input's payments, each once
    amounts = sorted(p["Amount"] for p in held)
    assert amounts.count(100.0) == 1, amounts


def test_a_foreign_amount_with_a_fraction_of_a_cent_is_rejected(sandbox: Any, config: dict[str, Any]) -> None:
    assert run_target(sandbox, config, msgs(ORDERS, [order(3, Currency="EUR")])).error is None
    pay = {
        "id": "fx_1",
        "InvoiceExternalReference": "ADV-3",
        "Amount": 700.0,
        "AmountInForeignCurrency": 93.755,
    }
    result = run_target(sandbox, config, msgs(PAYMENTS, [pay]))
    assert result.error is None, result.stderr
    held = live_payments(sandbox, invoices(sandbox)["ADV-3"]["Guid"])
    assert held == [], held
    assert any("AmountInForeignCurrency" in (r.get("field") or "") for r in rejects(config))


def test_payments_on_a_foreign_invoice_without_foreign_amount_do_not_provoke_a_400_each(
    sandbox: Any, config: dict[str, Any]
) -> None:
    assert (
        run_target(sandbox, config, msgs(ORDERS, [order(n, Currency="EUR") for n in range(4, 9)])).error
        is None
    )
    pays = [{"id": f"eu_{n}", "InvoiceExternalReference": f"ADV-{n}", "Amount": 700.0} for n in range(4, 9)]
    result = run_target(sandbox, config, msgs(PAYMENTS, pays))
    refused = [r for r in result.api_requests if 400 <= int(r.get("status") or 0) < 500]
    assert refused == [], [(r["method"], r["path"], r.get("status")) for r in refused]
    assert len(rejects(config)) == 5


def test_a_full_refund_after_a_partial_one_does_not_credit_more_than_the_invoice(
    sandbox: Any, config: dict[str, Any]
) -> None:
    assert run_target(sandbox, config, msgs(ORDERS, [order(10)])).error is None
    partial = {
        "id": "re_1",
        "InvoiceExternalReference": "ADV-10",
        "ProductLines": [
            {"Description": "Te", "Quantity": 1, "BaseAmountValue": 40.0, "AccountNumber": 1000}
        ],
    }
    full = {"id": "re_2", "InvoiceExternalReference": "ADV-10"}
    result = run_target(sandbox, config, msgs(REFUNDS, [partial, full]))
    assert result.error is None, result.stderr
    notes = credit_notes_for(sandbox, invoices(sandbox)["ADV-10"]["Guid"])
    total = sum(float(n.get("TotalInclVat") or 0) for n in notes)
    assert total <= 125.0, [(n.get("ExternalReference"), n.get("TotalInclVat")) for n in notes]


def test_partial_refunds_that_together_exceed_the_invoice_are_not_all_made(
    sandbox: Any, config: dict[str, Any]
) -> None:
    assert run_target(sandbox, config, msgs(ORDERS, [order(11)])).error is None
    line = {"Description": "Te", "Quantity": 1, "BaseAmountValue": 60.0, "AccountNumber": 1000}
    refunds = [
        {"id": f"rp_{k}", "InvoiceExternalReference": "ADV-11", "ProductLines": [line]} for k in range(2)
    ]
    result = run_target(sandbox, config, msgs(REFUNDS, refunds))
    assert result.error is None, result.stderr
    notes = credit_notes_for(sandbox, invoices(sandbox)["ADV-11"]["Guid"])
    total = sum(float(n.get("TotalInclVat") or 0) for n in notes)
    assert total <= 125.0, [(n.get("ExternalReference"), n.get("TotalInclVat")) for n in notes]


def postings(count: int, base: int, unknown_file: bool = False) -> list[dict[str, Any]]:
    """``count`` ledger-item / manual-voucher records ``id`` 0.., each posting ``base + id`` from account
    55000 against 1000; ``unknown_file`` attaches to each a FileGuid Dinero does not hold (refused)."""
    rows: list[dict[str, Any]] = []
    for n in range(count):
        row: dict[str, Any] = {"id": n, "VoucherDate": "2026-11-02"}
        if unknown_file:
            row["FileGuid"] = f"0f0f0f0f-0000-4000-8000-{n:012d}"
        row["Lines"] = [{"AccountNumber": 55000, "BalancingAccountNumber": 1000, "Amount": base + n}]
        rows.append(row)
    return rows


def _refused(result: Any) -> list[dict[str, Any]]:
    return [
        r for r in result.api_requests if 400 <= int(r.get("status") or 0) < 500 and r.get("status") != 429
    ]


def test_ledger_items_dinero_refuses_stop_the_run_instead_of_a_400_per_item(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Any
) -> None:
    """Dinero revokes integrations that cause many 400s: a refusal that repeats (here a FileGuid Dinero
    does not know, which cannot be checked locally) stops the run after a few, with the reason."""
    config = make_target_config(
        sandbox_settings, tmp_path, {"z": {"load_as": "ledger_item"}}, max_rejects=1000
    )
    items = postings(40, 10, unknown_file=True)
    result = run_target(sandbox, config, msgs("z", items))
    assert len(_refused(result)) <= 11, len(_refused(result))
    assert result.error is not None and "refused" in str(result.error).lower()
    assert result.states == []  # no STATE covers the records not tried


def test_manual_vouchers_dinero_refuses_stop_the_run_instead_of_a_400_per_record(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Any
) -> None:
    config = make_target_config(
        sandbox_settings, tmp_path, {"mv": {"load_as": "manual_voucher"}}, max_rejects=1000
    )
    vouchers = postings(40, 10, unknown_file=True)
    result = run_target(sandbox, config, msgs("mv", vouchers))
    assert len(_refused(result)) <= 10, [(r["method"], r["path"]) for r in _refused(result)]
    assert result.error is not None
    assert result.states == []


def test_a_kassekladde_item_whose_amount_changed_upstream_is_rejected_not_counted_as_there(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Any
) -> None:
    config = make_target_config(sandbox_settings, tmp_path, {"z": {"load_as": "ledger_item"}}, max_rejects=10)
    item = {
        "register": "KASSE-1",
        "id": "2026-11-02",
        "VoucherDate": "2026-11-02",
        "Lines": [{"AccountNumber": 55000, "BalancingAccountNumber": 1000, "Amount": 1250.0}],
    }
    assert run_target(sandbox, config, msgs("z", [item])).error is None
    changed = {**item, "Lines": [{**item["Lines"][0], "Amount": 1300.0}]}
    again = run_target(sandbox, config, msgs("z", [changed]))
    assert again.error is None, again.stderr
    reasons = [r["reason"] for r in rejects(config)]
    assert len(reasons) == 1 and "1300" in reasons[0], reasons
    assert again.counts("z").get("unchanged") is None
    # the same input again: recognised as it is, nothing rejected or written
    same = run_target(sandbox, config, msgs("z", [item]))
    reads_as_posts = ("/ledgeritems/ledgers", "/ledgeritems/status")  # reads Dinero serves as POST
    assert [w for w in same.writes if not w["path"].endswith(reads_as_posts)] == []
    assert same.counts("z").get("unchanged") == 1 and len(rejects(config)) == 1


def test_a_partial_refund_whose_lines_changed_upstream_is_rejected_not_counted_as_there(
    sandbox: Any, config: dict[str, Any]
) -> None:
    assert run_target(sandbox, config, msgs(ORDERS, [order(12)])).error is None
    line = {"Description": "Te", "Quantity": 1, "BaseAmountValue": 40.0, "AccountNumber": 1000}
    refund = {"id": "rc_1", "InvoiceExternalReference": "ADV-12", "ProductLines": [line]}
    first = run_target(sandbox, config, msgs(REFUNDS, [refund]))
    assert first.error is None and first.counts(REFUNDS).get("created") == 1, first.stderr
    changed = {**refund, "ProductLines": [{**line, "BaseAmountValue": 60.0}]}
    again = run_target(sandbox, config, msgs(REFUNDS, [changed]))
    assert again.error is None, again.stderr
    reasons = [r["reason"] for r in rejects(config)]
    assert len(reasons) == 1 and "75" in reasons[0] and "50" in reasons[0], reasons
    assert again.counts(REFUNDS).get("unchanged") is None
    same = run_target(sandbox, config, msgs(REFUNDS, [refund]))
    assert same.writes == [] and same.counts(REFUNDS).get("unchanged") == 1 and len(rejects(config)) == 1


def test_a_deposit_account_dinero_cannot_create_is_refused_once_not_per_payment(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Any
) -> None:
    config = make_target_config(
        sandbox_settings,
        tmp_path,
        shop_streams(
            **{
                PAYMENTS: {
                    "load_as": "invoice_payment",
                    "deposit_account": 123456,
                    "create_deposit_account": True,
                }
            }
        ),
        max_rejects=100,
    )
    assert run_target(sandbox, config, msgs(ORDERS, [order(n) for n in range(20, 32)])).error is None
    pays = [{"id": f"d_{n}", "InvoiceExternalReference": f"ADV-{n}", "Amount": 125.0} for n in range(20, 32)]
    result = run_target(sandbox, config, msgs(PAYMENTS, pays))
    assert result.error is None, result.stderr
    assert _refused(result) == [], [(r["method"], r["path"]) for r in _refused(result)]
    assert len(rejects(config)) == 12 and all("123456" in r["reason"] for r in rejects(config))


def test_booked_kassekladde_items_after_the_journal_was_lost_are_not_created_again(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Any
) -> None:
    """Dinero cannot list booked items: a re-run without the journal learns of them from the one refused
    create (their Ids are taken), counts them as there, and creates the new item in the same batch."""
    config = make_target_config(
        sandbox_settings, tmp_path, {"z": {"load_as": "ledger_item", "book": True}}, max_rejects=10
    )
    items = postings(5, 100)
    assert run_target(sandbox, config, msgs("z", items)).error is None
    wait_until(
        lambda: all(r.get("Status") == "Booked" for r in live(sandbox.dump(ORG, "ledger_items"))),
        what="the kassekladde items booked",
    )
    for leftover in tmp_path.glob("ledger.*"):
        leftover.unlink()  # the journal is lost
    new = {**items[0], "id": 99, "Lines": [{**items[0]["Lines"][0], "Amount": 999}]}
    again = run_target(sandbox, config, msgs("z", [*items, new]))
    assert again.error is None, again.stderr
    held = live(sandbox.dump(ORG, "ledger_items"))
    assert len(held) == 6, len(held)
    assert rejects(config) == []
    assert len(_refused(again)) <= 1, [(r["method"], r["path"]) for r in _refused(again)]


@pytest.mark.parametrize("mode", ["5xx", "commit_then_500"])
def test_a_lost_kassekladde_create_is_looked_up_without_a_400_per_item(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Any, mode: str
) -> None:
    """After a batch create whose answer was lost, the items are looked up without asking Dinero about
    each Id it does not know (every such question is a 400): created once, nothing refused."""
    config = make_target_config(sandbox_settings, tmp_path, {"z": {"load_as": "ledger_item"}}, max_rejects=10)
    items = postings(30, 100)
    sandbox.set_fault(mode, count=1, path_contains="/v1.2/", method="POST")  # the create, not the reads
    result = run_target(sandbox, config, msgs("z", items))
    assert result.error is None, result.stderr
    assert [f["fired"] for f in sandbox.faults()] == [1], sandbox.faults()
    held = live(sandbox.dump(ORG, "ledger_items"))
    assert len(held) == 30 and rejects(config) == []
    assert _refused(result) == [], len(_refused(result))


def test_a_payment_without_reference_whose_amount_changed_is_rejected_not_paid_again(
    sandbox: Any, config: dict[str, Any]
) -> None:
    assert run_target(sandbox, config, msgs(ORDERS, [order(13, Payments=[{"Amount": 100.0}])])).error is None
    again = run_target(sandbox, config, msgs(ORDERS, [order(13, Payments=[{"Amount": 90.0}])]))
    assert again.error is None, again.stderr
    held = live_payments(sandbox, invoices(sandbox)["ADV-13"]["Guid"])
    assert [p["Amount"] for p in held] == [100.0]
    reasons = [r["reason"] for r in rejects(config)]
    assert len(reasons) == 1 and "90" in reasons[0] and "100" in reasons[0], reasons


def test_a_purchase_draft_whose_amount_changed_upstream_is_neither_counted_as_there_nor_booked(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Any
) -> None:
    streams_ = {"pv": {"load_as": "purchase_voucher", "deposit_account": 55000}}
    config = make_target_config(sandbox_settings, tmp_path, streams_, max_rejects=10)
    bill = {
        "id": "b1",
        "PurchaseType": "cash",
        "VoucherDate": "2026-11-03",
        "Lines": [{"AccountNumber": 2000, "Amount": 250.0, "VatCode": "I25", "Description": "Kontorland"}],
    }
    assert run_target(sandbox, config, msgs("pv", [bill])).error is None  # a draft
    changed = {**bill, "Book": True, "Lines": [{**bill["Lines"][0], "Amount": 300.0}]}
    again = run_target(sandbox, config, msgs("pv", [changed]))
    assert again.error is None, again.stderr
    reasons = [r["reason"] for r in rejects(config)]
    assert len(reasons) == 1, reasons
    assert again.counts("pv").get("unchanged") is None and again.counts("pv").get("booked") is None
    vouchers = [v for v in sandbox.dump(ORG, "purchase_vouchers") if v.get("ExternalReference") == "pv:b1"]
    assert [v.get("Status") for v in vouchers] == ["Draft"], vouchers


def test_a_refund_paid_back_beyond_its_credit_note_is_rejected_before_any_write(
    sandbox: Any, config: dict[str, Any]
) -> None:
    assert run_target(sandbox, config, msgs(ORDERS, [order(14)])).error is None
    refund = {
        "id": "ro_1",
        "InvoiceExternalReference": "ADV-14",
        "ProductLines": [
            {"Description": "Te", "Quantity": 1, "BaseAmountValue": 40.0, "AccountNumber": 1000}
        ],
        "Payment": {"Amount": 80.0},  # the note credits 50.00
    }
    result = run_target(sandbox, config, msgs(REFUNDS, [refund]))
    assert result.error is None, result.stderr
    assert result.writes == [], [(w["method"], w["path"]) for w in result.writes]
    reasons = [r["reason"] for r in rejects(config)]
    assert len(reasons) == 1 and "80" in reasons[0] and "50" in reasons[0], reasons


def test_a_customers_earlier_credit_notes_are_read_once_not_in_every_run_with_a_partial_refund(
    sandbox: Any, config: dict[str, Any]
) -> None:
    """Guest orders booked to one contact: the check that a refund never credits more than its invoice
    needs each earlier note's CreditNoteFor, which never changes; it is read once, then kept."""
    seeded = {n["Guid"] for n in sandbox.dump(ORG, "creditnotes")}
    guest = {"Name": "Gæst", "Email": "guest@example.dk", "CountryKey": "DK"}
    orders = [order(n, Contact=guest) for n in range(40, 46)]
    assert run_target(sandbox, config, msgs(ORDERS, orders)).error is None
    line = {"Description": "Te", "Quantity": 1, "BaseAmountValue": 20.0, "AccountNumber": 1000}

    def refund(n: int) -> dict[str, Any]:
        return {"id": f"rg_{n}", "InvoiceExternalReference": f"ADV-{n}", "ProductLines": [line]}

    def note_reads(result: Any) -> int:
        return sum(
            1
            for r in result.api_requests
            if r["method"] == "GET" and re.fullmatch(r"/v1/\d+/sales/creditnotes/[0-9a-fA-F-]{36}", r["path"])
        )

    first = run_target(sandbox, config, msgs(REFUNDS, [refund(n) for n in range(40, 44)]))
    assert first.error is None, first.stderr
    second = run_target(sandbox, config, msgs(REFUNDS, [refund(44)]))
    assert second.error is None, second.stderr
    third = run_target(sandbox, config, msgs(REFUNDS, [refund(45)]))
    assert third.error is None, third.stderr
    notes = [
        n for n in sandbox.dump(ORG, "creditnotes") if n["Guid"] not in seeded and not n.get("DeletedAt")
    ]
    assert len(notes) == 6
    # the second run reads the 4 notes of the first once; the third only the one the second made
    assert note_reads(second) <= 4
    assert note_reads(third) <= 1, note_reads(third)


def test_payments_of_an_invoice_with_a_long_reference_load_once(sandbox: Any, config: dict[str, Any]) -> None:
    """``<reference>/payment/<n>`` of a 125-character invoice reference is longer than Dinero's 128: the
    whole order used to be rejected for a reference the target made up. Now hashed, found again."""
    long_ref = "ADV-" + "x" * 121
    row = order(30, ExternalReference=long_ref, Payments=[{"Amount": 100.0}, {"Amount": 25.0}])
    first = run_target(sandbox, config, msgs(ORDERS, [row]))
    assert first.error is None and rejects(config) == [], (first.stderr[-2000:], rejects(config))
    again = run_target(sandbox, config, msgs(ORDERS, [row]))
    assert again.error is None and again.writes == [], again.stderr[-2000:]
    held = live_payments(sandbox, invoices(sandbox)[long_ref]["Guid"])
    assert sorted(p["Amount"] for p in held) == [25.0, 100.0]
    assert all(len(p.get("ExternalReference") or "") <= 128 for p in held)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"PaymentDate": "2026-11-20"}, ("2026-11-04", "2026-11-20")),
        ({"DepositAccountNumber": 55000}, ("55900", "55000")),
    ],
    ids=["date", "deposit_account"],
)
def test_a_payment_whose_date_or_account_changed_upstream_is_rejected_not_counted_as_there(
    sandbox: Any, config: dict[str, Any], change: dict[str, Any], words: tuple[str, str]
) -> None:
    assert run_target(sandbox, config, msgs(ORDERS, [order(31)])).error is None
    pay = {"id": "ch_31", "InvoiceExternalReference": "ADV-31", "Amount": 100.0, "PaymentDate": "2026-11-04"}
    assert run_target(sandbox, config, msgs(PAYMENTS, [pay])).error is None
    changed = run_target(sandbox, config, msgs(PAYMENTS, [{**pay, **change}]))
    assert changed.error is None, changed.stderr
    assert changed.writes == [] and changed.counts(PAYMENTS).get("unchanged") is None
    reasons = [r["reason"] for r in rejects(config)]
    assert len(reasons) == 1 and all(w in reasons[0] for w in words), reasons
    same = run_target(sandbox, config, msgs(PAYMENTS, [pay]))
    assert same.error is None and same.counts(PAYMENTS).get("unchanged") == 1 and len(rejects(config)) == 1
    held = live_payments(sandbox, invoices(sandbox)["ADV-31"]["Guid"])
    assert [(p["Amount"], p["PaymentDate"][:10]) for p in held] == [(100.0, "2026-11-04")]


def test_a_payment_resent_after_the_default_deposit_account_changed_is_not_rejected(
    sandbox: Any, config: dict[str, Any]
) -> None:
    """The shop's payments carry no DepositAccountNumber: the stream's ``deposit_account`` is the default.
    The bookkeeper moves the default to another account; the tap sends an already registered payment
    again (a full-table source, a replay). The record did not change -- only what new payments default
    to -- so it is the payment Dinero holds, not a change: it was rejected for "another
    DepositAccountNumber", every registered payment of every replay, until the run hit max_rejects."""
    assert run_target(sandbox, config, msgs(ORDERS, [order(41)])).error is None
    pay = {"id": "ch_41", "InvoiceExternalReference": "ADV-41", "Amount": 100.0, "PaymentDate": "2026-11-04"}
    assert run_target(sandbox, config, msgs(PAYMENTS, [pay])).error is None
    moved = {**config, "streams": {**config["streams"], PAYMENTS: {**config["streams"][PAYMENTS]}}}
    moved["streams"][PAYMENTS]["deposit_account"] = 55000
    again = run_target(sandbox, moved, msgs(PAYMENTS, [pay]))
    assert again.error is None, again.stderr
    assert rejects(config) == [] and again.writes == [], rejects(config)
    assert again.counts(PAYMENTS).get("unchanged") == 1, again.counts(PAYMENTS)
    held = live_payments(sandbox, invoices(sandbox)["ADV-41"]["Guid"])
    assert [(p["Amount"], p["PaymentDate"][:10]) for p in held] == [(100.0, "2026-11-04")]
