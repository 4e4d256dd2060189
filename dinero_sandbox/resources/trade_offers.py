"""Trade offers - "tilbud" (spec tag ``TradeOffers``) beyond list/read: create (numbered at once; a
client-chosen ``Guid`` is honoured), totals (``fetch``), update (``PUT /v1.2``, current Timestamp
required; not once invoiced), delete (soft), e-mail (a mailout; the offer's MailOutStatus changes),
mailouts, e-mail template, and ``generate-invoice``: a draft invoice with the offer's lines, recorded in the
offer's ``GeneratedVouchers`` (Status ``Invoiced``)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response

from .. import models
from .. import validate as v
from ..api_common import json_body, org_data
from ..errors import DineroError, json_response
from ..mutations import bump
from ..orgdata import OrgData
from ..timeutil import now_str
from ..write_common import refuse_deleted
from ..writes_sales import _document
from .common import (
    blueprint,
    body_timestamp,
    check_given,
    mail_template,
    mailouts_of,
    ok,
    optional_body,
    row_of,
    send_mail,
)
from .documents import body_from, create_draft

bp = blueprint("trade_offers")
STORED = set(models.TRADEOFFER_DETAIL_FIELDS)


def _fields(org: OrgData, body: dict[str, Any]) -> dict[str, Any]:
    errors = v.Errors()
    if v.guid(body, "ContactGuid", errors) is None and not errors.items:
        errors.add("ContactGuid", "The ContactGuid field is required.")
    errors.raise_if_any()
    fields = _document(org, body, "invoices")
    if v.get_ci(body, "Description") is None:
        fields["Description"] = "Tilbud"
    return {k: x for k, x in fields.items() if k in STORED}


def _history(status: str, when: str, offer: dict[str, Any]) -> dict[str, Any]:
    """A ``TradeOfferHistoryReadModel`` entry."""
    return {
        "Status": status,
        "UpdatedAt": when,
        "TradeOfferEmailSentAt": None,
        "ConfirmationEmailSentAt": None,
        "TotalInclVat": offer.get("TotalInclVat"),
        "Currency": offer.get("Currency"),
    }


@bp.post("/v1/<org>/tradeoffers")
def offer_create() -> Response:
    """Create a trade offer -> ``{Guid, TimeStamp}``."""
    org = org_data()
    body = json_body()
    errors = v.Errors()
    chosen = v.guid(body, "Guid", errors)
    errors.raise_if_any()
    fields = _fields(org, body)
    table = org.table("tradeoffers")
    guid = chosen or str(uuid.uuid4())
    if table.find(guid) is not None:
        raise DineroError(
            400, 42, "Validation Error", {"Guid": f"An object with Guid {guid} already exists."}
        )
    now = now_str()
    record = {
        "Guid": guid,
        "TimeStamp": org.next_timestamp(),
        "Number": org.next_number("tradeoffer"),
        "Status": "Draft",
        "MailOutStatus": "NotSent",
        "LatestMailOutType": "None",
        "HasGeneratedAnyVouchers": False,
        "GeneratedVouchers": [],
        "History": [_history("Draft", now, fields)],
        "CreatedAt": now,
        "UpdatedAt": now,
        "DeletedAt": None,
        **fields,
    }
    table.add(record)
    org.touch()
    return json_response({"Guid": guid, "TimeStamp": record["TimeStamp"]})


@bp.post("/v1/<org>/tradeoffers/fetch")
def offer_fetch() -> Response:
    """``TradeOfferFetchReadModel`` of a create body (nothing stored)."""
    org = org_data()
    fields = _document(org, json_body(), "invoices")
    keep = STORED - {"Guid", "TimeStamp", "Status", "CreatedAt", "UpdatedAt", "DeletedAt", "History"}
    out = {k: x for k, x in fields.items() if k in keep}
    out["Number"] = 0
    return json_response(out)


@bp.put("/v1.2/<org>/tradeoffers/<guid>")
def offer_update(guid: str) -> Response:
    """Replace a trade offer (Timestamp required) -> ``{Guid, TimeStamp}``."""
    org = org_data()
    table, row = row_of(org, "tradeoffers", guid, live=True)
    body = json_body()
    check_given(table, row, body_timestamp(body), required=True)
    if table.cols["Status"][row] == "Invoiced":
        raise DineroError(
            400, 45, "Invalid request", {"message": "An invoiced trade offer cannot be changed."}
        )
    bump(org, table, row, _fields(org, body))
    return json_response({"Guid": table.cols["Guid"][row], "TimeStamp": table.cols["TimeStamp"][row]})


@bp.delete("/v1/<org>/tradeoffers/<guid>")
def offer_delete(guid: str) -> Response:
    """Soft-delete (a given Timestamp must be current); bare 200."""
    org = org_data()
    table, row = row_of(org, "tradeoffers", guid, live=True)
    check_given(table, row, body_timestamp(optional_body()), required=False)
    now = now_str()
    bump(org, table, row, {"DeletedAt": now}, when=now)
    return ok()


@bp.get("/v1/<org>/tradeoffers/<guid>/email/template")
def offer_email_template(guid: str) -> Response:
    """``MailoutTemplateReadModel``."""
    org = org_data()
    table, row = row_of(org, "tradeoffers", guid)
    return json_response(mail_template(org, table, row, "Tilbud"))


@bp.post("/v1/<org>/tradeoffers/<guid>/email")
def offer_email(guid: str) -> Response:
    """Send the offer by e-mail (a mailout of type TradeOffer) -> ``{Recipients}``."""
    org = org_data()
    table, row = row_of(org, "tradeoffers", guid)
    return send_mail(org, table, row, "TradeOffer", "Tilbud", booked_only=False)


@bp.get("/v1/<org>/tradeoffers/<guid>/mailouts")
def offer_mailouts(guid: str) -> Response:
    """The offer's sends."""
    org = org_data()
    table, row = row_of(org, "tradeoffers", guid)
    return mailouts_of(org, table.cols["Guid"][row])


@bp.post("/v1/<org>/tradeoffers/<guid>/generate-invoice")
def offer_generate_invoice(guid: str) -> Response:
    """A draft invoice from the offer -> ``{Guid, TimeStamp}`` of the invoice."""
    org = org_data()
    table, row = row_of(org, "tradeoffers", guid)
    refuse_deleted(table, row, "Guid")
    check_given(table, row, body_timestamp(optional_body()), required=False)
    body = body_from(org, "tradeoffers", row)
    body["Description"] = f"Faktura for tilbud {table.cols['Number'][row]}"
    record = create_draft(org, "invoices", body)
    generated = [*(table.value(row, "GeneratedVouchers") or []), record["Guid"]]
    history = [*(table.value(row, "History") or []), _history("Invoiced", now_str(), table.get(row))]
    bump(
        org,
        table,
        row,
        {
            "Status": "Invoiced",
            "HasGeneratedAnyVouchers": True,
            "GeneratedVouchers": generated,
            "History": history,
        },
    )
    return json_response({"Guid": record["Guid"], "TimeStamp": record["TimeStamp"]})
