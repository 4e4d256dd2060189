"""Sending a booked invoice by e-mail or as an e-invoice (NemHandel), never twice.

Dinero records every send as a mailout of the document (``GET /v1/{org}/invoices/{guid}/mailouts``).
Its ``Type`` takes the spec's values (``VoucherMailoutReadModel``): an e-mail is a ``Mailout`` (or a
``ManualMailout``), an e-invoice an ``Einvoice`` -- there is no "Email" type -- and the list includes SMS
(``includeSms`` defaults to true), flagged ``IsSmsMessage``, which are no e-mail. Before sending, the
mailouts are read: a document that already has a send of that kind is not sent again (``already_sent``) --
whoever sent it, this run, an earlier one killed mid-way, or a person in Dinero's web app. A mailout whose
``Type`` is none of the spec's sends (``None``, empty, or a value the spec does not list) counts as a
send of every kind: e-mailing a customer twice cannot be taken back, so a send that cannot be told apart
is taken as made (and logged). The send
follows the target's one write protocol
(:class:`target_dinero.exactly_once.ExactlyOnce`): after a lost answer (5xx, timeout, reset, unparsable
2xx) the mailouts are read again until the send shows or ``commit_horizon_seconds`` have passed; only
then is it tried once more.

Requests: 2 per invoice sent (read the mailouts, send), 1 per invoice already sent.
"""

from __future__ import annotations

from typing import Any

from target_dinero.exactly_once import ExactlyOnce
from target_dinero.remote_index import field_ci

__all__ = ["KNOWN_MAILOUT_TYPES", "SEND_KINDS", "send_once"]

#: stream/record setting -> (path, the mailout Types that send shows as, the body's fields Dinero requires
#: besides the Timestamp)
SEND_KINDS: dict[str, tuple[str, frozenset[str], dict[str, Any]]] = {
    # ApiMailoutModel requires ShouldAddTrustPilotEmailAsBcc; Dinero's defaults apply to the rest.
    "email": (
        "/v1/{{org}}/invoices/{g}/email",
        frozenset({"mailout", "manualmailout"}),
        {"ShouldAddTrustPilotEmailAsBcc": False},
    ),
    # EInvoiceSendModel requires PaymentMeanEnum; Domestic is what Dinero documents as its default.
    "einvoice": (
        "/v3/{{org}}/invoices/{g}/e-invoice",
        frozenset({"einvoice"}),
        {"PaymentMeanEnum": "Domestic"},
    ),
}


#: ``VoucherMailoutReadModel.Type`` values of the spec that name a kind of send; "None" is not one.
KNOWN_MAILOUT_TYPES = frozenset(
    {
        "einvoice",
        "electronicinvoicereminder",
        "tradeoffer",
        "orderconfirmation",
        "mailout",
        "inkasso",
        "prereminder",
        "manualmailout",
        "manualtradeoffermailout",
        "reminder",
    }
)


def _sent(run: Any, guid: str, mail_types: frozenset[str]) -> dict[str, Any] | None:
    """The invoice's mailout of one of ``mail_types`` (one GET; an SMS never counts), or None when it was
    never sent that way. A mailout of a type the spec does not name counts too (module docstring)."""
    rows = run.gateway.get(f"/v1/{{org}}/invoices/{guid}/mailouts") or []
    for row in rows:
        if field_ci(row, "IsSmsMessage"):
            continue
        kind = str(field_ci(row, "Type") or "").lower()
        if kind in mail_types:
            return row
        if kind not in KNOWN_MAILOUT_TYPES:
            run.logger.warning(
                "invoice %s has a mailout of type %r, which Dinero's spec does not name: taken as sent, "
                "not sent again (send it in Dinero by hand if it was not)",
                guid,
                field_ci(row, "Type"),
            )
            return row
    return None


def send_once(run: Any, guid: str, how: str, stream: str, reference: str, timestamp: Any = None) -> str:
    """Send invoice ``guid`` by ``how`` (email / einvoice) unless it was sent that way; returns the
    outcome counted (``sent``, ``already_sent``; empty in dry run, where the plan counts).

    The send follows :class:`target_dinero.exactly_once.ExactlyOnce` like every write: a pending marker
    in the shared store before the POST; after a lost answer (or a marker a killed run left) the mailouts
    are read until the send shows or the commit horizon has passed, and only then is it sent again.
    """
    template, mail_types, required = SEND_KINDS[how]
    path = template.format(g=guid)
    if run.dry_run:
        run.plan("send", f"invoice_{how}", stream, reference, {"Guid": guid})
        return ""  # counted by the plan
    if _sent(run, guid, mail_types):
        return "already_sent"
    body: dict[str, Any] = dict(required)
    if timestamp and timestamp != "dry-run":
        body["Timestamp"] = timestamp
    attempts: list[int] = []

    def send() -> dict[str, Any]:
        # a resend leaves the Timestamp out: it may have moved with the send that was lost
        payload = body if not attempts else dict(required)
        attempts.append(1)
        run.gateway.post(path, payload)
        return {"Sent": True}  # any 2xx the wire layer could read: the send happened

    ExactlyOnce(run).create(
        stream=stream,
        journal=run.markers,
        key=f"mailout:{how}:{guid.lower()}",
        reference=reference,
        what=f"{how} send of invoice {guid}",
        send=send,
        expect="Sent",
        lookup=lambda: _sent(run, guid, mail_types),
        lookup_text=f"GET /v1/{{org}}/invoices/{guid}/mailouts",
    )
    return "sent"
