"""Payments of credit purchase vouchers and purchase credit notes (spec tag
``PurchaseVoucherCreditPayments``): ``/v1/{org}/purchase-vouchers/{id}/payments`` (``id``: the voucher's or
credit note's Guid) list, create (creditors debited and bank credited for a voucher; the reverse for a credit
note; status Paid/Overpaid) and ``DELETE .../payments/{paymentId}/{timestamp}`` (the voucher's current
Timestamp in the path; entries offset, status back). See ``payments``."""

from __future__ import annotations

from flask import Response

from ..api_common import json_body, org_data
from ..errors import NotFound, json_response
from ..orgdata import OrgData
from . import payments
from .common import blueprint, body_timestamp, check_given, current_timestamp

bp = blueprint("purchase_payments")


def _voucher(org: OrgData, guid: str) -> tuple[str, int]:
    for kind, name in (("purchase", "purchase_vouchers"), ("purchase_creditnote", "purchase_creditnotes")):
        row = org.table(name).find(guid)
        if row is not None:
            return kind, row
    raise NotFound()


@bp.get("/v1/<org>/purchase-vouchers/<voucher_id>/payments")
def list_payments(voucher_id: str) -> Response:
    """``PaymentReadModel[]``."""
    org = org_data()
    kind, row = _voucher(org, voucher_id)
    table = org.table("payments")
    return json_response([payments.read_model(table, r) for r in payments.payments_of(org, kind, row)])


@bp.post("/v1/<org>/purchase-vouchers/<voucher_id>/payments")
def add_payment(voucher_id: str) -> Response:
    """``PurchaseVoucherCreditPaymentCreateModel`` -> ``{Guid, TimeStamp, RelatedVoucherGuid}``."""
    org = org_data()
    kind, row = _voucher(org, voucher_id)
    table = org.table(payments.KINDS[kind][0])
    body = json_body()
    from ..write_common import refuse_deleted

    refuse_deleted(table, row, "Guid")
    check_given(table, row, body_timestamp(body), required=True)
    payment = payments.add_payment(org, kind, row, body)
    return json_response(
        {
            "Guid": payment["Guid"],
            "TimeStamp": current_timestamp(table, row),
            "RelatedVoucherGuid": payment["RelatedVoucherId"],
        }
    )


@bp.delete("/v1/<org>/purchase-vouchers/<voucher_id>/payments/<payment_id>/<timestamp>")
def delete_payment(voucher_id: str, payment_id: str, timestamp: str) -> Response:
    """Delete a payment -> ``{TimeStamp}``."""
    org = org_data()
    kind, row = _voucher(org, voucher_id)
    table = org.table(payments.KINDS[kind][0])
    check_given(table, row, timestamp, required=True)
    payments.delete_payment(org, kind, row, payment_id)
    return json_response({"TimeStamp": current_timestamp(table, row)})
