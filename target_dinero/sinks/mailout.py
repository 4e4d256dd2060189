"""Sending a booked invoice by e-mail or as an e-invoice (NemHandel), never twice.

Dinero records every send as a mailout of the document (``GET /v1/{org}/invoices/{guid}/mailouts``:
``Type`` Email / EInvoice / ...). Before sending, the mailouts are read: a document that already has a
send of that kind is not sent again (``already_sent``) -- whoever sent it, this run, an earlier one killed
mid-way, or a person in Dinero's web app. After a lost answer (5xx, timeout, reset, unparsable 2xx) the
mailouts are read again: a send that got through is counted, one that did not is tried once more.

Requests: 2 per invoice sent (read the mailouts, send), 1 per invoice already sent.
"""

from __future__ import annotations

from typing import Any

from target_dinero.remote_index import field_ci
from target_dinero.sinks.settlement import UNKNOWN_OUTCOME

__all__ = ["SEND_KINDS", "send_once"]

#: stream/record setting -> (path, mailout Type, the body's fields Dinero requires besides the Timestamp)
SEND_KINDS: dict[str, tuple[str, str, dict[str, Any]]] = {
    # ApiMailoutModel requires ShouldAddTrustPilotEmailAsBcc; Dinero's defaults apply to the rest.
    "email": ("/v1/{{org}}/invoices/{g}/email", "Email", {"ShouldAddTrustPilotEmailAsBcc": False}),
    # EInvoiceSendModel requires PaymentMeanEnum; Domestic is what Dinero documents as its default.
    "einvoice": ("/v3/{{org}}/invoices/{g}/e-invoice", "EInvoice", {"PaymentMeanEnum": "Domestic"}),
}


def _sent(run: Any, guid: str, mail_type: str) -> bool:
    rows = run.gateway.get(f"/v1/{{org}}/invoices/{guid}/mailouts") or []
    return any(str(field_ci(r, "Type") or "").lower() == mail_type.lower() for r in rows)


def send_once(run: Any, guid: str, how: str, stream: str, reference: str, timestamp: Any = None) -> str:
    """Send invoice ``guid`` by ``how`` (email / einvoice) unless it was sent that way; returns the
    outcome counted (``sent``, ``already_sent``; empty in dry run, where the plan counts)."""
    template, mail_type, required = SEND_KINDS[how]
    path = template.format(g=guid)
    if run.dry_run:
        run.plan("send", f"invoice_{how}", stream, reference, {"Guid": guid})
        return ""  # counted by the plan
    if _sent(run, guid, mail_type):
        return "already_sent"
    body: dict[str, Any] = dict(required)
    if timestamp and timestamp != "dry-run":
        body["Timestamp"] = timestamp
    for attempt in range(2):
        try:
            run.gateway.post(path, body)
            return "sent"
        except UNKNOWN_OUTCOME:
            if _sent(run, guid, mail_type):
                return "sent"
            if attempt == 1:
                raise
            body = dict(required)  # the Timestamp may have moved with the send that failed
    return "sent"  # pragma: no cover
