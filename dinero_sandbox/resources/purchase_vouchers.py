"""Purchase vouchers (spec tag ``PurchaseVouchers``) beyond create/read/delete/book: update (``PUT /v1`` and
``/v1.1``, drafts only, current Timestamp required), totals (``fetch``, nothing stored), ``similar`` (a live
voucher of the same contact, date and total), the draft Guids that use a file (``fileguid/{fileGuid}``) and
``generate-creditnote`` (a draft purchase credit note with the voucher's lines, ``CreditNoteFor`` it)."""

from __future__ import annotations

from flask import Response

from .. import models
from ..api_common import json_body, org_data
from ..errors import DineroError, json_response
from ..mutations import bump
from ..timeutil import parse_date
from ..writes_vouchers import _purchase_fields, link_file
from . import purchase_credit_notes
from .common import blueprint, body_timestamp, check_given, require_booked, row_of

bp = blueprint("purchase_vouchers")
FIXED_ASSET_LIMIT = 31_000.0  # DKK excl. VAT: above it a purchase may have to be depreciated


def _update(guid: str) -> Response:
    org = org_data()
    table, row = row_of(org, "purchase_vouchers", guid, live=True)
    body = json_body()
    check_given(table, row, body_timestamp(body), required=True)
    if table.cols["Status"][row] != "Draft":
        raise DineroError(400, 45, "Invalid request", {"message": "Only draft vouchers can be updated."})
    fields = _purchase_fields(org, body)
    bump(org, table, row, fields)
    link_file(org, fields["FileGuid"], table.cols["Guid"][row], None)
    return json_response(table.get(row, list(models.PURCHASE_VOUCHER_DETAIL_FIELDS)))


@bp.put("/v1/<org>/vouchers/purchase/<guid>")
def purchase_update(guid: str) -> Response:
    """Replace a draft purchase voucher -> ``PurchaseVoucherReadModelV2``."""
    return _update(guid)


@bp.put("/v1.1/<org>/vouchers/purchase/<guid>")
def purchase_update_v11(guid: str) -> Response:
    """The same, v1.1 (lines may carry ``AccountTagName``)."""
    return _update(guid)


@bp.post("/v1/<org>/vouchers/purchase/fetch")
def purchase_fetch() -> Response:
    """``PurchaseVoucherFetchReadModel`` of a create body (nothing stored)."""
    fields = _purchase_fields(org_data(), json_body())
    net = sum(x["AmountExclVatValue"] for x in fields["Lines"])
    return json_response(
        {
            "Status": "Draft",
            "FileGuid": fields["FileGuid"],
            "VoucherNumber": None,
            "VoucherDate": fields["VoucherDate"],
            "PaymentDate": fields["PaymentDate"],
            "RegionKey": fields["RegionKey"],
            "PurchaseType": fields["PurchaseType"],
            "Lines": fields["Lines"],
            "DepositAccountNumber": fields["DepositAccountNumber"],
            "ContactGuid": fields["ContactGuid"],
            "ExternalReference": fields["ExternalReference"],
            "VoucherTotals": fields["VoucherTotals"],
            "ShouldPossiblyBeFixedAsset": net >= FIXED_ASSET_LIMIT,
        }
    )


@bp.post("/v1/<org>/vouchers/purchase/similar")
def purchase_similar() -> Response:
    """A live voucher with the same contact, date and total (a likely double registration)."""
    org = org_data()
    fields = _purchase_fields(org, json_body())
    total = next(t["Total"] for t in fields["VoucherTotals"] if t["Type"] == "Total")
    table = org.table("purchase_vouchers")
    for row in table.rows():
        if table.cols["DeletedAt"][row] is not None:
            continue
        if table.cols["VoucherDate"][row] != fields["VoucherDate"]:
            continue
        if (table.cols["ContactGuid"][row] or "") != (fields["ContactGuid"] or ""):
            continue
        totals = table.value(row, "VoucherTotals") or []
        if any(t["Type"] == "Total" and abs(t["Total"] - total) < 0.005 for t in totals):
            return json_response(
                {
                    "VoucherNumber": table.cols["VoucherNumber"][row],
                    "SimilarGuid": table.cols["Guid"][row],
                    "SimilarFound": True,
                }
            )
    return json_response({"VoucherNumber": None, "SimilarGuid": None, "SimilarFound": False})


@bp.get("/v1/<org>/vouchers/purchase/fileguid/<file_guid>")
def purchase_drafts_by_file(file_guid: str) -> Response:
    """Guids of the live draft purchase vouchers that use a file."""
    table = org_data().table("purchase_vouchers")
    return json_response(
        [
            table.cols["Guid"][r]
            for r in table.rows()
            if (table.cols["FileGuid"][r] or "").lower() == file_guid.lower()
            and table.cols["Status"][r] == "Draft"
            and table.cols["DeletedAt"][r] is None
        ]
    )


@bp.post("/v1/<org>/vouchers/purchase/<guid>/generate-creditnote")
def purchase_generate_creditnote(guid: str) -> Response:
    """``CreditNoteForPurchaseVoucherRequest`` -> ``{Guid, TimeStamp}`` of a draft purchase credit note."""
    org = org_data()
    table, row = row_of(org, "purchase_vouchers", guid, live=True)
    body = json_body(required=False)
    check_given(table, row, body_timestamp(body), required=False)
    require_booked(table, row, "purchase voucher")
    day = body.get("VoucherDate") or body.get("voucherDate")
    if day is not None and (not isinstance(day, str) or parse_date(day[:10]) is None):
        raise DineroError(400, 42, "Validation Error", {"VoucherDate": "Must be a date."})
    lines = [
        {
            "Amount": x["AmountInclVatValue"],
            "AccountNumber": x["AccountNumber"],
            "VatCode": x.get("VatCode"),
            "Description": x.get("Description"),
        }
        for x in table.value(row, "Lines") or []
        if x.get("AccountNumber") is not None
    ]
    credit_body = {
        "CreditNoteFor": table.cols["Guid"][row],
        "ContactGuid": table.cols["ContactGuid"][row],
        "FileGuid": body.get("FileGuid") or body.get("fileGuid"),
        "Date": day[:10] if day else None,
        "Currency": table.cols["CurrencyKey"][row] or "DKK",
        "Lines": lines,
    }
    fields = purchase_credit_notes.fields_of(org, {k: x for k, x in credit_body.items() if x is not None})
    record = purchase_credit_notes.create(org, fields)
    return json_response({"Guid": record["Guid"], "TimeStamp": record["Timestamp"]})
