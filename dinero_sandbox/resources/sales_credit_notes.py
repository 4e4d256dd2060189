"""Sales credit notes (spec tag ``SalesCreditNotes``) beyond create/read/update/delete/book: totals
(``fetch``), refunds (payments: debtors debited, bank credited; status Paid and back), e-mail and
e-credit-note sends (mailouts), mailouts, e-mail template and PDF."""

from __future__ import annotations

from flask import Response, g, request

from ..api_common import json_body, org_data, state
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
    pdf,
    require_booked,
    row_of,
    send_electronic,
    send_mail,
)
from .documents import fetch_model

bp = blueprint("sales_credit_notes")


@bp.post("/v1/<org>/sales/creditnotes/fetch")
def creditnote_fetch() -> Response:
    """Totals and lines of a credit note body, nothing stored."""
    return json_response(fetch_model(org_data(), json_body(), "creditnotes"))


@bp.get("/v1/<org>/sales/creditnotes/<guid>/email/template")
def creditnote_email_template(guid: str) -> Response:
    """``MailoutTemplateReadModel``."""
    org = org_data()
    table, row = row_of(org, "creditnotes", guid)
    return json_response(mail_template(org, table, row, "Kreditnota"))


@bp.post("/v1/<org>/sales/creditnotes/<guid>/email")
def creditnote_email(guid: str) -> Response:
    """Send the credit note by e-mail (a mailout) -> ``{Recipients}``."""
    org = org_data()
    table, row = row_of(org, "creditnotes", guid)
    return send_mail(org, table, row, "Mailout", "Kreditnota")


@bp.get("/v1/<org>/sales/creditnotes/<guid>/pdf")
def creditnote_pdf(guid: str) -> Response:
    """The booked credit note as PDF."""
    org = org_data()
    table, row = row_of(org, "creditnotes", guid)
    require_booked(table, row, "credit note")
    return pdf()


@bp.post("/v3/<org>/sales/creditnotes/<guid>/e-creditnote")
def creditnote_ecreditnote(guid: str) -> Response:
    """Send an electronic credit note (a mailout of type Einvoice, as for an invoice)."""
    org = org_data()
    table, row = row_of(org, "creditnotes", guid)
    return send_electronic(org, table, row, "Einvoice")


@bp.get("/v1/<org>/sales/creditnotes/<guid>/mailouts")
def creditnote_mailouts(guid: str) -> Response:
    """The credit note's sends."""
    org = org_data()
    table, row = row_of(org, "creditnotes", guid)
    return mailouts_of(org, table.cols["Guid"][row])


@bp.post("/v1/<org>/sales/creditnotes/<guid>/payments")
def creditnote_payment_add(guid: str) -> Response:
    """Register a refund -> ``{Guid, TimeStamp, RelatedVoucherGuid}``."""
    org = org_data()
    table, row = row_of(org, "creditnotes", guid, live=True)
    body = json_body()
    check_given(table, row, body_timestamp(body), required=True)
    payment = payments.add_payment(org, "creditnote", row, body)
    return json_response(
        {
            "Guid": payment["Guid"],
            "TimeStamp": current_timestamp(table, row),
            "RelatedVoucherGuid": payment["RelatedVoucherId"],
        }
    )


@bp.get("/v1/<org>/sales/creditnotes/<guid>/payments")
def creditnote_payments(guid: str) -> Response:
    """``InvoicePaymentsModel`` of the credit note."""
    org = org_data()
    _, row = row_of(org, "creditnotes", guid)
    return json_response(payments.summary(org, "creditnote", row))


@bp.delete("/v1/<org>/sales/creditnotes/<guid>/payments/<payment_guid>")
def creditnote_payment_delete(guid: str, payment_guid: str) -> Response:
    """Delete a refund -> ``{TimeStamp}``."""
    org = org_data()
    table, row = row_of(org, "creditnotes", guid, live=True)
    check_given(table, row, body_timestamp(optional_body()), required=False)
    payments.delete_payment(org, "creditnote", row, payment_guid)
    return json_response({"TimeStamp": current_timestamp(table, row)})


@bp.after_app_request
def settle_credited_invoice(response: Response) -> Response:
    """After a credit note is booked (``writes_sales``), the invoice it credits has less to pay: settle its
    payment status (Paid when fully credited) and give it a new Timestamp."""
    if request.endpoint != "api_write_sales.creditnote_book" or response.status_code != 200:
        return response
    org = g.get("org_data")
    guid = (request.view_args or {}).get("guid")
    if org is None or guid is None:
        return response
    with state().lock:
        notes = org.table("creditnotes")
        row = notes.find(guid)
        invoices = org.table("invoices")
        irow = invoices.find(notes.cols["CreditNoteFor"][row]) if row is not None else None
        if irow is not None and invoices.cols["Status"][irow] != "Draft":
            payments.settle(org, "invoice", irow)
    return response
