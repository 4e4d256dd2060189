"""Products (ProductCreateModel): matched on ExternalReference through the run's product index.

Products have no client-chosen Guid and no Timestamp. Creates follow the exactly-once protocol
(:mod:`target_dinero.exactly_once`): a ``pending`` marker in the shared journal before the create, and
after an unknown outcome (lost answer, timeout, unreadable 2xx, a commit after the client gave up) a
filtered look-up by ExternalReference, repeated until Dinero can no longer commit the lost create, before
anything is sent again. Overlapping runs take turns through the journal store's lock. An existing
product that differs from the record is updated with PUT (full replacement).
"""

from __future__ import annotations

from typing import Any

from dinero_api.errors import DineroUnknownOutcome
from target_dinero.compare import differences
from target_dinero.exactly_once import ExactlyOnce
from target_dinero.records import RecordRejected, to_decimal, to_int, validate_shape
from target_dinero.remote_index import field_ci
from target_dinero.sinks.base import DineroSink, Prepared

__all__ = ["ProductSink"]

PATH = "/v1/{org}/products"


class ProductSink(DineroSink):
    """load_as: product."""

    load_type = "product"
    #: drained before the documents (TargetDinero.drain_sinks): an invoice of the same input finds it
    drain_phase = -1

    def prepare(self, record: dict[str, Any]) -> Prepared:
        """Validate a product record and build the ProductCreateModel."""
        validate_shape("product", record)
        if not record.get("Unit"):
            raise RecordRejected("Unit is required (one of Dinero's units, e.g. parts)", "Unit")
        reference = self.reference_for(record)
        account = to_int(record["AccountNumber"], "AccountNumber")
        self.run.reference.check_account(account, "AccountNumber")
        quantity = to_decimal(record.get("Quantity"), "Quantity", required=False)
        number = record.get("ProductNumber")
        payload = {
            "Name": record["Name"],
            "ProductNumber": str(number) if number not in (None, "") else None,
            "BaseAmountValue": to_decimal(record["BaseAmountValue"], "BaseAmountValue"),
            "Quantity": 1 if quantity is None else quantity,
            "AccountNumber": account,
            "Unit": record["Unit"],
            "ExternalReference": reference,
            "Comment": record.get("Comment") or None,
        }
        return Prepared(record=record, reference=reference, payload=payload)

    def load(self, items: list[Prepared]) -> None:
        """Look the references up (few requests), then create or update each product."""
        existing = self.run.product_index.lookup([item.reference for item in items])
        for item in items:
            self.guarded(
                item.record,
                lambda item=item: self._load(self.still_valid(item), existing.get(item.reference)),
            )

    def _load(self, item: Prepared, row: dict[str, Any] | None) -> None:
        index = self.run.product_index
        if row is not None:
            # Comment is not a list field: a change of the comment alone does not trigger an update.
            if not differences(item.payload, row, ignore=("Comment",)) or not self.options.update_drafts:
                self.count("unchanged")
            elif self.run.dry_run:
                self.run.plan("update", self.load_type, self.stream_name, item.reference, item.payload)
            else:
                guid = str(field_ci(row, "ProductGuid"))
                try:
                    self.run.gateway.put(f"{PATH}/{guid}", item.payload)
                except DineroUnknownOutcome:
                    # A product PUT is a full replacement without a Timestamp: sending it again is safe.
                    self.run.gateway.put(f"{PATH}/{guid}", item.payload)
                index.remember(item.reference, {**item.payload, "ProductGuid": guid})
                self.count("updated")
            return
        if self.run.dry_run:
            self.run.plan("create", self.load_type, self.stream_name, item.reference, item.payload)
            return
        index.mark_writing()
        answer, _ = ExactlyOnce(self.run).create(
            stream=self.stream_name,
            journal=self.run.markers,
            key=f"product:{item.reference}",
            reference=item.reference,
            what="create of a product",
            send=lambda: self.run.gateway.post(PATH, item.payload),
            expect="ProductGuid",
            lookup=lambda: self._live(item.reference),
            lookup_text=f"GET /v1/{{org}}/products?queryFilter=ExternalReference eq '{item.reference}'",
        )
        index.remember(item.reference, {**item.payload, "ProductGuid": field_ci(answer, "ProductGuid")})
        self.count("created")

    def _live(self, reference: str) -> dict[str, Any] | None:
        """A fresh filtered look-up of the product by its ExternalReference."""
        row = self.run.product_index.recheck(reference)
        return None if row is None or field_ci(row, "DeletedAt") else row
