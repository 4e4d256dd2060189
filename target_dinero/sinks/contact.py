"""Contacts as their own load type: found (ExternalReference, VatNumber, Email) before created.

The run's :class:`~target_dinero.contacts.ContactResolver` is shared with the invoice sink, so a contact
loaded here is not looked up again when an invoice names it. An existing contact that differs from the
record is updated (PUT, full replacement merged with the values Dinero holds); a human-set
ExternalReference on a contact matched by VAT number or e-mail is kept.
"""

from __future__ import annotations

from typing import Any

from target_dinero.compare import differences
from target_dinero.contacts import contact_payload
from target_dinero.records import deterministic_guid, same_reference, validate_shape
from target_dinero.remote_index import field_ci
from target_dinero.sinks.base import DineroSink, Prepared

__all__ = ["ContactSink"]


class ContactSink(DineroSink):
    """load_as: contact."""

    load_type = "contact"
    #: drained before the documents (TargetDinero.drain_sinks): an invoice of the same input finds it
    drain_phase = -1

    def prepare(self, record: dict[str, Any]) -> Prepared:
        """Validate a contact record and build the ContactCreateModel."""
        validate_shape("contact", record)
        reference = self.reference_for(record)
        payload = {**contact_payload(record), "ExternalReference": reference}
        return Prepared(record=record, reference=reference, payload=payload)

    def load_one(self, item: Prepared) -> None:
        """Create the contact, or update it when Dinero's copy differs."""
        contacts = self.run.contacts
        payload = dict(item.payload)
        row = contacts.find(payload)
        if row is None:
            guid = deterministic_guid(self.run.organization_id, "contact", item.reference)
            if self.run.dry_run:
                self.run.plan("create", self.load_type, self.stream_name, item.reference, payload)
                contacts.resolve(payload, plan=lambda _body: None)  # cache it for the invoices of this run
                return
            contacts.create(payload, guid)
            self.count("created")
            return
        existing_ref = field_ci(row, "ExternalReference")
        if existing_ref and not same_reference(existing_ref, item.reference):
            payload.pop("ExternalReference")  # matched by VAT number/e-mail: keep the reference a human set
        if not differences(payload, row) or not self.options.update_drafts:
            self.count("unchanged")
            return
        if self.run.dry_run:
            self.run.plan("update", self.load_type, self.stream_name, item.reference, payload)
            return
        contacts.update(str(field_ci(row, "ContactGuid")), payload, row)
        self.count("updated")
