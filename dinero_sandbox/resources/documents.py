"""Creating draft sales documents from other documents (``generate-creditnote`` from an invoice,
``generate-invoice`` from a trade offer) and the ``fetch`` (totals without storing) answers: the same
validation and totals as ``POST /invoices`` (``writes_sales``)."""

from __future__ import annotations

import uuid
from typing import Any

from ..constants import DRAFT_NUMBER
from ..errors import DineroError
from ..orgdata import OrgData
from ..timeutil import now_str
from ..writes_sales import KINDS, _document

CREATE_LINE_FIELDS = (
    "ProductGuid",
    "Description",
    "Comments",
    "Quantity",
    "AccountNumber",
    "Unit",
    "Discount",
    "LineType",
    "BaseAmountValue",
)


def create_lines(read_lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``InvoiceLinesCreateModel`` lines from read-model lines (what a copy of a document sends)."""
    return [{f: line.get(f) for f in CREATE_LINE_FIELDS if line.get(f) is not None} for line in read_lines]


def body_from(org: OrgData, table_name: str, row: int) -> dict[str, Any]:
    """A create body that reproduces a stored sales document."""
    table = org.table(table_name)
    doc = table.get(row)
    body = {
        f: doc.get(f)
        for f in (
            "ContactGuid",
            "ShowLinesInclVat",
            "Currency",
            "Language",
            "ExternalReference",
            "Comment",
            "Address",
        )
    }
    body["ProductLines"] = create_lines(doc.get("ProductLines") or [])
    return {k: v for k, v in body.items() if v is not None}


def create_draft(org: OrgData, kind: str, body: dict[str, Any], extra: dict[str, Any] | None = None) -> dict:
    """Store a new draft invoice/credit note from a create body -> the stored record."""
    fields = _document(org, body, kind)
    guid = str(uuid.uuid4())
    if org.table("invoices").find(guid) is not None or org.table("creditnotes").find(guid) is not None:
        raise DineroError(
            400, 42, "Validation Error", {"Guid": f"An object with Guid {guid} already exists."}
        )
    now = now_str()
    record = {
        "Guid": guid,
        "CreatedAt": now,
        "UpdatedAt": now,
        "DeletedAt": None,
        "Number": DRAFT_NUMBER,
        "Status": "Draft",
        "PaymentStatus": "Draft",
        "MailOutStatus": "NotSent",
        "LatestMailOutType": "None",
        "IsSentToDebtCollection": False,
        "FikCode": None,
        "DepositAccountNumber": None,
        "TimeStamp": org.next_timestamp(),
        "Type": KINDS[kind][0],
        "_BookedAt": None,
        **fields,
        **(extra or {}),
    }
    org.table(kind).add(record)
    org.touch()
    return record


def fetch_model(org: OrgData, body: dict[str, Any], kind: str) -> dict[str, Any]:
    """``InvoiceFetchReadModel`` / ``SalesCreditNoteFetchReadModel``: what a create would store."""
    fields = _document(org, body, kind)
    out = {k: v for k, v in fields.items() if not k.endswith("InDkk")}
    out["Number"] = 0
    if kind == "invoices":
        out["CanEnableMobilePayInvoice"] = False
        out["CanEnablePensoPay"] = False
        out.pop("IsMobilePayInvoiceEnabled", None)
        out.pop("IsPensoPayEnabled", None)
    else:
        for name in ("PaymentDate", "PaymentConditionType", "PaymentConditionNumberOfDays"):
            out.pop(name, None)
        out.pop("IsMobilePayInvoiceEnabled", None)
        out.pop("IsPensoPayEnabled", None)
    return out
