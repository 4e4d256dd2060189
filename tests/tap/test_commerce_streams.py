"""Payments, reports, ledger items and account categories (issue 15): what the new streams hold on the
demo organization, compared with what the sandbox holds (its inspection dump), and what they cost."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import date

import pytest

from dinero_api.client import DineroClient
from dinero_api.settings import DineroSettings
from dinero_sandbox.chart import EQUITY_ACCOUNT
from tests.harness import run_tap, wait_until

ORG = "100000"
PAYMENT_STREAMS = {
    "invoice_payments": (
        "invoices",
        "invoices",
        "invoice",
        "InvoiceGuid",
        "/v2/{org}/invoices/{guid}/payments",
    ),
    "sales_credit_note_payments": (
        "sales_credit_notes",
        "creditnotes",
        "creditnote",
        "CreditNoteGuid",
        "/v1/{org}/sales/creditnotes/{guid}/payments",
    ),
}
REPORT_STREAMS = ["reports"]


def _payment_gets(log: list[dict], stream: str) -> Counter:
    template = PAYMENT_STREAMS[stream][4]
    prefix, suffix = template.split("{guid}")
    prefix = prefix.replace("{org}", ORG)
    return Counter(
        r["path"][len(prefix) : -len(suffix)]
        for r in log
        if r["path"].startswith(prefix) and r["path"].endswith(suffix)
    )


def _client(tap_config: dict) -> DineroClient:
    return DineroClient(DineroSettings.from_config(tap_config), organization_id=ORG)


@pytest.mark.parametrize("stream", list(PAYMENT_STREAMS))
def test_payments_of_every_booked_document_one_get_each_none_for_drafts(
    sandbox, tap_config, sandbox_requests, stream
):
    parent, collection, kind, parent_key, _ = PAYMENT_STREAMS[stream]
    result = run_tap(tap_config, streams=[parent, stream])
    assert result.error is None
    documents = {d["Guid"]: d for d in sandbox.dump(ORG, collection) if not d["DeletedAt"]}
    booked = {guid for guid, d in documents.items() if d["Status"] != "Draft"}
    assert booked and len(booked) < len(documents)  # the demo org has drafts, so the skip is exercised

    # one GET per live booked document, none for drafts or deleted documents
    assert _payment_gets(sandbox_requests(), stream) == Counter(booked)

    # every live payment the sandbox holds for these documents, once, with its document and amount
    held = {
        p["Guid"]: p
        for p in sandbox.dump(ORG, "payments")
        if p["VoucherKind"] == kind and not p["DeletedAt"] and p["VoucherGuid"] in booked
    }
    rows = result.stream(stream)
    assert held and Counter(r["Guid"] for r in rows) == Counter(held.keys())
    for row in rows:
        payment = held[row["Guid"]]
        assert row[parent_key] == payment["VoucherGuid"]
        assert row["Amount"] == payment["AmountInVoucherCurrency"]
        assert row["DepositAccountNumber"] == payment["DepositAccountNumber"]
        assert row["organization_id"] == ORG
    # a fully paid document's payments add up to its total (the answer's PaidAmount, on every row)
    by_document = defaultdict(list)
    for row in rows:
        by_document[row[parent_key]].append(row)
    for guid, payments in by_document.items():
        assert round(sum(p["Amount"] for p in payments), 2) == payments[0]["PaidAmount"], guid
        if documents[guid]["PaymentStatus" if "PaymentStatus" in documents[guid] else "Status"] == "Paid":
            assert payments[0]["RemainingAmount"] == 0


def test_second_run_reads_payments_only_of_the_document_that_changed(sandbox, tap_config, sandbox_requests):
    streams = ["invoices", "invoice_payments", "sales_credit_notes", "sales_credit_note_payments"]
    first = run_tap(tap_config, streams=streams)
    assert first.stream("invoice_payments")
    mark = len(sandbox_requests())

    quiet = run_tap(tap_config, streams=streams, state=first.final_state)
    assert not quiet.stream("invoice_payments") and not quiet.stream("sales_credit_note_payments")
    assert not [r for r in sandbox_requests()[mark:] if r["path"].endswith("/payments")]

    # pay an invoice that is still open: only that invoice's payments are read again
    open_invoice = next(
        i
        for i in sandbox.dump(ORG, "invoices")
        if not i["DeletedAt"] and i["Status"] in ("Booked", "Overdue") and i["Currency"] == "DKK"
    )
    client = _client(tap_config)
    timestamp = client.get_json(f"/v1/{ORG}/invoices/{open_invoice['Guid']}")["TimeStamp"]
    paid = client.post_json(
        f"/v1/{ORG}/invoices/{open_invoice['Guid']}/payments",
        {
            "Timestamp": timestamp,
            "DepositAccountNumber": 55000,
            "Amount": 10,
            "Description": "Delbetaling",
            "RemainderIsFee": False,
        },
    )
    assert paid
    mark = len(sandbox_requests())
    changed = run_tap(tap_config, streams=streams, state=quiet.final_state)
    assert _payment_gets(sandbox_requests()[mark:], "invoice_payments") == Counter([open_invoice["Guid"]])
    assert not _payment_gets(sandbox_requests()[mark:], "sales_credit_note_payments")
    rows = changed.stream("invoice_payments")
    assert {r["InvoiceGuid"] for r in rows} == {open_invoice["Guid"]}
    assert 10 in [r["Amount"] for r in rows]
    # the document's rows of this read are newer than its earlier ones: they are its current payments
    earlier = [r for r in first.stream("invoice_payments") if r["InvoiceGuid"] == open_invoice["Guid"]]
    assert len({r["_sdc_synced_at"] for r in rows}) == 1
    assert all(r["_sdc_synced_at"] > e["_sdc_synced_at"] for r in rows for e in earlier)


def test_include_payments_false_means_no_payment_streams_and_no_requests(
    sandbox, tap_config, sandbox_requests
):
    result = run_tap({**tap_config, "include_payments": False}, streams=["invoices", "sales_credit_notes"])
    assert result.stream("invoices")
    assert "invoice_payments" not in result.tap.streams
    assert "sales_credit_note_payments" not in result.tap.streams
    assert not [r for r in sandbox_requests() if r["path"].endswith("/payments")]


def test_unselected_payment_streams_cost_nothing(sandbox, tap_config, sandbox_requests):
    result = run_tap(tap_config, streams=["invoices", "invoice_lines"])
    assert result.stream("invoice_lines")
    assert not [r for r in sandbox_requests() if r["path"].endswith("/payments")]


def test_payments_without_lines_still_read(sandbox, tap_config, sandbox_requests):
    result = run_tap({**tap_config, "include_lines": False}, streams=["invoices", "invoice_payments"])
    booked = {
        i["Guid"] for i in sandbox.dump(ORG, "invoices") if not i["DeletedAt"] and i["Status"] != "Draft"
    }
    assert {r["InvoiceGuid"] for r in result.stream("invoice_payments")} <= booked
    assert _payment_gets(sandbox_requests(), "invoice_payments") == Counter(booked)


# ----------------------------------------------------------------------------------------------- reports
def _expected_reports(sandbox) -> dict[tuple[str, str], dict[int, float]]:
    """saldo/result/balance/primo per year from the sandbox's entries dump (which has no primo rows):
    primo = every entry before the year, balance accounts kept, result accounts carried to equity."""
    years = sorted(sandbox.dump(ORG, "accountingyears"), key=lambda y: y["FromDate"])
    entries = sandbox.dump(ORG, "entries")
    equity = EQUITY_ACCOUNT  # where the sandbox carries a closed year's result
    out: dict[tuple[str, str], dict[int, float]] = {}
    for index, year in enumerate(years):
        primo: dict[int, float] = defaultdict(float)
        if index:
            for e in entries:
                if e["Date"] < year["FromDate"]:
                    primo[e["AccountNumber"] if e["AccountNumber"] >= 50000 else equity] += e["Amount"]
        saldo: dict[int, float] = defaultdict(float, primo)
        for e in entries:
            if year["FromDate"] <= e["Date"] <= year["ToDate"]:
                saldo[e["AccountNumber"]] += e["Amount"]
        result = round(sum(v for a, v in saldo.items() if a < 50000), 2)
        clean = {a: round(v, 2) for a, v in saldo.items() if round(v, 2)}
        out[(year["Name"], "saldo")] = clean
        out[(year["Name"], "result")] = {a: v for a, v in clean.items() if a < 50000} | {0: result}
        out[(year["Name"], "balance")] = {a: v for a, v in clean.items() if a >= 50000} | {0: result}
        out[(year["Name"], "primo")] = {a: round(v, 2) for a, v in primo.items() if round(v, 2)}
    return out


def test_reports_hold_every_year_and_match_the_sandbox_ledger(sandbox, tap_config, sandbox_requests):
    result = run_tap(tap_config, streams=["reports"])
    assert result.error is None
    rows = result.stream("reports")
    got: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for row in rows:
        key = (row["AccountingYear"], row["Report"])
        assert row["AccountNumber"] not in got[key], key  # primary key unique
        got[key][row["AccountNumber"]] = row["Amount"]
        assert row["organization_id"] == ORG
    # every account of the chart is asked for (showZeroAccount): zero rows are there, with 0
    assert any(not row["Amount"] and row["AccountNumber"] for row in rows)
    got = {k: {a: x for a, x in v.items() if x or a == 0} for k, v in got.items()}
    expected = _expected_reports(sandbox)
    assert {k: v for k, v in got.items() if v} == {k: v for k, v in expected.items() if v}
    for (year, report), amounts in got.items():
        if report in ("saldo", "balance"):
            assert abs(sum(amounts.values())) < 0.01, (year, report)  # the books balance
    # 1 request for the years + 4 per year
    years = len(sandbox.dump(ORG, "accountingyears"))
    calls = [r for r in sandbox_requests() if r["path"].startswith("/v1")]
    assert len(calls) == 1 + 4 * years


def test_closed_years_are_read_once_open_years_every_run(sandbox, tap_config, sandbox_requests):
    years = [y["Name"] for y in sorted(sandbox.dump(ORG, "accountingyears"), key=lambda y: y["FromDate"])]
    config = {**tap_config, "reports_open_years": 2}
    first = run_tap(config, streams=["reports"])
    closed, open_years = years[:-2], years[-2:]
    assert closed and {r["AccountingYear"] for r in first.stream("reports")} == set(years)
    assert first.partition_state("reports", ORG)["closed_years"] == closed

    mark = len(sandbox_requests())
    second = run_tap(config, streams=["reports"], state=first.final_state)
    assert {r["AccountingYear"] for r in second.stream("reports")} == set(open_years)
    paths = [r["path"] for r in sandbox_requests()[mark:]]
    assert not [p for p in paths if any(f"/{year}/reports/" in p for year in closed)]
    assert len([p for p in paths if "/reports/" in p]) == 4 * len(open_years)

    # the open years' rows are the same rows again (same keys): targets upsert them in place
    def keys(rows, wanted):
        return sorted(
            (r["AccountingYear"], r["Report"], r["AccountNumber"])
            for r in rows
            if r["AccountingYear"] in wanted
        )

    assert keys(second.stream("reports"), open_years) == keys(first.stream("reports"), open_years)

    # a year that stops being open is read one last time, then kept as closed
    third = run_tap({**config, "reports_open_years": 1}, streams=["reports"], state=second.final_state)
    assert {r["AccountingYear"] for r in third.stream("reports")} == set(open_years)
    assert third.partition_state("reports", ORG)["closed_years"] == years[:-1]


# ------------------------------------------------------------------------------------------ ledger items
def _wait_booked(client: DineroClient, item: str) -> dict:
    def booked() -> dict | None:
        status = client.post_json(f"/v1/{ORG}/ledgeritems/status", [{"Id": item}], retry_safe=True)[0]
        return status if status["Status"] == "Booked" else None

    return wait_until(booked, what=f"ledger item {item} to be booked", interval=0.1)


def test_ledger_items_by_id_with_status_and_unbooked_lines(sandbox, tap_config, sandbox_requests):
    client = _client(tap_config)
    draft, booked, deleted = (str(uuid.uuid4()) for _ in range(3))
    line = {
        "Description": "Dagens salg",
        "Amount": 500,
        "AccountNumber": 58000,
        "BalancingAccountNumber": 1010,
    }
    today = date.today().isoformat()
    client.post_json(
        f"/v1.2/{ORG}/ledgeritems",
        [{"Id": item, "VoucherDate": today, "Lines": [line]} for item in (draft, booked, deleted)],
    )
    client.post_json(f"/v1/{ORG}/ledgeritems/book", [{"Id": booked}])
    assert _wait_booked(client, booked)["Status"] == "Booked"
    client.request("DELETE", f"/v1/{ORG}/ledgeritems/delete", json=[{"Id": deleted}])
    mark = len(sandbox_requests())

    result = run_tap({**tap_config, "ledger_item_ids": [draft, booked, deleted]}, streams=["ledger_items"])
    assert result.error is None
    rows = {r["Id"]: r for r in result.stream("ledger_items") if not r.get("_sdc_deleted_at")}
    assert set(rows) == {draft, booked}  # the deleted one is not fatal: a row marking it deleted
    assert [r["Id"] for r in result.stream("ledger_items") if r.get("_sdc_deleted_at")] == [deleted]
    held = {i["Id"]: i for i in sandbox.dump(ORG, "ledger_items")}
    assert rows[draft]["Status"] == "Draft" and rows[draft]["Version"] == held[draft]["Version"]
    assert [ln["Amount"] for ln in rows[draft]["Lines"]] == [500]
    assert (
        rows[booked]["Status"] == "Booked" and rows[booked]["VoucherNumber"] == held[booked]["VoucherNumber"]
    )
    assert "Lines" not in rows[booked]  # booked: its lines are the manual voucher's (manual_vouchers)
    log = [r for r in sandbox_requests()[mark:] if r["path"].startswith("/v1")]
    # status of the batch (refused: one id is deleted), then id by id, then the unbooked content
    assert [r["path"].rsplit("/", 1)[-1] for r in log] == ["status", "status", "status", "status", "ledgers"]


def test_a_deleted_ledger_item_is_refused_once_not_on_every_run(sandbox, tap_config, sandbox_requests):
    """Dinero refuses a whole batch for one id that does not exist, and the batch is then asked id by id:
    that cost (a request per configured id, a 400 per deleted one) must be paid once, not on every run
    -- many 400s get an integration revoked. The refused ids are kept in the state and skipped."""
    client = _client(tap_config)
    ids = [str(uuid.uuid4()) for _ in range(30)]
    line = {"Description": "Salg", "Amount": 100, "AccountNumber": 58000, "BalancingAccountNumber": 1010}
    today = date.today().isoformat()
    items = [{"Id": i, "VoucherDate": today, "Lines": [line]} for i in ids]
    client.post_json(f"/v1.2/{ORG}/ledgeritems", items)
    deleted = ids[3:5]
    client.request("DELETE", f"/v1/{ORG}/ledgeritems/delete", json=[{"Id": i} for i in deleted])
    config = {**tap_config, "ledger_item_ids": ids}

    def live(result):
        return {r["Id"] for r in result.stream("ledger_items") if not r.get("_sdc_deleted_at")}

    first = run_tap(config, streams=["ledger_items"])
    assert first.error is None, first.error
    assert live(first) == set(ids) - set(deleted)
    mark = len(sandbox_requests())
    for _ in range(2):
        state = first.final_state
        first = run_tap(config, streams=["ledger_items"], state=state)
        assert first.error is None, first.error
        assert live(first) == set(ids) - set(deleted)
    later = [r for r in sandbox_requests()[mark:] if "ledgeritems" in r["path"]]
    assert [r["status"] for r in later] == [200] * 4, "each later run: one status and one content request"


def test_no_ledger_item_ids_no_requests(sandbox, tap_config, sandbox_requests):
    result = run_tap(tap_config, streams=["ledger_items"])
    assert not result.stream("ledger_items")
    assert not [r for r in sandbox_requests() if "ledgeritems" in r["path"]]


# ------------------------------------------------------------------------------------- account categories
@pytest.mark.parametrize("stream", ["entry_accounts", "purchase_accounts"])
def test_accounts_carry_their_category(sandbox, tap_config, stream):
    result = run_tap(tap_config, streams=[stream])
    rows = result.stream(stream)
    held = {a["AccountNumber"]: a for a in sandbox.dump(ORG, "accounts")}
    assert rows
    for row in rows:
        assert row["Category"] == held[row["AccountNumber"]]["Category"], row
        assert row["CategoryName"] == held[row["AccountNumber"]]["CategoryName"], row
    assert all(row["Category"] for row in rows)


def test_a_single_deleted_ledger_item_id_is_skipped_not_fatal(sandbox, tap_config, sandbox_requests):
    gone = str(uuid.uuid4())
    result = run_tap({**tap_config, "ledger_item_ids": [gone]}, streams=["ledger_items"])
    assert result.error is None
    assert [(r["Id"], bool(r["_sdc_deleted_at"])) for r in result.stream("ledger_items")] == [(gone, True)]
    assert [r["status"] for r in sandbox_requests() if "ledgeritems" in r["path"]] == [400]


def test_a_year_created_early_does_not_close_the_previous_one():
    from tap_dinero.streams.reports import open_accounting_years

    dated = [("2024-01-01", "2024"), ("2025-01-01", "2025"), ("2026-01-01", "2026"), ("2027-01-01", "2027")]
    # in March 2026 with 2027 created by a voucher dated into it, 2025 (being closed) stays open
    assert open_accounting_years(dated, 2, date(2026, 3, 1)) == {"2025", "2026", "2027"}
    assert open_accounting_years(dated, 1, date(2027, 6, 1)) == {"2027"}


@pytest.mark.parametrize("stream", list(PAYMENT_STREAMS))
def test_a_payment_deleted_between_two_runs_is_emitted_as_deleted_once(sandbox, tap_config, stream):
    """Deleting a payment changes its document: the next run reads the document's payments, misses the one
    emitted before, and emits exactly that payment as deleted (DeletedAt and _sdc_deleted_at set); the run
    after that emits nothing."""
    parent, _collection, kind, parent_key, _ = PAYMENT_STREAMS[stream]
    streams = [parent, stream]
    first = run_tap(tap_config, streams=streams)
    assert first.error is None
    per_document = defaultdict(list)
    for row in first.stream(stream):
        assert row["_sdc_deleted_at"] is None and row["DeletedAt"] is None
        per_document[row[parent_key]].append(row)
    document, [payment] = next((d, rows) for d, rows in per_document.items() if len(rows) == 1)
    client = _client(tap_config)
    base = (
        f"/v1/{ORG}/invoices/{document}" if kind == "invoice" else f"/v1/{ORG}/sales/creditnotes/{document}"
    )
    timestamp = client.get_json(base)["TimeStamp"]
    client.delete(f"{base}/payments/{payment['Guid']}", json={"Timestamp": timestamp})
    assert not [
        p for p in sandbox.dump(ORG, "payments") if p["Guid"] == payment["Guid"] and not p["DeletedAt"]
    ]

    second = run_tap(tap_config, streams=streams, state=first.final_state)

    assert second.error is None
    [deleted] = second.stream(stream)  # exactly that payment, nothing else
    assert (deleted[parent_key], deleted["Guid"], deleted["organization_id"]) == (
        document,
        payment["Guid"],
        ORG,
    )
    changed = next(d for d in second.stream(parent) if d["Guid"] == document)
    assert deleted["_sdc_deleted_at"] == deleted["DeletedAt"] == changed["UpdatedAt"]
    third = run_tap(tap_config, streams=streams, state=second.final_state)
    assert third.error is None and third.stream(stream) == []
