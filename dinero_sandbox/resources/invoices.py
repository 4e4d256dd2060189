"""Invoices (spec tag ``Invoices``) beyond create/read/update/delete/book: totals (``fetch``), payments
(register, list, delete: status Paid/OverPaid and back, entries), ``generate-creditnote`` (a draft credit
note that references the invoice), e-mail / pre-reminder / e-invoice sends (recorded as mailouts, the
invoice's MailOutStatus changes), mailouts, e-mail templates and invoice templates."""

from __future__ import annotations

import hashlib

from flask import Response

from ..api_common import json_body, org_data
from ..errors import json_response
from . import payments
from .common import (
    blueprint,
    body_timestamp,
    check_given,
    current_timestamp,
    mail_template,
    mailouts_of,
    optional_body,
    require_booked,
    row_of,
    send_electronic,
    send_mail,
)
from .documents import body_from, create_draft, fetch_model

bp = blueprint("invoices")


def default_template_id(org_id: str) -> str:
    """The organization's default invoice template id (deterministic GUID)."""
    d = hashlib.md5(f"template:{org_id}".encode()).hexdigest()
    return f"{d[:8]}-{d[8:12]}-4{d[13:16]}-a{d[17:20]}-{d[20:32]}"


@bp.post("/v1/<org>/invoices/fetch")
def invoice_fetch() -> Response:
    """Totals and lines of an invoice body, nothing stored."""
    return json_response(fetch_model(org_data(), json_body(), "invoices"))


@bp.get("/v1/<org>/invoices/templates")
def invoice_templates() -> Response:
    """The organization's invoice templates (one default)."""
    org = org_data()
    return json_response(
        [
            {
                "Id": default_template_id(org.id),
                "Name": "Standard",
                "IsDefault": True,
                "Theme": "Standard",
                "PrimaryColor": "#1f3b57",
                "SecondaryColor": "#e8eef4",
                "AddressPlacement": "Left",
                "Font": "Open Sans",
                "LogoType": "Letters",
                "LogoText": org.info["Name"],
                "LogoFileGuid": None,
                "MaxImageWidthMm": 60,
                "ShowCompanyInfo": True,
                "ShowPaymentConditions": True,
                "ShowLogo": True,
                "ShowLineQuantity": True,
                "ShowLineUnit": True,
                "ImageFileUploadGuid": None,
                "ImageTextColor": None,
            }
        ]
    )


@bp.post("/v1/<org>/invoices/<guid>/payments")
def invoice_payment_add(guid: str) -> Response:
    """Register a payment -> ``{Guid, TimeStamp, RelatedVoucherGuid}`` (TimeStamp: the invoice's new one)."""
    org = org_data()
    table, row = row_of(org, "invoices", guid, live=True)
    body = json_body()
    check_given(table, row, body_timestamp(body), required=True)
    payment = payments.add_payment(org, "invoice", row, body)
    return json_response(
        {
            "Guid": payment["Guid"],
            "TimeStamp": current_timestamp(table, row),
            "RelatedVoucherGuid": payment["RelatedVoucherId"],
        }
    )


@bp.delete("/v1/<org>/invoices/<guid>/payments/<payment_guid>")
def invoice_payment_delete(guid: str, payment_guid: str) -> Response:
    """Delete a payment (Timestamp of the invoice required) -> ``{TimeStamp}``."""
    org = org_data()
    table, row = row_of(org, "invoices", guid, live=True)
    check_given(table, row, body_timestamp(optional_body()), required=True)
    payments.delete_payment(org, "invoice", row, payment_guid)
    return json_response({"TimeStamp": current_timestamp(table, row)})


@bp.get("/v2/<org>/invoices/<guid>/payments")
def invoice_payments(guid: str) -> Response:
    """``InvoicePaymentsModel``."""
    org = org_data()
    _, row = row_of(org, "invoices", guid)
    return json_response(payments.summary(org, "invoice", row))


@bp.post("/v1/<org>/invoices/<guid>/generate-creditnote")
def invoice_generate_creditnote(guid: str) -> Response:
    """A draft credit note with the invoice's lines and ``CreditNoteFor`` -> ``{Guid, TimeStamp}``."""
    org = org_data()
    table, row = row_of(org, "invoices", guid, live=True)
    check_given(table, row, body_timestamp(optional_body()), required=False)
    require_booked(table, row, "invoice")
    body = body_from(org, "invoices", row)
    body["CreditNoteFor"] = table.cols["Guid"][row]
    body["Description"] = f"Kreditnota for faktura {table.cols['Number'][row]}"
    record = create_draft(org, "creditnotes", body)
    return json_response({"Guid": record["Guid"], "TimeStamp": record["TimeStamp"]})


@bp.post("/v1/<org>/invoices/<guid>/email")
def invoice_email(guid: str) -> Response:
    """Send the invoice by e-mail (recorded as a mailout) -> ``{Recipients}``."""
    org = org_data()
    table, row = row_of(org, "invoices", guid)
    return send_mail(org, table, row, "Mailout", "Faktura")


@bp.get("/v2/<org>/invoices/<guid>/email/template")
def invoice_email_template(guid: str) -> Response:
    """``MailoutTemplateReadModelV2``."""
    org = org_data()
    table, row = row_of(org, "invoices", guid)
    return json_response(mail_template(org, table, row, "Faktura", v2=True))


@bp.get("/v1/<org>/invoices/<guid>/email/pre-reminder/template")
def invoice_prereminder_template(guid: str) -> Response:
    """``MailoutTemplateReadModel`` of a pre-reminder."""
    org = org_data()
    table, row = row_of(org, "invoices", guid)
    return json_response(mail_template(org, table, row, "Påmindelse om faktura"))


@bp.post("/v1/<org>/invoices/<guid>/email/pre-reminder")
def invoice_prereminder(guid: str) -> Response:
    """Send a pre-reminder e-mail (a mailout of type PreReminder); bare 200."""
    org = org_data()
    table, row = row_of(org, "invoices", guid)
    send_mail(org, table, row, "PreReminder", "Påmindelse om faktura")
    return Response(b"", status=200)


@bp.post("/v3/<org>/invoices/<guid>/e-invoice")
def invoice_einvoice(guid: str) -> Response:
    """Send an electronic invoice (NemHandel; recorded as a mailout of type EInvoice)."""
    org = org_data()
    table, row = row_of(org, "invoices", guid)
    return send_electronic(org, table, row, "Einvoice")


@bp.get("/v1/<org>/invoices/<guid>/mailouts")
def invoice_mailouts(guid: str) -> Response:
    """The invoice's sends."""
    org = org_data()
    table, row = row_of(org, "invoices", guid)
    return mailouts_of(org, table.cols["Guid"][row])
