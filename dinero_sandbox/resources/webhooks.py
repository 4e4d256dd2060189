"""Webhooks (spec tag ``Webhooks``): subscriptions are stored per organization and listed; nothing is ever
delivered (the sandbox never calls out). The spec leaves the event list and the subscription body
undocumented (REFERENCE.md §2.15): the sandbox's choice is ``[{"EventId", "Name", "Description"}]`` for
``webhooks/events`` and ``[{"EventId", "Uri", "CreatedAt"}]`` for ``webhooks/subscriptions``; subscribing
to an event again replaces its Uri; an unknown EventId or a non-http(s) Uri -> 400 code 42."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Response

from .. import validate as v
from ..api_common import json_body, org_data
from ..errors import DineroError, json_response
from ..timeutil import now_str
from .common import blueprint, ok

bp = blueprint("webhooks")

EVENTS = (
    ("contact.created", "Contact created", "A contact was created."),
    ("contact.updated", "Contact updated", "A contact was changed."),
    ("contact.deleted", "Contact deleted", "A contact was deleted."),
    ("product.created", "Product created", "A product was created."),
    ("product.updated", "Product updated", "A product was changed."),
    ("invoice.created", "Invoice created", "A draft invoice was created."),
    ("invoice.booked", "Invoice booked", "An invoice was booked."),
    ("invoice.paid", "Invoice paid", "A payment made an invoice paid."),
    ("invoice.sent", "Invoice sent", "An invoice was sent (e-mail, SMS or e-invoice)."),
    ("creditnote.booked", "Credit note booked", "A sales credit note was booked."),
    ("purchasevoucher.booked", "Purchase voucher booked", "A purchase voucher was booked."),
    ("manualvoucher.booked", "Manual voucher booked", "A manual voucher was booked."),
    ("tradeoffer.created", "Trade offer created", "A trade offer was created."),
    ("entries.changed", "Entries changed", "Booked entries changed (not for personal integrations)."),
)
EVENT_IDS = {e[0] for e in EVENTS}


@bp.get("/v1/<org>/webhooks/events")
def events() -> Response:
    """The event types one can subscribe to."""
    return json_response([{"EventId": e, "Name": n, "Description": d} for e, n, d in EVENTS])


@bp.post("/v1/<org>/webhooks/subscribe")
def subscribe() -> Response:
    """``{Uri, EventId}``: store (or replace) the organization's subscription to one event; bare 200."""
    org = org_data()
    body = json_body()
    errors = v.Errors()
    event = v.text(body, "EventId", errors, req=True, max_len=100)
    uri = v.text(body, "Uri", errors, req=True, max_len=2000)
    if event and event.lower() not in EVENT_IDS:
        errors.add("EventId", f"Unknown event {event!r}; see GET webhooks/events.")
    if uri and urlparse(uri).scheme not in ("http", "https"):
        errors.add("Uri", "The Uri must be an absolute http(s) URL.")
    errors.raise_if_any()
    table = org.table("webhook_subscriptions")
    key = (event or "").lower()
    now = now_str()
    row = table.find(key)
    if row is None:
        table.add(
            {"Key": key, "EventId": key, "Uri": uri, "CreatedAt": now, "UpdatedAt": now, "DeletedAt": None}
        )
    else:
        table.update(row, {"Uri": uri, "UpdatedAt": now, "DeletedAt": None})
    org.touch()
    return ok()


@bp.delete("/v1/<org>/webhooks/unsubscribe")
def unsubscribe() -> Response:
    """``{EventId}``: end the subscription (400 code 42 when there is none); bare 200."""
    org = org_data()
    body = json_body()
    errors = v.Errors()
    event = (v.text(body, "EventId", errors, req=True, max_len=100) or "").lower()
    errors.raise_if_any()
    table = org.table("webhook_subscriptions")
    row = table.find(event)
    if row is None or table.cols["DeletedAt"][row] is not None:
        raise DineroError(400, 42, "Validation Error", {"EventId": f"No subscription to {event!r}."})
    now = now_str()
    table.update(row, {"DeletedAt": now, "UpdatedAt": now})
    org.touch()
    return ok()


@bp.get("/v1/<org>/webhooks/subscriptions")
def subscriptions() -> Response:
    """The organization's active subscriptions."""
    table = org_data().table("webhook_subscriptions")
    return json_response(
        [
            {
                "EventId": table.cols["EventId"][r],
                "Uri": table.cols["Uri"][r],
                "CreatedAt": table.cols["CreatedAt"][r],
            }
            for r in table.rows()
            if table.cols["DeletedAt"][r] is None
        ]
    )
