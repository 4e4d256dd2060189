"""Writing one manual voucher exactly once (see :mod:`.exactly_once` for the protocol, :mod:`.journal`).

Used by the manual_voucher and daily_sales sinks. Per voucher reference:

* unknown to the journal -> Dinero is asked first: a voucher linked to a file tagged with the reference
  (GET /files, once per run) is taken over (an empty or lost journal, another worker's journal);
* not found -> upload the file (the record's, or a generated receipt; the name carries the reference's
  tag) -> create (``pending`` first) -> [book];
* ``pending`` (an earlier create's outcome is unknown) -> resolved through the file's link, waiting
  until Dinero can no longer commit it; with no file to look through -> rejected as "check by hand";
* ``draft`` -> unchanged when the record's digest matches what was sent, else update (PUT with the
  Timestamp; stale -> re-read, retry once); book when asked;
* ``booked`` -> never changed: counted ``skipped_booked`` and reported.

Requests: upload 1 + create 1 (+1 book when booking), plus one GET /files per run (per 1 000 files).
"""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from dinero_api.errors import (
    DineroGone,
    DineroTimestampConflict,
    DineroUnknownOutcome,
)
from target_dinero.exactly_once import (
    CheckByHand,
    ExactlyOnce,
    FileIndex,
    await_write,
    confirmed,
    receipt_pdf,
    tagged_file_name,
)
from target_dinero.files import Attachment, AttachmentSpec
from target_dinero.records import RecordRejected
from target_dinero.remote_index import field_ci

if TYPE_CHECKING:
    from target_dinero.run import RunContext

__all__ = ["JournalMismatch", "VoucherWriter", "wire_amounts"]

PATH = "/v1/{org}/vouchers/manuel"


def wire_amounts(payload: dict[str, Any], sign_convention: str) -> dict[str, Any]:
    """``payload`` with each line's ``Amount`` negated when Dinero credits ``AccountNumber`` with a
    positive amount (``credit_account``); unchanged for ``debit_account`` (the default)."""
    if sign_convention != "credit_account":
        return payload
    lines = [
        {**line, "Amount": -line["Amount"]}
        if isinstance(line, dict) and line.get("Amount") is not None
        else line
        for line in payload.get("Lines") or []
    ]
    return {**payload, "Lines": lines}


class JournalMismatch(RuntimeError):
    """The journal lists a booked voucher this organization does not have: it belongs elsewhere."""


class VoucherWriter:
    """Create/update/book manual vouchers of one stream, journaled.

    Subclasses write other vouchers Dinero cannot search (purchase vouchers) through the same protocol:
    they name the paths, the journal key and whether line amounts follow ``manual_voucher_amount_sign``.
    """

    #: GET/PUT ``{path}/{guid}``, POST ``{path}/{guid}/book``
    path = PATH
    #: POST creates here
    create_path = PATH
    #: in messages ("create of a manual voucher")
    what = "manual voucher"
    #: the journal key is ``key_prefix + reference`` (one journal holds every voucher kind)
    key_prefix = ""
    #: line amounts follow ``manual_voucher_amount_sign`` (see :func:`wire_amounts`)
    signed_amounts = True

    def __init__(self, run: RunContext, stream: str, load_type: str) -> None:
        self.run = run
        self.stream = stream
        self.load_type = load_type

    def key(self, reference: str) -> str:
        """The journal key of the voucher ``reference`` names."""
        return self.key_prefix + reference

    def _count(self, outcome: str) -> None:
        self.run.report.count(self.stream, outcome)

    def mark_deleted(self, reference: str, guid: str | None = None) -> None:
        """Journal that the voucher ``reference`` names is gone, remembering its Guid.

        Dinero's answer to a detail GET of a deleted voucher is undocumented and its read model has no
        ``DeletedAt``: a deleted voucher may read like a live one. Its file still links to it, so
        :meth:`find_in_dinero` would find it again; the journal's list of Guids known to be deleted keeps
        it from being taken for the live voucher of the reference.
        """
        if self.run.dry_run:
            return
        entry = self.run.journal.get(self.key(reference)) or {}
        gone = list(entry.get("deleted_guids") or [])
        guid = guid or entry.get("guid")
        if guid and str(guid) not in gone:
            gone.append(str(guid))
        self.run.journal.record(self.key(reference), status="deleted", deleted_guids=gone)

    # -- reads --------------------------------------------------------------------------------------
    def get(self, guid: str) -> dict[str, Any] | None:
        """The voucher, or None when it no longer exists."""
        try:
            return self.run.gateway.get(f"{self.path}/{guid}")
        except DineroGone:
            return None

    @property
    def files(self) -> FileIndex:
        """The run's index of files linked to vouchers (shared by every voucher stream)."""
        with self.run.journal_lock:
            if self.run.file_index is None:
                self.run.file_index = FileIndex(self.run)
            return self.run.file_index

    def find_in_dinero(
        self, reference: str, file_guid: str | None = None, *, since: float | None = None
    ) -> dict[str, Any] | None:
        """The live voucher ``reference`` names, found through its file (tag or FileGuid), or None."""
        entry = self.run.journal.get(self.key(reference)) or {}
        deleted = {str(g) for g in entry.get("deleted_guids") or []}
        for guid in sorted(self.files.candidates(reference, file_guid, since=since)):
            if str(guid) in deleted:
                continue  # a voucher of this reference that was deleted (see mark_deleted)
            current = self.get(guid)
            if current is None or field_ci(current, "DeletedAt"):
                continue  # a stale link: that voucher was deleted
            if str(field_ci(current, "ExternalReference") or "") == reference:
                return {
                    **current,
                    "Guid": field_ci(current, "VoucherGuid") or field_ci(current, "Guid") or guid,
                }
        return None

    def _adopt(self, reference: str, current: dict[str, Any], file_guid: str | None) -> dict[str, Any]:
        """Journal a voucher found in Dinero (created by an earlier run whose journal entry is lost)."""
        status = _status(current)
        fields = {
            "status": status,
            "guid": str(field_ci(current, "Guid")),
            "timestamp": field_ci(current, "Timestamp"),
            "file_guid": field_ci(current, "FileGuid") or file_guid,
            "kind": self.load_type,
        }
        if not self.run.dry_run:
            self.run.journal.record(self.key(reference), **fields)
        return {"ref": reference, **fields}

    # -- the protocol ----------------------------------------------------------------------------------
    def upsert(
        self,
        reference: str,
        payload: dict[str, Any],
        digest: str,
        *,
        attachment: AttachmentSpec | None = None,
        book: bool = False,
        update_drafts: bool = True,
        booked_must_match: bool = False,
    ) -> dict[str, Any] | None:
        """Make Dinero hold ``payload`` under ``reference``; returns the journal entry (None in dry run).

        ``booked_must_match``: a booked voucher that no longer matches the record is rejected with both
        versions (:meth:`_check_booked_matches`) instead of being counted as there. Off for daily sales,
        which correct a booked day with a supplement voucher.

        ``payload`` says what the user means: a positive line ``Amount`` debits ``AccountNumber``. Where
        Dinero reads it the other way (``manual_voucher_amount_sign: credit_account``) the amounts sent
        are negated, so the books show what was meant either way.
        """
        if self.signed_amounts:
            payload = wire_amounts(payload, str(self.run.config.get("manual_voucher_amount_sign") or ""))
        entry = self.run.journal.get(self.key(reference))
        if entry is not None:
            entry = self.confirm_journal(reference, entry)
        status = (entry or {}).get("status")
        if status in (None, "deleted") or (status == "failed" and not entry.get("sent_at")):
            # The journal does not know it (new, or the journal is empty/lost, or another worker's):
            # Dinero is asked before anything is created.
            current = self.find_in_dinero(reference)
            if current is not None and self.load_type == "daily_sales":
                # The day's voucher exists, but only the journal says which sales it holds: adding these
                # sales could count some twice, replacing them could drop some. Nothing is written.
                self._count("check_by_hand")
                raise CheckByHand(
                    reference,
                    "load of this day's sales",
                    f"the day voucher {field_ci(current, 'Guid')} exists in Dinero but the journal "
                    f"{self.run.journal.path} ({self.run.journal.namespace}) does not list its sales -- "
                    "another worker with its own journal, or a lost journal. Compare the voucher's lines "
                    "with these sales in Dinero; point every worker at one journal_store",
                    "ExternalReference",
                )
            if current is not None:
                entry = {**(entry or {}), **self._adopt(reference, current, None)}
                status = entry["status"]
                self._count("found_in_dinero")
        if status == "pending":
            entry = self._resolve_pending(reference, entry or {})
            status = (entry or {}).get("status")
        if status == "booked":
            if booked_must_match and entry is not None:
                self._check_booked_matches(reference, entry, payload, digest)
            self._count("skipped_booked")
            self.run.report.note(
                f"{self.stream}: voucher {reference} is already booked in Dinero and was left unchanged."
            )
            return entry
        if status == "draft" and entry is not None:
            return self._update(reference, entry, payload, digest, attachment, book, update_drafts)
        return self._create(reference, payload, digest, attachment, book, entry or {})

    def _check_booked_matches(
        self, reference: str, entry: dict[str, Any], payload: dict[str, Any], digest: str
    ) -> None:
        """Reject the record when the booked voucher of ``reference`` holds other amounts or another date.

        A booked voucher cannot be changed; counting a changed record as there would silently keep the old
        amounts. Free when the journal's digest is this record's (it made the voucher); otherwise (another
        record made it, or the voucher was found in Dinero without its digest) the voucher is read once and
        its date and lines (account, amount) compared. Equal -> the digest is journaled, nothing is rejected.
        """
        if entry.get("digest") == digest:
            return
        current = self.get(str(entry.get("guid"))) if entry.get("guid") else None
        if current is None or field_ci(current, "Lines") is None or _foreign(payload):
            # Nothing to compare with (or amounts Dinero may show converted to DKK): left as it was.
            return
        mismatch = _booked_mismatch(current, payload)
        if mismatch is not None:
            raise RecordRejected(
                f"{self.what} {reference!r} is booked in Dinero ({entry.get('guid')}) with {mismatch[0]}; "
                f"this record means {mismatch[1]}. A booked "
                "voucher cannot be changed: book a correcting voucher under a new ExternalReference, or "
                "send the record as it was booked",
                "Lines",
            )
        if not self.run.dry_run:
            self.run.journal.record(self.key(reference), digest=digest)

    def confirm_journal(self, reference: str, entry: dict[str, Any]) -> dict[str, Any]:
        """Once per run, check that the journal describes *this* Dinero by reading one voucher it lists.

        Costs one GET per run. A journal from another organization, or from a sandbox that was reset,
        would otherwise make the target skip vouchers that do not exist. A missing *booked* voucher
        stops the run (booked vouchers cannot disappear); a missing draft was deleted by someone and
        is created again.
        """
        if (
            self.run.journal_confirmed
            or not entry.get("guid")
            or entry.get("status") not in ("draft", "booked")
        ):
            return entry
        with self.run.journal_lock:
            if self.run.journal_confirmed:
                return entry
            current = self.get(str(entry["guid"]))
            if current is not None:
                self.run.journal_confirmed = True
                return entry
            if entry.get("status") == "booked":
                raise JournalMismatch(
                    f"The journal {self.run.journal.path} lists voucher {reference!r} ({entry['guid']}) as "
                    f"booked, but organization {self.run.organization_id} has no such voucher: the journal "
                    "belongs to another organization or to a Dinero sandbox that was reset. Point "
                    "ledger_file at this organization's journal (or delete it if the organization is new)."
                )
            self.mark_deleted(reference, entry.get("guid"))
            return {**entry, "status": "deleted"}

    def _resolve_pending(self, reference: str, entry: dict[str, Any]) -> dict[str, Any] | None:
        file_guid = entry.get("file_guid")
        if not file_guid:
            # Only journals of earlier versions hold a pending voucher without a file.
            self._count("check_by_hand")
            raise CheckByHand(
                reference,
                f"create of a {self.what}",
                f"Dinero cannot search {self.what}s: open Dinero's voucher list and look for "
                f"ExternalReference {reference!r}; the journal is {self.run.journal.path} "
                f"({self.run.journal.namespace})",
            )
        current = ExactlyOnce(self.run).settle(
            entry,
            lambda: self.find_in_dinero(
                reference, str(file_guid), since=float(entry.get("sent_at") or 0) or None
            ),
        )
        if current is None:  # the file was uploaded, the create never happened: create, reuse the file
            if not self.run.dry_run:
                self.run.journal.record(self.key(reference), status="failed")
            return {**entry, "status": "failed"}
        self._count("recovered_after_unknown_outcome")
        return {**entry, **self._adopt(reference, current, str(file_guid))}

    def _attachment(
        self, reference: str, payload: dict[str, Any], spec: AttachmentSpec | None
    ) -> Attachment | None:
        """The file to attach: the record's (its name tagged), else a generated receipt, else None."""
        if spec is not None:
            content = spec.read()
            return Attachment(
                tagged_file_name(reference, content.file_name), content.content, content.content_type
            )
        if payload.get("FileGuid") or not self.run.voucher_receipts:
            return None
        pdf = receipt_pdf(reference, str(payload.get("VoucherDate") or ""))
        return Attachment(tagged_file_name(reference, "receipt.pdf"), pdf, "application/pdf")

    def _upload(self, reference: str, content: Attachment, entry: dict[str, Any]) -> str:
        if entry.get("file_guid") and entry.get("file_digest") == content.digest:
            return str(entry["file_guid"])  # uploaded by an earlier attempt: reuse, never upload twice
        for attempt in (1, 2):
            try:
                answer = self.run.gateway.upload_file(
                    content.file_name, content.content, content.content_type
                )
                file_guid = str(field_ci(confirmed(answer, "FileGuid", "POST /files"), "FileGuid"))
                break
            except DineroUnknownOutcome:
                # An upload cannot be looked up (Dinero keeps an unattached file invisible); sending it
                # again leaves at most an invisible unattached file, never a second voucher.
                self._count("upload_repeated_after_unknown_outcome")
                if attempt == 2:
                    raise
        self.run.journal.record(self.key(reference), file_guid=file_guid, file_digest=content.digest)
        return file_guid

    def _create(
        self,
        reference: str,
        payload: dict[str, Any],
        digest: str,
        attachment: AttachmentSpec | None,
        book: bool,
        entry: dict[str, Any],
    ) -> dict[str, Any] | None:
        if self.run.dry_run:
            shown = {**payload, "File": attachment.describe()} if attachment else payload
            self.run.plan("create", self.load_type, self.stream, reference, shown)
            if book:
                self._count("would_book")
            return None
        body = dict(payload)
        content = self._attachment(reference, payload, attachment)
        if content is not None:
            # Uploaded first (journaled with its FileGuid, reused by a retry), then the create follows at
            # once: a crash in between leaves at worst an unattached, invisible file, never a twin.
            body["FileGuid"] = self._upload(reference, content, entry)
        file_guid = body.get("FileGuid")
        sent: dict[str, float] = {}

        def find() -> dict[str, Any] | None:
            return self.find_in_dinero(reference, str(file_guid), since=sent.get("at") or time.time())

        lookup = find if file_guid else None

        def send() -> Any:
            sent["at"] = time.time()
            return self.run.gateway.post(self.create_path, body)

        if not file_guid:
            lookup_text = "nothing (no file to look it up by)"
        else:
            lookup_text = f"GET /v1/{{org}}/files (file {file_guid}) and the voucher it is linked to"
        try:
            answer, _ = ExactlyOnce(self.run).create(
                stream=self.stream,
                journal=self.run.journal,
                key=self.key(reference),
                reference=reference,
                what=f"create of a {self.what}",
                send=send,
                expect="Guid",
                lookup=lookup,
                lookup_text=lookup_text,
                pending_fields={"digest": digest, "kind": self.load_type, "file_guid": file_guid},
                done_fields=lambda found: {
                    "status": _status(found),
                    "guid": str(field_ci(found, "Guid")),
                    "timestamp": field_ci(found, "Timestamp"),
                },
            )
        except RecordRejected:
            if not file_guid:
                self._count("check_by_hand")
                raise CheckByHand(
                    reference,
                    f"create of a {self.what}",
                    f"Dinero cannot search {self.what}s without a file: look in Dinero for "
                    f"ExternalReference {reference!r}; the journal is {self.run.journal.path} "
                    f"({self.run.journal.namespace})",
                ) from None
            raise
        guid = str(field_ci(answer, "Guid"))
        timestamp = field_ci(answer, "Timestamp")
        if file_guid:
            self.files.remember(reference, str(file_guid), guid)
        status = _status(answer)
        self.run.journal.record(
            self.key(reference), status=status, guid=guid, timestamp=timestamp, digest=digest
        )
        self._count("created")
        entry = {"status": status, "guid": guid, "timestamp": timestamp, "digest": digest}
        if book and status != "booked":
            entry = self._book(reference, entry)
        return entry

    def _update(
        self,
        reference: str,
        entry: dict[str, Any],
        payload: dict[str, Any],
        digest: str,
        attachment: AttachmentSpec | None,
        book: bool,
        update_drafts: bool,
    ) -> dict[str, Any] | None:
        guid = str(entry["guid"])
        if not update_drafts and entry.get("digest") and entry.get("digest") != digest:
            # A draft this load type does not update, sent again with other content: counting it as there
            # (or booking what Dinero holds) would silently keep the earlier amounts.
            raise RecordRejected(
                f"{self.what} {reference!r} exists in Dinero as a draft ({guid}) with the content of an "
                "earlier record; this record differs and a draft of this kind is not updated (nor booked "
                "as it is). Correct or delete the draft in Dinero, then re-run",
                "ExternalReference",
            )
        if entry.get("digest") == digest or not update_drafts:
            self._count("unchanged")
        elif self.run.dry_run:
            self.run.plan("update", self.load_type, self.stream, reference, payload)
        else:
            body = dict(payload)
            content = self._attachment(reference, payload, attachment) if attachment is not None else None
            if content is not None:
                body["FileGuid"] = self._upload(reference, content, entry)
            elif entry.get("file_guid"):
                body["FileGuid"] = entry["file_guid"]
            sent_at = time.time()
            try:
                answer = (
                    self.run.gateway.put(f"{self.path}/{guid}", {**body, "Timestamp": entry.get("timestamp")})
                    or {}
                )
            except (DineroTimestampConflict, DineroUnknownOutcome) as exc:
                if isinstance(exc, DineroUnknownOutcome):
                    # Re-read until a new Timestamp shows the update (a PUT replaces the whole voucher)
                    # or until the PUT can no longer commit: sent again before a late commit, one of the
                    # two would be refused (stale Timestamp).
                    sent = entry.get("timestamp")

                    def shows(row: dict[str, Any]) -> bool:
                        # without a Timestamp sent, nothing can show the update: wait out the horizon
                        return sent is not None and field_ci(row, "Timestamp") not in (None, sent)

                    current = await_write(self.run, sent_at, lambda: self.get(guid), shows)
                    if current is not None and shows(current) and _status(current) == "draft":
                        timestamp = field_ci(current, "Timestamp")
                        self.run.journal.record(self.key(reference), timestamp=timestamp, digest=digest)
                        self._count("updated")
                        entry = {**entry, "timestamp": timestamp, "digest": digest}
                        if book:
                            entry = self._book(reference, entry)
                        return entry
                else:
                    current = self.get(guid)
                if current is None:
                    self.mark_deleted(reference, guid)
                    return self._create(reference, payload, digest, attachment, book, {})
                if _status(current) == "booked":
                    self.run.journal.record(self.key(reference), status="booked")
                    self._count("skipped_booked")
                    return {**entry, "status": "booked"}
                answer = (
                    self.run.gateway.put(
                        f"{self.path}/{guid}", {**body, "Timestamp": field_ci(current, "Timestamp")}
                    )
                    or {}
                )
            except DineroGone:
                # Someone deleted the draft in Dinero: the record is loaded again as a new voucher.
                self.mark_deleted(reference, guid)
                return self._create(reference, payload, digest, attachment, book, {})
            entry = {**entry, "timestamp": field_ci(answer, "Timestamp"), "digest": digest}
            self.run.journal.record(self.key(reference), timestamp=entry["timestamp"], digest=digest)
            self._count("updated")
        if book:
            if self.run.dry_run:
                self.run.plan("book", self.load_type, self.stream, reference, {"Guid": guid})
                return entry
            entry = self._book(reference, entry)
        return entry

    def _book(self, reference: str, entry: dict[str, Any]) -> dict[str, Any]:
        """Book; any answer that is not a confirmed success is checked by reading the voucher's Status.

        Booking cannot duplicate anything (a booked voucher cannot be booked again), so after an unknown
        outcome or a stale Timestamp the voucher is read and, if still a draft, booked with its fresh
        Timestamp (at most three tries).
        """
        guid = str(entry["guid"])
        path = f"{self.path}/{guid}/book"
        timestamp = entry.get("timestamp")
        for attempt in range(3):
            sent_at = time.time()
            try:
                answer = confirmed(
                    self.run.gateway.post(path, {"Timestamp": timestamp}),
                    "Timestamp",
                    f"POST {self.path}/book",
                )
                break
            except (DineroTimestampConflict, DineroUnknownOutcome) as exc:
                if isinstance(exc, DineroUnknownOutcome):
                    # Re-read until booked or the book can no longer commit: booked again before a late
                    # commit, one of the two would be refused (stale Timestamp).
                    current = (
                        await_write(
                            self.run, sent_at, lambda: self.get(guid), lambda row: _status(row) == "booked"
                        )
                        or {}
                    )
                else:
                    current = self.get(guid) or {}
                answer = current
                if _status(current) == "booked":
                    break
                if attempt == 2:
                    raise
                timestamp = field_ci(current, "Timestamp")
        timestamp = field_ci(answer, "Timestamp")
        self.run.journal.record(self.key(reference), status="booked", timestamp=timestamp)
        self._count("booked")
        return {**entry, "status": "booked", "timestamp": timestamp}

    def book_draft(self, reference: str) -> None:
        """Book a voucher the journal holds as a draft (daily sales book once the run is complete)."""
        entry = self.run.journal.get(self.key(reference))
        if not entry or entry.get("status") != "draft":
            return
        if self.run.dry_run:
            self.run.plan("book", self.load_type, self.stream, reference, {"Guid": entry.get("guid")})
            return
        self._book(reference, entry)


def _cents(value: Any) -> str | None:
    try:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    except (InvalidOperation, ValueError, TypeError):
        return None


def _held_lines(voucher: dict[str, Any]) -> list[tuple[str, set[str]]]:
    """(AccountNumber, the amounts the line may have been sent as) of each line Dinero shows: a sent
    ``Amount`` is the net for sales VAT codes and the gross otherwise (REFERENCE §4.4), so either value."""
    held = []
    for line in field_ci(voucher, "Lines") or []:
        if isinstance(line, dict):
            names = ("Amount", "AmountExclVatValue", "AmountInclVatValue")
            values = (_cents(field_ci(line, n)) for n in names if field_ci(line, n) is not None)
            amounts = {value for value in values if value}
            held.append((str(field_ci(line, "AccountNumber")), amounts))
    return held


def _foreign(payload: dict[str, Any]) -> bool:
    """Whether the voucher or one of its lines is in another currency than DKK (whose amounts Dinero's
    read model may show converted, so they cannot be compared with the record's)."""
    keys = [payload.get("CurrencyKey")] + [
        field_ci(line, "CurrencyKey") for line in payload.get("Lines") or [] if isinstance(line, dict)
    ]
    return any(key not in (None, "", "DKK") for key in keys)


def _booked_mismatch(current: dict[str, Any], payload: dict[str, Any]) -> tuple[str, str] | None:
    """(what Dinero holds, what the record means) when the booked voucher's date or lines (account and
    amount to the øre) differ from ``payload``; None when they match. Descriptions and VAT codes are not
    compared (Dinero may word or default them)."""
    held = _held_lines(current)
    meant = [
        (str(field_ci(line, "AccountNumber")), _cents(field_ci(line, "Amount")) or "")
        for line in payload.get("Lines") or []
        if isinstance(line, dict)
    ]
    unmatched = list(held)
    same = str(field_ci(current, "VoucherDate") or "")[:10] == str(payload.get("VoucherDate") or "")[:10]
    for account, amount in meant:
        match = next((h for h in unmatched if h[0] == account and amount in h[1]), None)
        if match is None:
            same = False
            break
        unmatched.remove(match)
    if same and not unmatched:
        return None
    held_text = ", ".join(f"{a}: {'/'.join(sorted(v)) or '?'}" for a, v in held)
    meant_text = ", ".join(f"{a}: {v}" for a, v in meant)
    return (
        f"date {str(field_ci(current, 'VoucherDate') or '')[:10]} and lines [{held_text}]",
        f"date {payload.get('VoucherDate')} and lines [{meant_text}]",
    )


def _status(voucher: dict[str, Any]) -> str:
    """The journal status of a voucher Dinero answered or showed: anything past Draft (Booked, and for
    purchase vouchers Paid / OverPaid) is booked; an answer without a Status (a create) is a draft."""
    status = str(field_ci(voucher, "Status") or "").lower()
    return "booked" if status and status != "draft" else "draft"
