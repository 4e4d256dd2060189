"""``load_as: sales_credit_note_payment``: refunds paid back on booked sales credit notes, exactly once.

The credit-note twin of :mod:`target_dinero.sinks.invoice_payment`: a record names its credit note
(``CreditNoteExternalReference`` or ``CreditNoteGuid``) and the payment; the payment carries its own
reference and is compared with the credit note's payments before writing (see
:mod:`target_dinero.sinks.settlement` for the protocol and its request counts). It is what tap-dinero's
``sales_credit_note_payments`` load as (a credit note can have several payments; a ``sales_credit_note``
record's single ``Payment`` covers the web-shop refund).

A credit note that does not exist, or is a draft, rejects the record with the reason.
"""

from __future__ import annotations

from typing import Any

from target_dinero.records import RecordRejected, normalize_reference, validate_shape
from target_dinero.remote_index import field_ci
from target_dinero.sinks.base import Prepared
from target_dinero.sinks.invoice_payment import InvoicePaymentSink
from target_dinero.sinks.sales_credit_note import credit_note_index
from target_dinero.sinks.settlement import document_payments, parse_payment

__all__ = ["CreditNotePaymentSink"]


class CreditNotePaymentSink(InvoicePaymentSink):
    """Registers payments (refunds paid back) on sales credit notes."""

    load_type = "sales_credit_note_payment"
    #: drained after the credit notes (TargetDinero.drain_sinks): its credit note may be in the same input
    drain_phase = 3

    def prepare(self, record: dict[str, Any]) -> Prepared:
        """Validate the payment locally."""
        validate_shape("sales_credit_note_payment", record)
        record = self.without_foreign_guids(record, "CreditNoteGuid")
        ref = record.get("CreditNoteExternalReference")
        if not record.get("CreditNoteGuid") and (ref in (None, "") or not normalize_reference(ref)):
            raise RecordRejected(
                "CreditNoteExternalReference or CreditNoteGuid is required", "CreditNoteExternalReference"
            )
        reference = self.reference_for(record)
        spec = parse_payment(record, reference, self.options)
        return Prepared(record=record, reference=reference, payload=spec.body(None), extra={"spec": spec})

    def load(self, items: list[Prepared]) -> None:
        """Look every credit note up in one go (the run's credit-note index), then pay each."""
        refs = [
            normalize_reference(i.record.get("CreditNoteExternalReference"))
            for i in items
            if not i.record.get("CreditNoteGuid")
        ]
        if refs:
            credit_note_index(self.run).lookup(refs)
        for item in items:
            self.guarded(item.record, lambda item=item: self.load_one(self.still_valid(item)))

    def load_one(self, item: Prepared) -> None:
        """Pay the credit note back unless the payment is there already."""
        guid = item.record.get("CreditNoteGuid")
        if not guid:
            ref = normalize_reference(item.record.get("CreditNoteExternalReference"))
            row = credit_note_index(self.run).lookup([ref]).get(ref) or {}
            if not row or field_ci(row, "DeletedAt"):
                raise RecordRejected(
                    f"credit note {ref!r} does not exist in Dinero", "CreditNoteExternalReference"
                )
            guid = field_ci(row, "Guid")
        # a draft is refused by DocumentPayments.pay, which knows the Status booking left (the index may
        # still hold the Draft the create answered)
        outcome = document_payments(self.run).pay(
            "creditnote", str(guid), item.extra["spec"], self.stream_name, self.options
        )
        if outcome:
            self.count("unchanged" if outcome == "payment_exists" else outcome)
