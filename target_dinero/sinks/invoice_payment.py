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

import weakref
from typing import Any

from target_dinero.exactly_once import get_or_none
from target_dinero.records import (
    RecordRejected,
    deterministic_guid,
    normalize_reference,
    same_reference,
    validate_shape,
)
from target_dinero.remote_index import field_ci
from target_dinero.sinks.base import DineroSink, Prepared
from target_dinero.sinks.settlement import document_payments, invoice_key, parse_payment, resolve_invoice

__all__ = ["InvoicePaymentSink"]

#: runs in which a look-up by the target's own Guid missed (then the invoice index is used instead)
_GUID_MISSES: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


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
        """Pay each payment's invoice (found as :meth:`_find_invoice` says)."""
        for item in items:
            self.guarded(item.record, lambda item=item: self.load_one(self.still_valid(item)))

    def _find_invoice(self, record: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """(Guid, row) of the invoice, with as few requests as possible.

        An invoice the run already knows (written in this run, or in the index already read) costs
        nothing. Otherwise the invoice the target itself created for that reference has the Guid
        ``uuid5(organization, reference)``: one GET of it gives Guid, Status and the Timestamp the payment
        needs -- the GET every payment on an invoice from an earlier run makes anyway -- and it counts
        only when its ExternalReference is this one (the identity rule). When it is not there (an invoice
        made by someone else, or re-created under a server-chosen Guid) the run's invoice index answers,
        and is used for the rest of the run (one list request per 1 000 invoices).
        """
        ref = record.get("InvoiceExternalReference")
        if record.get("InvoiceGuid") or ref in (None, ""):
            return resolve_invoice(self, record)
        ref = normalize_reference(ref)
        index = self.run.invoice_index
        row = index.known(ref)
        if row is None and not index.read_any and not self.run.dry_run and not _GUID_MISSES.get(self.run):
            guid = deterministic_guid(self.run.organization_id, "invoice", ref)
            document = get_or_none(self.run, f"/v1/{{org}}/invoices/{guid}")
            if document is not None and same_reference(field_ci(document, "ExternalReference") or "", ref):
                document_payments(self.run).seen_document("invoice", guid, document)
                index.remember_found(ref, {"Guid": guid, "Status": field_ci(document, "Status")})
                return guid, {"Guid": guid, "Status": field_ci(document, "Status"), "ExternalReference": ref}
            _GUID_MISSES[self.run] = True  # not ours: the index serves this run from here on
        return resolve_invoice(self, record)

    def load_one(self, item: Prepared) -> None:
        """Pay one invoice unless the payment is there already."""
        found = self._find_invoice(item.record)
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
