"""``load_as: sales_credit_note``: refunds as credit notes of booked invoices, exactly once.

* **full** (no ``ProductLines``): ``POST /invoices/{guid}/generate-creditnote`` -- Dinero copies the
  invoice's lines, contact and ExternalReference and sets ``CreditNoteFor``; then booked with the
  TimeStamp the generate answer returned (2 requests, plus the shared credit-note listing: one request
  per 1 000 credit notes per run). Identity: a credit note whose ExternalReference is the invoice's (what
  generate copies) or the record's own; one full credit note per invoice. The Guid the generate answer
  gave is also kept in the shared journal store (the objects namespace, key ``sales_credit_note:<ref>``,
  with the ``pending`` marker of the protocol): should Dinero not copy the reference, a re-run still
  finds the note by that Guid.
* **partial** (``ProductLines``): ``POST /sales/creditnotes`` with ``CreditNoteFor``, the invoice's
  contact and currency (one GET of the invoice), the record's ExternalReference and a deterministic Guid
  (a replayed create cannot make a twin); then booked with the create's TimeStamp.
* ``Book`` (or the stream's ``book``) books it; ``Payment`` pays the refund back (reconciled against the
  credit note's payments like every payment: :mod:`target_dinero.sinks.settlement`).

Before every write the credit note is looked up (the run's credit-note index). Generate/create follow
:class:`target_dinero.exactly_once.ExactlyOnce`: ``pending`` is durable before the request; after an
unknown outcome the note is looked up again (fresh from Dinero) and a generated note -- Dinero picks its
Guid -- is believed absent only once ``commit_horizon_seconds`` have passed since the request.
An existing booked credit note is never changed; an existing draft is booked when asked.
"""

from __future__ import annotations

import threading
import time
import weakref
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

from dinero_api.envelope import parse_page
from dinero_api.errors import DineroGone, DineroTimestampConflict, DineroValidationError
from dinero_api.filters import lookup as filter_for
from target_dinero.amounts import InvoiceLineMoney, invoice_money
from target_dinero.exactly_once import ExactlyOnce, await_write
from target_dinero.records import (
    RecordRejected,
    deterministic_guid,
    normalize_reference,
    to_date,
    to_decimal,
    to_int,
    validate_shape,
)
from target_dinero.remote_index import RemoteIndex, field_ci
from target_dinero.sinks.base import DineroSink, Prepared
from target_dinero.sinks.settlement import (
    UNKNOWN_OUTCOME,
    document_payments,
    invoice_key,
    moves_no_money,
    parse_payment,
    resolve_invoice,
)

__all__ = ["SalesCreditNoteSink"]

_INDEXES: weakref.WeakKeyDictionary[Any, RemoteIndex] = weakref.WeakKeyDictionary()
_INDEX_LOCK = threading.Lock()
#: per run: invoice Guid -> what this run's credit notes credit it (incl. VAT), and the notes Dinero showed
_CREDITED: weakref.WeakKeyDictionary[Any, dict[str, Decimal]] = weakref.WeakKeyDictionary()
_NOTE_FOR: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()
CENT = Decimal("0.01")


def credit_note_index(run: Any) -> RemoteIndex:
    """The run's index of existing sales credit notes by ExternalReference."""
    with _INDEX_LOCK:
        found = _INDEXES.get(run)
        if found is None:
            found = _INDEXES[run] = RemoteIndex(
                run.gateway,
                "/v1/{org}/sales/creditnotes",
                ("Guid", "Status", "DeletedAt", "ContactGuid", "TotalInclVat"),
            )
        return found


class SalesCreditNoteSink(DineroSink):
    """Credit notes for refunds."""

    load_type = "sales_credit_note"
    #: drained after the invoices and their payments (TargetDinero.drain_sinks): its invoice may be in
    #: the same input, and a payment registered first is never refused as "already paid" by the credit
    drain_phase = 2

    def prepare(self, record: dict[str, Any]) -> Prepared:
        """Validate locally: invoice key, lines (accounts of the chart, finite amounts), payment."""
        validate_shape("sales_credit_note", record)
        record = self.without_foreign_guids(record, "InvoiceGuid", "CreditNoteFor")
        invoice_key(record)
        reference = self.reference_for(record)
        lines = None
        if record.get("ProductLines"):
            lines = []
            for index, raw in enumerate(record["ProductLines"]):
                where = f"ProductLines[{index}]"
                account = to_int(raw.get("AccountNumber"), f"{where}.AccountNumber")
                self.run.reference.check_account(account, f"{where}.AccountNumber")
                # A Text line carries no amount (Dinero's own notes have them, and tap-dinero copies them
                # with whatever Quantity and price they hold): kept a Text line, never made a Product
                # line that would credit its price.
                line_type = str(raw.get("LineType") or "Product")
                text = line_type.lower() == "text"
                quantity = to_decimal(raw.get("Quantity"), f"{where}.Quantity", required=not text)
                price = to_decimal(raw.get("BaseAmountValue"), f"{where}.BaseAmountValue", required=not text)
                if not text and (not quantity or price is None or price < 0):
                    raise RecordRejected(
                        f"{where}: Quantity must be non-zero and the price not negative", where
                    )
                discount = to_decimal(raw.get("Discount"), f"{where}.Discount", required=False) or Decimal(0)
                if not 0 <= discount <= 100:
                    raise RecordRejected(
                        f"{where}.Discount must be a percentage 0-100, got {discount}", f"{where}.Discount"
                    )
                lines.append(
                    {
                        "Description": raw["Description"],
                        "Quantity": quantity if quantity is not None else Decimal(0),
                        "BaseAmountValue": price if price is not None else Decimal(0),
                        "AccountNumber": account,
                        "Unit": raw.get("Unit") or "parts",
                        "Discount": discount,
                        "LineType": "Text" if text else line_type,
                    }
                )
        day = to_date(record["Date"], "Date").isoformat() if record.get("Date") else None
        book = self.book_wanted(record)
        payment = None
        if record.get("Payment") and not moves_no_money(record["Payment"]):
            if not book:
                raise RecordRejected("a credit note is paid back only when booked (set Book)", "Payment")
            raw = dict(record["Payment"])
            payment = parse_payment(
                raw, str(raw.get("ExternalReference") or f"{reference}/refund"), self.options, "Payment"
            )
        payload = {"Date": day, "Description": record.get("Description"), "Comment": record.get("Comment")}
        if lines is not None:
            payload["ProductLines"] = lines
        return Prepared(
            record=record,
            reference=reference,
            payload=payload,
            book=book,
            extra={
                "payment": payment,
                "guid": deterministic_guid(self.run.organization_id, "creditnote", reference),
            },
        )

    def load(self, items: list[Prepared]) -> None:
        """Look invoices and credit notes up in one go each, then write each refund."""
        refs = [
            str(i.record.get("InvoiceExternalReference")) for i in items if not i.record.get("InvoiceGuid")
        ]
        if refs:
            self.run.invoice_index.lookup(refs)
        credit_note_index(self.run).lookup(
            [i.reference for i in items] + [normalize_reference(r) for r in refs]
        )
        for item in items:
            self.guarded(item.record, lambda item=item: self.load_one(self.still_valid(item)))

    # -- one refund ----------------------------------------------------------------------------------
    def _existing(
        self, item: Prepared, invoice_ref: str | None, fresh: bool = False
    ) -> dict[str, Any] | None:
        index = credit_note_index(self.run)
        refs = [item.reference] + (
            [invoice_ref] if invoice_ref and "ProductLines" not in item.payload else []
        )
        for ref in refs:
            row = index.recheck(ref) if fresh else index.lookup([ref]).get(ref)
            if row is not None and not field_ci(row, "DeletedAt"):
                return row
        if "ProductLines" in item.payload or self.run.dry_run:
            return None
        # A generated note that does not carry the invoice's reference (should Dinero not copy it): the
        # journal knows its Guid from the generate answer; read it (only in this case).
        entry = self.run.markers.get(self._key(item.reference)) or {}
        if entry.get("guid"):
            try:
                current = self.run.gateway.get(f"/v1/{{org}}/sales/creditnotes/{entry['guid']}")
            except DineroGone:
                current = None
            if current and not field_ci(current, "DeletedAt"):
                return current
        return None

    def _key(self, reference: str) -> str:
        return f"sales_credit_note:{reference}"

    def load_one(self, item: Prepared) -> None:
        """Find or make the credit note, book it when asked, pay it back when asked."""
        found = resolve_invoice(self, item.record)
        if found is None:
            raise RecordRejected(
                f"invoice {item.record.get('InvoiceExternalReference')!r} does not exist in Dinero",
                "InvoiceExternalReference",
            )
        invoice_guid, row = found
        invoice_ref = normalize_reference(field_ci(row, "ExternalReference")) or None
        existing = self._existing(item, invoice_ref)
        timestamp = None
        if existing is None:
            if str(field_ci(row, "Status") or "").lower() == "draft":
                raise RecordRejected(
                    "the invoice is a draft: only a booked invoice can be credited",
                    "InvoiceExternalReference",
                )
            self._refuse_over_credit(item, invoice_guid, row)
            if "ProductLines" in item.payload:
                invoice = self._invoice(item, invoice_guid)
                self._refuse_over_refund(
                    item,
                    max(self._note_total(item, invoice), self._note_total(item, invoice, ROUND_HALF_EVEN)),
                )
            guid, timestamp = self._create(item, invoice_guid, invoice_ref)
            if guid is None:
                return
            status = "draft"
        else:
            guid = str(field_ci(existing, "Guid"))
            status = str(field_ci(existing, "Status") or "").lower()
            self._refuse_changed(item, invoice_guid, existing)
            held = field_ci(existing, "TotalInclVat")
            if held is not None:
                self._refuse_over_refund(item, Decimal(str(held)))
            self.count("unchanged")
        if item.book and status == "draft":
            self._book(item, guid, timestamp)
        payment = item.extra["payment"]
        if payment is not None and (item.book or status != "draft"):
            outcome = document_payments(self.run).pay(
                "creditnote", guid, payment, self.stream_name, self.options
            )
            if outcome:
                self.count("refund_exists" if outcome == "payment_exists" else f"refund_{outcome}")

    # -- never credit more than the invoice -----------------------------------------------------------
    def _invoice(self, item: Prepared, invoice_guid: str) -> dict[str, Any]:
        """The invoice (one GET per record, shared with the partial note's body)."""
        if "invoice" not in item.extra:
            item.extra["invoice"] = self.run.gateway.get(f"/v1/{{org}}/invoices/{invoice_guid}") or {}
        return item.extra["invoice"]

    def _credited(self, invoice_guid: str, contact: str | None) -> Decimal:
        """What live credit notes in Dinero credit the invoice (incl. VAT, its currency).

        Dinero's list has no ``CreditNoteFor``: the notes of the invoice's contact are taken from the run's
        credit-note index when it read the whole list (else one filtered list request), and each one's
        ``CreditNoteFor`` is read (one GET per note of that contact, once ever: see
        :meth:`_credit_note_for`)."""
        if not contact:
            return Decimal(0)
        with _INDEX_LOCK:
            note_for = _NOTE_FOR.setdefault(self.run, {})
        rows = credit_note_index(self.run).all_rows()
        if rows is None:
            query, _exact = filter_for("ContactGuid", str(contact))
            answer = self.run.gateway.get(
                "/v1/{org}/sales/creditnotes",
                {"fields": "Guid,ContactGuid,TotalInclVat,DeletedAt", "queryFilter": query, "pageSize": 1000},
            )
            rows = parse_page(answer).rows
        total = Decimal(0)
        for row in rows:
            if str(field_ci(row, "ContactGuid") or "").lower() != str(contact).lower():
                continue
            if field_ci(row, "DeletedAt"):
                continue
            guid = str(field_ci(row, "Guid") or "").lower()
            if guid not in note_for:
                note_for[guid] = self._credit_note_for(guid)
            if note_for[guid] == invoice_guid.lower():
                total += Decimal(str(field_ci(row, "TotalInclVat") or 0))
        return total

    def _credit_note_for(self, guid: str) -> str:
        """The Guid (lower case) of the invoice credit note ``guid`` credits, "" for none.

        A note's ``CreditNoteFor`` is set when it is made and never changes, so what one run read is kept
        in the journal store (``credit_note_for:<guid>``): a customer's earlier notes cost one GET each
        once, not on every run (a shop booking all guest orders to one contact would otherwise read every
        earlier note of that contact in each run with a partial refund)."""
        key = f"credit_note_for:{guid}"
        kept = self.run.markers.get(key)
        if kept is not None and isinstance(kept.get("invoice"), str):
            return kept["invoice"]
        detail = self.run.gateway.get(f"/v1/{{org}}/sales/creditnotes/{guid}") or {}
        invoice = str(field_ci(detail, "CreditNoteFor") or "").lower()
        if detail:
            self.run.markers.record(key, invoice=invoice)
        return invoice

    def _note_total(self, item: Prepared, invoice: dict[str, Any], rounding: str = ROUND_HALF_UP) -> Decimal:
        """What the new note credits incl. VAT: the invoice's total (full), Dinero's sum of the lines
        (partial: :func:`target_dinero.amounts.invoice_money`, each line at its account's sales VAT)."""
        if "ProductLines" not in item.payload:
            return Decimal(str(field_ci(invoice, "TotalInclVat") or 0))
        lines = []
        for line in item.payload["ProductLines"]:
            code = str((self.run.reference.accounts().get(line["AccountNumber"]) or {}).get("VatCode") or "")
            rate = (
                self.run.reference.vat_rates().get(code.upper(), Decimal(0)) if code.upper()[:1] == "U" else 0
            )
            lines.append(
                InvoiceLineMoney(
                    price=line["BaseAmountValue"],
                    quantity=line["Quantity"],
                    discount=Decimal(line["Discount"]),
                    rate=Decimal(rate),
                    text=line.get("LineType") == "Text",
                )
            )
        return invoice_money(lines, bool(field_ci(invoice, "ShowLinesInclVat")), rounding).incl

    def _refuse_changed(self, item: Prepared, invoice_guid: str, existing: dict[str, Any]) -> None:
        """A partial note found by its reference whose lines now credit another amount is rejected with
        both amounts, never counted as there (a credit note is not changed once written)."""
        held = field_ci(existing, "TotalInclVat")
        if "ProductLines" not in item.payload or held is None or self.run.dry_run:
            return
        invoice = self._invoice(item, invoice_guid)
        new = self._note_total(item, invoice)
        held_amount = Decimal(str(held)).quantize(CENT)
        # how Dinero rounds a midpoint is undocumented: either rule's total is the same note
        if held_amount not in (new, self._note_total(item, invoice, ROUND_HALF_EVEN)):
            raise RecordRejected(
                f"credit note {item.reference!r} exists in Dinero crediting {held_amount}; "
                f"the record's lines credit {new.quantize(CENT)}. A credit note is not changed once written: "
                "correct it in Dinero, or send the difference as a credit note of its own",
                "ProductLines",
            )

    def _refuse_over_refund(self, item: Prepared, note_total: Decimal) -> None:
        """A refund paid back beyond what its credit note credits is rejected before any write."""
        payment = item.extra["payment"]
        if payment is not None and payment.voucher_amount > note_total + Decimal("0.005"):
            raise RecordRejected(
                f"Payment {payment.voucher_amount} pays back more than the credit note credits "
                f"({note_total.quantize(CENT)})",
                "Payment.Amount",
            )

    def _refuse_over_credit(self, item: Prepared, invoice_guid: str, row: dict[str, Any]) -> None:
        """Reject, before any write, a credit note that would credit the invoice more than its total
        (a full refund after partial ones, partial refunds adding up to more than was invoiced).

        A full note credits the whole invoice, so it needs no other note for the invoice (no read of the
        invoice when the run's invoice index knows its contact); a partial one needs the invoice read for
        its body anyway, which gives the total."""
        if self.run.dry_run and invoice_guid.startswith("dry-run:"):
            return
        if (self.run.markers.get(self._key(item.reference)) or {}).get("status") == "pending":
            # an earlier send of this very note (checked then) may have been made: the protocol settles it
            # (look-up, commit horizon) -- its own note must not count as another one crediting the invoice
            return
        full = "ProductLines" not in item.payload
        contact = field_ci(row, "ContactGuid")
        invoice = self._invoice(item, invoice_guid) if not contact or not full else {}
        contact = contact or field_ci(invoice, "ContactGuid")
        with _INDEX_LOCK:
            this_run = _CREDITED.setdefault(self.run, {})
        key = invoice_guid.lower()
        if key not in this_run:
            this_run[key] = self._credited(invoice_guid, contact)
        already = this_run[key]
        if full:
            if already > Decimal("0.005"):
                raise RecordRejected(
                    f"a full credit note would credit the invoice more than its total: credit notes for it "
                    f"already credit {already.quantize(CENT)} (send the rest as ProductLines)",
                    "ProductLines",
                )
            this_run[key] = Decimal("Infinity")  # fully credited: any further note is refused
            return
        total = Decimal(str(field_ci(invoice, "TotalInclVat") or 0))
        # the smaller of the two midpoint rules' totals: refuse only what credits too much under either
        new = min(self._note_total(item, invoice), self._note_total(item, invoice, ROUND_HALF_EVEN))
        if already + new > total + Decimal("0.005"):
            shown = "all of it" if already.is_infinite() else str(already.quantize(CENT))
            raise RecordRejected(
                f"this credit note of {new.quantize(CENT)} would credit the invoice more than its total "
                f"{total.quantize(CENT)}: credit notes for it already credit {shown}",
                "ProductLines",
            )
        this_run[key] = already + new

    def _create(self, item: Prepared, invoice_guid: str, invoice_ref: str | None) -> tuple[str | None, Any]:
        full = "ProductLines" not in item.payload
        if self.run.dry_run:
            self.run.plan(
                "create",
                self.load_type,
                self.stream_name,
                item.reference,
                {**item.payload, "CreditNoteFor": invoice_guid},
            )
            if item.book:
                self.count("would_book")
                document_payments(self.run).booked_now("creditnote", item.extra["guid"], "dry-run")
            # a refund of this note later in the dry run finds it (and is planned, not rejected)
            credit_note_index(self.run).remember(
                item.reference, {"Guid": item.extra["guid"], "Status": "Booked" if item.book else "Draft"}
            )
            return None if not item.extra["payment"] else item.extra["guid"], None
        credit_index = credit_note_index(self.run)
        credit_index.mark_writing()
        key = self._key(item.reference)
        # The write protocol of every create (target_dinero.exactly_once): pending in the shared store
        # first; after an unknown outcome the note is looked up (fresh, by reference -- or by its
        # client-chosen Guid for a partial note) and, with no Guid of ours, "not found" is believed only
        # once the commit horizon has passed; a refused resend of a partial note is looked up too.
        protocol = ExactlyOnce(self.run)
        common: dict[str, Any] = {
            "stream": self.stream_name,
            "journal": self.run.markers,
            "key": key,
            "reference": item.reference,
            "expect": "Guid",
            "lookup": lambda: self._existing(item, invoice_ref, fresh=True),
            "pending_fields": {"stream": self.stream_name, "invoice": invoice_guid},
            "done_fields": lambda found: {"guid": str(field_ci(found, "Guid"))},
        }
        if full:
            path = f"/v1/{{org}}/invoices/{invoice_guid}/generate-creditnote"
            answer, created = protocol.create(
                **common,
                what="generate-creditnote",
                send=lambda: self.run.gateway.post(path, {}),
                lookup_text=(
                    f"GET /v1/{{org}}/sales/creditnotes (ExternalReference {invoice_ref or item.reference!r})"
                ),
            )
        else:
            # A partial note carries our Guid: a refusal that may mean "Guid taken" is looked up (a
            # concurrent run made it) and, when nothing live holds the Guid (a copy deleted in Dinero
            # keeps it), the Guid is given up and the note created with a server-chosen one -- as for an
            # invoice.
            body = self._partial_body(item, invoice_guid)
            body_without_guid = {k: v for k, v in body.items() if k != "Guid"}
            answer, created = protocol.create_with_own_guid(
                **common,
                what="create of a sales credit note",
                send=lambda: self.run.gateway.post("/v1/{org}/sales/creditnotes", body),
                lookup_text=f"GET /v1/{{org}}/sales/creditnotes/{item.extra['guid']}",
                guid_field="Guid",
                send_anew=lambda: self.run.gateway.post("/v1/{org}/sales/creditnotes", body_without_guid),
                lookup_anew=common["lookup"],
                lookup_anew_text=f"GET /v1/{{org}}/sales/creditnotes (ExternalReference {item.reference!r})",
            )
        guid = str(field_ci(answer, "Guid"))
        ref = invoice_ref if full and invoice_ref else item.reference
        credit_index.remember(ref, {"Guid": guid, "Status": field_ci(answer, "Status") or "Draft"})
        self.count("created" if created else "unchanged")
        return guid, field_ci(answer, "TimeStamp")

    def _partial_body(self, item: Prepared, invoice_guid: str) -> dict[str, Any]:
        invoice = self._invoice(item, invoice_guid)
        body = {
            "Guid": item.extra["guid"],
            "CreditNoteFor": invoice_guid,
            "ContactGuid": field_ci(invoice, "ContactGuid"),
            "Currency": field_ci(invoice, "Currency") or "DKK",
            "Language": field_ci(invoice, "Language") or "da-DK",
            # the record's own (a credit note copied from another organization), else the invoice's
            "ShowLinesInclVat": bool(
                item.record["ShowLinesInclVat"]
                if item.record.get("ShowLinesInclVat") is not None
                else field_ci(invoice, "ShowLinesInclVat")
            ),
            "ExternalReference": item.reference,
            **{k: v for k, v in item.payload.items() if v is not None},
        }
        return body

    def _book(self, item: Prepared, guid: str, timestamp: Any) -> None:
        if self.run.dry_run:
            return
        path = f"/v1/{{org}}/sales/creditnotes/{guid}/book"
        if timestamp is None:
            timestamp = field_ci(
                self.run.gateway.get(f"/v1/{{org}}/sales/creditnotes/{guid}") or {}, "TimeStamp"
            )
        booked_here = True
        sent_at = time.time()
        try:
            answer = self.run.gateway.post(path, {"Timestamp": timestamp}) or {}
        except (DineroValidationError, *UNKNOWN_OUTCOME) as exc:
            # A stale Timestamp, "already booked", a lost answer: perhaps another run (a second worker or
            # project copying the same refunds) booked the note since this run looked it up. After a lost
            # answer it is re-read until booked or the book can no longer commit (a second book before a
            # late commit would be refused: stale Timestamp).
            if isinstance(exc, DineroValidationError):
                current = self.run.gateway.get(f"/v1/{{org}}/sales/creditnotes/{guid}") or {}
            else:
                current = (
                    await_write(
                        self.run,
                        sent_at,
                        lambda: self.run.gateway.get(f"/v1/{{org}}/sales/creditnotes/{guid}") or {},
                        lambda row: str(field_ci(row, "Status") or "").lower() != "draft",
                    )
                    or {}
                )
            if str(field_ci(current, "Status") or "").lower() != "draft":
                booked_here = False
            elif isinstance(exc, DineroValidationError) and not isinstance(exc, DineroTimestampConflict):
                raise  # refused while still a draft: about the note itself
            else:
                answer = self.run.gateway.post(path, {"Timestamp": field_ci(current, "TimeStamp")}) or {}
        self.count("booked")
        credit_note_index(self.run).remember(item.reference, {"Guid": guid, "Status": "Booked"})
        if booked_here:
            # Only a note this run booked is known to have no payments: one booked elsewhere may have been
            # paid back already, so its payments are read before a refund is registered (settlement).
            document_payments(self.run).booked_now("creditnote", guid, field_ci(answer, "TimeStamp"))
