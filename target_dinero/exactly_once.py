"""The one exactly-once protocol of every write the target makes (create, book, upload, update).

Rule: only a *parsed, confirmed* answer proves what Dinero did -- a 2xx whose JSON names the object
(its Guid). Everything else that is not a refusal (a 5xx or a reset after the request left, a timeout,
a 2xx whose body is not JSON or lacks the Guid, a commit after the client gave up) is an **unknown
outcome**, and is resolved by *looking the object up in Dinero* before anything is written again:

==============  ===================================================================================
object          look-up after an unknown outcome (and when the journal does not know the object)
==============  ===================================================================================
invoice         GET /invoices/{Guid} -- the Guid is chosen by the target (uuid5 of the reference)
contact         GET /contacts/{ContactGuid} -- client-chosen as well
product         GET /products?queryFilter=ExternalReference eq '...' (no client Guid exists)
manual voucher  through its file: GET /files (Name carries a tag of the reference, ``Linked`` names
                the voucher) then GET /vouchers/manuel/{Guid} to confirm its ExternalReference.
                Every voucher has a file: the record's own, or a generated one-page receipt
                (:func:`receipt_pdf`), so every voucher is findable
booking         GET the object: its Status says whether the book happened -- re-read until booked or
                the commit horizon has passed (:func:`await_write`), only then booked again
update (PUT)    a full replacement with a Timestamp: re-read until the content (invoice) or a new
                Timestamp (voucher) shows it or the horizon has passed, then re-sent with the fresh
                Timestamp. Never replayed by the client (a replay after a late commit is refused)
upload          not searchable (Dinero keeps an unattached file invisible, REFERENCE §2.14): a
                repeated upload leaves at most an invisible, unattached file -- never a twin voucher
==============  ===================================================================================

Before a create is sent, a ``pending`` marker with ``sent_at`` is made durable in the shared journal
(:mod:`target_dinero.journal`). A look-up that finds nothing is only believed once
``commit_horizon_seconds`` have passed since ``sent_at`` -- a request Dinero received may be committed
after the client gave up -- so until then the target polls; after it, the create is sent again. This
holds for every object, those with a client-chosen Guid too: invoices and contacts (Dinero's key of the
object is the Guid we chose) are sent again with the *same* Guid, so a lost create and the resend could
not both exist -- but a resend racing a late commit would have one of the two POSTs refused ("Guid
taken"), and Dinero counts every refused request against the integration. A refused resend (however
Dinero words "Guid taken") is still looked up again before it is called a refusal.
When the client-chosen Guid can no longer name a live object, it is given up (:class:`IdentityGone`): the
caller creates the object with a server-chosen Guid under its own journal key, found after an unknown
outcome by its ExternalReference. Dinero's answer to "Guid taken" is undocumented (400 naming the field,
a bare 400, 409, or a 500), and so is a GET of a deleted object (200 with DeletedAt, 400 code 63/65, or a
404 that looks like "never created"), so the rule needs neither: the Guid is given up only when **nothing
live holds it** (the look-up) **and no send with it can still commit**, i.e. when

* the journal says a create with it succeeded earlier (``done``): it is held, by something gone; or
* a create with it is refused in a way that may mean "Guid taken" (the caller's ``identity_taken``),
  after the commit horizon of any earlier send whose outcome was unknown; or
* two sends with it both had an unknown outcome (a 500 may be "Guid taken") and the commit horizon of
  the last one has passed.

Never two live objects: no send with our Guid can still create one, and the server-chosen create is
itself exactly-once. The journal marks the key ``identity_gone``, so later runs go straight to the
server-chosen create.
Where nothing can tell (a pending voucher whose file Dinero does not show and whose journal entry has
no file), the record is rejected as ``outcome unknown -- check by hand`` naming the exact look-up, and
never created blindly.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dinero_api.envelope import field_ci, iter_pages
from dinero_api.errors import (
    DineroGone,
    DineroUnknownOutcome,
    DineroUnreadableWriteAnswer,
    DineroValidationError,
)
from target_dinero.records import RecordRejected

if TYPE_CHECKING:
    from target_dinero.journal import VoucherJournal
    from target_dinero.run import RunContext

__all__ = [
    "CHECK_BY_HAND",
    "CheckByHand",
    "ExactlyOnce",
    "FileIndex",
    "IdentityGone",
    "OutcomeStillUnknown",
    "RedoNextRun",
    "await_write",
    "confirmed",
    "file_tag",
    "may_mean_guid_taken",
    "receipt_pdf",
    "tagged_file_name",
]

CHECK_BY_HAND = "outcome unknown — check by hand"
#: Journal status of a key whose client-chosen Guid is held by a gone object (see :class:`IdentityGone`).
IDENTITY_GONE = "identity_gone"
POLL_SECONDS = 0.5


class CheckByHand(RecordRejected):
    """Neither the journal nor Dinero can tell whether the object exists: a human must look."""

    def __init__(
        self, reference: str, what: str, lookup: str, field: str | None = "ExternalReference"
    ) -> None:
        super().__init__(
            f"{CHECK_BY_HAND}: an earlier {what} of {reference!r} may or may not have been stored by Dinero, "
            f"and nothing the API offers can tell. Look it up: {lookup}. If it is absent, mark it failed "
            "in the journal (or delete its entry) and re-run; if present, leave it.",
            field,
        )


class RedoNextRun(RecordRejected):
    """The record could not be applied now, and the next run applies it -- when it gets the record again
    (e.g. a day voucher booked by hand while the target corrected it: the next run adds a supplement).
    Like a write in doubt, such a reject holds back STATE (:func:`target_dinero.sinks.base.in_doubt`):
    a STATE past the record would make the tap never send it again, and the promised re-run would do
    nothing."""


class IdentityGone(Exception):
    """Our client-chosen Guid can no longer name a live object (see the module's rule): the caller
    creates the object anew with a server-chosen Guid under its own journal key."""


class OutcomeStillUnknown(RecordRejected):
    """The create's outcome is unknown and Dinero does not show the object yet; a re-run looks again."""

    def __init__(self, reference: str, what: str, lookup: str, exc: BaseException) -> None:
        super().__init__(
            f"Dinero's answer to the {what} of {reference!r} was lost ({exc}); {lookup} does not show it "
            "yet. The journal keeps it pending: a re-run looks it up again (waiting until Dinero can no "
            "longer commit it) before creating anything.",
            None,
        )


def confirmed(answer: Any, key: str, where: str) -> dict[str, Any]:
    """``answer`` when it is a JSON object naming ``key``; otherwise the outcome is unknown."""
    if isinstance(answer, dict) and field_ci(answer, key):
        return answer
    raise DineroUnreadableWriteAnswer(
        f"Dinero API {where} answered 2xx without {key} ({type(answer).__name__}): the write may have been "
        "stored; the outcome is unknown."
    )


def file_tag(reference: str) -> str:
    """The tag in an uploaded file's name that names its voucher's reference (20 hex of sha256)."""
    return "td-" + hashlib.sha256(reference.encode("utf-8")).hexdigest()[:20]


def tagged_file_name(reference: str, name: str) -> str:
    """``td-<tag>-<name>``: the voucher can be found through GET /files by its reference."""
    return f"{file_tag(reference)}-{name}"[:255]


def receipt_pdf(reference: str, voucher_date: str, lines: list[dict[str, Any]] | None = None) -> bytes:
    """A one-page PDF receipt for a voucher without a file (so Dinero can find it through the file).

    It names the reference and date only: the voucher's lines live in Dinero, and a receipt that does
    not change with the lines is never uploaded again when a draft is updated.
    """

    def esc(text: str) -> str:
        ascii_text = text.encode("ascii", "replace").decode("ascii")
        return ascii_text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    rows = [
        "Bilag / receipt generated by target-dinero",
        f"ExternalReference: {reference}",
        f"VoucherDate: {voucher_date}",
        "The voucher lines are in Dinero; this page lets the loader find the voucher again.",
    ]
    text = "BT /F1 11 Tf 50 790 Td 14 TL " + " ".join(f"({esc(r)}) '" for r in rows) + " ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(text) + text.encode("ascii") + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


class FileIndex:
    """Which vouchers Dinero's files are linked to, by reference tag and by FileGuid (GET /files).

    Read once per run (one request per 1 000 visible files) the first time the journal does not know a
    voucher; :meth:`candidates` with ``since`` re-reads only the files uploaded since a day before a
    pending create -- whichever way Dinero reads ``uploadedAfter``: the parameter's name says "on or after
    the day", the spec's description of it "limits the search to the given before date" (and of
    ``uploadedBefore`` the reverse). A re-read that left the new file out would make the look-up after a
    lost answer miss the voucher and the create be sent again: a twin. So the first re-read of a run
    learns the reading from the ``UploadedAt`` of the files it gets (older than the day: swapped) and, when
    they cannot tell, reads the other side too -- the two together are every file either way.
    """

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self._by_tag: dict[str, set[str]] = {}
        self._by_file: dict[str, set[str]] = {}
        self._read = False
        #: Whether ``uploadedAfter`` keeps the files uploaded on or after its day (None: not learnt yet).
        self._after_keeps_later: bool | None = None

    def _scan(self, **filters: str) -> set[str]:
        """Index the used files (those ``filters`` keep); the days (``YYYY-MM-DD``) they were uploaded."""
        params: dict[str, Any] = {
            "fileStatus": "Used",
            "fields": "FileGuid,Name,Linked,UploadedAt",
            **filters,
        }
        days: set[str] = set()
        # a bare array without a count: a full page is always followed by one more request
        for rows in iter_pages(self.run.gateway.get, "/v1/{org}/files", params, page_size=1000):
            for row in rows:
                guids = {
                    str(field_ci(link, "VoucherGuid"))
                    for link in field_ci(row, "Linked") or []
                    if field_ci(link, "VoucherGuid")
                }
                name = str(field_ci(row, "Name") or "")
                if name.startswith("td-") and len(name) > 23:
                    self._by_tag.setdefault(name[:23], set()).update(guids)
                self._by_file.setdefault(str(field_ci(row, "FileGuid")), set()).update(guids)
                uploaded = str(field_ci(row, "UploadedAt") or "")[:10]
                if _ISO_DAY.match(uploaded):  # a row without it tells nothing about the filter
                    days.add(uploaded)
        return days

    def _rescan_since(self, day: str) -> None:
        """Index every used file uploaded on or after ``day`` (``yyyy/MM/dd``), perhaps some more."""
        if self._after_keeps_later is not None:
            self._scan(**{"uploadedAfter" if self._after_keeps_later else "uploadedBefore": day})
            return
        iso = day.replace("/", "-")
        reading = _keeps_later(self._scan(uploadedAfter=day), iso)
        if reading is not True:
            # uploadedAfter kept older files (swapped), or nothing telling: the other side has the rest
            other = _keeps_later(self._scan(uploadedBefore=day), iso)
            reading = False if reading is False else (None if other is None else not other)
        self._after_keeps_later = reading

    def candidates(self, reference: str, file_guid: str | None, *, since: float | None = None) -> set[str]:
        """Voucher Guids that may be ``reference``'s; ``since`` (epoch seconds) forces a fresh read."""
        if since is not None:
            self._rescan_since(time.strftime("%Y/%m/%d", time.gmtime(since - 86400)))
        elif not self._read:
            self._scan()
            self._read = True
        found = set(self._by_tag.get(file_tag(reference), set()))
        if file_guid:
            found |= self._by_file.get(str(file_guid), set())
        return found

    def remember(self, reference: str, file_guid: str | None, voucher_guid: str) -> None:
        """A voucher this run created (no request)."""
        self._by_tag.setdefault(file_tag(reference), set()).add(voucher_guid)
        if file_guid:
            self._by_file.setdefault(str(file_guid), set()).add(voucher_guid)


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _keeps_later(days: set[str], day: str) -> bool | None:
    """From the upload days a filtered read returned: True when it kept files after ``day`` only, False
    when before it only, None when that cannot tell (nothing, only ``day`` itself, or both sides)."""
    later, earlier = any(d > day for d in days), any(d < day for d in days)
    return None if later == earlier else later


class ExactlyOnce:
    """Send one create under the protocol above; every sink's creates go through :meth:`create`."""

    def __init__(self, run: RunContext) -> None:
        self.run = run

    def _count(self, stream: str | None, outcome: str) -> None:
        self.run.report.count(stream or "_contacts", outcome)

    def settle(
        self, entry: dict[str, Any], lookup: Callable[[], dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        """Look the object up until found, or until the commit horizon after ``sent_at`` has passed."""
        sent_at = float(entry.get("sent_at") or 0)
        deadline = sent_at + self.run.commit_horizon
        while True:
            found = lookup()
            if found is not None:
                return found
            remaining = deadline - time.time()
            if remaining <= 0:
                return None
            time.sleep(min(POLL_SECONDS, remaining))

    def create(
        self,
        *,
        stream: str | None,
        journal: VoucherJournal,
        key: str,
        reference: str,
        what: str,
        send: Callable[[], Any],
        expect: str,
        lookup: Callable[[], dict[str, Any] | None] | None,
        lookup_text: str,
        pending_fields: dict[str, Any] | None = None,
        done_fields: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        same_identity_on_resend: bool = False,
        identity_taken: Callable[[DineroValidationError], bool] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Create once; returns (the object's answer or looked-up row, whether this call created it).

        * a ``pending`` marker left by an earlier attempt is settled first (look-up, horizon);
        * the create is sent after ``pending`` is durable; a confirmed answer records ``done``;
        * an unknown outcome is looked up until found or the horizon has passed (never sent again before:
          a resend racing a late commit costs a refusal or a twin); found -> ``done`` (``recovered``);
          not found after the horizon -> sent once more (``same_identity_on_resend`` says the object
          carries a client-chosen Guid) and, if that too is unknown and unseen, the record is rejected
          with the look-up to make, the marker stays ``pending`` for the next run;
        * a refusal (4xx) records ``failed``: nothing was created.

        ``identity_taken`` (with a client-chosen Guid) says whether a refusal may mean "Guid taken". Given,
        a refusal is looked up (found -> ours, carried on), and the Guid may be given up by the module's
        rule: :class:`IdentityGone` is raised and the key marked ``identity_gone`` (the caller creates with
        a server-chosen Guid). Without it, a Guid is never given up.
        """
        done_fields = done_fields or (lambda answer: {})
        entry = journal.get(key) or {}
        status = entry.get("status")
        may_give_up = same_identity_on_resend and identity_taken is not None and lookup is not None

        def recovered(found: dict[str, Any], created: bool) -> tuple[dict[str, Any], bool]:
            journal.record(key, **{"status": "done", **done_fields(found)})
            self._count(stream, "recovered_after_unknown_outcome")
            return found, created

        def give_up(cause: BaseException | None = None) -> IdentityGone:
            """Nothing live holds the Guid and no send with it can commit any more: it is given up."""
            journal.record(key, status=IDENTITY_GONE)
            self.run.logger.warning(
                "%s of %r: its Guid is held by an object that is gone (deleted); creating it with a "
                "server-chosen Guid%s",
                what,
                reference,
                f" ({cause})" if cause is not None else "",
            )
            return IdentityGone(reference)

        if status == IDENTITY_GONE and may_give_up:
            raise IdentityGone(reference)
        if status == "pending" and lookup is None:
            raise OutcomeStillUnknown(reference, what, lookup_text, RuntimeError("an earlier attempt"))
        if status == "pending":
            assert lookup is not None
            found = self.settle(entry, lookup)
            if found is not None:
                return recovered(found, False)
        elif status == "done" and may_give_up:
            # Created with this Guid before, yet the caller did not find the object: whatever holds the
            # Guid now is gone (deleted), and no send of ours is in flight -- give it up at once.
            assert lookup is not None
            found = lookup()
            if found is not None:
                return found, False
            raise give_up()
        # The last send with this identity whose outcome is unknown (it may still commit until the horizon).
        unknown_since = float(entry.get("sent_at") or 0) if status == "pending" else None
        for attempt in (1, 2):
            sent_at = time.time()
            journal.record(key, status="pending", sent_at=sent_at, **(pending_fields or {}))
            try:
                answer = confirmed(send(), expect, f"{what} of {reference!r}")
            except DineroUnknownOutcome as exc:
                self._count(stream, "unknown_outcome")
                if lookup is None:  # nothing can tell: never sent again blindly (the caller reports it)
                    raise OutcomeStillUnknown(reference, what, lookup_text, exc) from exc
                # Looked up until found or until the send can no longer commit -- with a client-chosen Guid
                # too: a resend racing a late commit of the same Guid would make no twin, but one of the two
                # POSTs would be refused ("Guid taken"), and Dinero counts every refusal against us.
                found = self.settle({"sent_at": sent_at}, lookup)
                if found is not None:
                    return recovered(found, True)
                if attempt == 2:
                    if may_give_up:
                        # Two unknown outcomes and nothing live holds the Guid, though the horizon of the
                        # last send has passed (settled above): perhaps Dinero answers "Guid taken" with a
                        # 500 and a deleted object holds it (a GET of a deleted object may say 404). No send
                        # with it can ever make it live: it is given up.
                        raise give_up(exc) from exc
                    raise OutcomeStillUnknown(reference, what, lookup_text, exc) from exc
                unknown_since = sent_at
                self.run.logger.warning(
                    "%s of %r: outcome unknown and not found by %s though the commit horizon has passed; "
                    "sending it again%s",
                    what,
                    reference,
                    lookup_text,
                    " with the same Guid" if same_identity_on_resend else "",
                )
                continue
            except DineroValidationError as exc:
                taken = may_give_up and identity_taken is not None and identity_taken(exc)
                if lookup is not None and (attempt == 2 or status == "pending" or taken):
                    # Refused after an unknown outcome: perhaps because the first attempt exists after all
                    # (a "Guid taken" answer, in whatever words) -- look it up before calling it refused.
                    found = lookup()
                    if found is not None:
                        # Dinero's answer meant "Guid taken" (the object is ours): an expected answer,
                        # not a refusal of the run's content (dinero_api.refusals).
                        self.run.gateway.excuse_refusal(exc)
                        return recovered(found, True)
                if taken:
                    # May mean "Guid taken" and nothing live holds the Guid: held by something gone -- unless
                    # the refusal meant something else and an earlier send may still commit: wait that out.
                    assert lookup is not None
                    if unknown_since is not None and unknown_since + self.run.commit_horizon > time.time():
                        found = self.settle({"sent_at": unknown_since}, lookup)
                        if found is not None:
                            return recovered(found, True)
                    raise give_up(exc) from exc
                journal.record(key, status="failed")
                raise
            except Exception:
                journal.record(key, status="failed")
                raise
            journal.record(key, **{"status": "done", **done_fields(answer)})
            return answer, True
        raise AssertionError("unreachable")  # pragma: no cover

    def create_with_own_guid(
        self,
        *,
        stream: str | None,
        journal: VoucherJournal,
        key: str,
        reference: str,
        what: str,
        expect: str,
        send: Callable[[], Any],
        lookup: Callable[[], dict[str, Any] | None],
        lookup_text: str,
        guid_field: str,
        send_anew: Callable[[], Any],
        lookup_anew: Callable[[], dict[str, Any] | None],
        lookup_anew_text: str,
        pending_fields: dict[str, Any] | None = None,
        done_fields: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """:meth:`create` of an object that carries our client-chosen Guid (invoice, partial credit note,
        contact), with the rule for when that Guid is given up.

        ``send`` carries our Guid (a resend keeps it; a refusal that :func:`may_mean_guid_taken` names
        ``guid_field`` is looked up with ``lookup``). When the Guid is given up (:class:`IdentityGone`: a
        gone object holds it) the object is created anew with a server-chosen Guid (``send_anew``) under
        the key ``{key}#recreated``, found after an unknown outcome with ``lookup_anew``. Refused that way
        too, the refusal is about the record itself (nothing was created either time): ``key`` is marked
        ``failed``, so the next try starts with our Guid again.
        """
        common: dict[str, Any] = {
            "stream": stream,
            "journal": journal,
            "reference": reference,
            "what": what,
            "expect": expect,
            "pending_fields": pending_fields,
            "done_fields": done_fields,
        }
        try:
            return self.create(
                **common,
                key=key,
                send=send,
                lookup=lookup,
                lookup_text=lookup_text,
                same_identity_on_resend=True,
                identity_taken=lambda exc: may_mean_guid_taken(exc, guid_field),
            )
        except IdentityGone:
            try:
                return self.create(
                    **common,
                    key=f"{key}#recreated",
                    send=send_anew,
                    lookup=lookup_anew,
                    lookup_text=lookup_anew_text,
                )
            except DineroValidationError:
                journal.record(key, status="failed")
                raise


def may_mean_guid_taken(exc: DineroValidationError, guid_field: str = "Guid") -> bool:
    """Whether a refused create may mean "this Guid exists already" (an earlier attempt got through).

    How Dinero words that refusal is not documented (REFERENCE §7.5): look the Guid up when the error
    names ``guid_field`` (``Guid``, a contact's ``ContactGuid``), only a general ``message``, or no field
    at all; an error naming another field (``ProductLines[0].AccountNumber``, ...) is about the record.
    """
    fields = [str(name).lower() for name in (exc.validation_errors or {})]
    return not fields or guid_field.lower() in fields or "message" in fields


def await_write(
    run: RunContext,
    sent_at: float,
    read: Callable[[], dict[str, Any] | None],
    shows: Callable[[dict[str, Any]], bool],
) -> dict[str, Any] | None:
    """After an unknown outcome of a book or update (PUT): the object as Dinero holds it, re-read until it
    ``shows`` the write (booked; the update's content or a new Timestamp), until it is gone (None), or
    until ``commit_horizon_seconds`` have passed since ``sent_at`` -- only then may the write be sent again.

    Why wait: a book or update Dinero received may be committed after the client gave up. Sent again
    before that commit, with the Timestamp read before it, one of the two is refused (400, stale Timestamp,
    code 58) -- no twin and no wrong data, but Dinero counts every refused request against the integration.
    The caller decides with the row returned (``shows`` it or not) and re-sends with its fresh Timestamp.
    """
    deadline = sent_at + run.commit_horizon
    while True:
        row = read()
        if row is None or shows(row):
            return row
        remaining = deadline - time.time()
        if remaining <= 0:
            return row
        time.sleep(min(POLL_SECONDS, remaining))


def get_or_none(run: RunContext, path: str) -> dict[str, Any] | None:
    """GET one object; None when Dinero says it does not exist (404, or codes 63/65 for deleted)."""
    try:
        row = run.gateway.get(path)
    except DineroGone:  # 404, or "item is deleted" (codes 63/65 -- not a DineroValidationError)
        return None
    if not isinstance(row, dict) or field_ci(row, "DeletedAt"):
        return None
    return row
