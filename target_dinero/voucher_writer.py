"""Writing one manual voucher exactly once: the protocol around the journal (see :mod:`.journal`).

Used by the manual_voucher and daily_sales sinks. Per voucher reference:

* not in the journal (or the last attempt failed for sure) -> [upload the file] -> create -> [book];
* ``pending`` (an earlier create's outcome is unknown) -> resolve through the file's link when it has a
  file; otherwise reject with a reason naming the reference (never create twice);
* ``draft`` -> unchanged when the record's digest matches what was sent, else update (PUT with the
  Timestamp; stale -> re-read, retry once); book when asked;
* ``booked`` -> never changed: counted ``skipped_booked`` and reported.

Requests: create 1 (+1 upload when there is a file, +1 book when booking).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dinero_api.errors import (
    DineroGone,
    DineroTimestampConflict,
    DineroUnknownOutcome,
)
from target_dinero.files import AttachmentSpec
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
    """Create/update/book manual vouchers of one stream, journaled."""

    def __init__(self, run: RunContext, stream: str, load_type: str) -> None:
        self.run = run
        self.stream = stream
        self.load_type = load_type

    def _count(self, outcome: str) -> None:
        self.run.report.count(self.stream, outcome)

    # -- reads --------------------------------------------------------------------------------------
    def get(self, guid: str) -> dict[str, Any] | None:
        """The voucher, or None when it no longer exists."""
        try:
            return self.run.gateway.get(f"{PATH}/{guid}")
        except DineroGone:
            return None

    def _find_by_file(self, file_guid: str) -> str | None:
        """VoucherGuid the uploaded file is linked to (GET /files), or None when it is unattached."""
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
    ) -> dict[str, Any] | None:
        """Make Dinero hold ``payload`` under ``reference``; returns the journal entry (None in dry run).

        ``payload`` says what the user means: a positive line ``Amount`` debits ``AccountNumber``. Where
        Dinero reads it the other way (``manual_voucher_amount_sign: credit_account``) the amounts sent
        are negated, so the books show what was meant either way.
        """
        payload = wire_amounts(payload, str(self.run.config.get("manual_voucher_amount_sign") or ""))
        entry = self.run.journal.get(reference)
        if entry is not None:
            entry = self.confirm_journal(reference, entry)
        status = (entry or {}).get("status")
        if status == "pending":
            entry = self._resolve_pending(reference, entry or {})
            status = (entry or {}).get("status")
        if status == "booked":
            self._count("skipped_booked")
            self.run.report.note(
                f"{self.stream}: voucher {reference} is already booked in Dinero and was left unchanged."
            )
            return entry
        if status == "draft" and entry is not None:
            return self._update(reference, entry, payload, digest, attachment, book, update_drafts)
        return self._create(reference, payload, digest, attachment, book, entry or {})

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
            if not self.run.dry_run:
                self.run.journal.record(reference, status="deleted")
            return {**entry, "status": "deleted"}

    def _resolve_pending(self, reference: str, entry: dict[str, Any]) -> dict[str, Any] | None:
        file_guid = entry.get("file_guid")
        if not file_guid:
            raise RecordRejected(
                f"an earlier run sent the create of voucher {reference!r} but never learnt whether Dinero "
                "created it (crash or lost answer), and Dinero cannot search manual vouchers. Check Dinero "
                f"for ExternalReference {reference!r}; if it is absent, delete its lines from the journal "
                f"{self.run.journal.path} and re-run.",
                "ExternalReference",
            )
        voucher_guid = self._find_by_file(str(file_guid))
        if voucher_guid is None:  # the file was uploaded, the create never happened: create, reuse the file
            if not self.run.dry_run:
                self.run.journal.record(reference, status="failed")
            return {**entry, "status": "failed"}
        current = self.get(voucher_guid) or {}
        status = "booked" if str(field_ci(current, "Status") or "").lower() == "booked" else "draft"
        fields = {"status": status, "guid": voucher_guid, "timestamp": field_ci(current, "Timestamp")}
        if not self.run.dry_run:
            self.run.journal.record(reference, **fields)
        return {**entry, **fields}

    def _upload(self, reference: str, attachment: AttachmentSpec, entry: dict[str, Any]) -> str:
        content = attachment.read()
        if entry.get("file_guid") and entry.get("file_digest") == content.digest:
            return str(entry["file_guid"])  # uploaded by an earlier attempt: reuse, never upload twice
        file_guid = self.run.gateway.upload_file(content.file_name, content.content, content.content_type)
        self.run.journal.record(reference, file_guid=file_guid, file_digest=content.digest)
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
        if attachment is not None:
            # Uploaded first (journaled with its FileGuid, reused by a retry), then the create follows at
            # once: a crash in between leaves at worst an unattached, invisible file, never a twin.
            body["FileGuid"] = self._upload(reference, attachment, entry)
        self.run.journal.record(
            reference, status="pending", digest=digest, kind=self.load_type, file_guid=body.get("FileGuid")
        )
        try:
            answer = self.run.gateway.post(PATH, body) or {}
        except DineroUnknownOutcome:
            raise  # stays "pending": the next run resolves it (file link) or reports it
        except Exception:
            self.run.journal.record(reference, status="failed")  # Dinero said no: nothing was created
            raise
        guid = str(field_ci(answer, "Guid"))
        timestamp = field_ci(answer, "Timestamp")
        self.run.journal.record(reference, status="draft", guid=guid, timestamp=timestamp, digest=digest)
        self._count("created")
        entry = {"status": "draft", "guid": guid, "timestamp": timestamp, "digest": digest}
        if book:
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
        if entry.get("digest") == digest or not update_drafts:
            self._count("unchanged")
        elif self.run.dry_run:
            self.run.plan("update", self.load_type, self.stream, reference, payload)
        else:
            body = dict(payload)
            if attachment is not None:
                body["FileGuid"] = self._upload(reference, attachment, entry)
            elif entry.get("file_guid"):
                body["FileGuid"] = entry["file_guid"]
            try:
                answer = (
                    self.run.gateway.put(f"{PATH}/{guid}", {**body, "Timestamp": entry.get("timestamp")})
                    or {}
                )
            except DineroTimestampConflict:
                current = self.get(guid)
                if current is None:
                    self.run.journal.record(reference, status="deleted")
                    return self._create(reference, payload, digest, attachment, book, {})
                if str(field_ci(current, "Status") or "").lower() == "booked":
                    self.run.journal.record(reference, status="booked")
                    self._count("skipped_booked")
                    return {**entry, "status": "booked"}
                answer = (
                    self.run.gateway.put(
                        f"{PATH}/{guid}", {**body, "Timestamp": field_ci(current, "Timestamp")}
                    )
                    or {}
                )
            except DineroGone:
                # Someone deleted the draft in Dinero: the record is loaded again as a new voucher.
                self.run.journal.record(reference, status="deleted")
                return self._create(reference, payload, digest, attachment, book, {})
            entry = {**entry, "timestamp": field_ci(answer, "Timestamp"), "digest": digest}
            self.run.journal.record(reference, timestamp=entry["timestamp"], digest=digest)
            self._count("updated")
        if book:
            if self.run.dry_run:
                self.run.plan("book", self.load_type, self.stream, reference, {"Guid": guid})
                return entry
            entry = self._book(reference, entry)
        return entry

    def _book(self, reference: str, entry: dict[str, Any]) -> dict[str, Any]:
        guid = str(entry["guid"])
        path = f"{PATH}/{guid}/book"
        try:
            answer = self.run.gateway.post(path, {"Timestamp": entry.get("timestamp")}) or {}
        except (DineroTimestampConflict, DineroUnknownOutcome):
            current = self.get(guid) or {}
            answer = current
            if str(field_ci(current, "Status") or "").lower() != "booked":
                answer = self.run.gateway.post(path, {"Timestamp": field_ci(current, "Timestamp")}) or {}
        self.run.journal.record(reference, status="booked", timestamp=field_ci(answer, "Timestamp"))
        self._count("booked")
        return {**entry, "status": "booked"}

    def book_draft(self, reference: str) -> None:
        """Book a voucher the journal holds as a draft (daily sales book once the run is complete)."""
        entry = self.run.journal.get(reference)
        if not entry or entry.get("status") != "draft":
            return
        if self.run.dry_run:
            self.run.plan("book", self.load_type, self.stream, reference, {"Guid": entry.get("guid")})
            return
        self._book(reference, entry)
