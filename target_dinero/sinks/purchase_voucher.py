"""``load_as: purchase_voucher``: bills and receipts with their file, cash or credit, exactly once.

Dinero cannot list or search purchase vouchers, and chooses their Guid itself, so the target keeps them in
the run's durable journal (``ledger_file``, shared with manual vouchers; key ``purchase_voucher:<ref>``)
and finds a create whose outcome is unknown through the link of its uploaded file:

* new: the receipt is uploaded (``POST /files``, journaled with its FileGuid so a retry reuses it), the
  journal says ``pending``, ``POST /v1.2/vouchers/purchase`` carries the FileGuid, the journal says
  ``draft``; booked with the Timestamp the create returned (journal ``booked``). 3 requests with a file
  and booking, plus the journal check (one GET per run);
* ``pending`` (a crash or lost answer after the create was sent): the organization's files are read
  (``GET /files``, ``Linked``): linked -> that voucher is ours (its status is read); unlinked -> the create
  never happened and is sent again with the same file. Without a file the record is rejected with a
  reason naming the reference (never created twice);
* ``draft`` -> booked when asked (a GET for its Timestamp); ``booked`` -> never changed.

Credit purchases name their supplier (``ContactGuid`` or ``Contact``, resolved/created like invoice
customers) and may carry ``Payments`` (registered after booking, reconciled against the voucher's payments
like every payment: :mod:`target_dinero.sinks.settlement`). Cash purchases name the deposit account that
paid (``DepositAccountNumber`` or the stream's ``deposit_account``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dinero_api.errors import DineroGone, DineroTimestampConflict
from target_dinero.contacts import contact_payload, require_name
from target_dinero.files import AttachmentSpec, check_attachment
from target_dinero.records import RecordRejected, to_date, to_decimal, to_int, validate_shape
from target_dinero.remote_index import field_ci
from target_dinero.sinks.base import DineroSink, Prepared
from target_dinero.sinks.settlement import UNKNOWN_OUTCOME, document_payments, parse_payment

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
            if not book:
                raise RecordRejected(
                    "Payments need a booked voucher: set Book (or the stream's book)", "Payments"
                )
            own = raw.get("ExternalReference")
            ref = str(own) if own not in (None, "") else f"{reference}/payment/{index + 1}"
            payments.append(parse_payment(dict(raw), ref, self.options, f"Payments[{index}]"))
        return Prepared(
            record=record,
            reference=reference,
            payload=payload,
            book=book,
            extra={"contact": contact, "attachment": attachment, "payments": payments},
        )

    # -- loading --------------------------------------------------------------------------------------
    def _key(self, reference: str) -> str:
        return f"purchase_voucher:{reference}"

    def _count(self, outcome: str) -> None:
        self.count(outcome)

    def _get(self, guid: str) -> dict[str, Any] | None:
        try:
            return self.run.gateway.get(f"{PATH}/{guid}")
        except DineroGone:
            return None

    def _linked_voucher(self, file_guid: str) -> str | None:
        page = 0
        while True:
            rows = (
                self.run.gateway.get(
                    "/v1/{org}/files",
                    {"fileStatus": "All", "fields": "FileGuid,Linked", "page": page, "pageSize": 1000},
                )
                or []
            )
            for row in rows:
                if str(field_ci(row, "FileGuid")) == file_guid:
                    links = field_ci(row, "Linked") or []
                    return str(field_ci(links[0], "VoucherGuid")) if links else None
            if len(rows) < 1000:
                return None
            page += 1

    def _resolve_pending(self, item: Prepared, entry: dict[str, Any]) -> dict[str, Any]:
        key = self._key(item.reference)
        file_guid = entry.get("file_guid")
        if not file_guid:
            raise RecordRejected(
                f"an earlier run sent the create of purchase voucher {item.reference!r} but never learnt "
                "whether Dinero created it, and Dinero cannot search purchase vouchers. Check Dinero for "
                f"ExternalReference {item.reference!r}; if it is absent, delete its lines ({key}) from the "
                f"journal {self.run.journal.path} and re-run.",
                "ExternalReference",
            )
        voucher = self._linked_voucher(str(file_guid))
        if voucher is None:
            self.run.journal.record(key, status="failed")
            return {**entry, "status": "failed"}
        current = self._get(voucher) or {}
        status = "draft" if str(field_ci(current, "Status") or "").lower() == "draft" else "booked"
        fields = {"status": status, "guid": voucher, "timestamp": field_ci(current, "Timestamp")}
        self.run.journal.record(key, **fields)
        return {**entry, **fields}

    def load_one(self, item: Prepared) -> None:
        """Find the voucher in the journal (resolving a pending create), or create it; book; pay."""
        key = self._key(item.reference)
        entry = self.run.journal.get(key) or {}
        if entry.get("status") in ("draft", "booked") and entry.get("guid") and not self.run.dry_run:
            entry = self._confirm(key, entry)
        if entry.get("status") == "pending" and not self.run.dry_run:
            entry = self._resolve_pending(item, entry)
        status = entry.get("status")
        if status == "booked":
            self._count("skipped_booked")
        elif status == "draft":
            self._count("unchanged")
            if item.book:
                entry = self._book(key, entry)
        else:
            entry = self._create(item, key, entry)
            if entry is None:
                return
        if item.extra["payments"] and entry.get("status") == "booked":
            payments = document_payments(self.run)
            for spec in item.extra["payments"]:
                outcome = payments.pay("purchase", str(entry["guid"]), spec, self.stream_name, self.options)
                if outcome:
                    self._count(outcome)

    def _confirm(self, key: str, entry: dict[str, Any]) -> dict[str, Any]:
        """The journal describes this organization (checked once per run by reading one voucher)."""
        if getattr(self.run, "_purchase_journal_confirmed", False):
            return entry
        current = self._get(str(entry["guid"]))
        if current is None:
            if entry.get("status") == "booked":
                raise RecordRejected(
                    f"the journal {self.run.journal.path} lists purchase voucher {entry['guid']} as booked "
                    "but this organization has no such voucher: the journal belongs to another organization",
                    "ExternalReference",
                )
            self.run.journal.record(key, status="deleted")
            return {**entry, "status": "deleted"}
        self.run._purchase_journal_confirmed = True  # type: ignore[attr-defined]
        return entry

    def _upload(self, key: str, attachment: AttachmentSpec, entry: dict[str, Any]) -> str:
        content = attachment.read()
        if entry.get("file_guid") and entry.get("file_digest") == content.digest:
            return str(entry["file_guid"])  # uploaded by an earlier attempt: reuse it, never upload twice
        file_guid = self.run.gateway.upload_file(content.file_name, content.content, content.content_type)
        self.run.journal.record(key, file_guid=file_guid, file_digest=content.digest)
        return file_guid

    def _create(self, item: Prepared, key: str, entry: dict[str, Any]) -> dict[str, Any] | None:
        body = dict(item.payload)
        attachment: AttachmentSpec | None = item.extra["attachment"]
        contact = item.extra["contact"]
        if self.run.dry_run:
            if contact is not None:

                def plan(payload: dict[str, Any]) -> None:
                    self.run.plan(
                        "create", "contact", self.stream_name, payload.get("ExternalReference"), payload
                    )

                body["ContactGuid"] = self.run.contacts.resolve(contact, plan=plan)
            shown = {**body, "File": attachment.describe()} if attachment else body
            self.run.plan("create", self.load_type, self.stream_name, item.reference, shown)
            if item.book:
                self._count("would_book")
            return None
        if contact is not None:
            body["ContactGuid"] = self.run.contacts.resolve(contact)
        if attachment is not None:
            body["FileGuid"] = self._upload(key, attachment, entry)
        self.run.journal.record(
            key,
            status="pending",
            kind=self.load_type,
            stream=self.stream_name,
            file_guid=body.get("FileGuid"),
        )
        try:
            answer = self.run.gateway.post(CREATE_PATH, body) or {}
        except UNKNOWN_OUTCOME:
            if body.get("FileGuid"):  # look it up now through the file's link, never create twice
                resolved = self._resolve_pending(item, {**entry, "file_guid": body["FileGuid"]})
                if resolved.get("status") in ("draft", "booked"):
                    self._count("created")
                    if item.book and resolved["status"] == "draft":
                        resolved = self._book(key, resolved)
                    return resolved
            raise  # stays pending: the next run resolves it (file link) or reports it
        except Exception:
            self.run.journal.record(key, status="failed")  # Dinero said no: nothing was created
            raise
        guid = str(field_ci(answer, "Guid"))
        timestamp = field_ci(answer, "Timestamp")
        self.run.journal.record(key, status="draft", guid=guid, timestamp=timestamp)
        self._count("created")
        entry = {"status": "draft", "guid": guid, "timestamp": timestamp}
        if item.book:
            entry = self._book(key, entry)
        return entry

    def _book(self, key: str, entry: dict[str, Any]) -> dict[str, Any]:
        guid = str(entry["guid"])
        path = f"{PATH}/{guid}/book"
        timestamp = entry.get("timestamp") or field_ci(self._get(guid) or {}, "Timestamp")
        try:
            answer = self.run.gateway.post(path, {"Timestamp": timestamp}) or {}
        except (DineroTimestampConflict, *UNKNOWN_OUTCOME):
            current = self._get(guid) or {}
            answer = current
            if str(field_ci(current, "Status") or "").lower() == "draft":
                answer = self.run.gateway.post(path, {"Timestamp": field_ci(current, "Timestamp")}) or {}
        new_timestamp = field_ci(answer, "Timestamp") or field_ci(answer, "TimeStamp")
        self.run.journal.record(key, status="booked", timestamp=new_timestamp)
        self._count("booked")
        document_payments(self.run).booked_now("purchase", guid, new_timestamp)
        return {**entry, "status": "booked", "timestamp": new_timestamp}
