"""Bare-array endpoints, detail GETs, entries (one accounting year, 31-day change window), files,
HTML 404s."""

from __future__ import annotations

from dinero_sandbox.testing import SandboxServer
from tests import seed_facts

from .conftest import Api


def test_reference_lists_are_bare_arrays(api: Api) -> None:
    for path in (
        "/v1/organizations",
        "/v1/{org}/accountingyears",
        "/v1/{org}/vatTypes",
        "/v1/{org}/accounts/entry",
        "/v1/{org}/accounts/purchase",
        "/v1/{org}/accounts/deposit",
        "/v1/{org}/files",
    ):
        body = api.get(path).json()
        assert isinstance(body, list) and body, path


def test_organizations_and_accounts_fields(api: Api) -> None:
    assert api.get("/v1/organizations").json() == [{"id": 100000, "name": "Dinero Demo ApS", "isPro": True}]
    full = api.get("/v1/organizations", fields="Id,Name,VatNumber").json()[0]
    assert full["Id"] == 100000 and len(full["VatNumber"]) == 8
    entry = api.get("/v1/{org}/accounts/entry").json()
    assert set(entry[0]) == {"AccountNumber", "Name"}
    numbers = {a["AccountNumber"] for a in entry}
    assert {1000, 55000, 58000, 64000} <= numbers
    purchase = api.get("/v1/{org}/accounts/purchase").json()
    assert purchase and all(2000 <= a["AccountNumber"] <= 9399 for a in purchase)
    deposit = api.get("/v1/{org}/accounts/deposit", fields="AccountNumber,Name,IsDefault").json()
    assert all(55000 <= a["AccountNumber"] <= 55999 for a in deposit)
    assert [a["AccountNumber"] for a in deposit if a["IsDefault"]] == [55000]
    turnover = api.get("/v1/{org}/accounts/entry", categoryFilter="Turnover", fields="Category").json()
    assert turnover and {a["Category"] for a in turnover} == {"Turnover"}
    rates = {v["VatCode"]: v["VatRate"] for v in api.get("/v1/{org}/vatTypes").json()}
    assert rates["U25"] == 0.25 and rates["I25"] == 0.25


def test_invoice_detail_has_lines_totals_and_timestamp(sandbox: SandboxServer, api: Api) -> None:
    stored = next(i for i in sandbox.dump(100000, "invoices") if i["Status"] == "Booked")
    invoice = api.get(f"/v1/{{org}}/invoices/{stored['Guid']}").json()
    assert invoice["TimeStamp"] and len(invoice["TimeStamp"]) == 16
    assert invoice["ProductLines"] and invoice["TotalLines"][-1]["TotalAmount"] == invoice["TotalInclVat"]
    assert round(sum(line["TotalAmount"] for line in invoice["ProductLines"]), 2) == invoice["TotalExclVat"]
    assert "TotalExclVatInDkk" not in invoice and "Type" not in invoice
    pdf = api.session.get(
        api.url(f"/v1/{{org}}/invoices/{stored['Guid']}"),
        headers={"Accept": "application/octet-stream"},
        timeout=10,
    )
    assert pdf.content.startswith(b"%PDF")


def test_detail_endpoints_return_the_stored_object(sandbox: SandboxServer, api: Api) -> None:
    for collection, path, key in (
        ("contacts", "contacts", "ContactGuid"),
        ("products", "products", "ProductGuid"),
        ("creditnotes", "sales/creditnotes", "Guid"),
        ("tradeoffers", "tradeoffers", "Guid"),
        ("manual_vouchers", "vouchers/manuel", "Guid"),
        ("purchase_vouchers", "vouchers/purchase", "Guid"),
    ):
        stored = sandbox.dump(100000, collection)[0]
        response = api.get(f"/v1/{{org}}/{path}/{stored[key]}")
        assert response.status_code == 200, path
        assert response.json()[key] == stored[key]


def test_unknown_guid_and_route_answer_html_404(api: Api) -> None:
    for path in ("/v1/{org}/invoices/00000000-0000-4000-8000-000000000000", "/v1/{org}/no-such-thing"):
        response = api.get(path)
        assert response.status_code == 404 and response.headers["Content-Type"].startswith("text/html")


def test_entries_per_accounting_year_balance_and_reach_vouchers(sandbox: SandboxServer, api: Api) -> None:
    years = api.get("/v1/{org}/accountingyears").json()
    assert [y["Name"] for y in years] == seed_facts.accounting_years(seed_facts.ORG_MAIN)
    last = years[-1]
    entries = api.get("/v1/{org}/entries", fromDate=last["FromDate"], toDate=last["ToDate"]).json()
    assert round(sum(e["Amount"] for e in entries), 2) == 0
    assert {e["Type"] for e in entries} == {"Primo", "Normal"}
    manual = {m["Guid"] for m in sandbox.dump(100000, "manual_vouchers")}
    purchase = {p["Guid"] for p in sandbox.dump(100000, "purchase_vouchers")}
    kinds = {e["VoucherType"]: e["VoucherGuid"] for e in entries if e["Type"] == "Normal"}
    assert kinds["ManualVoucher"] in manual and kinds["Purchases"] in purchase
    assert api.get(f"/v1/{{org}}/vouchers/manuel/{kinds['ManualVoucher']}").status_code == 200
    assert api.get(f"/v1/{{org}}/vouchers/purchase/{kinds['Purchases']}").status_code == 200
    no_primo = api.get(
        "/v1/{org}/entries", fromDate=last["FromDate"], toDate=last["ToDate"], includePrimo="false"
    ).json()
    assert len(no_primo) == len([e for e in entries if e["Type"] != "Primo"])


def test_entries_cannot_cross_accounting_years(api: Api) -> None:
    years = api.get("/v1/{org}/accountingyears").json()
    crossing = api.get("/v1/{org}/entries", fromDate=years[0]["ToDate"], toDate=years[1]["FromDate"])
    assert crossing.status_code == 400
    assert api.get("/v1/{org}/entries", fromDate="1990-01-01", toDate="1990-02-01").status_code == 400
    assert api.get("/v1/{org}/entries").status_code == 400


def test_entry_changes_window_is_at_most_31_days(sandbox: SandboxServer, api: Api) -> None:
    ok = api.get(
        "/v1/{org}/entries/changes", changesFrom="2025-01-01T00:00:00Z", changesTo="2025-02-01T00:00:00Z"
    )
    assert ok.status_code == 200 and isinstance(ok.json(), list)
    too_long = api.get(
        "/v1/{org}/entries/changes", changesFrom="2025-01-01T00:00:00Z", changesTo="2025-02-01T00:00:01Z"
    )
    assert too_long.status_code == 400
    window = [e for e in ok.json() if e["Type"] == "Normal"]
    assert window and all("2025-01-01" <= e["Date"] <= "2025-02-01" for e in window)


def test_files_list_pages_and_filters(sandbox: SandboxServer, api: Api) -> None:
    stored = sandbox.dump(100000, "files")
    hidden = [f for f in stored if not f["Linked"] and f["UploadedBy"] == "API"]
    assert hidden  # seeded API uploads never attached
    listed = api.get("/v1/{org}/files").json()
    assert len(listed) == len(stored) - len(hidden)
    assert not {f["FileGuid"] for f in hidden} & {f["FileGuid"] for f in listed}
    unused = api.get("/v1/{org}/files", fileStatus="Unused").json()
    assert unused and all(not f["Linked"] for f in unused)
    page = api.get("/v1/{org}/files", page=1, pageSize=10, fields="FileGuid").json()
    assert [f["FileGuid"] for f in page] == [f["FileGuid"] for f in listed[10:20]]
    pdfs = api.get("/v1/{org}/files", extensions="pdf", fields="Extension").json()
    assert pdfs and {f["Extension"] for f in pdfs} == {".pdf"}


def test_files_upload_dates_take_only_the_specs_yyyy_mm_dd_with_slashes(
    sandbox: SandboxServer, api: Api
) -> None:
    """``uploadedAfter``/``uploadedBefore`` are documented as ``yyyy/MM/dd``: another spelling is refused,
    not guessed, so a client sending one learns it here rather than from Dinero."""
    for spelling in ("2026-01-01", "2026/1/1", "01/01/2026"):
        refused = api.get("/v1/{org}/files", uploadedAfter=spelling)
        assert refused.status_code == 400, spelling
        assert refused.json()["code"] == 44 and "uploadedAfter" in refused.json()["validationErrors"]
    days = sorted(f["UploadedAt"][:10] for f in api.get("/v1/{org}/files").json())
    middle = days[len(days) // 2]
    after = api.get("/v1/{org}/files", uploadedAfter=middle.replace("-", "/")).json()
    assert after and all(f["UploadedAt"][:10] >= middle for f in after)
    sandbox.set_behaviours(upload_date_filter="as_described")  # the spec's descriptions: the other way round
    swapped = api.get("/v1/{org}/files", uploadedAfter=middle.replace("-", "/")).json()
    assert swapped and all(f["UploadedAt"][:10] <= middle for f in swapped)
