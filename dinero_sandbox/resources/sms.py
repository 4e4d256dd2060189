"""SMS (spec tag ``Sms``): ``POST /v1/{org}/sms/{voucherGuid}/send-sms`` sends a link to an invoice (or a
credit note / trade offer) by SMS: recorded as a mailout with ``IsSmsMessage`` (never sent), the document's
MailOutStatus and Timestamp change."""

from __future__ import annotations

import re

from flask import Response

from .. import validate as v
from ..api_common import json_body, org_data
from .common import (
    blueprint,
    body_timestamp,
    check_given,
    find_sales_document,
    mark_sent,
    ok,
    record_mailout,
    require_booked,
)

bp = blueprint("sms")
_PHONE = re.compile(r"^\+?[0-9 ]{8,20}$")


@bp.post("/v1/<org>/sms/<voucher_guid>/send-sms")
def send_sms(voucher_guid: str) -> Response:
    """``SmsSendModel`` (ReceiverPhoneNumber, ReceiverName, Timestamp, IsReminder required)."""
    org = org_data()
    _, table, row = find_sales_document(org, voucher_guid)
    body = json_body()
    errors = v.Errors()
    phone = v.text(body, "ReceiverPhoneNumber", errors, req=True, max_len=20)
    name = v.text(body, "ReceiverName", errors, req=True, max_len=255)
    reminder = v.boolean(body, "IsReminder", errors, req=True)
    message = v.text(body, "Message", errors, max_len=640)
    v.timestamp(body, errors)
    if phone and not _PHONE.match(phone):
        errors.add("ReceiverPhoneNumber", "Not a phone number.")
    errors.raise_if_any()
    check_given(table, row, body_timestamp(body), required=True)
    require_booked(table, row)
    # The spec names no SMS type: an SMS is a mailout (or reminder) of the document flagged IsSmsMessage.
    kind = "Reminder" if reminder else "Mailout"
    record_mailout(
        org,
        table.cols["Guid"][row],
        kind,
        sender=org.info["Name"],
        receiver=f"{name} <{phone}>",
        subject=None,
        message=message or f"Hej {name}, se dit dokument fra {org.info['Name']}: [link]",
        sms=True,
    )
    mark_sent(org, table, row, kind)
    return ok()
