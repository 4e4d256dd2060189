"""The inspection API reads and changes the kinds of object the resource modules added (payments,
mailouts, reminders, contact notes, attachments, purchase credit notes, ledger items, webhook
subscriptions), like the original collections."""

from __future__ import annotations

from dinero_sandbox.resources.tables import extra_tables
from dinero_sandbox.testing import SandboxServer

from .conftest import Api
from .scenarios import SCENARIOS, ok


def test_every_new_kind_is_listed_and_dumped(sandbox: SandboxServer, api: Api) -> None:
    SCENARIOS["Invoices"](sandbox, api)
    SCENARIOS["Webhooks"](sandbox, api)
    sizes = sandbox.orgs()["100000"]
    assert set(extra_tables()) <= set(sizes)
    payments = sandbox.dump(100000, "payments")
    assert len(payments) == sizes["payments"] >= 3 and all(p["VoucherGuid"] for p in payments)
    assert {m["Type"] for m in sandbox.dump(100000, "mailouts")} >= {"Mailout", "PreReminder", "Einvoice"}
    assert [
        s["EventId"]
        for s in sandbox.dump(100000, "webhook_subscriptions", ["EventId", "DeletedAt"])
        if not s["DeletedAt"]
    ] == ["invoice.booked"]


def test_changes_through_the_inspection_api_show_in_the_api(sandbox: SandboxServer, api: Api) -> None:
    sandbox.mutate(
        100000,
        "webhook_subscriptions",
        "create",
        guid="invoice.paid",
        fields={"EventId": "invoice.paid", "Uri": "https://example.test/paid"},
    )
    assert ok(api.get("/v1/{org}/webhooks/subscriptions")) == [
        {
            "EventId": "invoice.paid",
            "Uri": "https://example.test/paid",
            "CreatedAt": sandbox.dump(100000, "webhook_subscriptions")[0]["CreatedAt"],
        }
    ]
    item = "6f0c2a8e-2b1d-4c4e-9a7e-3f5b8c9d0e1f"
    line = {"Amount": 100, "AccountNumber": 58000, "BalancingAccountNumber": 1010}
    version = ok(api.post("/v1.2/{org}/ledgeritems", [{"Id": item, "Lines": [line]}]))["Version"]
    sandbox.mutate(100000, "ledger_items", "update", guid=item, fields={"VoucherDate": "2026-01-02"})
    changed = ok(api.post("/v1/{org}/ledgeritems/ledgers", [{"Id": item}]))[0]
    assert changed["VoucherDate"] == "2026-01-02" and changed["Version"] != version
    stale = api.put("/v1/{org}/ledgeritems", [{"Id": item, "Version": version, "Lines": [line]}])
    assert stale.status_code == 400 and stale.json()["code"] == 58
