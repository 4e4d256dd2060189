"""Commerce writes whose request Dinero commits *after* the client gave up waiting: the look-up right after
the lost answer finds nothing yet, so only the exactly-once protocol's commit horizon (keep looking until
``commit_horizon_seconds`` after the send) keeps the target from sending the write a second time. Objects
whose identity Dinero chooses are the ones at risk: a generated credit note, a purchase voucher, an invoice
e-mail. The late commit is made deterministic in-process: the first matching POST raises "outcome unknown"
at once and reaches the sandbox ``LATE`` seconds later (the sandbox's ``slow`` fault cannot order the
client's look-up before the commit on a loaded machine)."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dinero_api.errors import DineroUnknownOutcome
from target_dinero.gateway import DineroGateway
from tests.harness import ORG, by_reference, make_target_config, read_rejects, run_target
from tests.harness import stream_messages as msgs

ORDERS, REFUNDS, BILLS = "orders", "refunds", "bills"
LATE = 1.0  # the lost write reaches Dinero this long after the client was told "outcome unknown"


class LateCommit:
    """Arms DineroGateway.post: the next ``count`` POSTs whose path ends with ``suffix`` are lost and
    committed ``LATE`` seconds later."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.armed: list[str] = []
        self.fired = 0
        self.threads: list[threading.Thread] = []
        original = DineroGateway.post

        def post(gateway: DineroGateway, path: str, payload: Any, **kwargs: Any) -> Any:
            if self.armed and path.endswith(self.armed[0]):
                self.armed.pop(0)
                self.fired += 1

                def later() -> None:
                    # The fault under test: Dinero commits the lost request late. A fixed delay, not a
                    # wait for anything -- the target must cope however late the commit lands.
                    time.sleep(LATE)
                    original(gateway, path, payload, **kwargs)

                thread = threading.Thread(target=later)
                thread.start()
                self.threads.append(thread)
                raise DineroUnknownOutcome(f"POST {path}: answer lost (test)")
            return original(gateway, path, payload, **kwargs)

        monkeypatch.setattr(DineroGateway, "post", post)

    def arm(self, suffix: str, count: int = 1) -> None:
        self.armed += [suffix] * count

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=30)


@pytest.fixture
def late(monkeypatch: pytest.MonkeyPatch) -> Iterator[LateCommit]:
    armed = LateCommit(monkeypatch)
    yield armed
    armed.join()


def order(n: int, **over: Any) -> dict[str, Any]:
    return {
        "id": n,
        "ExternalReference": f"LATE-{n}",
        "Date": "2026-11-02",
        "Contact": {"Name": f"Kunde {n}", "Email": f"kunde{n}@example.dk", "CountryKey": "DK"},
        "ProductLines": [
            {"Description": "Te", "Quantity": 1, "BaseAmountValue": 100.0, "AccountNumber": 1000}
        ],
        **over,
    }


@pytest.fixture
def config(sandbox_settings: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    return make_target_config(
        sandbox_settings,
        tmp_path,
        {
            ORDERS: {"load_as": "invoice", "book": True},
            REFUNDS: {"load_as": "sales_credit_note", "book": True},
            BILLS: {"load_as": "purchase_voucher", "book": True, "deposit_account": 55000},
        },
        commit_horizon_seconds=LATE + 3,
    )


def test_a_generate_committed_after_the_answer_was_lost_makes_one_credit_note(
    sandbox: Any, config: dict[str, Any], late: LateCommit
) -> None:
    assert run_target(sandbox, config, msgs(ORDERS, [order(1)])).error is None
    late.arm("/generate-creditnote")
    refund = [{"id": "re_1", "InvoiceExternalReference": "LATE-1", "Book": True}]
    result = run_target(sandbox, config, msgs(REFUNDS, refund))
    late.join()
    assert result.error is None, (result.stderr[-2000:], read_rejects(Path(config["rejects_file"])))
    assert late.fired == 1
    [invoice] = by_reference(sandbox.dump(ORG, "invoices"), "LATE-1")
    notes = [
        n
        for n in sandbox.dump(ORG, "creditnotes")
        if str(n.get("CreditNoteFor")).lower() == str(invoice["Guid"]).lower() and not n.get("DeletedAt")
    ]
    assert len(notes) == 1, notes  # the generate was looked up until it showed, not sent again
    assert notes[0]["Status"] == "Booked"


def test_a_credit_note_book_committed_after_the_answer_was_lost_is_not_sent_again(
    sandbox: Any, config: dict[str, Any], late: LateCommit
) -> None:
    """A second book sent before the first commits carries a stale Timestamp: Dinero refuses it (400,
    code 58) and counts the refusal against the integration. The note is re-read until booked instead."""
    assert run_target(sandbox, config, msgs(ORDERS, [order(3)])).error is None
    mark = max((int(r["id"]) for r in sandbox.requests()), default=0)
    late.arm("/book")
    refund = [{"id": "re_3", "InvoiceExternalReference": "LATE-3", "Book": True}]
    result = run_target(sandbox, config, msgs(REFUNDS, refund))
    late.join()
    assert result.error is None, (result.stderr[-2000:], read_rejects(Path(config["rejects_file"])))
    assert late.fired == 1
    books = [
        (r["path"], r["status"])
        for r in sandbox.requests(since=mark)
        if r["method"] == "POST" and r["path"].endswith("/book")
    ]
    assert books == [(books[0][0], 200)], books  # one book, the late one, accepted; none refused
    [invoice] = by_reference(sandbox.dump(ORG, "invoices"), "LATE-3")
    notes = [
        n
        for n in sandbox.dump(ORG, "creditnotes")
        if str(n.get("CreditNoteFor")).lower() == str(invoice["Guid"]).lower() and not n.get("DeletedAt")
    ]
    assert [n["Status"] for n in notes] == ["Booked"], notes


def test_an_email_committed_after_the_answer_was_lost_is_sent_once(
    sandbox: Any, config: dict[str, Any], late: LateCommit
) -> None:
    # booked by an earlier run: the send carries no Timestamp, so nothing but the protocol stops a second
    assert run_target(sandbox, config, msgs(ORDERS, [order(2)])).error is None
    late.arm("/email")
    result = run_target(sandbox, config, msgs(ORDERS, [order(2, Send="email")]))
    late.join()
    assert result.error is None, (result.stderr[-2000:], read_rejects(Path(config["rejects_file"])))
    assert late.fired == 1
    [invoice] = by_reference(sandbox.dump(ORG, "invoices"), "LATE-2")
    sent = [
        m
        for m in sandbox.dump(ORG, "mailouts")
        if m.get("VoucherGuid") == str(invoice["Guid"]).lower() and m.get("Type") == "Mailout"
    ]
    assert len(sent) == 1, sent


def test_a_purchase_voucher_committed_after_the_answer_was_lost_is_created_once(
    sandbox: Any, config: dict[str, Any], late: LateCommit
) -> None:
    pdf = base64.b64encode(b"%PDF-1.4\n%late\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n").decode()
    bill = {
        "id": 1,
        "ExternalReference": "LATE-BILL-1",
        "PurchaseType": "cash",
        "VoucherDate": "2026-11-03",
        "Lines": [{"Description": "Papir", "AccountNumber": 2000, "Amount": 125.0, "VatCode": "I25"}],
        "File": {"content_base64": pdf, "FileName": "bon.pdf"},
    }
    no_file = {**bill, "id": 2, "ExternalReference": "LATE-BILL-2"}
    del no_file["File"]
    late.arm("/vouchers/purchase", count=2)
    first = run_target(sandbox, config, msgs(BILLS, [bill, no_file]))
    late.join()
    second = run_target(sandbox, config, msgs(BILLS, [bill, no_file]))
    assert late.fired == 2
    assert first.error is None and second.error is None, (
        first.stderr[-2000:],
        read_rejects(Path(config["rejects_file"])),
    )
    held: dict[str, int] = {}
    for v in by_reference(sandbox.dump(ORG, "purchase_vouchers"), "LATE-BILL-"):
        held[v["ExternalReference"]] = held.get(v["ExternalReference"], 0) + 1
    # with its own file and with a generated receipt, each bill exists once
    assert held == {"LATE-BILL-1": 1, "LATE-BILL-2": 1}
    assert second.writes == []
