"""Write endpoints the target uses: contacts, invoices (create/update/book with Timestamp), manual
vouchers, file upload and the attach rule; validation errors in Dinero's shape."""

from __future__ import annotations

import uuid

from dinero_sandbox.testing import SandboxServer

from .conftest import Api

CONTACT = {"Name": "Acme A/S", "CountryKey": "DK", "IsPerson": False, "IsMember": False, "UseCvr": False}
LINE = {
    "AccountNumber": 1000,
    "BaseAmountValue": 120,
    "Discount": 0,
    "Quantity": 2,
    "Unit": "hours",
    "Description": "Consulting",
}


def _contact(api: Api, **extra: object) -> str:
    response = api.post("/v1/{org}/contacts", {**CONTACT, **extra})
    assert response.status_code == 200, response.text
    return response.json()["ContactGuid"]


def test_contact_create_requires_the_five_fields(api: Api) -> None:
    response = api.post("/v1/{org}/contacts", {"Name": "Only a name"})
    body = response.json()
    assert response.status_code == 400 and body["code"] == 42
    assert set(body["validationErrors"]) == {"CountryKey", "IsPerson", "IsMember", "UseCvr"}


def test_contact_create_update_delete_round_trip(sandbox: SandboxServer, api: Api) -> None:
    guid = _contact(api, ExternalReference="shop:42", Email="a@acme.dk")
    found = api.get("/v1/{org}/contacts", fields="ContactGuid", queryFilter="ExternalReference eq 'shop:42'")
    assert [r["ContactGuid"] for r in found.json()["Collection"]] == [guid]
    assert api.put(f"/v2/{{org}}/contacts/{guid}", {**CONTACT, "Name": "Acme Danmark A/S"}).status_code == 200
    stored = api.get(f"/v1/{{org}}/contacts/{guid}").json()
    assert stored["Name"] == "Acme Danmark A/S" and stored["Email"] is None  # PUT replaces everything
    assert api.delete(f"/v1/{{org}}/contacts/{guid}").status_code == 200
    assert api.get(f"/v1/{{org}}/contacts/{guid}").json()["DeletedAt"]
    assert api.put(f"/v2/{{org}}/contacts/{guid}", CONTACT).json()["code"] == 65


def test_client_chosen_contact_guid_is_honoured(api: Api) -> None:
    chosen = str(uuid.uuid4())
    assert _contact(api, ContactGuid=chosen) == chosen


def test_invoice_create_honours_guid_and_refuses_a_second_create(sandbox: SandboxServer, api: Api) -> None:
    contact = _contact(api)
    guid = str(uuid.uuid4())
    body = {"Guid": guid, "ContactGuid": contact, "ExternalReference": "order-1", "ProductLines": [LINE]}
    created = api.post("/v1/{org}/invoices", body)
    assert created.status_code == 200 and created.json()["Guid"] == guid and created.json()["TimeStamp"]
    again = api.post("/v1/{org}/invoices", body)
    assert (
        again.status_code == 400 and again.json()["code"] == 42 and "Guid" in again.json()["validationErrors"]
    )
    invoice = api.get(f"/v1/{{org}}/invoices/{guid}").json()
    assert invoice["Status"] == "Draft" and invoice["TimeStamp"] == created.json()["TimeStamp"]
    assert invoice["TotalExclVat"] == 240 and invoice["TotalVat"] == 60 and invoice["TotalInclVat"] == 300
    assert invoice["ProductLines"][0]["TotalAmountInclVat"] == 300
    assert [t["Type"] for t in invoice["TotalLines"]] == ["SubTotal", "Vat", "Total"]
    assert sum(1 for i in sandbox.dump(100000, "invoices") if i["ExternalReference"] == "order-1") == 1


def test_invoice_line_validation_names_the_field(api: Api) -> None:
    # A body that does not fit the spec's request schema is refused before any other check (as Dinero's
    # model binding does), naming every missing field; Discount may be left out (dinero_sandbox/contract.py).
    response = api.post("/v1/{org}/invoices", {"ProductLines": [LINE, {"Quantity": 1}]})
    errors = response.json()["validationErrors"]
    assert response.status_code == 400 and response.json()["code"] == 42
    assert {"ProductLines[1].AccountNumber", "ProductLines[1].BaseAmountValue"} <= set(errors)
    assert "ProductLines[1].Discount" not in errors
    # A body that fits is then checked against the organization: an unknown account is named.
    response = api.post("/v1/{org}/invoices", {"ProductLines": [{**LINE, "AccountNumber": 4242}]})
    assert (
        response.status_code == 400 and "ProductLines[0].AccountNumber" in response.json()["validationErrors"]
    )
    assert api.post("/v1/{org}/invoices", {}).json()["validationErrors"] == {
        "ProductLines": "The ProductLines field is required."
    }


def test_invoice_update_and_book_check_the_timestamp(sandbox: SandboxServer, api: Api) -> None:
    contact = _contact(api)
    created = api.post("/v1/{org}/invoices", {"ContactGuid": contact, "ProductLines": [LINE]}).json()
    guid, first = created["Guid"], created["TimeStamp"]
    updated = api.put(
        f"/v1.2/{{org}}/invoices/{guid}",
        {"Timestamp": first, "ContactGuid": contact, "ProductLines": [{**LINE, "Quantity": 3}]},
    )
    assert updated.status_code == 200
    second = updated.json()["TimeStamp"]
    assert second != first
    stale = api.put(f"/v1.2/{{org}}/invoices/{guid}", {"Timestamp": first, "ProductLines": [LINE]})
    assert stale.status_code == 400 and stale.json()["code"] == 58
    assert api.post(f"/v1/{{org}}/invoices/{guid}/book", {"Timestamp": first}).json()["code"] == 58
    highest = max(i["Number"] for i in sandbox.dump(100000, "invoices") if i["Status"] == "Booked")
    booked = api.post(f"/v1/{{org}}/invoices/{guid}/book", {"Timestamp": second})
    assert booked.status_code == 200, booked.text
    invoice = booked.json()
    assert (
        invoice["Status"] == "Booked" and invoice["Number"] == highest + 1 and invoice["TotalInclVat"] == 450
    )
    # a retried book with the old timestamp is refused (the lost-response case), as is a PUT on a booked one
    assert api.post(f"/v1/{{org}}/invoices/{guid}/book", {"Timestamp": second}).json()["code"] == 58
    refused = api.put(
        f"/v1.2/{{org}}/invoices/{guid}", {"Timestamp": invoice["TimeStamp"], "ProductLines": [LINE]}
    )
    assert refused.status_code == 400
    entries = [e for e in sandbox.dump(100000, "entries") if e["VoucherGuid"] == guid]
    assert sorted(e["Amount"] for e in entries) == [-360.0, -90.0, 450.0]


def test_booking_needs_a_contact_and_draft_delete(api: Api) -> None:
    created = api.post("/v1/{org}/invoices", {"ProductLines": [LINE]}).json()
    refused = api.post(f"/v1/{{org}}/invoices/{created['Guid']}/book", {"Timestamp": created["TimeStamp"]})
    assert refused.status_code == 400 and "ContactGuid" in refused.json()["validationErrors"]
    assert api.delete(f"/v1/{{org}}/invoices/{created['Guid']}").status_code == 200
    deleted = api.all_pages("/v1/{org}/invoices", fields="Guid", deletedOnly="true")
    assert created["Guid"] in {r["Guid"] for r in deleted}


def test_stale_timestamp_fault_answers_58_once(sandbox: SandboxServer, api: Api) -> None:
    contact = _contact(api)
    created = api.post("/v1/{org}/invoices", {"ContactGuid": contact, "ProductLines": [LINE]}).json()
    sandbox.set_fault("stale_timestamp", count=1, path_contains="/book")
    book = f"/v1/{{org}}/invoices/{created['Guid']}/book"
    assert api.post(book, {"Timestamp": created["TimeStamp"]}).json()["code"] == 58
    assert api.post(book, {"Timestamp": created["TimeStamp"]}).status_code == 200


def test_manual_voucher_with_file_create_book_and_attach_rule(sandbox: SandboxServer, api: Api) -> None:
    upload = api.session.post(
        api.url("/v1/{org}/files"),
        params={"fileName": "kvittering.pdf"},
        files={"image": ("x.pdf", b"%PDF-1.4 receipt", "application/pdf")},
        timeout=30,
    )
    assert upload.status_code == 200
    file_guid = upload.json()["FileGuid"]
    visible = {f["FileGuid"] for f in api.get("/v1/{org}/files").json()}
    assert file_guid not in visible  # uploaded but not attached: invisible
    body = {
        "VoucherDate": "2026-03-02",
        "ExternalReference": "pos-day-1",
        "FileGuid": file_guid,
        "Lines": [
            {
                "Description": "Kontantsalg",
                "AccountNumber": 58000,
                "BalancingAccountNumber": 1000,
                "Amount": 1000.0,
            }
        ],
    }
    created = api.post("/v1/{org}/vouchers/manuel", body)
    assert created.status_code == 200, created.text
    voucher = created.json()
    assert voucher["Status"] == "Draft" and voucher["Timestamp"] and voucher["FileGuid"] == file_guid
    files = {f["FileGuid"]: f for f in api.get("/v1/{org}/files").json()}
    assert files[file_guid]["Linked"][0]["VoucherGuid"] == voucher["Guid"]
    assert files[file_guid]["Name"] == "kvittering.pdf"
    booked = api.post(
        f"/v1/{{org}}/vouchers/manuel/{voucher['Guid']}/book", {"Timestamp": voucher["Timestamp"]}
    )
    assert booked.status_code == 200, booked.text
    assert booked.json()["Status"] == "Booked" and booked.json()["VoucherNumber"]
    entries = [e for e in sandbox.dump(100000, "entries") if e["VoucherGuid"] == voucher["Guid"]]
    assert {e["AccountNumber"]: e["Amount"] for e in entries} == {58000: 1250.0, 1000: -1000.0, 64000: -250.0}
    assert all(e["FileGuid"] == file_guid and e["VoucherType"] == "ManualVoucher" for e in entries)


def test_manual_voucher_validation(api: Api) -> None:
    body = {
        "FileGuid": "doesnotexist",
        "Lines": [
            {"AccountNumber": 1234, "AccountVatCode": "X99"},
            {"Amount": 5, "BalancingAccountNumber": 55000},
        ],
    }
    response = api.post("/v1/{org}/vouchers/manuel", body)
    assert response.status_code == 400 and response.json()["code"] == 42
    assert set(response.json()["validationErrors"]) == {"Lines[0].Amount"}  # the spec's required Amount
    body["Lines"][0]["Amount"] = 5
    response = api.post("/v1/{org}/vouchers/manuel", body)
    errors = response.json()["validationErrors"]
    assert response.status_code == 400 and response.json()["code"] == 42
    assert {"FileGuid", "Lines[0].AccountNumber", "Lines[0].AccountVatCode"} <= set(errors)


def test_manual_voucher_update_and_delete_need_the_current_timestamp(
    sandbox: SandboxServer, api: Api
) -> None:
    line = {"AccountNumber": 6400, "BalancingAccountNumber": 55000, "Amount": 50}
    voucher = api.post("/v1/{org}/vouchers/manuel", {"Lines": [line]}).json()
    path = f"/v1/{{org}}/vouchers/manuel/{voucher['Guid']}"
    updated = api.put(path, {"Timestamp": voucher["Timestamp"], "Lines": [{**line, "Amount": 60}]})
    assert updated.status_code == 200 and updated.json()["TotalInclVat"] == 60
    assert api.delete(path, {"Timestamp": voucher["Timestamp"]}).json()["code"] == 58
    assert api.delete(path).status_code == 400
    assert api.delete(path, {"Timestamp": updated.json()["Timestamp"]}).status_code == 200
    stored = next(m for m in sandbox.dump(100000, "manual_vouchers") if m["Guid"] == voucher["Guid"])
    assert stored["DeletedAt"]


def test_deleting_a_booked_manual_voucher_offsets_its_entries(sandbox: SandboxServer, api: Api) -> None:
    line = {"AccountNumber": 6400, "BalancingAccountNumber": 55000, "Amount": 80}
    voucher = api.post("/v1/{org}/vouchers/manuel", {"Lines": [line]}).json()
    booked = api.post(
        f"/v1/{{org}}/vouchers/manuel/{voucher['Guid']}/book", {"Timestamp": voucher["Timestamp"]}
    )
    path = f"/v1/{{org}}/vouchers/manuel/{voucher['Guid']}"
    assert api.delete(path, {"Timestamp": booked.json()["Timestamp"]}).status_code == 200
    entries = [e for e in sandbox.dump(100000, "entries") if e["VoucherGuid"] == voucher["Guid"]]
    assert len(entries) == 4 and sum(e["Amount"] for e in entries) == 0


def test_file_over_six_megabytes_is_refused(api: Api) -> None:
    big = b"0" * (6 * 1024 * 1024 + 1)
    response = api.session.post(
        api.url("/v1/{org}/files"),
        params={"fileName": "big.pdf"},
        files={"file": ("big.pdf", big)},
        timeout=30,
    )
    # The spec types this endpoint's 400 body as a bare JSON string (dinero_sandbox/writes_vouchers.py).
    assert response.status_code == 400 and "6 MB" in response.json()


def test_commit_then_500_performs_the_write(sandbox: SandboxServer, api: Api) -> None:
    sandbox.set_fault("commit_then_500", path_contains="/invoices", method="POST")
    guid = str(uuid.uuid4())
    response = api.post("/v1/{org}/invoices", {"Guid": guid, "ProductLines": [LINE]})
    assert response.status_code == 500
    assert api.get(f"/v1/{{org}}/invoices/{guid}").status_code == 200


def test_upload_accepts_any_part_name_and_a_part_without_filename(api: Api) -> None:
    for files in ({"file": ("a.png", b"\x89PNG data")}, {"whatever": (None, "plain text part")}):
        response = api.session.post(
            api.url("/v1/{org}/files"), params={"fileName": "bilag.png"}, files=files, timeout=30
        )
        assert response.status_code == 200 and len(response.json()["FileGuid"]) == 32


def test_a_manual_voucher_that_does_not_balance_is_not_booked(sandbox: SandboxServer, api: Api) -> None:
    """Lines without a balancing account post their account and, for a sales VAT code, the VAT Dinero
    adds: -100 on 1000 (U25) and +100 on the bank post -125 and +100, which no ledger can hold. The draft
    is stored; booking it is refused (400, code 42) and writes no entry. With +125 it books, balanced."""
    lines = [{"AccountNumber": 1000, "Amount": -100}, {"AccountNumber": 55000, "Amount": 100}]
    voucher = api.post("/v1/{org}/vouchers/manuel", {"VoucherDate": "2026-03-02", "Lines": lines}).json()
    book = f"/v1/{{org}}/vouchers/manuel/{voucher['Guid']}/book"
    refused = api.post(book, {"Timestamp": voucher["Timestamp"]})
    assert refused.status_code == 400 and refused.json()["code"] == 42, refused.text
    assert "does not balance" in str(refused.json()["validationErrors"])
    assert not [e for e in sandbox.dump(100000, "entries") if e["VoucherGuid"] == voucher["Guid"]]
    path = f"/v1/{{org}}/vouchers/manuel/{voucher['Guid']}"
    lines[1]["Amount"] = 125
    updated = api.put(path, {"Timestamp": voucher["Timestamp"], "VoucherDate": "2026-03-02", "Lines": lines})
    assert updated.status_code == 200, updated.text
    booked = api.post(book, {"Timestamp": updated.json()["Timestamp"]})
    assert booked.status_code == 200, booked.text
    entries = [e for e in sandbox.dump(100000, "entries") if e["VoucherGuid"] == voucher["Guid"]]
    assert sum(e["Amount"] for e in entries) == 0 and len(entries) == 3
