"""``load_as: invoice_payment``: payments registered on booked invoices, exactly once.

A record names its invoice (``InvoiceExternalReference`` or ``InvoiceGuid``) and the payment (Amount in
DKK, ``AmountInForeignCurrency`` for an invoice in another currency, PaymentDate, DepositAccountNumber,
RemainderIsFee, Description). Its own reference (ExternalReference, else stream + key properties) is put
on the payment and compared with the invoice's payments before writing: see
:mod:`target_dinero.sinks.settlement` for the protocol and its request counts.

Validation before any request: JSON schema, a positive whole-øre amount, a date, a deposit account
(record or stream's ``deposit_account``), an invoice key. An invoice that does not exist, or is a draft,
rejects the record with the reason (a later run, after the invoice is booked, pays it).
"""

from __future__ import annotations

from typing import Any

from target_dinero.records import RecordRejected, validate_shape
from target_dinero.remote_index import field_ci
from target_dinero.sinks.base import DineroSink, Prepared
from target_dinero.sinks.settlement import document_payments, invoice_key, parse_payment, resolve_invoice

__all__ = ["InvoicePaymentSink"]


class InvoicePaymentSink(DineroSink):
    """Registers invoice payments."""

    load_type = "invoice_payment"
    #: drained after the document sinks (TargetDinero.drain_sinks): its invoice may be in the same input
    drain_phase = 1

    def deleted_upstream(self, record: dict[str, Any], where: str) -> None:
        """A payment deleted upstream (tap-dinero's payment streams emit them with ``_sdc_deleted_at``) is
        rejected with the reason, never dropped silently: the target does not delete payments in Dinero,
        so a copy registered by an earlier run stays until someone deletes it by hand."""
        self.run.reject(
            self.stream_name,
            record,
            "the payment was deleted upstream (DeletedAt / _sdc_deleted_at); target-dinero never deletes a "
            "payment in Dinero: if an earlier run registered it here, delete it in Dinero by hand" + where,
            "_sdc_deleted_at",
        )

    def prepare(self, record: dict[str, Any]) -> Prepared:
        """Validate the payment locally."""
        validate_shape("invoice_payment", record)
        record = self.without_foreign_guids(record, "InvoiceGuid")
        invoice_key(record)
        reference = self.reference_for(record)
        spec = parse_payment(record, reference, self.options)
        return Prepared(record=record, reference=reference, payload=spec.body(None), extra={"spec": spec})

    def load(self, items: list[Prepared]) -> None:
        """Look every invoice up in one go (the run's invoice index), then pay each."""
        refs = [
            str(i.record.get("InvoiceExternalReference")) for i in items if not i.record.get("InvoiceGuid")
        ]
        if refs:
            self.run.invoice_index.lookup(refs)
        for item in items:
            self.guarded(item.record, lambda item=item: self.load_one(item))

    def load_one(self, item: Prepared) -> None:
        """Pay one invoice unless the payment is there already."""
        found = resolve_invoice(self, item.record)
        if found is None:
            raise RecordRejected(
                f"invoice {item.record.get('InvoiceExternalReference')!r} does not exist in Dinero",
                "InvoiceExternalReference",
            )
        guid, row = found
        if str(field_ci(row, "Status") or "").lower() == "draft":
            raise RecordRejected(
                "the invoice is a draft: book it before paying it", "InvoiceExternalReference"
            )
        outcome = document_payments(self.run).pay(
            "invoice", guid, item.extra["spec"], self.stream_name, self.options
        )
        if outcome:
            self.count("unchanged" if outcome == "payment_exists" else outcome)
