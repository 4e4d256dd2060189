"""The sink base shared by every load type: validate first, then write, and turn refusals into rejects.

Flow of a batch (``process_batch``, called by singer-sdk when the sink drains -- in a worker thread,
possibly in parallel with other sinks):

1. every record is normalised and validated locally (:meth:`DineroSink.prepare`): JSON schema of the
   load type, then business rules (accounts and VAT codes of the organization, units, finite amounts,
   dates, lengths). A record that fails is written to the rejects file and never reaches Dinero;
2. the remaining records are loaded (:meth:`DineroSink.load`), each guarded: a 4xx from Dinero rejects
   that record, a 401/403 stops the run (:class:`~target_dinero.gateway.RunStopped` propagates, so no
   STATE message covers records that were not written), a persistent 5xx on a read aborts the run
   (safe: every write is idempotent, a re-run resumes).

The SDK emits STATE only after every sink drained, so a STATE message always follows the writes of
the records before it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from dinero_api.errors import DineroAPIError, DineroAuthError, DineroUnknownOutcome
from dinero_api.filters import searchable
from dinero_api.sdk_adapter import SdkAdapterSink
from target_dinero.exactly_once import CheckByHand, OutcomeStillUnknown, RedoNextRun
from target_dinero.records import (
    MAX_EXTERNAL_REFERENCE,
    RecordRejected,
    derive_reference,
    normalize_reference,
    plain,
    text_defect,
)

if TYPE_CHECKING:
    from target_dinero.config import StreamOptions
    from target_dinero.run import RunContext

__all__ = ["DELETION_MARKERS", "DineroSink", "Prepared", "in_doubt", "is_deleted_upstream"]


def in_doubt(exc: BaseException) -> bool:
    """Whether ``exc`` leaves the record's write in doubt (it may or may not be in Dinero): an unknown
    outcome the run could not resolve, or a check by hand -- or one the next run redoes when it gets the
    record again (:class:`RedoNextRun`). Such a reject holds back STATE."""
    return isinstance(exc, DineroUnknownOutcome | OutcomeStillUnknown | CheckByHand | RedoNextRun)


@dataclasses.dataclass
class Prepared:
    """A record that passed local validation, with what the sink needs to write it."""

    record: dict[str, Any]
    reference: str
    payload: dict[str, Any]
    book: bool = False
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


#: Fields that mark a row deleted upstream when set (tap-dinero's ``DeletedAt``, Singer's
#: ``_sdc_deleted_at``). The target keeps them through any stream map (``TargetDinero._record``).
DELETION_MARKERS = ("DeletedAt", "_sdc_deleted_at")


def is_deleted_upstream(record: dict[str, Any]) -> bool:
    """Whether ``record`` is a row deleted upstream (any :data:`DELETION_MARKERS` field set)."""
    return any(record.get(name) for name in DELETION_MARKERS)


#: Names in the rejects file of what a sink keeps in ``Prepared.extra`` and sends (the invoice's contact).
_EXTRA_FIELDS = {"contact": "Contact", "contact_name": "ContactName"}


def check_text(item: Prepared) -> None:
    """Reject a record whose text Dinero cannot store (lone surrogates, NUL, control characters), looking
    at everything that will be sent for it -- its payload and its contact -- before the first request."""
    found = text_defect(item.payload)
    for key, name in _EXTRA_FIELDS.items():
        if found is None and item.extra.get(key) is not None:
            found = text_defect(item.extra[key], name)
    attached = item.record.get("File")
    if found is None and isinstance(attached, Mapping):  # the uploaded file's name is sent too
        found = text_defect({"FileName": attached.get("FileName")}, "File")
    if found is not None:
        field, reason = found
        raise RecordRejected(reason, field)


class DineroSink(SdkAdapterSink):
    """Base of the load-type sinks (the SDK steps it changes are in ``dinero_api.sdk_adapter``)."""

    load_type: ClassVar[str] = ""
    #: When the sink drains relative to the others (``TargetDinero.drain_sinks``): contacts and products
    #: (-1), documents (0), invoice payments (1), credit notes (2), credit-note payments (3) -- what a
    #: record acts on is written before it, and an invoice is paid before a credit note lowers what it
    #: still owes.
    drain_phase: ClassVar[int] = 0
    #: Sinks of one family never load at the same time (:meth:`RunContext.write_lock`); default: the
    #: load type. Load types that write the same kind of Dinero object share one.
    write_family: ClassVar[str | None] = None
    #: Records per drain: bounds the work a crash replays and how long STATE waits.
    MAX_SIZE_DEFAULT = 500

    def __init__(
        self, target: Any, stream_name: str, schema: dict, key_properties: Sequence[str] | None
    ) -> None:
        self.run: RunContext = target.run
        self.options: StreamOptions = target.run.options_for(stream_name)
        super().__init__(target=target, stream_name=stream_name, schema=schema, key_properties=key_properties)

    # -- singer-sdk hooks -------------------------------------------------------------------------
    def get_validator(self) -> None:
        """No validation against the *tap's* schema: records are validated against the load type's
        schema in :meth:`prepare`, and a failure rejects that record instead of aborting the run."""
        return None

    def process_batch(self, context: dict) -> None:
        """Validate every record of the batch, then load the valid ones (last record per reference wins)."""
        prepared: dict[str, Prepared] = {}
        # Taken before validating: a list dropped meanwhile (another sink's refusal) re-validates the batch.
        self._validated_at = self.run.reference.generation
        records = context.get("records", [])
        origins = context.get("origins") or []  # "input line N" per record (TargetDinero._record)
        for index, record in enumerate(records):
            if is_deleted_upstream(record):
                where = f" ({origins[index]})" if len(origins) == len(records) else ""
                self.deleted_upstream(record, where)
                continue
            try:
                item = self.prepare(plain(record))
                if item is not None:
                    check_text(item)
            except RecordRejected as exc:
                where = f" ({origins[index]})" if len(origins) == len(records) else ""
                self.run.reject(self.stream_name, record, exc.reason + where, exc.field)
                continue
            if item is None:
                continue
            if item.reference in prepared:
                self.tally_duplicate_merged()
            prepared[item.reference] = item
        if prepared:
            # Look-ups and writes of every load type happen under the organization's lock in the journal
            # store: an overlapping run (or another worker) waits instead of creating the same objects.
            self.run.hold_run_lock()
            # Another stream of the same family, drained in a parallel thread, may hold the same reference
            # (or act on the same document): its look-ups and writes finish before ours start.
            with self.run.write_lock(self.write_family or self.load_type):
                self.load(list(prepared.values()))

    # -- for subclasses -----------------------------------------------------------------------------
    def deleted_upstream(self, record: dict[str, Any], where: str) -> None:
        """A row deleted upstream (tap-dinero emits them with ``DeletedAt`` / ``_sdc_deleted_at``): nothing
        to create, counted as ``skipped_deleted``. The target never deletes in Dinero (booked documents
        cannot be deleted anyway; a deleted draft upstream leaves its copy, if any, as it is)."""
        self.count("skipped_deleted")

    def prepare(self, record: dict[str, Any]) -> Prepared | None:
        """Validate and shape one record (raise :class:`RecordRejected` to reject it)."""
        raise NotImplementedError

    def load(self, items: list[Prepared]) -> None:
        """Write the prepared records; the default loads them one by one, guarded."""
        for item in items:
            self.guarded(item.record, lambda item=item: self.load_one(self.still_valid(item)))

    def still_valid(self, item: Prepared) -> Prepared:
        """``item``, validated again when a refusal by Dinero dropped a reference list it was checked
        against (an account deleted since the kept chart was read): it is then rejected locally
        (:class:`RecordRejected`) instead of costing another 400."""
        if self.run.reference.generation == getattr(self, "_validated_at", self.run.reference.generation):
            return item
        again = self.prepare(plain(item.record))
        return item if again is None else again

    def load_one(self, item: Prepared) -> None:
        """Write one prepared record."""
        raise NotImplementedError

    # -- helpers ----------------------------------------------------------------------------------
    def reference_for(self, record: Mapping[str, Any]) -> str:
        """The ExternalReference: the record's own, the configured field, or stream + primary key.

        Returned in its identity form (:func:`~target_dinero.records.normalize_reference`: NFC, trimmed),
        which is what is sent to Dinero and what every "does it exist" look-up compares exactly. A
        reference with a line break or NUL is rejected: Dinero's queryFilter cannot search for it, so the
        target could not recognise the object on a re-run.
        """
        reference = normalize_reference(self._reference(record))
        if any(ch in reference for ch in ("\r", "\n", "\x00")):
            raise RecordRejected(
                f"ExternalReference {reference!r} contains a line break or NUL character: Dinero's "
                "queryFilter cannot search for it, so a re-run could not recognise the object",
                "ExternalReference",
            )
        if not reference:
            raise RecordRejected("ExternalReference is blank", "ExternalReference")
        if not searchable(reference):
            raise RecordRejected(
                f"ExternalReference {reference!r} has nothing but quotes and backslashes: it cannot be "
                "looked up whatever Dinero's queryFilter escaping is, so a re-run could not recognise it",
                "ExternalReference",
            )
        if len(reference) > MAX_EXTERNAL_REFERENCE:
            raise RecordRejected(
                f"ExternalReference is longer than {MAX_EXTERNAL_REFERENCE} characters", "ExternalReference"
            )
        return reference

    def _reference(self, record: Mapping[str, Any]) -> str:
        own = record.get("ExternalReference")
        if own not in (None, "") and normalize_reference(own):
            return str(own)
        field = self.options.external_reference_field
        if field:
            value = record.get(field)
            if value in (None, "") or isinstance(value, Mapping | list) or not normalize_reference(value):
                raise RecordRejected(f"{field} (external_reference_field) is empty or not a value", field)
            text = normalize_reference(value)
            if len(text) <= MAX_EXTERNAL_REFERENCE:
                return text
            return derive_reference(self.run.reference_prefix, self.stream_name, [value])
        if not self.key_properties:
            raise RecordRejected(
                "record has no ExternalReference and the stream has no key properties: the target could "
                "not recognise it on a re-run. Set ExternalReference, key_properties or "
                "external_reference_field.",
                "ExternalReference",
            )
        values = [record.get(k) for k in self.key_properties]
        for name, value in zip(self.key_properties, values, strict=True):
            if value is None or (not isinstance(value, Mapping | list) and normalize_reference(value) == ""):
                raise RecordRejected(
                    f"key property missing: {name} (key properties: {', '.join(self.key_properties)})", name
                )
            if isinstance(value, Mapping | list):
                raise RecordRejected(f"key property {name} is an object or array, not a value", name)
        return derive_reference(self.run.reference_prefix, self.stream_name, values)

    def from_another_organization(self, record: Mapping[str, Any]) -> bool:
        """True when the record was read from another Dinero organization (tap-dinero's
        ``organization_id`` column): its Guids name that organization's objects, which do not exist here."""
        source = record.get("organization_id")
        return source not in (None, "") and str(source) != str(self.run.organization_id)

    def without_foreign_guids(self, record: dict[str, Any], *fields: str) -> dict[str, Any]:
        """``record`` without the Guids in ``fields`` when it comes from another organization (the
        document it names is then found by its ExternalReference in this one)."""
        if not self.from_another_organization(record):
            return record
        return {key: value for key, value in record.items() if key not in fields}

    def book_wanted(self, record: Mapping[str, Any]) -> bool:
        """``Book`` of the record when set, else the stream's ``book`` setting."""
        value = record.get("Book")
        return self.options.book if value is None else bool(value)

    def count(self, outcome: str, n: int = 1) -> None:
        """Tally an outcome of this stream."""
        self.run.report.count(self.stream_name, outcome, n)

    def rejection(self, exc: BaseException) -> tuple[str, str | None] | None:
        """(reason, field) when ``exc`` means "this record cannot be loaded"; None when the run must stop.

        Local refusals and Dinero's 4xx reject the record; a lost answer (unknown outcome) rejects it too
        (a re-run checks before creating). 401/403 (RunStopped), 429 after the wait limit, persistent
        5xx on reads and bugs propagate: the run stops without a STATE covering unwritten records.
        """
        if isinstance(exc, RecordRejected):
            return exc.reason, exc.field
        if isinstance(exc, DineroAuthError):
            return None
        if isinstance(exc, DineroUnknownOutcome):
            return (
                f"Dinero's answer was lost ({exc}); the object may or may not exist. A re-run checks before "
                "creating anything.",
                None,
            )
        if isinstance(exc, DineroAPIError):
            status = exc.status_code or 0
            if 400 <= status < 500 and status != 429:
                field = next(iter(exc.validation_errors), None) if exc.validation_errors else None
                dropped = self.run.reference.after_refusal(exc)
                if dropped:
                    self.run.logger.warning(
                        "Dinero refused a record naming %s: reading %s from Dinero again before the next "
                        "record (a kept list may be stale)",
                        field or "a field",
                        ", ".join(dropped),
                    )
                return f"Dinero refused it: {exc}", field
        return None

    def guarded(self, record: Mapping[str, Any], action: Callable[[], None]) -> None:
        """Run ``action``; turn a refusal into a reject of ``record`` (see :meth:`rejection`)."""
        try:
            action()
        except Exception as exc:
            verdict = self.rejection(exc)
            if verdict is None:
                raise
            self.run.reject(self.stream_name, record, *verdict, in_doubt=in_doubt(exc))
            if isinstance(exc, DineroAPIError) and not isinstance(exc, DineroUnknownOutcome):
                self.run.refused(self.stream_name, exc)  # a refusal that repeats stops the run
