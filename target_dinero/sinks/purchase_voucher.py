"""``load_as: purchase_voucher``: bills and receipts with their file, cash or credit, exactly once.

Dinero cannot list or search purchase vouchers, and chooses their Guid itself: they are written by the
manual vouchers' exactly-once protocol (:class:`PurchaseVoucherWriter`, a
:class:`~target_dinero.voucher_writer.VoucherWriter`; :mod:`target_dinero.exactly_once`), in the run's
shared journal store under ``purchase_voucher:<ref>``:

* new: the file -- the record's, or a generated one-page receipt (``voucher_receipts``) -- is uploaded with
  the reference's tag in its name (journaled with its FileGuid, reused by a retry; the answer must name a
  FileGuid), ``pending`` is made durable, ``POST /v1.2/vouchers/purchase`` carries the FileGuid, the
  answer (confirmed: it names the Guid) is journaled; booked with the Timestamp the create returned.
  3 requests with a file and booking, plus ``GET /files`` once per run for references the journal does
  not know (an empty or lost journal: a voucher found through its file is taken over, not created again);
* ``pending`` / unknown outcome: looked up through the file's link (``GET /files``, then the voucher),
  believed absent only once ``commit_horizon_seconds`` have passed since the create was sent;
* ``draft`` -> booked when asked; ``booked`` (or Paid) -> never changed.

Credit purchases name their supplier (``ContactGuid`` or ``Contact``, resolved/created like invoice
customers) and may carry ``Payments`` (registered after booking, reconciled against the voucher's payments
like every payment: :mod:`target_dinero.sinks.settlement`). Cash purchases name the deposit account that
paid (``DepositAccountNumber`` or the stream's ``deposit_account``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from target_dinero.contacts import contact_payload, require_name
from target_dinero.files import check_attachment
from target_dinero.records import RecordRejected, digest, to_date, to_decimal, to_int, validate_shape
from target_dinero.sinks.base import DineroSink, Prepared
from target_dinero.sinks.settlement import (
    document_payments,
    moves_no_money,
    parse_payment,
    positional_reference,
)
from target_dinero.voucher_writer import VoucherWriter

__all__ = ["PurchaseVoucherSink"]

CREATE_PATH = "/v1.2/{org}/vouchers/purchase"
PATH = "/v1/{org}/vouchers/purchase"


class PurchaseVoucherSink(DineroSink):
    """Purchase vouchers (bills, receipts)."""

    load_type = "purchase_voucher"

    # -- validation ----------------------------------------------------------------------------------
    def prepare(self, record: dict[str, Any]) -> Prepared:
        """Validate locally: type, lines (accounts, VAT codes, whole-øre amounts), date, file, contact."""
        validate_shape("purchase_voucher", record)
        reference = self.reference_for(record)
        kind = str(record["PurchaseType"]).lower()
        lines = []
        for index, raw in enumerate(record["Lines"]):
            where = f"Lines[{index}]"
            amount = to_decimal(raw.get("Amount"), f"{where}.Amount")
            assert amount is not None
            if amount == 0 or amount != amount.quantize(Decimal("0.01")):
                raise RecordRejected(f"{where}.Amount must be non-zero whole øre", f"{where}.Amount")
            account = to_int(raw.get("AccountNumber"), f"{where}.AccountNumber")
            self.run.reference.check_account(account, f"{where}.AccountNumber")
            vat = raw.get("VatCode")
            self.run.reference.check_vat_code(vat, f"{where}.VatCode")
            lines.append(
                {
                    "Description": raw.get("Description"),
                    "AccountNumber": account,
                    "Amount": amount,
                    "VatCode": vat or "none",
                }
            )
        day = to_date(record.get("VoucherDate"), "VoucherDate")
        book = self.book_wanted(record)
        if book:
            self.run.reference.check_bookable_date(day, "VoucherDate")
        payload: dict[str, Any] = {
            "PurchaseType": kind,
            "VoucherDate": day.isoformat(),
            "ExternalReference": reference,
            "Lines": lines,
        }
        contact = None
        if kind == "cash":
            deposit = record.get("DepositAccountNumber") or self.options.deposit_account
            if deposit in (None, ""):
                raise RecordRejected(
                    "a cash purchase needs DepositAccountNumber (or the stream's deposit_account)",
                    "DepositAccountNumber",
                )
            payload["DepositAccountNumber"] = to_int(deposit, "DepositAccountNumber")
            payload["RegionKey"] = record.get("RegionKey") or "DK"
            if record.get("Payments"):
                raise RecordRejected("a cash purchase is paid when booked: no Payments", "Payments")
        else:
            payload["ContactGuid"] = record.get("ContactGuid")
            if record.get("PaymentDate"):
                payload["PaymentDate"] = to_date(record["PaymentDate"], "PaymentDate").isoformat()
            payload["CurrencyKey"] = record.get("CurrencyKey") or "DKK"
            if record.get("RegionKey"):
                payload["RegionKey"] = record["RegionKey"]
            if not payload["ContactGuid"] and record.get("Contact"):
                contact = contact_payload(record["Contact"], "Contact")
                require_name(contact, "Contact")
        attachment = check_attachment(record["File"]) if record.get("File") else None
        payments = []
        for index, raw in enumerate(record.get("Payments") or []):
            if moves_no_money(raw):
                continue  # a payment of 0.00: nothing to register (settlement.moves_no_money)
            if not book:
                raise RecordRejected(
                    "Payments need a booked voucher: set Book (or the stream's book)", "Payments"
                )
            own = raw.get("ExternalReference")
            ref = str(own) if own not in (None, "") else positional_reference(reference, index + 1)
            payments.append(
                parse_payment(
                    dict(raw), ref, self.options, f"Payments[{index}]", positional=own in (None, "")
                )
            )
        paid = sum((spec.voucher_amount for spec in payments), Decimal(0))
        total = sum((line["Amount"] for line in lines), Decimal(0))  # Amount includes the VAT
        if paid > total and not self.options.allow_overpayment:
            # Dinero would take them and mark the bill overpaid: a duplicate or an amount in øre
            raise RecordRejected(
                f"Payments add up to {paid.quantize(Decimal('0.01'))}, more than the voucher's total "
                f"{total.quantize(Decimal('0.01'))}: Dinero would mark it overpaid. Set "
                f"streams.{self.stream_name}.allow_overpayment to register payments beyond the total",
                "Payments",
            )
        return Prepared(
            record=record,
            reference=reference,
            payload=payload,
            book=book,
            extra={
                "contact": contact,
                "attachment": attachment,
                "payments": payments,
                "digest": digest(
                    {
                        **payload,
                        "Contact": contact,
                        "File": (attachment.url or attachment.read().digest) if attachment else None,
                    }
                ),
            },
        )

    # -- loading --------------------------------------------------------------------------------------
    def setup(self) -> None:
        """One writer per sink, on the run's shared journal and file index."""
        super().setup()
        self.writer = PurchaseVoucherWriter(self.run, self.stream_name, self.load_type)

    def load_one(self, item: Prepared) -> None:
        """Write the voucher through the exactly-once voucher protocol, then register its payments."""
        body = dict(item.payload)
        contact = item.extra["contact"]
        entry = self.run.journal.get(self.writer.key(item.reference)) or {}
        if contact is not None and entry.get("status") not in ("draft", "booked"):
            # The supplier is resolved (found or created, exactly once by its own reference) only when
            # the voucher may still have to be created: a journaled voucher already names it.
            if self.run.dry_run:

                def plan(payload: dict[str, Any]) -> None:
                    self.run.plan(
                        "create", "contact", self.stream_name, payload.get("ExternalReference"), payload
                    )

                body["ContactGuid"] = self.run.contacts.resolve(contact, plan=plan)
            else:
                body["ContactGuid"] = self.run.contacts.resolve(contact)
        entry = self.writer.upsert(
            item.reference,
            body,
            item.extra["digest"],
            attachment=item.extra["attachment"],
            book=item.book,
            update_drafts=False,  # a purchase draft is left as Dinero holds it (booked when asked)
            booked_must_match=True,
        )
        if entry is None or not item.extra["payments"] or entry.get("status") != "booked":
            return
        payments = document_payments(self.run)
        guid = str(entry["guid"])
        for outcome in payments.pay_all(
            "purchase", guid, item.extra["payments"], self.stream_name, self.options
        ):
            if outcome:
                self.count(outcome)


class PurchaseVoucherWriter(VoucherWriter):
    """Purchase vouchers through the manual vouchers' protocol (:mod:`target_dinero.voucher_writer`).

    Like manual vouchers they cannot be searched and get a Guid Dinero chooses, so the same rules hold:
    ``pending`` in the shared journal before the create, the file (the record's or a generated receipt)
    named with the reference's tag so a lost create is found through ``GET /files``, and a look-up that
    finds nothing believed only after ``commit_horizon_seconds``.
    """

    path = PATH
    create_path = CREATE_PATH
    what = "purchase voucher"
    key_prefix = "purchase_voucher:"
    signed_amounts = False  # purchase lines carry a VAT code and a plain amount, no balancing account

    def _book(self, reference: str, entry: dict[str, Any]) -> dict[str, Any]:
        """Book, then tell the payments the voucher's Timestamp (a voucher booked now has no payments)."""
        booked = super()._book(reference, entry)
        document_payments(self.run).booked_now("purchase", str(booked["guid"]), booked.get("timestamp"))
        return booked
