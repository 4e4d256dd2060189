"""One end-to-end business scenario per tag of Dinero's OpenAPI spec, run against the sandbox.

Each ``scenario_<tag>(sandbox, api)`` shows the business effect of that tag's operations (what changes in
documents, entries, reports, mailouts) and asserts it. ``test_scenarios.py`` runs each as its own test;
``test_all_operations.py`` runs them all and checks that every operation of the spec answered 2xx."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import requests

from dinero_sandbox.constants import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_REFRESH_TOKEN
from dinero_sandbox.testing import SandboxServer
from tests import seed_facts
from tests.harness import wait_until

from .conftest import Api, api_key_token

CONTACT = {"Name": "Acme A/S", "CountryKey": "DK", "IsPerson": False, "IsMember": False, "UseCvr": False}
LINE = {
    "AccountNumber": 1000,
    "BaseAmountValue": 400,
    "Discount": 0,
    "Quantity": 2,
    "Unit": "hours",
    "Description": "Rådgivning",
}  # 800 excl. VAT, 1000 incl. 25 % VAT
BANK, DEBTORS, CREDITORS = 55000, 56000, 63000
Scenario = Callable[[SandboxServer, Api], None]


def ok(response: requests.Response) -> Any:
    """The JSON (or None) of a 2xx answer; fails with the body otherwise."""
    assert 200 <= response.status_code < 300, f"{response.status_code}: {response.text[:500]}"
    return (
        response.json() if response.content and "json" in response.headers.get("Content-Type", "") else None
    )


def code_of(response: requests.Response) -> int:
    """Dinero's error code of a 400."""
    assert response.status_code == 400, response.text
    return response.json()["code"]


def contact(api: Api, **extra: Any) -> str:
    """A new contact's guid."""
    return ok(api.post("/v1/{org}/contacts", {**CONTACT, "Email": "bogholderi@acme.dk", **extra}))[
        "ContactGuid"
    ]


def booked_invoice(api: Api, contact_guid: str | None = None, **extra: Any) -> dict[str, Any]:
    """A booked invoice of 1000 DKK incl. VAT -> its read model."""
    body = {"ContactGuid": contact_guid or contact(api), "ProductLines": [LINE], **extra}
    created = ok(api.post("/v1/{org}/invoices", body))
    return ok(api.post(f"/v1/{{org}}/invoices/{created['Guid']}/book", {"Timestamp": created["TimeStamp"]}))


def invoice(api: Api, guid: str) -> dict[str, Any]:
    """An invoice's read model."""
    return ok(api.get(f"/v1/{{org}}/invoices/{guid}"))


def entries_of(sandbox: SandboxServer, voucher_guid: str) -> list[dict[str, Any]]:
    """Every stored/derived entry of one voucher (inspection API)."""
    return [
        e for e in sandbox.dump(100000, "entries") if (e["VoucherGuid"] or "").lower() == voucher_guid.lower()
    ]


def year_entries(api: Api, year: int | None = None) -> list[dict[str, Any]]:
    """``GET /entries`` of a whole accounting year."""
    y = year or date.today().year
    return ok(api.get("/v1/{org}/entries", fromDate=f"{y}-01-01", toDate=f"{y}-12-31"))


def account_sum(entries: list[dict[str, Any]], account: int) -> float:
    """Sum of one account's entries."""
    return round(sum(e["Amount"] for e in entries if e["AccountNumber"] == account), 2)


def pay(api: Api, path: str, timestamp: str, amount: float, **extra: Any) -> dict[str, Any]:
    """Register a payment on ``path`` (``.../payments``)."""
    body = {
        "Timestamp": timestamp,
        "DepositAccountNumber": BANK,
        "RemainderIsFee": False,
        "Description": "Indbetaling",
        "Amount": amount,
        **extra,
    }
    return ok(api.post(path, body))


def credit_purchase(api: Api, contact_guid: str, amount: float = 1250.0) -> dict[str, Any]:
    """A booked credit purchase voucher (2000 Vareforbrug, 25 % VAT) -> its read model."""
    created = ok(
        api.post(
            "/v1.2/{org}/vouchers/purchase",
            {
                "PurchaseType": "credit",
                "ContactGuid": contact_guid,
                "VoucherDate": date.today().isoformat(),
                "Lines": [{"AccountNumber": 2000, "Amount": amount, "Description": "Varekøb"}],
            },
        )
    )
    return ok(
        api.post(f"/v1/{{org}}/vouchers/purchase/{created['Guid']}/book", {"Timestamp": created["Timestamp"]})
    )


def mailouts(sandbox: SandboxServer, voucher_guid: str) -> list[dict[str, Any]]:
    """Recorded sends of a voucher (inspection API)."""
    return [m for m in sandbox.dump(100000, "mailouts") if m["VoucherGuid"] == voucher_guid.lower()]


# -- scenarios, one per spec tag -----------------------------------------------------------------------------
def scenario_accounting_years(sandbox: SandboxServer, api: Api) -> None:
    """Booking in the year after the last accounting year opens it; its primo carries the balances."""
    years = ok(api.get("/v1/{org}/accountingyears"))
    last = int(years[-1]["Name"])
    booked_invoice(api, Date=f"{last + 1}-01-15")
    names = [y["Name"] for y in ok(api.get("/v1/{org}/accountingyears"))]
    assert names[-1] == str(last + 1)
    primo = ok(api.get(f"/v1/{{org}}/{last + 1}/reports/primo", includeSummaryAccount="false"))
    assert primo and round(sum(r["Amount"] for r in primo), 2) == 0.0


def scenario_accounts(sandbox: SandboxServer, api: Api) -> None:
    """A new entry account takes invoice lines; a new deposit account takes payments."""
    ok(api.post("/v1/{org}/accounts/entry", {"Number": 1350, "Name": "Abonnementer", "VatCode": "U25"}))
    assert (
        code_of(api.post("/v1/{org}/accounts/entry", {"Number": 1350, "Name": "x", "VatCode": "U25"})) == 42
    )
    assert any(a["AccountNumber"] == 1350 for a in ok(api.get("/v1/{org}/accounts/entry")))
    ok(
        api.post(
            "/v1/{org}/accounts/deposit", {"Number": 55050, "Name": "Nordea erhverv", "IbanNumber": "DK12"}
        )
    )
    assert any(a["AccountNumber"] == 55050 for a in ok(api.get("/v1/{org}/accounts/deposit")))
    assert not any(a["AccountNumber"] == 55050 for a in ok(api.get("/v1/{org}/accounts/purchase")))
    inv = booked_invoice(api, ProductLines=[{**LINE, "AccountNumber": 1350}])
    paid = pay(
        api,
        f"/v1/{{org}}/invoices/{inv['Guid']}/payments",
        inv["TimeStamp"],
        1000,
        DepositAccountNumber=55050,
    )
    entries = entries_of(sandbox, paid["RelatedVoucherGuid"])
    assert {e["AccountNumber"]: e["Amount"] for e in entries} == {55050: 1000.0, DEBTORS: -1000.0}
    assert account_sum(entries_of(sandbox, inv["Guid"]), 1350) == -800.0


def scenario_attachments(sandbox: SandboxServer, api: Api) -> None:
    """A file bound to an invoice is listed with it and becomes Used; unbinding removes it."""
    inv = booked_invoice(api)
    file_guid = ok(api.post("/v1/{org}/files/attachment", files={"file": ("Vilkår.pdf", b"%PDF-1.4 x")}))[
        "FileGuid"
    ]
    ok(api.post(f"/v1/{{org}}/attachments/{inv['Guid']}/{file_guid}/Bilag-Nr1.pdf"))
    bound = ok(api.get(f"/v1/{{org}}/attachments/{inv['Guid']}"))
    assert [(a["FileGuid"], a["FileName"]) for a in bound] == [(file_guid, "Bilag-Nr1.pdf")]
    used = ok(api.get("/v1/{org}/files", fileStatus="Used"))
    assert file_guid in {f["FileGuid"] for f in used}
    ok(api.post(f"/v1/{{org}}/attachments/bind/default/{inv['Guid']}/invoice"))
    assert len(ok(api.get(f"/v1/{{org}}/attachments/{inv['Guid']}"))) == 2
    ok(api.delete(f"/v1/{{org}}/attachments/{inv['Guid']}/{file_guid}"))
    assert file_guid not in {a["FileGuid"] for a in ok(api.get(f"/v1/{{org}}/attachments/{inv['Guid']}"))}
    assert api.post(f"/v1/{{org}}/attachments/{uuid.uuid4()}/{file_guid}/x.pdf").status_code == 404


def scenario_contacts(sandbox: SandboxServer, api: Api) -> None:
    """A contact's life (create, change v1/v2, delete, restore) and its notes (create, read, change,
    delete: then only listed with deletedOnly)."""
    guid = contact(api, ExternalReference="crm:7")
    ok(
        api.put(
            f"/v1/{{org}}/contacts/{guid}",
            {**CONTACT, "Name": "Acme Danmark A/S", "ExternalReference": "crm:7"},
        )
    )
    ok(
        api.put(
            f"/v2/{{org}}/contacts/{guid}",
            {**CONTACT, "Email": "bogholderi@acme.dk", "ExternalReference": "crm:7"},
        )
    )
    assert ok(api.get(f"/v1/{{org}}/contacts/{guid}"))["Name"] == "Acme A/S"
    found = ok(
        api.get("/v1/{org}/contacts", fields="ContactGuid", queryFilter="ExternalReference eq 'crm:7'")
    )
    assert [c["ContactGuid"] for c in found["Collection"]] == [guid]
    ok(api.delete(f"/v1/{{org}}/contacts/{guid}"))
    both = ok(
        api.get(
            "/v2/{org}/contacts", fields="ContactGuid,DeletedAt", queryFilter="ExternalReference eq 'crm:7'"
        )
    )
    assert both["Collection"][0]["DeletedAt"]
    ok(api.post(f"/v1/{{org}}/contacts/{guid}/restore"))
    assert ok(api.get(f"/v1/{{org}}/contacts/{guid}"))["DeletedAt"] is None
    note = ok(api.post(f"/v1/{{org}}/contacts/{guid}/notes", {"Text": "Ringede om rabat"}))["ContactGuid"]
    ok(api.post(f"/v1/{{org}}/contacts/{guid}/notes", {"Text": "Sendte tilbud"}))
    listed = ok(api.get(f"/v1/{{org}}/contacts/{guid}/notes", fields="Id,Text"))
    assert listed["Pagination"]["ResultWithoutFilter"] == 2
    ok(api.put(f"/v1/{{org}}/contacts/{guid}/notes/{note}", {"Text": "Aftalt 10 % rabat"}))
    assert ok(api.get(f"/v1/{{org}}/contacts/{guid}/notes/{note}"))["Text"] == "Aftalt 10 % rabat"
    ok(api.delete(f"/v1/{{org}}/contacts/{guid}/notes/{note}"))
    assert [
        n["Id"] for n in ok(api.get(f"/v1/{{org}}/contacts/{guid}/notes", deletedOnly="true"))["Collection"]
    ] == [note]
    assert ok(api.get(f"/v1/{{org}}/contacts/{guid}/notes"))["Pagination"]["ResultWithoutFilter"] == 1
    assert code_of(api.post(f"/v1/{{org}}/contacts/{guid}/notes", {})) == 42


def scenario_contact_state_of_account(sandbox: SandboxServer, api: Api) -> None:
    """A customer's state of account follows invoices and payments; it can be mailed (recorded only)."""
    guid = contact(api)
    inv = booked_invoice(api, guid)
    pay(api, f"/v1/{{org}}/invoices/{inv['Guid']}/payments", inv["TimeStamp"], 400)
    state = ok(api.get(f"/v1/{{org}}/state-of-account/{guid}"))
    assert state["Income"] == 1000.0 and state["Expenses"] == 0.0
    assert [e["Amount"] for e in state["Entries"]] == [1000.0, -400.0]
    assert state["Entries"][-1]["Balance"] == 600.0
    assert state["Entries"][0]["Date"] == f"{date.today().isoformat()}T00:00:00"  # spec: date-time
    assert api.get(f"/v1/{{org}}/state-of-account/{guid}/pdf").content.startswith(b"%PDF")
    ok(api.post(f"/v1/{{org}}/state-of-account/{guid}/email", {"CCToSender": False, "HideClosed": True}))
    assert [m["Type"] for m in mailouts(sandbox, guid)] == ["StateOfAccount"]


def scenario_countries(sandbox: SandboxServer, api: Api) -> None:
    """Countries for contacts' CountryKey."""
    countries = ok(api.get("/v1/countries"))
    assert {"Key": "DK", "DanishName": "Danmark", "EnglishName": "Denmark"} in countries


def scenario_entry(sandbox: SandboxServer, api: Api) -> None:
    """A booked invoice's entries appear in /entries and /entries/changes and balance."""
    since = (date.today() - timedelta(days=1)).isoformat() + "T00:00:00"
    inv = booked_invoice(api)
    mine = [e for e in year_entries(api) if e["VoucherGuid"] == inv["Guid"]]
    assert round(sum(e["Amount"] for e in mine), 2) == 0 and account_sum(mine, DEBTORS) == 1000.0
    changed = ok(
        api.get(
            "/v1/{org}/entries/changes", changesFrom=since, changesTo=date.today().isoformat() + "T23:59:59"
        )
    )
    assert {e["EntryGuid"] for e in mine} <= {e["EntryGuid"] for e in changed}


def scenario_files(sandbox: SandboxServer, api: Api) -> None:
    """Uploaded bytes come back unchanged."""
    file_guid = ok(api.post("/v1/{org}/files", files={"file": ("kvittering.png", b"\x89PNG data")}))[
        "FileGuid"
    ]
    attachment = ok(api.post("/v1/{org}/files/attachment", files={"file": ("b.pdf", b"%PDF-1.4 b")}))[
        "FileGuid"
    ]
    assert api.get(f"/v1/{{org}}/files/{file_guid}").content == b"\x89PNG data"
    assert api.get(f"/v1/{{org}}/files/{attachment}").content == b"%PDF-1.4 b"
    assert isinstance(ok(api.get("/v1/{org}/files")), list)


def scenario_invoices(sandbox: SandboxServer, api: Api) -> None:
    """create -> book -> pay partly (Booked) -> pay the rest (Paid, entries) -> delete a payment (back) ->
    overpay (OverPaid); stale Timestamps are refused; generate-creditnote -> book -> less to pay; sends."""
    guid_contact = contact(api)
    fetched = ok(api.post("/v1/{org}/invoices/fetch", {"ContactGuid": guid_contact, "ProductLines": [LINE]}))
    assert fetched["TotalInclVat"] == 1000.0 and fetched["Number"] == 0
    draft = ok(api.post("/v1/{org}/invoices", {"ContactGuid": guid_contact, "ProductLines": [LINE]}))
    changed = ok(
        api.put(
            f"/v1.2/{{org}}/invoices/{draft['Guid']}",
            {"Timestamp": draft["TimeStamp"], "ContactGuid": guid_contact, "ProductLines": [LINE]},
        )
    )
    ok(api.delete(f"/v1/{{org}}/invoices/{draft['Guid']}", {"Timestamp": changed["TimeStamp"]}))
    inv = booked_invoice(api, guid_contact)
    path = f"/v1/{{org}}/invoices/{inv['Guid']}/payments"
    first = pay(api, path, inv["TimeStamp"], 600)
    assert invoice(api, inv["Guid"])["PaymentStatus"] == "Booked"
    assert (
        code_of(
            api.post(
                path,
                {
                    "Timestamp": inv["TimeStamp"],
                    "DepositAccountNumber": BANK,
                    "RemainderIsFee": False,
                    "Description": "x",
                    "Amount": 1,
                },
            )
        )
        == 58
    )
    second = pay(api, path, first["TimeStamp"], 400)
    state = ok(api.get(f"/v2/{{org}}/invoices/{inv['Guid']}/payments"))
    assert state["PaidAmount"] == 1000.0 and state["RemainingAmount"] == 0.0 and len(state["Payments"]) == 2
    assert invoice(api, inv["Guid"])["PaymentStatus"] == "Paid"
    assert account_sum(entries_of(sandbox, first["RelatedVoucherGuid"]), BANK) == 600.0
    deleted = ok(api.delete(f"{path}/{second['Guid']}", {"Timestamp": second["TimeStamp"]}))
    assert invoice(api, inv["Guid"])["PaymentStatus"] == "Booked"
    assert account_sum(entries_of(sandbox, second["RelatedVoucherGuid"]), BANK) == 0.0  # offset, not removed
    over = pay(api, path, deleted["TimeStamp"], 500)
    assert invoice(api, inv["Guid"])["PaymentStatus"] == "OverPaid"
    assert ok(api.get(f"/v2/{{org}}/invoices/{inv['Guid']}/payments"))["RemainingAmount"] == -100.0
    # a credit note generated from another invoice lowers what is left to pay once booked
    other = booked_invoice(api, guid_contact)
    note = ok(
        api.post(
            f"/v1/{{org}}/invoices/{other['Guid']}/generate-creditnote", {"Timestamp": other["TimeStamp"]}
        )
    )
    draft = ok(api.get(f"/v1/{{org}}/sales/creditnotes/{note['Guid']}"))
    assert (
        draft["Status"] == "Draft"
        and draft["CreditNoteFor"] == other["Guid"]
        and draft["TotalInclVat"] == 1000.0
    )
    ok(api.post(f"/v1/{{org}}/sales/creditnotes/{note['Guid']}/book", {"Timestamp": note["TimeStamp"]}))
    assert ok(api.get(f"/v2/{{org}}/invoices/{other['Guid']}/payments"))["RemainingAmount"] == 0.0
    assert invoice(api, other["Guid"])["PaymentStatus"] == "Paid"
    # sends are recorded as mailouts, never sent
    template = ok(api.get(f"/v2/{{org}}/invoices/{inv['Guid']}/email/template"))
    assert template["Receiver"] == "bogholderi@acme.dk" and template["SendAsSms"] is False
    sent = ok(
        api.post(
            f"/v1/{{org}}/invoices/{inv['Guid']}/email",
            {"Timestamp": over["TimeStamp"], "ShouldAddTrustPilotEmailAsBcc": False},
        )
    )
    assert sent["Recipients"] == [{"Email": "bogholderi@acme.dk"}]
    assert ok(api.get(f"/v1/{{org}}/invoices/{inv['Guid']}/email/pre-reminder/template"))["Subject"]
    ok(
        api.post(
            f"/v1/{{org}}/invoices/{inv['Guid']}/email/pre-reminder", {"ShouldAddTrustPilotEmailAsBcc": False}
        )
    )
    assert (
        code_of(api.post(f"/v3/{{org}}/invoices/{inv['Guid']}/e-invoice", {"PaymentMeanEnum": "FIK"})) == 42
    )
    ean_contact = contact(api, EanNumber="5790000123456")
    ean_invoice = booked_invoice(api, ean_contact)
    ok(api.post(f"/v3/{{org}}/invoices/{ean_invoice['Guid']}/e-invoice", {"PaymentMeanEnum": "Domestic"}))
    assert [m["Type"] for m in ok(api.get(f"/v1/{{org}}/invoices/{inv['Guid']}/mailouts"))] == [
        "Mailout",
        "PreReminder",
    ]
    assert invoice(api, ean_invoice["Guid"])["LatestMailOutType"] == "Einvoice"
    assert ok(api.get("/v1/{org}/invoices/templates"))[0]["IsDefault"] is True


def scenario_ledger_items(sandbox: SandboxServer, api: Api) -> None:
    """Kassekladde: created unbooked, booked asynchronously (status shows the progress), then entries."""
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    today = date.today().isoformat()
    line = {
        "Description": "Kontant salg",
        "Amount": 500,
        "AccountNumber": 58000,
        "BalancingAccountNumber": 1010,
    }
    created = ok(
        api.post(
            "/v1.2/{org}/ledgeritems",
            [
                {"Id": first, "VoucherDate": today, "Lines": [line]},
                {"Id": second, "VoucherDate": today, "Lines": [line]},
            ],
        )
    )
    assert created["Id"] == first and created["Version"]
    unbalanced = [{"VoucherDate": today, "Lines": [{"Amount": 100, "AccountNumber": 58000}]}]
    assert code_of(api.post("/v1.2/{org}/ledgeritems", unbalanced)) == 42
    listed = ok(api.post("/v1/{org}/ledgeritems/ledgers", [{"Id": first}, {"Id": second}]))
    assert [i["Id"] for i in listed] == [first, second]
    changed = ok(api.put("/v1/{org}/ledgeritems", [{**listed[0], "Lines": [{**line, "Amount": 750}]}]))
    assert changed[0]["Version"] != listed[0]["Version"]
    assert code_of(api.put("/v1/{org}/ledgeritems", [{**listed[0]}])) == 58  # stale Version
    ok(api.delete("/v1/{org}/ledgeritems/delete", [{"Id": second}]))
    assert not entries_of(sandbox, first)
    ok(api.post("/v1/{org}/ledgeritems/book", [{"Id": first}]))
    status = ok(api.post("/v1/{org}/ledgeritems/status", [{"Id": first}]))[0]
    assert status["Status"] in ("PendingBooking", "Booked")
    wait_until(
        lambda: ok(api.post("/v1/{org}/ledgeritems/status", [{"Id": first}]))[0]["Status"] == "Booked",
        what="the ledger item to be booked",
    )
    booked = ok(api.post("/v1/{org}/ledgeritems/status", [{"Id": first}]))[0]
    assert booked["VoucherNumber"]
    mine = [e for e in year_entries(api) if e["VoucherGuid"] == first]
    assert {e["AccountNumber"]: e["Amount"] for e in mine} == {58000: 750.0, 1010: -750.0}
    voucher = ok(api.get(f"/v1/{{org}}/vouchers/manuel/{first}"))  # where the tap follows an entry
    assert voucher["BookedByType"] == "Kassekladde" and voucher["VoucherNumber"] == booked["VoucherNumber"]
    assert code_of(api.delete("/v1/{org}/ledgeritems/delete", [{"Id": first}])) == 45


def scenario_list_organizations(sandbox: SandboxServer, api: Api) -> None:
    """Many organizations: one Visma Connect client reaches them all, an API key reaches one, each has its
    own quota."""
    seed_size = "demo,orgs=5:tiny"
    sandbox.reset(seed_size)
    sandbox.set_quota(100_000, 60.0)
    token = requests.post(
        sandbox.connect_token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": DEMO_REFRESH_TOKEN,
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        },
        timeout=10,
    ).json()["access_token"]
    connect = Api(sandbox, token)
    ids = [o["id"] for o in ok(connect.get("/v1/organizations"))]
    assert ids == [int(org) for org in seed_facts.organizations(seed_size)]
    assert len(ok(connect.get("/v1.1/organizations"))) == len(ids)
    fifth = Api(sandbox, api_key_token(sandbox, "sandbox-api-key-100004"), org="100004")
    assert [o["id"] for o in ok(fifth.get("/v1/organizations"))] == [100004]
    fifth_invoices = ok(fifth.get("/v1/{org}/invoices"))["Collection"]
    assert len(fifth_invoices) == seed_facts.live("100004", "invoices", seed_size)
    assert fifth.get("/v1/100003/invoices").status_code == 403
    sandbox.set_quota(3, 60.0)
    for _ in range(3):
        ok(fifth.get("/v1/{org}/vatTypes"))
    assert fifth.get("/v1/{org}/vatTypes").status_code == 429
    assert Api(sandbox, token, org="100003").get("/v1/{org}/vatTypes").status_code == 200  # its own quota


def scenario_manuel_vouchers(sandbox: SandboxServer, api: Api) -> None:
    """A booked manual voucher's lines are entries."""
    line = {"Amount": 250, "AccountNumber": 6000, "BalancingAccountNumber": BANK, "AccountVatCode": "none"}
    voucher = ok(api.post("/v1/{org}/vouchers/manuel", {"Lines": [line]}))
    voucher = ok(
        api.put(
            f"/v1/{{org}}/vouchers/manuel/{voucher['Guid']}",
            {"Timestamp": voucher["Timestamp"], "Lines": [line]},
        )
    )
    booked = ok(
        api.post(f"/v1/{{org}}/vouchers/manuel/{voucher['Guid']}/book", {"Timestamp": voucher["Timestamp"]})
    )
    assert ok(api.get(f"/v1/{{org}}/vouchers/manuel/{voucher['Guid']}"))["Status"] == "Booked"
    mine = entries_of(sandbox, voucher["Guid"])
    assert {e["AccountNumber"]: e["Amount"] for e in mine} == {6000: 250.0, BANK: -250.0}
    draft = ok(api.post("/v1/{org}/vouchers/manuel", {"Lines": [line]}))
    ok(api.delete(f"/v1/{{org}}/vouchers/manuel/{draft['Guid']}", {"Timestamp": draft["Timestamp"]}))
    assert booked["VoucherNumber"]


def scenario_products(sandbox: SandboxServer, api: Api) -> None:
    """A product's price and account drive invoice lines."""
    product = {
        "Name": "Support",
        "BaseAmountValue": 100,
        "Quantity": 1,
        "AccountNumber": 1000,
        "Unit": "hours",
    }
    guid = ok(api.post("/v1/{org}/products", product))["ProductGuid"]
    ok(api.put(f"/v1/{{org}}/products/{guid}", {**product, "BaseAmountValue": 120}))
    assert ok(api.get(f"/v1/{{org}}/products/{guid}"))["TotalAmountInclVat"] == 150.0
    assert guid in {p["ProductGuid"] for p in api.all_pages("/v1/{org}/products")}
    ok(api.delete(f"/v1/{{org}}/products/{guid}"))
    line = {**LINE, "ProductGuid": guid}
    assert (
        "ProductLines[0].ProductGuid"
        in api.post("/v1/{org}/invoices", {"ProductLines": [line]}).json()["validationErrors"]
    )


def scenario_purchase_credit_note(sandbox: SandboxServer, api: Api) -> None:
    """A purchase credit note reverses a purchase in the books and settles the voucher it credits."""
    supplier = contact(api)
    voucher = credit_purchase(api, supplier)
    note = ok(
        api.post(
            "/v1/{org}/vouchers/purchase/creditnotes",
            {
                "CreditNoteFor": voucher["Guid"],
                "ContactGuid": supplier,
                "Lines": [{"AccountNumber": 2000, "Amount": 1000, "Description": "Retur"}],
            },
        )
    )
    updated = ok(
        api.put(
            f"/v1/{{org}}/vouchers/purchase/creditnotes/{note['Guid']}",
            {
                "Timestamp": note["TimeStamp"],
                "CreditNoteFor": voucher["Guid"],
                "ContactGuid": supplier,
                "Lines": [{"AccountNumber": 2000, "Amount": 1250, "Description": "Retur"}],
            },
        )
    )
    booked = ok(
        api.post(
            f"/v1/{{org}}/vouchers/purchase/creditnotes/{note['Guid']}/book",
            {"Timestamp": updated["TimeStamp"]},
        )
    )
    assert booked["Status"] == "Booked" and booked["CreditNoteNumber"]
    mine = {e["AccountNumber"]: e["Amount"] for e in entries_of(sandbox, note["Guid"])}
    assert mine == {2000: -1000.0, 64060: -250.0, CREDITORS: 1250.0}
    assert ok(api.get(f"/v1/{{org}}/vouchers/purchase/{voucher['Guid']}"))["Status"] == "Paid"
    draft = ok(
        api.post(
            "/v1/{org}/vouchers/purchase/creditnotes", {"Lines": [{"AccountNumber": 2000, "Amount": 10}]}
        )
    )
    ok(
        api.delete(
            f"/v1/{{org}}/vouchers/purchase/creditnotes/{draft['Guid']}", {"Timestamp": draft["TimeStamp"]}
        )
    )
    assert ok(api.get(f"/v1/{{org}}/vouchers/purchase/creditnotes/{draft['Guid']}"))


def scenario_purchase_voucher_credit_payments(sandbox: SandboxServer, api: Api) -> None:
    """Paying a supplier: creditors debited, bank credited, voucher Paid; deleting the payment reverts."""
    voucher = credit_purchase(api, contact(api))
    path = f"/v1/{{org}}/purchase-vouchers/{voucher['Guid']}/payments"
    paid = pay(api, path, voucher["Timestamp"], 1250)
    assert ok(api.get(f"/v1/{{org}}/vouchers/purchase/{voucher['Guid']}"))["Status"] == "Paid"
    assert {e["AccountNumber"]: e["Amount"] for e in entries_of(sandbox, paid["RelatedVoucherGuid"])} == {
        CREDITORS: 1250.0,
        BANK: -1250.0,
    }
    listed = ok(api.get(path))
    assert [p["Guid"] for p in listed] == [paid["Guid"]] and listed[0]["Amount"] == 1250.0
    assert api.delete(f"{path}/{paid['Guid']}/{voucher['Timestamp']}").json()["code"] == 58
    ok(api.delete(f"{path}/{paid['Guid']}/{paid['TimeStamp']}"))
    assert ok(api.get(f"/v1/{{org}}/vouchers/purchase/{voucher['Guid']}"))["Status"] in ("Booked", "Overdue")
    assert ok(api.get(path)) == []


def scenario_purchase_vouchers(sandbox: SandboxServer, api: Api) -> None:
    """Draft -> update (v1 and v1.1) -> totals, double-registration check, file lookup -> book -> credit."""
    supplier = contact(api)
    file_guid = ok(api.post("/v1/{org}/files", files={"file": ("faktura.pdf", b"%PDF-1.4 k")}))["FileGuid"]
    body = {
        "PurchaseType": "credit",
        "ContactGuid": supplier,
        "FileGuid": file_guid,
        "VoucherDate": date.today().isoformat(),
        "Lines": [{"AccountNumber": 6000, "Amount": 500}],
    }
    draft = ok(api.post("/v1.2/{org}/vouchers/purchase", body))
    assert ok(api.get(f"/v1/{{org}}/vouchers/purchase/fileguid/{file_guid}")) == [draft["Guid"]]
    fetched = ok(
        api.post(
            "/v1/{org}/vouchers/purchase/fetch", {**body, "Lines": [{"AccountNumber": 6000, "Amount": 625}]}
        )
    )
    assert [t["Total"] for t in fetched["VoucherTotals"]] == [500.0, 125.0, 625.0]
    v1 = ok(
        api.put(
            f"/v1/{{org}}/vouchers/purchase/{draft['Guid']}",
            {**body, "Timestamp": draft["Timestamp"], "Lines": [{"AccountNumber": 6000, "Amount": 625}]},
        )
    )
    v11 = ok(
        api.put(
            f"/v1.1/{{org}}/vouchers/purchase/{draft['Guid']}",
            {**body, "Timestamp": v1["Timestamp"], "Lines": [{"AccountNumber": 6000, "Amount": 625}]},
        )
    )
    assert (
        code_of(
            api.put(f"/v1/{{org}}/vouchers/purchase/{draft['Guid']}", {**body, "Timestamp": v1["Timestamp"]})
        )
        == 58
    )
    similar = ok(
        api.post(
            "/v1/{org}/vouchers/purchase/similar", {**body, "Lines": [{"AccountNumber": 6000, "Amount": 625}]}
        )
    )
    assert similar == {"VoucherNumber": None, "SimilarGuid": draft["Guid"], "SimilarFound": True}
    booked = ok(
        api.post(f"/v1/{{org}}/vouchers/purchase/{draft['Guid']}/book", {"Timestamp": v11["Timestamp"]})
    )
    assert {e["AccountNumber"]: e["Amount"] for e in entries_of(sandbox, draft["Guid"])} == {
        6000: 500.0,
        64060: 125.0,
        CREDITORS: -625.0,
    }
    credit = ok(
        api.post(
            f"/v1/{{org}}/vouchers/purchase/{draft['Guid']}/generate-creditnote",
            {"Timestamp": {"Timestamp": booked["Timestamp"]}},
        )
    )
    note = ok(api.get(f"/v1/{{org}}/vouchers/purchase/creditnotes/{credit['Guid']}"))
    assert (
        note["CreditNoteFor"] == draft["Guid"]
        and note["Status"] == "Draft"
        and note["Totals"][-1]["Total"] == 625.0
    )
    cash = ok(
        api.post(
            "/v1.1/{org}/vouchers/purchase",
            {
                "PurchaseType": "cash",
                "DepositAccountNumber": BANK,
                "Lines": [{"AccountNumber": 6000, "Amount": 50}],
            },
        )
    )
    ok(api.delete(f"/v1/{{org}}/vouchers/purchase/{cash['Guid']}", {"Timestamp": cash["Timestamp"]}))
    assert ok(api.get(f"/v1/{{org}}/vouchers/purchase/{cash['Guid']}"))["Status"] == "Draft"


def scenario_reminders(sandbox: SandboxServer, api: Api) -> None:
    """A reminder on an overdue invoice: booked fees become entries and part of what is owed; sent as mail."""
    day = (date.today() - timedelta(days=40)).isoformat()
    inv = booked_invoice(api, Date=day, PaymentConditionType="Netto", PaymentConditionNumberOfDays=8)
    base = f"/v1/{{org}}/invoices/{inv['Guid']}/reminders"
    preview = ok(api.get(f"{base}/next"))
    assert preview["Number"] == 1 and preview["FeeAmount"] == 100.0 and preview["Id"] is None
    options = {
        "Date": date.today().isoformat(),
        "WithDebtCollectionWarning": True,
        "WithFee": True,
        "WithInterestFee": True,
        "WithCompensationFee": False,
    }
    fetched = ok(api.post(f"{base}/fetch", options))
    assert fetched["InterestAmount"] == 14.0  # 0.7 % of 1000 for two started months
    created = ok(api.post(base, {**options, "Timestamp": inv["TimeStamp"]}))
    assert created["IsDraft"] and created["ReminderTotalInclVatAmount"] == 1114.0
    changed = ok(
        api.put(
            f"{base}/{created['Id']}",
            {**options, "WithInterestFee": False, "Timestamp": created["Timestamp"]},
        )
    )
    assert changed["ReminderTotalInclVatAmount"] == 1100.0
    booked = ok(api.post(f"{base}/{created['Id']}/book", {"Timestamp": changed["Timestamp"]}))
    assert booked["IsDraft"] is False and ok(api.get(f"{base}/{created['Id']}"))["IsDraft"] is False
    owed = ok(api.get(f"/v2/{{org}}/invoices/{inv['Guid']}/payments"))
    assert owed["RemainingAmount"] == 1100.0 and owed["InvoiceTotalIncludingReminderExpenses"] == 1100.0
    reminder_entries = [e for e in sandbox.dump(100000, "entries") if e["VoucherType"] == "Reminder"]
    assert {e["AccountNumber"]: e["Amount"] for e in reminder_entries} == {DEBTORS: 100.0, 9000: -100.0}
    assert ok(api.get(f"{base}/email/template"))["Receiver"] == "bogholderi@acme.dk"
    ok(api.post(f"{base}/email", {"ShouldAddTrustPilotEmailAsBcc": False}))
    ok(
        api.post(
            f"{base}/{created['Id']}/e-reminder",
            {"ReceiverEanNumber": "5790000123456", "PaymentMeanEnum": "FIK"},
        )
    )
    assert [m["Type"] for m in mailouts(sandbox, inv["Guid"])] == ["Reminder", "ElectronicInvoiceReminder"]
    second = ok(api.post(base, {**options, "Timestamp": invoice(api, inv["Guid"])["TimeStamp"]}))
    assert second["Number"] == 2 and second["AccumulatedFeesAndInterestAmount"] >= 200.0
    ok(api.delete(f"{base}/{second['Id']}", {"Timestamp": second["Timestamp"]}))
    assert [r["IsDeleted"] for r in ok(api.get(base))] == [False, True]
    fully = pay(
        api, f"/v1/{{org}}/invoices/{inv['Guid']}/payments", invoice(api, inv["Guid"])["TimeStamp"], 1100
    )
    assert fully and invoice(api, inv["Guid"])["PaymentStatus"] == "Paid"


def scenario_reports(sandbox: SandboxServer, api: Api) -> None:
    """Reports add up: saldo sums to zero and equals each account's entries; the balance balances."""
    inv = booked_invoice(api)
    pay(api, f"/v1/{{org}}/invoices/{inv['Guid']}/payments", inv["TimeStamp"], 1000)
    year = date.today().year
    entries = year_entries(api)
    saldo = ok(api.get(f"/v1/{{org}}/{year}/reports/saldo"))
    assert round(sum(r["Amount"] for r in saldo), 2) == 0.0
    for row in saldo:
        assert row["Amount"] == account_sum(entries, row["AccountNumber"])
    balance = ok(api.get(f"/v1/{{org}}/{year}/reports/balance"))
    assert round(sum(r["Amount"] for r in balance), 2) == 0.0 and balance[-1]["AccountNumber"] == 0
    result = ok(api.get(f"/v1/{{org}}/{year}/reports/result", includeSummaryAccount="false"))
    assert all(r["AccountNumber"] < 50000 for r in result)
    assert balance[-1]["Amount"] == round(sum(r["Amount"] for r in result), 2)
    primo = ok(api.get(f"/v1/{{org}}/{year}/reports/primo"))
    primo_entries = [e for e in entries if e["Type"] == "Primo"]
    assert {r["AccountNumber"]: r["Amount"] for r in primo} == {
        e["AccountNumber"]: e["Amount"] for e in primo_entries
    }
    assert code_of(api.get("/v1/{org}/1999/reports/saldo")) == 47
    before = {r["AccountNumber"]: r["Amount"] for r in saldo}
    second = booked_invoice(api)
    after = {r["AccountNumber"]: r["Amount"] for r in ok(api.get(f"/v1/{{org}}/{year}/reports/saldo"))}
    assert round(after[DEBTORS] - before[DEBTORS], 2) == 1000.0 and second


def scenario_sales(sandbox: SandboxServer, api: Api) -> None:
    """Sales settings are the defaults invoices get; /sales lists invoices and credit notes together."""
    settings = ok(api.get("/v1/{org}/sales/settings"))
    assert settings["PaymentConditionType"] == "Netto" and settings["PaymentConditionNumberOfDays"] == 8
    inv = booked_invoice(api)
    assert (
        invoice(api, inv["Guid"])["PaymentConditionNumberOfDays"] == settings["PaymentConditionNumberOfDays"]
    )
    types = {
        r["Type"] for r in ok(api.get("/v1/{org}/sales", fields="Guid,Type", pageSize=1000))["Collection"]
    }
    assert types == {"Invoice", "CreditNote"}


def scenario_sales_credit_notes(sandbox: SandboxServer, api: Api) -> None:
    """A credit note: totals, book (entries), refund (Paid, entries) and back, PDF, e-mail, e-credit note."""
    guid_contact = contact(api, EanNumber="5790000123456")
    inv = booked_invoice(api, guid_contact)
    body = {"ContactGuid": guid_contact, "CreditNoteFor": inv["Guid"], "ProductLines": [LINE]}
    assert ok(api.post("/v1/{org}/sales/creditnotes/fetch", body))["TotalInclVat"] == 1000.0
    dropped = ok(api.post("/v1/{org}/sales/creditnotes", body))
    dropped = ok(
        api.put(
            f"/v1.2/{{org}}/sales/creditnotes/{dropped['Guid']}", {**body, "Timestamp": dropped["TimeStamp"]}
        )
    )
    ok(api.delete(f"/v1/{{org}}/sales/creditnotes/{dropped['Guid']}", {"Timestamp": dropped["TimeStamp"]}))
    created = ok(api.post("/v1/{org}/sales/creditnotes", body))
    listed = api.all_pages("/v1/{org}/sales/creditnotes", fields="Guid,DeletedAt", deletedOnly="true")
    assert dropped["Guid"] in {c["Guid"] for c in listed}
    assert api.get(f"/v1/{{org}}/sales/creditnotes/{created['Guid']}/pdf").status_code == 400
    note = ok(
        api.post(f"/v1/{{org}}/sales/creditnotes/{created['Guid']}/book", {"Timestamp": created["TimeStamp"]})
    )
    assert account_sum(entries_of(sandbox, created["Guid"]), DEBTORS) == -1000.0
    path = f"/v1/{{org}}/sales/creditnotes/{created['Guid']}/payments"
    refund = pay(api, path, note["TimeStamp"], 1000)
    assert ok(api.get(f"/v1/{{org}}/sales/creditnotes/{created['Guid']}"))["PaymentStatus"] == "Paid"
    assert {e["AccountNumber"]: e["Amount"] for e in entries_of(sandbox, refund["RelatedVoucherGuid"])} == {
        DEBTORS: 1000.0,
        BANK: -1000.0,
    }
    assert ok(api.get(path))["PaidAmount"] == 1000.0
    ok(api.delete(f"{path}/{refund['Guid']}", {"Timestamp": refund["TimeStamp"]}))
    assert ok(api.get(f"/v1/{{org}}/sales/creditnotes/{created['Guid']}"))["PaymentStatus"] == "Booked"
    assert api.get(f"/v1/{{org}}/sales/creditnotes/{created['Guid']}/pdf").content.startswith(b"%PDF")
    assert ok(api.get(f"/v1/{{org}}/sales/creditnotes/{created['Guid']}/email/template"))["Subject"]
    ok(
        api.post(
            f"/v1/{{org}}/sales/creditnotes/{created['Guid']}/email", {"ShouldAddTrustPilotEmailAsBcc": False}
        )
    )
    ok(
        api.post(
            f"/v3/{{org}}/sales/creditnotes/{created['Guid']}/e-creditNote", {"PaymentMeanEnum": "Domestic"}
        )
    )
    sent = ok(api.get(f"/v1/{{org}}/sales/creditnotes/{created['Guid']}/mailouts"))
    assert [m["Type"] for m in sent] == ["Mailout", "Einvoice"]


def scenario_sms(sandbox: SandboxServer, api: Api) -> None:
    """An SMS with a link to an invoice is recorded (never sent) and listed with includeSms."""
    inv = booked_invoice(api)
    body = {
        "ReceiverPhoneNumber": "+45 20 30 40 50",
        "ReceiverName": "Mette",
        "Timestamp": inv["TimeStamp"],
        "IsReminder": False,
    }
    ok(api.post(f"/v1/{{org}}/sms/{inv['Guid']}/send-sms", body))
    assert code_of(api.post(f"/v1/{{org}}/sms/{inv['Guid']}/send-sms", body)) == 58  # the invoice changed
    assert ok(api.get(f"/v1/{{org}}/invoices/{inv['Guid']}/mailouts", includeSms="false")) == []
    sms = ok(api.get(f"/v1/{{org}}/invoices/{inv['Guid']}/mailouts"))  # includeSms defaults to true
    assert [(m["Type"], m["IsSmsMessage"]) for m in sms] == [("Mailout", True)]


def scenario_trade_offers(sandbox: SandboxServer, api: Api) -> None:
    """Offer: create, change, e-mail, then generate-invoice: a draft invoice with the offer's lines."""
    guid_contact = contact(api)
    body = {"ContactGuid": guid_contact, "ProductLines": [LINE]}
    assert ok(api.post("/v1/{org}/tradeoffers/fetch", body))["TotalInclVat"] == 1000.0
    created = ok(api.post("/v1/{org}/tradeoffers", body))
    updated = ok(
        api.put(
            f"/v1.2/{{org}}/tradeoffers/{created['Guid']}",
            {**body, "Timestamp": created["TimeStamp"], "ProductLines": [{**LINE, "Quantity": 3}]},
        )
    )
    assert (
        code_of(
            api.put(
                f"/v1.2/{{org}}/tradeoffers/{created['Guid']}", {**body, "Timestamp": created["TimeStamp"]}
            )
        )
        == 58
    )
    assert (
        ok(api.get(f"/v1/{{org}}/tradeoffers/{created['Guid']}/email/template"))["Receiver"]
        == "bogholderi@acme.dk"
    )
    ok(
        api.post(
            f"/v1/{{org}}/tradeoffers/{created['Guid']}/email",
            {"Timestamp": updated["TimeStamp"], "ShouldAddTrustPilotEmailAsBcc": False},
        )
    )
    assert [m["Type"] for m in ok(api.get(f"/v1/{{org}}/tradeoffers/{created['Guid']}/mailouts"))] == [
        "TradeOffer"
    ]
    made = ok(api.post(f"/v1/{{org}}/tradeoffers/{created['Guid']}/generate-invoice", {}))
    draft = invoice(api, made["Guid"])
    assert (
        draft["Status"] == "Draft"
        and draft["TotalInclVat"] == 1500.0
        and draft["ContactGuid"] == guid_contact
    )
    offer = ok(api.get(f"/v1/{{org}}/tradeoffers/{created['Guid']}"))
    assert offer["Status"] == "Invoiced" and offer["GeneratedVouchers"] == [made["Guid"]]
    listed = ok(api.get("/v1/{org}/tradeoffers", fields="Guid,Status", pageSize=1000))["Collection"]
    assert {"Guid": created["Guid"], "Status": "Invoiced"} in listed
    other = ok(api.post("/v1/{org}/tradeoffers", body))
    ok(api.delete(f"/v1/{{org}}/tradeoffers/{other['Guid']}", {"Timestamp": other["TimeStamp"]}))
    assert ok(api.get(f"/v1/{{org}}/tradeoffers/{other['Guid']}"))["DeletedAt"]


def scenario_vat_types(sandbox: SandboxServer, api: Api) -> None:
    """VAT types: the 25 % Danish sales VAT drives invoice totals."""
    vat = {v["VatCode"]: v["VatRate"] for v in ok(api.get("/v1/{org}/vatTypes"))}
    assert vat["U25"] == 0.25


def scenario_webhooks(sandbox: SandboxServer, api: Api) -> None:
    """Subscriptions are stored and listed; the event list names what one can subscribe to."""
    events = [e["EventId"] for e in ok(api.get("/v1/{org}/webhooks/events"))]
    assert "invoice.booked" in events
    ok(
        api.post(
            "/v1/{org}/webhooks/subscribe", {"EventId": "invoice.booked", "Uri": "https://example.test/hook"}
        )
    )
    ok(
        api.post(
            "/v1/{org}/webhooks/subscribe", {"EventId": "contact.created", "Uri": "https://example.test/c"}
        )
    )
    assert (
        code_of(api.post("/v1/{org}/webhooks/subscribe", {"EventId": "nope", "Uri": "https://x.test"})) == 42
    )
    subs = ok(api.get("/v1/{org}/webhooks/subscriptions"))
    assert {(s["EventId"], s["Uri"]) for s in subs} == {
        ("invoice.booked", "https://example.test/hook"),
        ("contact.created", "https://example.test/c"),
    }
    ok(api.delete("/v1/{org}/webhooks/unsubscribe", {"EventId": "contact.created"}))
    assert [s["EventId"] for s in ok(api.get("/v1/{org}/webhooks/subscriptions"))] == ["invoice.booked"]


SCENARIOS: dict[str, Scenario] = {
    "AccountingYears": scenario_accounting_years,
    "Accounts": scenario_accounts,
    "Attachments": scenario_attachments,
    "Contacts": scenario_contacts,
    "ContactStateOfAccount": scenario_contact_state_of_account,
    "Countries": scenario_countries,
    "Entry": scenario_entry,
    "Files": scenario_files,
    "Invoices": scenario_invoices,
    "LedgerItems": scenario_ledger_items,
    "ListOrganizations": scenario_list_organizations,
    "ManuelVouchers": scenario_manuel_vouchers,
    "Products": scenario_products,
    "PurchaseCreditNote": scenario_purchase_credit_note,
    "PurchaseVoucherCreditPayments": scenario_purchase_voucher_credit_payments,
    "PurchaseVouchers": scenario_purchase_vouchers,
    "Reminders": scenario_reminders,
    "Reports": scenario_reports,
    "Sales": scenario_sales,
    "SalesCreditNotes": scenario_sales_credit_notes,
    "Sms": scenario_sms,
    "TradeOffers": scenario_trade_offers,
    "VatTypes": scenario_vat_types,
    "Webhooks": scenario_webhooks,
}
