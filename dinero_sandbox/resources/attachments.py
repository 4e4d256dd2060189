"""Attachments (spec tag ``Attachments``): files bound to sales documents (invoices, credit notes, trade
offers). Binding makes the file visible and ``Used`` in ``GET /files``; the organization's default document
(its terms of sale, a file the sandbox creates on first use) is bound by ``bind/default``."""

from __future__ import annotations

from urllib.parse import unquote

from flask import Response, request

from ..api_common import org_data
from ..errors import DineroError, NotFound, json_response
from ..orgdata import OrgData
from ..timeutil import now_str
from ..writes_vouchers import link_file
from .common import blueprint, find_sales_document, ok

bp = blueprint("attachments")
DOCUMENT_TYPES = ("invoice", "creditnote", "tradeoffer", "salesvoucher")
DEFAULT_NAME = "Salgs- og leveringsbetingelser.pdf"


def _bind(org: OrgData, document_guid: str, file_guid: str, name: str) -> None:
    table = org.table("attachments")
    key = f"{document_guid}:{file_guid}".lower()
    now = now_str()
    row = table.find(key)
    record = {"FileName": name, "UpdatedAt": now, "DeletedAt": None}
    if row is None:
        table.add(
            {
                "Key": key,
                "OrganizationId": int(org.id),
                "DocumentId": document_guid.lower(),
                "FileGuid": file_guid,
                "CreatedAt": now,
                **record,
            }
        )
    else:
        table.update(row, record)
    link_file(org, file_guid, document_guid.lower(), None)
    org.touch()


def _default_file(org: OrgData) -> str:
    files = org.table("files")
    guid = f"default{org.id}terms".ljust(32, "0")[:32]
    if files.find(guid) is None:
        files.add(
            {
                "FileGuid": guid,
                "Name": DEFAULT_NAME,
                "Extension": ".pdf",
                "Size": 0,
                "UploadedAt": now_str(),
                "Note": "Standardbilag",
                "NumberOfPages": 1,
                "Linked": [],
                "UploadedBy": "Dinero",
                "_Visible": True,
            }
        )
        org.file_bytes[guid] = b""
    return guid


@bp.post("/v1/<org>/attachments/bind/default/<document_guid>/<document_type>")
def bind_default(document_guid: str, document_type: str) -> Response:
    """Bind the organization's default documents for a document type; bare 200."""
    org = org_data()
    if document_type.lower() not in DOCUMENT_TYPES:
        raise DineroError(
            400, 42, "Validation Error", {"documentType": f"One of {', '.join(DOCUMENT_TYPES)}."}
        )
    find_sales_document(org, document_guid)
    _bind(org, document_guid, _default_file(org), DEFAULT_NAME)
    return ok()


@bp.get("/v1/<org>/attachments/<document_guid>")
def list_attachments(document_guid: str) -> Response:
    """``DocumentAttachmentReadModel[]`` of a document."""
    org = org_data()
    find_sales_document(org, document_guid)
    table = org.table("attachments")
    out = [
        {k: table.cols[k][r] for k in ("OrganizationId", "DocumentId", "FileGuid", "FileName")}
        for r in table.rows()
        if table.cols["DocumentId"][r] == document_guid.lower() and table.cols["DeletedAt"][r] is None
    ]
    return json_response(out)


@bp.post("/v1/<org>/attachments/<document_guid>/<file_guid>/<file_name>")
def bind(document_guid: str, file_guid: str, file_name: str) -> Response:
    """Bind an uploaded file to a document; bare 200 (HTML 404 for an unknown document or file)."""
    org = org_data()
    find_sales_document(org, document_guid)
    files = org.table("files")
    row = files.find(file_guid)
    if row is None:
        raise NotFound()
    original = unquote(request.environ.get("sandbox.original_path", "").rsplit("/", 1)[-1])
    name = original if original.lower() == file_name.lower() else file_name  # paths are lower-cased
    _bind(org, document_guid, files.cols["FileGuid"][row], name)
    return ok()


@bp.delete("/v1/<org>/attachments/<document_guid>/<file_guid>")
def unbind(document_guid: str, file_guid: str) -> Response:
    """Remove a file from a document; bare 200."""
    org = org_data()
    table = org.table("attachments")
    row = table.find(f"{document_guid}:{file_guid}".lower())
    if row is None or table.cols["DeletedAt"][row] is not None:
        raise NotFound()
    now = now_str()
    table.update(row, {"DeletedAt": now, "UpdatedAt": now})
    files = org.table("files")
    frow = files.find(file_guid)
    if frow is not None:
        linked = [x for x in files.value(frow, "Linked") or [] if x["VoucherGuid"] != document_guid.lower()]
        files.update(frow, {"Linked": linked})
    org.touch()
    return ok()
