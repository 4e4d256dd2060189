"""Paged list endpoints: envelope, 0-based pages, page-size limit, fields casing, queryFilter,
changesSince, deletedOnly, invoice date/status filters (REFERENCE.md §3)."""

from __future__ import annotations

import pytest

from dinero_sandbox.testing import SandboxServer

from .conftest import Api

ENVELOPE_LISTS = ["contacts", "products", "invoices", "sales", "sales/creditnotes", "tradeoffers"]


@pytest.mark.parametrize("path", ENVELOPE_LISTS)
def test_envelope_and_zero_based_pages(api: Api, path: str) -> None:
    first = api.get(f"/v1/{{org}}/{path}", page=0, pageSize=5).json()
    second = api.get(f"/v1/{{org}}/{path}", page=1, pageSize=5).json()
    assert set(first) == {"Collection", "Pagination"}
    pagination = first["Pagination"]
    assert pagination["MaxPageSizeAllowed"] == 1000 and pagination["PageSize"] == 5
    assert pagination["Page"] == 0 and pagination["Result"] == 5
    assert second["Pagination"]["Page"] == 1
    assert not {str(r) for r in first["Collection"]} & {str(r) for r in second["Collection"]}


def test_default_page_size_is_100(api: Api) -> None:
    body = api.get("/v1/{org}/invoices").json()
    assert body["Pagination"]["PageSize"] == 100 and len(body["Collection"]) == 100


def test_page_size_above_1000_is_error_43(api: Api) -> None:
    response = api.get("/v1/{org}/invoices", pageSize=1001)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 43 and "pageSize" in body["validationErrors"]
    assert set(body) >= {"code", "message", "validationErrors", "languageSpecificMessages"}


def test_all_pages_return_every_live_record_once(sandbox: SandboxServer, api: Api) -> None:
    stored = sandbox.dump(100000, "invoices")
    live = {r["Guid"] for r in stored if r["DeletedAt"] is None}
    rows = api.all_pages("/v1/{org}/invoices", pageSize=37, fields="Guid")
    assert len(rows) == len(live) and {r["Guid"] for r in rows} == live


def test_default_fields_echo_the_reference_casing(api: Api) -> None:
    contact = api.get("/v1/{org}/contacts", pageSize=1).json()["Collection"][0]
    assert set(contact) == {"name", "contactGuid"}
    offer = api.get("/v1/{org}/tradeoffers", pageSize=1).json()["Collection"][0]
    assert set(offer) == {"guid", "contactName", "date", "description"}
    invoice = api.get("/v1/{org}/invoices", pageSize=1).json()["Collection"][0]
    assert set(invoice) == {"Guid", "ContactName", "Date", "Description"}
    assert set(api.get("/v1/{org}/sales", pageSize=1).json()["Collection"][0]) == {
        "Guid",
        "ContactName",
        "Date",
        "Description",
        "Type",
    }
    assert set(api.get("/v1/{org}/products", pageSize=1).json()["Collection"][0]) == {"Name", "ProductGuid"}


def test_fields_come_back_in_the_requested_casing(api: Api) -> None:
    row = api.get("/v1/{org}/contacts", pageSize=1, fields="contactguid,NAME,UpdatedAt").json()["Collection"][
        0
    ]
    assert list(row) == ["contactguid", "NAME", "UpdatedAt"]


def test_unknown_field_is_refused(api: Api) -> None:
    response = api.get("/v1/{org}/invoices", fields="Guid,ProductLines")
    assert response.status_code == 400 and "ProductLines" in response.text


def test_query_filter_eq_contains_case_insensitive_and_joined(sandbox: SandboxServer, api: Api) -> None:
    contacts = [c for c in sandbox.dump(100000, "contacts") if c["DeletedAt"] is None]
    target = next(c for c in contacts if c["Email"] and not c["IsPerson"])
    rows = api.all_pages(
        "/v1/{org}/contacts", fields="ContactGuid", queryFilter=f"Email eq '{target['Email'].upper()}'"
    )
    assert target["ContactGuid"] in {r["ContactGuid"] for r in rows}
    persons = api.all_pages(
        "/v1/{org}/contacts", fields="ContactGuid,IsPerson", queryFilter="IsPerson eq 'true'"
    )
    assert persons and all(r["IsPerson"] for r in persons)
    expected = {c["ContactGuid"] for c in contacts if c["IsPerson"] and "sen" in c["Name"].lower()}
    both = api.all_pages(
        "/v1/{org}/contacts", fields="ContactGuid", queryFilter="IsPerson eq true;Name contains 'SEN'"
    )
    assert {r["ContactGuid"] for r in both} == expected and expected


def test_query_filter_on_invoice_external_reference(sandbox: SandboxServer, api: Api) -> None:
    invoice = next(
        i for i in sandbox.dump(100000, "invoices") if i["ExternalReference"] and not i["DeletedAt"]
    )
    rows = api.get(
        "/v1/{org}/invoices",
        fields="Guid,ExternalReference",
        queryFilter=f"ExternalReference eq '{invoice['ExternalReference'].lower()}'",
    ).json()
    assert [r["Guid"] for r in rows["Collection"]] == [invoice["Guid"]]
    assert rows["Pagination"]["ResultWithoutFilter"] == 1


def test_query_filter_quote_doubling_and_semicolon_inside_value(sandbox: SandboxServer, api: Api) -> None:
    created = sandbox.mutate(100000, "contacts", "create", fields={"Name": "O'Brien; Sons"})
    rows = api.get("/v1/{org}/contacts", fields="ContactGuid", queryFilter="Name eq 'o''brien; sons'").json()
    assert [r["ContactGuid"] for r in rows["Collection"]] == [created["ContactGuid"]]


@pytest.mark.parametrize(
    "query_filter",
    ["City eq 'Aarhus'", "AMINO", "Name like 'x'", "Name eq 'unterminated", "Name eq 'a' Email eq 'b'"],
)
def test_bad_or_non_filterable_filters_are_code_46(api: Api, query_filter: str) -> None:
    response = api.get("/v1/{org}/contacts", queryFilter=query_filter)
    assert response.status_code == 400 and response.json()["code"] == 46


def test_invoice_filter_refuses_fields_the_reference_does_not_list(api: Api) -> None:
    response = api.get("/v1/{org}/invoices", queryFilter="ContactName eq 'x'")
    assert response.status_code == 400 and response.json()["code"] == 46


def test_changes_since_is_inclusive_and_strictly_formatted(sandbox: SandboxServer, api: Api) -> None:
    changed = sandbox.mutate(
        100000,
        "contacts",
        "update",
        guid=sandbox.dump(100000, "contacts")[0]["ContactGuid"],
        fields={"Phone": "+45 11 22 33 44"},
    )
    second = changed["UpdatedAt"][:19] + "Z"
    rows = api.all_pages("/v1/{org}/contacts", fields="ContactGuid,UpdatedAt", changesSince=second)
    assert changed["ContactGuid"] in {r["ContactGuid"] for r in rows}
    assert all(r["UpdatedAt"] >= changed["UpdatedAt"][:19] for r in rows)
    for bad in ("2024-01-01", "2024-01-01T00:00:00", "2024-01-01T00:00:00+01:00", "2024-13-01T00:00:00Z"):
        response = api.get("/v1/{org}/contacts", changesSince=bad)
        assert response.status_code == 400, bad


def test_changes_since_counts_records_changed_at_or_after(sandbox: SandboxServer, api: Api) -> None:
    products = sandbox.dump(100000, "products")
    live = [p for p in products if p["DeletedAt"] is None]
    cut = sorted(p["UpdatedAt"] for p in live)[len(live) // 2]
    since = cut[:19] + "Z"
    expected = {p["ProductGuid"] for p in live if p["UpdatedAt"] >= cut[:19]}
    rows = api.all_pages("/v1/{org}/products", fields="ProductGuid", changesSince=since)
    assert {r["ProductGuid"] for r in rows} == expected


def test_deleted_only_and_default_exclusion(sandbox: SandboxServer, api: Api) -> None:
    stored = sandbox.dump(100000, "contacts")
    deleted = {c["ContactGuid"] for c in stored if c["DeletedAt"]}
    assert deleted
    live_rows = api.all_pages("/v1/{org}/contacts", fields="ContactGuid")
    deleted_rows = api.all_pages("/v1/{org}/contacts", fields="ContactGuid,DeletedAt", deletedOnly="true")
    assert not deleted & {r["ContactGuid"] for r in live_rows}
    assert {r["ContactGuid"] for r in deleted_rows} == deleted
    assert all(r["DeletedAt"] for r in deleted_rows)


def test_deletion_through_mutate_shows_up_with_changes_since(sandbox: SandboxServer, api: Api) -> None:
    invoice = next(
        i for i in sandbox.dump(100000, "invoices") if i["Status"] == "Draft" and not i["DeletedAt"]
    )
    deleted = sandbox.mutate(100000, "invoices", "delete", guid=invoice["Guid"])
    rows = api.all_pages(
        "/v1/{org}/invoices",
        fields="Guid,DeletedAt",
        deletedOnly="true",
        changesSince=deleted["DeletedAt"][:19] + "Z",
    )
    assert [r["Guid"] for r in rows] == [invoice["Guid"]]


def test_invoice_dates_do_not_filter_drafts_and_status_filter(sandbox: SandboxServer, api: Api) -> None:
    stored = [i for i in sandbox.dump(100000, "invoices") if i["DeletedAt"] is None]
    rows = api.all_pages(
        "/v1/{org}/invoices", fields="Guid,Date,Status", startDate="2025-03-01", endDate="2025-03-31"
    )
    expected = {
        i["Guid"] for i in stored if i["Status"] == "Draft" or "2025-03-01" <= i["Date"] <= "2025-03-31"
    }
    assert {r["Guid"] for r in rows} == expected
    assert api.get("/v1/{org}/invoices", startDate="2025-03-01").status_code == 400
    paid = api.all_pages("/v1/{org}/invoices", fields="Guid,Status", statusFilter="Paid,Overdue")
    assert paid and {r["Status"] for r in paid} <= {"Paid", "Overdue"}
    assert len(paid) == sum(1 for i in stored if i["PaymentStatus"] in ("Paid", "Overdue"))


def test_sales_list_holds_invoices_and_credit_notes(sandbox: SandboxServer, api: Api) -> None:
    rows = api.all_pages("/v1/{org}/sales", fields="Guid,Type")
    invoices = [i for i in sandbox.dump(100000, "invoices") if not i["DeletedAt"]]
    notes = [c for c in sandbox.dump(100000, "creditnotes") if not c["DeletedAt"]]
    assert sorted(r["Type"] for r in rows) == sorted(
        ["Invoice"] * len(invoices) + ["CreditNote"] * len(notes)
    )


def test_contacts_are_ordered_by_updated_at(api: Api) -> None:
    rows = api.all_pages("/v1/{org}/contacts", fields="UpdatedAt")
    assert [r["UpdatedAt"] for r in rows] == sorted(r["UpdatedAt"] for r in rows)


def test_v2_contacts_return_deleted_and_live_without_deleted_only(sandbox: SandboxServer, api: Api) -> None:
    stored = sandbox.dump(100000, "contacts")
    both = api.all_pages("/v2/{org}/contacts", fields="ContactGuid")
    assert len(both) == len(stored)
    live = api.all_pages("/v2/{org}/contacts", fields="ContactGuid", deletedOnly="false")
    assert len(live) == sum(1 for c in stored if not c["DeletedAt"])
