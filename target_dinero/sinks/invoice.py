"""Sales invoices: created as drafts with a deterministic Guid, optionally booked, never duplicated.

Exactly once:
* the ExternalReference (the record's own, or stream + primary key) identifies the invoice; before
  writing, the run's invoice index (one list request per 1 000 existing invoices, or one filtered
  request per reference when that is cheaper -- see :class:`~target_dinero.remote_index.RemoteIndex`)
  says whether it exists;
* the create carries ``Guid = uuid5(organization, reference)``: a create whose answer was lost is
  confirmed with one GET, and a replayed create cannot make a twin;
* an existing **draft** is compared with the record and updated (PUT /v1.2 with its Timestamp; a
  stale Timestamp is re-read and the update retried once); an existing **booked** invoice is never
  touched: it is counted as ``skipped_booked`` and mentioned in the summary (Dinero only allows
  crediting a booked invoice);
* a draft someone deleted in Dinero is created again (with a server-chosen Guid, since the deleted one
  keeps ours): the record says it should exist. Remove the record upstream to keep it deleted.

Copying between organizations: a record whose ``organization_id`` (the column tap-dinero adds to every
row) is another organization than the target's names that organization's contact and products, which
do not exist here. Its ``ContactGuid`` is ignored: the customer is the record's ``Contact`` when given,
else the contact of this organization called ``ContactName`` (see
:meth:`~target_dinero.contacts.ContactResolver.resolve_named`); and the ``ProductGuid`` of its lines is
dropped (each line keeps its Description, price, quantity, unit, discount and account, so lines and
totals are the same).

Requests per new invoice: 1 (create) or 2 (create + book with the TimeStamp the create returned),
plus the run's shared look-ups (accounts once, the invoice index).
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from dinero_api.errors import (
    DineroConnectionError,
    DineroGone,
    DineroServerError,
    DineroTimestampConflict,
    DineroUnknownOutcome,
    DineroValidationError,
)
from target_dinero.amounts import InvoiceLineMoney, invoice_money, invoice_money_is_certain
from target_dinero.compare import differences
from target_dinero.contacts import contact_payload, require_name
from target_dinero.exactly_once import ExactlyOnce, await_write, confirmed, get_or_none
from target_dinero.records import (
    RecordRejected,
    deterministic_guid,
    digest,
    to_date,
    to_decimal,
    to_int,
    validate_shape,
)
from target_dinero.reference_data import check_currency
from target_dinero.remote_index import field_ci
from target_dinero.sinks.base import DineroSink, Prepared
from target_dinero.sinks.settlement import (
    OVERPAYMENT_TOLERANCE,
    document_payments,
    invoice_payments,
    invoice_send,
    pay_invoice,
)

__all__ = ["InvoiceSink"]

_HEADER_FIELDS = (
    "ContactGuid",
    "Date",
    "Currency",
    "Language",
    "Comment",
    "Description",
    "Address",
    "PaymentConditionType",
    "PaymentConditionNumberOfDays",
    "ShowLinesInclVat",
    "ReminderFee",
    "ReminderInterestRate",
    "InvoiceTemplateId",
    "IsMobilePayInvoiceEnabled",
    "IsPensoPayEnabled",
)
_DRAFT = "draft"

#: A create carrying our Guid may or may not have been stored: its answer was lost, or every replay got a
#: 5xx (Dinero may answer a taken Guid with a 500). Resolved by looking the Guid up.
_OUTCOME_UNKNOWN = (DineroUnknownOutcome, DineroServerError, DineroConnectionError)


class InvoiceSink(DineroSink):
    """load_as: invoice."""

    load_type = "invoice"

    # -- validation --------------------------------------------------------------------------
    def _line(self, index: int, line: dict[str, Any], *, foreign: bool = False) -> dict[str, Any]:
        where = f"ProductLines[{index}]"
        quantity = to_decimal(line.get("Quantity"), f"{where}.Quantity")
        price = to_decimal(line.get("BaseAmountValue"), f"{where}.BaseAmountValue")
        discount = to_decimal(line.get("Discount"), f"{where}.Discount", required=False) or 0
        if not 0 <= discount <= 100:
            raise RecordRejected(
                f"{where}.Discount must be a percentage 0-100, got {discount}", f"{where}.Discount"
            )
        account = to_int(line.get("AccountNumber"), f"{where}.AccountNumber")
        self.run.reference.check_account(account, f"{where}.AccountNumber")
        product_guid = None if foreign else line.get("ProductGuid") or None  # another org's product
        description = line.get("Description")
        if product_guid:
            description = None  # Dinero: "If product guid is set, description should be null"
        elif not description:
            raise RecordRejected(
                f"{where}.Description is required when the line has no ProductGuid", f"{where}.Description"
            )
        line_type = line.get("LineType") or "Product"
        unit = line.get("Unit")
        if line_type == "Product" and not unit:
            unit = "parts"  # Dinero requires a unit on product lines; "parts" (stk.) is its default
        return {
            "ProductGuid": product_guid,
            "Description": description,
            "Comments": line.get("Comments") or None,
            "Quantity": quantity,
            "AccountNumber": account,
            "Unit": unit,
            "Discount": discount,
            "BaseAmountValue": price,
            "LineType": line_type,
        }

    def prepare(self, record: dict[str, Any]) -> Prepared:
        """Validate an invoice record and build the InvoiceCreateModel."""
        validate_shape("invoice", record)
        reference = self.reference_for(record)
        foreign = self.from_another_organization(record)
        lines = [self._line(i, dict(line), foreign=foreign) for i, line in enumerate(record["ProductLines"])]
        payload: dict[str, Any] = {name: record.get(name) for name in _HEADER_FIELDS}
        if payload["Date"] is not None:
            payload["Date"] = to_date(payload["Date"], "Date").isoformat()
        payload["Currency"] = check_currency(payload["Currency"], "Currency")  # before any contact is made
        if payload["PaymentConditionType"] in ("NettoCash", "Paid"):
            payload["PaymentConditionNumberOfDays"] = None  # Dinero: days must be null for these
        payload["ExternalReference"] = reference
        rounding_line, verify_total = self._settle_amounts(record, lines)
        if rounding_line is not None:
            lines.append(rounding_line)
        payload["ProductLines"] = lines
        contact = None
        contact_name = None
        if foreign:
            payload["ContactGuid"] = None  # a Guid of the other organization
            payload["InvoiceTemplateId"] = None  # the other organization's template (tap-dinero emits it)
            if not record.get("Contact"):
                contact_name = str(record.get("ContactName") or "").strip() or None
        if not payload["ContactGuid"] and record.get("Contact"):
            contact = contact_payload(record["Contact"], "Contact")
            require_name(contact, "Contact")
        book = self.book_wanted(record)
        if book:
            if not payload["ContactGuid"] and contact is None and contact_name is None:
                raise RecordRejected("booking an invoice needs ContactGuid or Contact", "ContactGuid")
            day = dt.date.fromisoformat(payload["Date"]) if payload["Date"] else dt.date.today()
            self.run.reference.check_bookable_date(day, "Date")
        guid = deterministic_guid(self.run.organization_id, "invoice", reference)
        payments = invoice_payments(record, reference, self.options, book)
        total = self._payments_within_total(record, lines, payments) if payments else None
        send = invoice_send(record, self.options, book)
        return Prepared(
            record=record,
            reference=reference,
            payload=payload,
            book=book,
            extra={
                "guid": guid,
                "contact": contact,
                "contact_name": contact_name,
                "verify_total": verify_total,
                "payments": payments,
                # what its payments settle (they may come from another stream too), computed when the
                # first one is paid: most invoices get none, and it may cost a read of the VAT codes
                # (the record's own Payments fit the total prepared here; another stream's are checked
                # against a total read with this run's accounts)
                "total": (lambda: total)
                if total is not None
                else (lambda: self._payments_within_total(record, lines, [], fresh=True)),
                "send": send,
            },
        )

    # -- amounts: what Dinero will hold equals the record, to the øre ----------------------------------
    def _line_rate(self, account: int, fresh: bool = True) -> Decimal:
        """VAT rate Dinero applies to an invoice line on ``account`` (its sales VAT code, U..., else 0).

        ``fresh``: read in this run, never a list kept from an earlier one (the VAT code decides the
        amount); False only where a kept list is checked again before anything is refused."""
        accounts = self.run.reference.accounts(fresh=fresh)
        code = str((accounts.get(account) or {}).get("VatCode") or "").upper()
        if not code.startswith("U"):
            return Decimal(0)
        return self.run.reference.vat_rates().get(code, Decimal(0))

    def _settle_amounts(
        self, record: dict[str, Any], lines: list[dict[str, Any]]
    ) -> tuple[dict[str, Any] | None, Decimal | None]:
        """(an øre-rounding line to add, the total to verify after writing) -- or reject the record.

        The record's own idea of the total is its ``TotalInclVat`` (tap-dinero's invoices carry it), or,
        for an invoice shown incl. VAT, the sum of its lines as the customer sees them. Dinero rounds each
        line and then the VAT of the sum (:func:`target_dinero.amounts.invoice_money`), which can differ by
        øre. A difference is settled with one line on ``rounding_account`` (VAT-free) when configured, else
        the record is rejected before any request. When Dinero's result would depend on how it rounds a
        midpoint (undocumented), the total is read back after the write and checked before booking.
        """
        show_incl = bool(record.get("ShowLinesInclVat"))
        stated = {
            name: to_decimal(record.get(name), name, required=False)
            for name in ("TotalInclVat", "TotalExclVat", "TotalVat")
        }
        if not show_incl and all(value is None for value in stated.values()):
            return None, None  # nothing states a total: Dinero's arithmetic on the lines is the total
        money_lines = [
            InvoiceLineMoney(
                price=line["BaseAmountValue"],
                quantity=line["Quantity"],
                discount=Decimal(line["Discount"]),
                rate=self._line_rate(line["AccountNumber"]),
                text=line["LineType"] == "Text",
            )
            for line in lines
        ]
        computed = invoice_money(money_lines, show_incl)
        expected = stated["TotalInclVat"]
        if expected is None and show_incl:
            expected = computed.lines_incl
        # Under the other midpoint rule Dinero may compute another total: a total the record states
        # (tap-dinero's TotalInclVat, computed by Dinero itself) that matches either rule needs no
        # rounding line, only the check after the write.
        other = invoice_money(money_lines, show_incl, ROUND_HALF_EVEN)
        if stated["TotalVat"] is not None and stated["TotalVat"] not in (computed.vat, other.vat):
            raise RecordRejected(
                f"Dinero would compute TotalVat {computed.vat} for these lines (each line rounded to øre, "
                f"VAT rounded on their sum); the record says {stated['TotalVat']}",
                "TotalVat",
            )
        difference = Decimal(0)
        acceptable = (computed.incl, other.incl) if stated["TotalInclVat"] is not None else (computed.incl,)
        if expected is not None and expected not in acceptable:
            difference = expected - computed.incl
        rounding_line = None
        if difference:
            account = self.options.rounding_account
            if account is None or abs(difference) > 1:
                hint = (
                    f"set streams.{self.stream_name}.rounding_account to a VAT-free account for an "
                    "øre-rounding line, or correct the record"
                    if account is None
                    else "more than 1.00 is not a rounding difference: correct the record"
                )
                raise RecordRejected(
                    f"Dinero would hold TotalInclVat {computed.incl} for these lines (each line rounded to "
                    f"øre, VAT rounded on their sum), the record means {expected}; {hint}",
                    "TotalInclVat" if stated["TotalInclVat"] is not None else "ProductLines",
                )
            self.run.reference.check_account(account, f"streams.{self.stream_name}.rounding_account")
            if self._line_rate(account):
                raise RecordRejected(
                    f"streams.{self.stream_name}.rounding_account {account} carries sales VAT; an "
                    "øre-rounding line needs a VAT-free account",
                    "ProductLines",
                )
            rounding_line = _rounding_line(account, difference)
            money_lines.append(InvoiceLineMoney(difference, Decimal(1), Decimal(0), Decimal(0)))
        if stated["TotalExclVat"] is not None and stated["TotalExclVat"] - difference not in (
            computed.excl,
            other.excl,
        ):
            raise RecordRejected(
                f"Dinero would compute TotalExclVat {computed.excl + difference} for these lines; the "
                f"record says {stated['TotalExclVat']}",
                "TotalExclVat",
            )
        certain = invoice_money_is_certain(money_lines, show_incl)
        return rounding_line, (None if certain or expected is None else expected)

    def _payments_within_total(
        self, record: dict[str, Any], lines: list[dict[str, Any]], payments: list[Any], fresh: bool = False
    ) -> Decimal:
        """The invoice's total (what its payments settle); reject a record whose ``Payments`` add up to more
        (before any write).

        Dinero would take them and mark the invoice OverPaid; a list past the total is a duplicate or an
        amount in øre far more often than a real overpayment (``allow_overpayment`` registers it). The
        total is what Dinero computes for the lines sent (with the øre-rounding line, under either
        midpoint rule -- the larger), in the invoice's currency, as ``AmountInForeignCurrency`` is.
        """
        show_incl = bool(record.get("ShowLinesInclVat"))
        money_lines = [
            InvoiceLineMoney(
                price=Decimal(line["BaseAmountValue"]),
                quantity=Decimal(line["Quantity"]),
                discount=Decimal(line["Discount"] or 0),
                rate=self._line_rate(line["AccountNumber"], fresh),
                text=line["LineType"] == "Text",
            )
            for line in lines
        ]
        total = max(
            invoice_money(money_lines, show_incl).incl,
            invoice_money(money_lines, show_incl, ROUND_HALF_EVEN).incl,
        )
        paid = sum((spec.voucher_amount for spec in payments), Decimal(0))
        # a few øre over is the shop's own rounding (VAT per line), money received: registered
        over = paid - total > OVERPAYMENT_TOLERANCE and not self.options.allow_overpayment
        if over and not fresh:
            # computed from an account list kept from an earlier run: read it again before refusing
            return self._payments_within_total(record, lines, payments, fresh=True)
        if over:
            raise RecordRejected(
                f"Payments add up to {paid.quantize(Decimal('0.01'))}, more than the invoice's total "
                f"{total} (by more than {OVERPAYMENT_TOLERANCE}: no rounding difference): Dinero would mark "
                f"it overpaid. If they are real payments, set streams.{self.stream_name}.allow_overpayment; "
                "if one is listed twice or in øre, correct the record",
                "Payments",
            )
        return total

    def _settle_total(
        self,
        item: Prepared,
        guid: str,
        payload: dict[str, Any],
        timestamp: Any,
        current: dict[str, Any] | None = None,
    ) -> Any:
        """After a write whose total depended on Dinero's midpoint rounding: make Dinero hold the record's
        total (correct the øre-rounding line once, with ``rounding_account``) or reject before booking.

        Returns the invoice's current TimeStamp (for the booking that may follow).
        """
        expected = item.extra.get("verify_total")
        if expected is None or self.run.dry_run:
            return timestamp
        current = current or self._get(guid) or {}
        held = to_decimal(field_ci(current, "TotalInclVat"), "TotalInclVat", required=False, held=True)
        timestamp = field_ci(current, "TimeStamp") or timestamp
        if held is None or held == expected:
            return timestamp
        account = self.options.rounding_account
        if account is not None:
            lines = [dict(line) for line in payload["ProductLines"]]
            rounding = next((ln for ln in lines if ln.get("Description") == _ROUNDING_TEXT), None)
            if rounding is None:
                rounding = {**_rounding_line(account, Decimal(0))}
                lines.append(rounding)
            rounding["BaseAmountValue"] = Decimal(rounding["BaseAmountValue"]) + expected - held
            timestamp = self._put(guid, {**payload, "ProductLines": lines}, timestamp)
            current = self._get(guid) or {}
            held = to_decimal(field_ci(current, "TotalInclVat"), "TotalInclVat", required=False, held=True)
            if held == expected:
                self.count("rounding_corrected")
                return field_ci(current, "TimeStamp") or timestamp
        raise RecordRejected(
            f"Dinero holds TotalInclVat {held} for invoice {item.reference}, the record means {expected} "
            "(Dinero rounded a midpoint differently than the target assumed); the draft is left unbooked "
            f"for a check by hand{'' if account is not None else ' (rounding_account would settle it)'}",
            "TotalInclVat",
        )

    # -- loading -------------------------------------------------------------------------------
    def load(self, items: list[Prepared]) -> None:
        """Look every reference up in the run's invoice index (few requests), then write each."""
        existing = self.run.invoice_index.lookup([item.reference for item in items])
        for item in items:
            self.guarded(
                item.record,
                lambda item=item: self._load_and_pay(self.still_valid(item), existing.get(item.reference)),
            )

    def _load_and_pay(self, item: Prepared, existing: dict[str, Any] | None) -> None:
        """Write the invoice, then register its ``Payments`` (see :mod:`.settlement`)."""
        self._load(item, existing)
        self._remember_content(item)  # Dinero now holds this record's content (written or found equal)
        if item.extra.get("payments") or item.extra.get("send"):
            pay_invoice(self, item)

    def _load(self, item: Prepared, existing: dict[str, Any] | None) -> None:
        if existing is not None:
            status = str(field_ci(existing, "Status") or "").lower()
            if status != _DRAFT:
                # Checked before the contact is resolved: a booked invoice costs no contact look-up
                # (and never creates a contact nobody uses). A record that no longer matches what was
                # booked is rejected with both values, never counted as there.
                self._check_booked_matches(item, existing)
                self.count("skipped_booked")
                self.run.report.note(
                    f"{self.stream_name}: invoice {item.reference} is already {status or 'booked'} in "
                    "Dinero and was left unchanged (a booked invoice can only be credited)."
                )
                return
        payload = self._with_contact(item)
        if existing is None:
            self._create(item, payload)
            return
        self._update_draft(item, str(field_ci(existing, "Guid")), payload)

    # -- a booked invoice re-sent: the same one, or a change that can no longer be made ------------------
    def _content_key(self, item: Prepared) -> str:
        return f"invoice-content:{item.reference}"

    def _remember_content(self, item: Prepared) -> None:
        """Journal the digest of what Dinero holds for ``item`` now (it was written or found equal), so a
        re-run of the same record needs no comparison with Dinero. Written only when it changes: a re-sent
        booked invoice costs no journal write (a durable one each, for every invoice of every replay)."""
        if self.run.dry_run:
            return
        meant = digest(item.payload)
        if (self.run.markers.get(self._content_key(item)) or {}).get("digest") != meant:
            self.run.markers.record(self._content_key(item), digest=meant)

    def _meant_totals(self, item: Prepared) -> set[Decimal]:
        """The TotalInclVat values Dinero may hold for the record: the total it states (or verifies), and
        what Dinero computes from its lines (the øre-rounding line included) under either midpoint rule."""
        lines = item.payload["ProductLines"]
        show_incl = bool(item.payload.get("ShowLinesInclVat"))
        money = [
            InvoiceLineMoney(
                price=Decimal(line["BaseAmountValue"]),
                quantity=Decimal(line["Quantity"]),
                discount=Decimal(line["Discount"]),
                rate=self._line_rate(line["AccountNumber"]),
                text=line["LineType"] == "Text",
            )
            for line in lines
        ]
        totals = {invoice_money(money, show_incl).incl, invoice_money(money, show_incl, ROUND_HALF_EVEN).incl}
        stated = to_decimal(item.record.get("TotalInclVat"), "TotalInclVat", required=False)
        for value in (stated, item.extra.get("verify_total")):
            if value is not None:
                totals.add(Decimal(value))
        return totals

    def _check_booked_matches(self, item: Prepared, existing: dict[str, Any]) -> None:
        """Reject ``item`` when the booked invoice Dinero holds under its reference has another total, date
        or currency: a booked invoice cannot be changed, and counting it as there would silently keep the
        old amount. Free when the journal says this very record was loaded (its content digest); else
        compared with the index row (one detail GET when the row has no total)."""
        known = (self.run.markers.get(self._content_key(item)) or {}).get("digest")
        if known == digest(item.payload):
            return
        row = existing
        if field_ci(row, "TotalInclVat") is None:
            row = self._get(str(field_ci(existing, "Guid"))) or existing
        held_total = to_decimal(field_ci(row, "TotalInclVat"), "TotalInclVat", required=False)
        problems: list[str] = []
        field = None
        if held_total is not None:
            meant = self._meant_totals(item)
            if held_total not in meant:
                shown = " or ".join(str(t.quantize(Decimal("0.01"))) for t in sorted(meant))
                problems.append(f"TotalInclVat {held_total} (this record: {shown})")
                field = "ProductLines"
        held_date = str(field_ci(row, "Date") or "")[:10]
        if item.payload.get("Date") and held_date and held_date != item.payload["Date"]:
            problems.append(f"Date {held_date} (this record: {item.payload['Date']})")
            field = field or "Date"
        held_currency = str(field_ci(row, "Currency") or "").upper()
        wanted_currency = str(item.payload.get("Currency") or "DKK").upper()
        if held_currency and held_currency != wanted_currency:
            problems.append(f"Currency {held_currency} (this record: {wanted_currency})")
            field = field or "Currency"
        if problems:
            raise RecordRejected(
                f"invoice {item.reference} is booked in Dinero with {'; '.join(problems)}: a booked invoice "
                "cannot be changed. Credit it (sales_credit_note) and send the corrected invoice under a new "
                "ExternalReference, or send the record as it was booked",
                field,
            )
        self._remember_content(item)

    def _with_contact(self, item: Prepared) -> dict[str, Any]:
        """The create payload with ContactGuid resolved from the record's Contact / ContactName."""
        payload = dict(item.payload)
        contact = item.extra["contact"]
        contact_name = item.extra.get("contact_name")
        if contact is not None or contact_name:
            plan = None
            if self.run.dry_run:

                def plan(body: dict[str, Any]) -> None:
                    self.run.plan("create", "contact", self.stream_name, body.get("ExternalReference"), body)

            if contact is not None:
                payload["ContactGuid"] = self.run.contacts.resolve(contact, plan=plan)
            else:
                payload["ContactGuid"] = self.run.contacts.resolve_named(str(contact_name), plan=plan)
        return payload

    def _create(self, item: Prepared, payload: dict[str, Any]) -> None:
        """Create under the exactly-once protocol (:mod:`target_dinero.exactly_once`).

        The create carries ``Guid = uuid5(organization, reference)`` but is *not* replayed blindly: an
        unknown outcome (5xx, reset, timeout, a 2xx without the Guid) is resolved by GET /invoices/{Guid}
        first; only when Dinero does not show it once it can no longer commit it is it sent again, with
        the same Guid. A refusal is followed by the same look-up only when it may mean "Guid taken".
        """
        guid = item.extra["guid"]
        body = {**payload, "Guid": guid}
        if self.run.dry_run:
            self.run.plan("create", self.load_type, self.stream_name, item.reference, body)
            if item.book:
                self.count("would_book")
                self.run.invoice_index.remember(item.reference, {"Guid": guid, "Status": "Booked"})
                document_payments(self.run).booked_now("invoice", guid, "dry-run")
            return
        self.run.invoice_index.mark_writing()
        protocol = ExactlyOnce(self.run)
        # Rows the protocol found instead of a confirmed answer, and whether each is a full detail GET.
        looked_up: list[tuple[dict[str, Any], bool]] = []

        def found(row: dict[str, Any] | None, detail: bool = True) -> dict[str, Any] | None:
            if row is not None:
                looked_up.append((row, detail))
            return row

        # A gone invoice holding our Guid (someone deleted it) gives the Guid up: created anew with a
        # server-chosen Guid, found after an unknown outcome by its ExternalReference.
        answer, _ = protocol.create_with_own_guid(
            stream=self.stream_name,
            journal=self.run.markers,
            key=f"invoice:{item.reference}",
            reference=item.reference,
            what="create of an invoice",
            expect="Guid",
            send=lambda: self.run.gateway.post("/v1/{org}/invoices", body),
            lookup=lambda: found(self._ours(guid, item.reference)),
            lookup_text=f"GET /v1/{{org}}/invoices/{guid}",
            guid_field="Guid",
            send_anew=lambda: self.run.gateway.post("/v1/{org}/invoices", payload),
            lookup_anew=lambda: found(self._live_by_reference(item.reference), detail=False),
            lookup_anew_text=f"GET /v1/{{org}}/invoices?queryFilter=ExternalReference eq '{item.reference}'",
        )
        if looked_up and answer is looked_up[-1][0]:
            # Not our confirmed answer but an invoice that exists -- perhaps made by another attempt with
            # other content: carry on from it as from one the index found (compare, update, book).
            existing_guid = str(field_ci(answer, "Guid") or guid)
            self.run.invoice_index.remember(item.reference, answer)
            if str(field_ci(answer, "Status") or "").lower() == _DRAFT:
                current = answer if looked_up[-1][1] else None
                self._update_draft(item, existing_guid, payload, current=current, just_created=True)
            else:
                self._check_booked_matches(item, answer)
                self.count("skipped_booked")
            return
        created_guid = str(field_ci(answer, "Guid") or guid)
        timestamp = field_ci(answer, "TimeStamp")
        status = str(field_ci(answer, "Status") or "Draft")
        self.run.invoice_index.remember(item.reference, {"Guid": created_guid, "Status": status})
        self.count("created")
        if status.lower() == _DRAFT:
            timestamp = self._settle_total(item, created_guid, payload, timestamp)
        if item.book and status.lower() == _DRAFT:
            item.extra["holds_payload"] = True  # created from this payload, confirmed
            self._book(item, created_guid, timestamp)

    def _ours(self, guid: str, reference: str) -> dict[str, Any] | None:
        """The live invoice with our Guid and reference (a fresh GET), or None."""
        current = get_or_none(self.run, f"/v1/{{org}}/invoices/{guid}")
        if current is None or field_ci(current, "ExternalReference") != reference:
            return None
        return {**current, "Guid": guid}

    def _live_by_reference(self, reference: str) -> dict[str, Any] | None:
        row = self.run.invoice_index.recheck(reference)
        if row is None or field_ci(row, "DeletedAt"):
            return None
        return row

    def _get(self, guid: str) -> dict[str, Any] | None:
        try:
            return self.run.gateway.get(f"/v1/{{org}}/invoices/{guid}")
        except DineroGone:  # never created (404), or deleted (Dinero's codes 63/65)
            return None

    def _update_draft(
        self,
        item: Prepared,
        guid: str,
        payload: dict[str, Any],
        *,
        current: dict[str, Any] | None = None,
        just_created: bool = False,
    ) -> None:
        known = (self.run.markers.get(self._content_key(item)) or {}).get("digest") == digest(item.payload)
        if not self.options.update_drafts and not item.book and known:
            self.count("created" if just_created else "unchanged")
            return
        current = current or self._get(guid)
        if current is None:  # deleted since the index was read
            self.run.invoice_index.forget(item.reference)
            self._create(item, payload)
            return
        timestamp = field_ci(current, "TimeStamp")
        changed = differences(payload, current, lines_field="ProductLines")
        if changed and not self.options.update_drafts:
            # Counting it as there -- or booking what Dinero holds -- would silently keep the earlier content.
            raise RecordRejected(
                f"invoice {item.reference} exists in Dinero as a draft ({guid}) whose {', '.join(changed)} "
                f"differ from this record, and streams.{self.stream_name}.update_drafts is off: it is "
                "neither updated nor booked. Correct or delete the draft in Dinero (or turn update_drafts "
                "on), then re-run",
                changed[0].split("[")[0].split(".")[0],
            )
        if changed:
            if self.run.dry_run:
                self.run.plan("update", self.load_type, self.stream_name, item.reference, payload)
            else:
                timestamp = self._put(guid, payload, timestamp)
                self.count("updated")
                current = None  # changed: read it back if its total must be checked
        else:
            self.count("created" if just_created else "unchanged")
        timestamp = self._settle_total(item, guid, payload, timestamp, current)
        if item.book:
            # updated to this payload, or equal to it (within differences()'s half-øre tolerance)
            item.extra["holds_payload"] = bool(self.options.update_drafts)
            self._book(item, guid, timestamp)

    def _put(self, guid: str, payload: dict[str, Any], timestamp: Any) -> Any:
        path = f"/v1.2/{{org}}/invoices/{guid}"
        sent_at = time.time()
        try:
            answer = self.run.gateway.put(path, {**payload, "Timestamp": timestamp}) or {}
        except DineroUnknownOutcome:
            # A PUT is a full replacement: re-read what Dinero holds until it shows the update or the PUT
            # can no longer commit (a resend before a late commit would be refused: stale Timestamp);
            # equal -> done, else send it again with the fresh Timestamp.
            fresh = (
                await_write(
                    self.run,
                    sent_at,
                    lambda: self._get(guid),
                    lambda row: not differences(payload, row, lines_field="ProductLines"),
                )
                or {}
            )
            if not differences(payload, fresh, lines_field="ProductLines"):
                return field_ci(fresh, "TimeStamp")
            answer = self.run.gateway.put(path, {**payload, "Timestamp": field_ci(fresh, "TimeStamp")}) or {}
        except DineroTimestampConflict:
            fresh = self._get(guid) or {}
            answer = self.run.gateway.put(path, {**payload, "Timestamp": field_ci(fresh, "TimeStamp")}) or {}
        return field_ci(answer, "TimeStamp")

    def _book(self, item: Prepared, guid: str, timestamp: Any) -> None:
        """Book; anything but a confirmed answer is checked by reading the Status (booking cannot twin)."""
        if self.run.dry_run:
            self.run.plan("book", self.load_type, self.stream_name, item.reference, {"Guid": guid})
            self.run.invoice_index.remember(item.reference, {"Guid": guid, "Status": "Booked"})
            document_payments(self.run).booked_now("invoice", guid, "dry-run")
            return
        path = f"/v1/{{org}}/invoices/{guid}/book"
        for attempt in range(3):
            sent_at = time.time()
            try:
                answer = confirmed(
                    self.run.gateway.post(path, {"Timestamp": timestamp}), "TimeStamp", f"POST {path}"
                )
                # booked by this run: no payments yet, and its TimeStamp is known
                # what is owed is the total of the lines sent, when the draft booked holds them
                document_payments(self.run).booked_now(
                    "invoice",
                    guid,
                    field_ci(answer, "TimeStamp"),
                    item.payload.get("Currency") or "DKK",
                    total=item.extra.get("total") if item.extra.get("holds_payload") else None,
                    reference=item.reference,
                )
                break
            except (DineroValidationError, DineroUnknownOutcome) as exc:
                # A stale Timestamp, "already booked", a lost answer: perhaps another run booked it since
                # (then its payments are read before paying: booked_now is only for a confirmed book).
                # After a lost answer, re-read until booked or the book can no longer commit: booked
                # again before a late commit, one of the two would be refused (stale Timestamp).
                if isinstance(exc, DineroUnknownOutcome):
                    current = (
                        await_write(
                            self.run, sent_at, lambda: self._get(guid), lambda row: not _is_draft(row)
                        )
                        or {}
                    )
                else:
                    current = self._get(guid) or {}
                if str(field_ci(current, "Status") or "").lower() not in ("", _DRAFT):
                    break
                if attempt == 2 or (
                    isinstance(exc, DineroValidationError) and not isinstance(exc, DineroTimestampConflict)
                ):
                    raise
                timestamp = field_ci(current, "TimeStamp")
        self.run.invoice_index.remember(item.reference, {"Guid": guid, "Status": "Booked"})
        self.count("booked")


_ROUNDING_TEXT = "Øreafrunding"


def _is_draft(invoice: dict[str, Any]) -> bool:
    """Whether Dinero shows the invoice unbooked (a draft, or no Status at all)."""
    return str(field_ci(invoice, "Status") or "").lower() in ("", _DRAFT)


def _rounding_line(account: int, amount: Decimal) -> dict[str, Any]:
    """The øre-rounding line: quantity 1 on a VAT-free account, so it adds exactly ``amount``."""
    return {
        "ProductGuid": None,
        "Description": _ROUNDING_TEXT,
        "Comments": None,
        "Quantity": Decimal(1),
        "AccountNumber": account,
        "Unit": "parts",
        "Discount": Decimal(0),
        "BaseAmountValue": amount,
        "LineType": "Product",
    }
