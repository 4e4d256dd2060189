"""Changes made behind the API's back through ``POST /_sandbox/orgs/{org}/mutate`` (to exercise
incremental syncs): create, update, delete or restore any stored object, bumping ``UpdatedAt`` and the
document's ``TimeStamp``/``Timestamp`` as Dinero would."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from .constants import DRAFT_NUMBER
from .errors import DineroError
from .orgdata import OrgData
from .store import Table
from .timeutil import now_str

TIMESTAMP_FIELDS = ("TimeStamp", "Timestamp")


def bump(
    org: OrgData, table: Table, row: int, changes: dict[str, Any] | None = None, *, when: str | None = None
) -> None:
    """Apply ``changes`` and mark the row changed now (UpdatedAt, Timestamp)."""
    changes = dict(changes or {})
    stamp = when or now_str()
    if "UpdatedAt" in table.cols:
        current = table.cols["UpdatedAt"][row]
        if current and stamp <= current:  # keep UpdatedAt strictly increasing per record
            from .timeutil import add_seconds

            stamp = add_seconds(current, 0.001)
        changes.setdefault("UpdatedAt", stamp)
    for name in TIMESTAMP_FIELDS:
        if name in table.cols:
            changes[name] = org.next_timestamp()
    if "Version" in table.cols:  # ledger items: a base64 rowversion, new on every change
        changes["Version"] = base64.b64encode(int(org.next_timestamp(), 16).to_bytes(8, "big")).decode()
    table.update(row, changes)
    org.touch()


def _canonical_fields(table: Table, fields: dict[str, Any]) -> dict[str, Any]:
    known = {f.lower(): f for f in [*table.fields, *table.nested_fields] if not f.startswith("_")}
    out = {}
    for name, value in fields.items():
        canonical = known.get(name.lower())
        if canonical is None:
            raise ValueError(f"unknown field {name!r} for {table.name}")
        out[canonical] = value
    return out


def defaults_for(org: OrgData, collection: str, now: str) -> dict[str, Any]:
    """A new object's defaults per collection (times now, drafts for documents)."""
    out: dict[str, Any] = {"CreatedAt": now, "UpdatedAt": now, "DeletedAt": None}
    if collection in ("invoices", "creditnotes"):
        out.update(
            Status="Draft",
            PaymentStatus="Draft",
            Number=DRAFT_NUMBER,
            Currency="DKK",
            Language="da-DK",
            Type="Invoice" if collection == "invoices" else "CreditNote",
            TimeStamp=org.next_timestamp(),
            TotalExclVat=0.0,
            TotalInclVat=0.0,
            TotalVat=0.0,
            TotalVatableAmount=0.0,
            TotalNonVatableAmount=0.0,
            TotalExclVatInDkk=0.0,
            TotalInclVatInDkk=0.0,
            ProductLines=[],
            TotalLines=[],
            Date=now[:10],
            Description="Faktura",
            MailOutStatus="NotSent",
            ShowLinesInclVat=False,
            IsSentToDebtCollection=False,
            IsMobilePayInvoiceEnabled=False,
            IsPensoPayEnabled=False,
            PaymentConditionNumberOfDays=8,
            PaymentConditionType="Netto",
            _BookedAt=None,
        )
    elif collection == "tradeoffers":
        out.update(
            Status="Draft",
            Number=org.next_number("tradeoffer"),
            TimeStamp=org.next_timestamp(),
            Date=now[:10],
            ProductLines=[],
            TotalLines=[],
            GeneratedVouchers=[],
            History=[],
            HasGeneratedAnyVouchers=False,
        )
    elif collection in ("manual_vouchers", "purchase_vouchers"):
        out.update(
            Status="Draft", Timestamp=org.next_timestamp(), VoucherDate=now[:10], Lines=[], _BookedAt=None
        )
    elif collection == "contacts":
        out.update(
            IsDebitor=True, IsCreditor=False, IsPerson=False, IsMember=False, UseCvr=False, CountryKey="DK"
        )
    elif collection == "products":
        out.update(Quantity=1.0, Unit="parts", AccountNumber=1000, BaseAmountValue=0.0)
    elif collection == "files":
        out = {"UploadedAt": now, "Linked": [], "_Visible": True}
    return out


def mutate(org: OrgData, spec: dict[str, Any]) -> dict[str, Any]:
    """Perform one sandbox mutation and return the changed object."""
    collection = str(spec.get("collection", ""))
    if collection not in org.tables:
        raise ValueError(f"unknown collection {collection!r}; collections: {', '.join(org.tables)}")
    table = org.table(collection)
    action = str(spec.get("action", "update")).lower()
    fields = _canonical_fields(table, dict(spec.get("fields") or {}))
    now = now_str()
    if action == "create":
        record = defaults_for(org, collection, now)
        record.update(fields)
        record.setdefault(table.key, spec.get("guid") or str(uuid.uuid4()))
        if table.find(str(record[table.key])) is not None:
            raise DineroError(
                400, 42, "Validation Error", {table.key: "An object with this key already exists"}
            )
        row = table.add(record)
        org.touch()
        return table.get(row)
    row = table.find(str(spec.get("guid")))
    if row is None:
        raise KeyError(f"no {collection} with key {spec.get('guid')!r}")
    if action == "update":
        bump(org, table, row, fields)
    elif action == "delete":
        bump(org, table, row, {**fields, "DeletedAt": now} if "DeletedAt" in table.cols else fields, when=now)
        if "DeletedAt" in table.cols:
            table.update(row, {"DeletedAt": table.cols["UpdatedAt"][row]})
    elif action == "restore":
        bump(org, table, row, {**fields, "DeletedAt": None})
    else:
        raise ValueError(f"unknown action {action!r}: create, update, delete, restore")
    return table.get(row)


PAGING_COLLECTIONS = {
    "api_read.contacts_list": "contacts",
    "api_read.contacts_list_v2": "contacts",
    "api_read.products_list": "products",
    "api_read.invoices_list": "invoices",
    "api_read.sales_list": "invoices",
    "api_read.creditnotes_list": "creditnotes",
    "api_read.tradeoffers_list": "tradeoffers",
}


def change_while_paging(org: OrgData, collection: str, inserts: int, updates: int) -> None:
    """The ``insert_while_paging`` fault: insert new live records and touch the oldest live ones (which
    moves them to the end of UpdatedAt-ordered lists, shifting every later row one place forward)."""
    table = org.table(collection)
    deleted = table.cols["DeletedAt"]
    updated = table.cols["UpdatedAt"]
    live = sorted((r for r in range(len(table)) if deleted[r] is None), key=lambda r: (updated[r] or "", r))
    for row in live[:updates]:
        bump(org, table, row)
    for k in range(inserts):
        name = f"Indsat under paging {table.version}-{k}"
        fields: dict[str, Any] = (
            {"Name": name}
            if collection in ("contacts", "products")
            else {"Description": name, "ContactName": name}
        )
        mutate(org, {"collection": collection, "action": "create", "fields": fields})
