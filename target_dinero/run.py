"""What the sinks of one run share: the gateway, reference data, look-up caches, journal, rejects, report.

Sinks are flushed in parallel threads by singer-sdk, and a schema change replaces a sink mid-run, so
nothing that must be fetched once per run or shared between streams lives on a sink: it lives here,
behind locks.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dinero_api.settings import DEFAULT_QUOTA_DIR, setting
from target_dinero.config import (
    StreamOptions,
    UnmappedStreamError,
    parse_streams,
    unmapped_stream_message,
)
from target_dinero.contacts import ContactResolver
from target_dinero.gateway import DineroGateway
from target_dinero.journal import VoucherJournal
from target_dinero.reference_data import ReferenceData
from target_dinero.rejects import RejectsFile
from target_dinero.remote_index import RemoteIndex
from target_dinero.report import RunReport

__all__ = ["RunContext"]

#: ContactGuid: the credit notes of an invoice are found among its contact's (sales_credit_note)
#: ``Currency`` and the two totals give a document's exchange rate (a foreign payment's DKK is checked
#: against it: target_dinero.sinks.settlement); the detail read model has no DKK total.
#: TotalInclVat, Date and Currency tell whether a booked invoice still matches its record (no extra request).
INVOICE_INDEX_FIELDS = (
    "Guid",
    "ExternalReference",
    "Status",
    "UpdatedAt",
    "DeletedAt",
    "ContactGuid",
    "Currency",
    "TotalInclVat",
    "TotalInclVatInDkk",
    "Date",
)
PRODUCT_INDEX_FIELDS = (
    "ProductGuid",
    "ExternalReference",
    "Name",
    "ProductNumber",
    "BaseAmountValue",
    "Quantity",
    "AccountNumber",
    "Unit",
    "DeletedAt",
)


def refusal_signature(exc: Any) -> tuple[Any, ...]:
    """What makes two refusals "the same": status, Dinero's code, the fields named (indexes dropped)."""
    fields = sorted({re.sub(r"\[\d+\]", "[]", str(k)) for k in getattr(exc, "validation_errors", {}) or {}})
    return (getattr(exc, "status_code", None), getattr(exc, "code", None), tuple(fields))


class RunContext:
    """State of one target run, shared by all sinks."""

    def __init__(self, config: Mapping[str, Any], logger: logging.Logger, schema: Mapping[str, Any]) -> None:
        """``schema``: the target's settings schema, where every default is written (and read from)."""
        self.config = config
        self.schema = schema
        self.logger = logger
        self.streams, self.config_errors = parse_streams(config)
        self.dry_run = bool(self.setting("dry_run"))
        self.reference_prefix = str(self.setting("external_reference_prefix"))
        self.max_rejects = int(self.setting("max_rejects"))
        self.gateway = DineroGateway(config, dry_run=self.dry_run)
        # accounts, VAT codes, years: kept between runs in the journal store (reference_cache_seconds)
        self.reference = ReferenceData(
            self.gateway,
            store=lambda: self.markers,
            max_age=float(self.setting("reference_cache_seconds")),
        )
        self.contacts = ContactResolver(self.gateway, reference_prefix=self.reference_prefix)
        self.contacts.run = self
        self.rejects = RejectsFile(self.setting("rejects_file"))
        self.report = RunReport()
        self._lock = threading.Lock()
        self._journal: VoucherJournal | None = None
        self._markers: VoucherJournal | None = None
        self.commit_horizon = float(self.setting("commit_horizon_seconds"))
        self.voucher_receipts = bool(self.setting("voucher_receipts"))
        self.file_index = None  # built lazily by target_dinero.exactly_once.FileIndex
        self._invoice_index: RemoteIndex | None = None
        self._product_index: RemoteIndex | None = None
        self._out_lock = threading.Lock()
        self.journal_lock = threading.Lock()
        self.journal_confirmed = False  # see VoucherWriter.confirm_journal
        self._refusals: dict[tuple[Any, ...], int] = {}
        self._write_locks: dict[str, threading.Lock] = {}
        #: records whose write is in doubt (see :meth:`reject`): while > 0, no STATE is emitted
        self.state_held = 0

    # -- configuration ------------------------------------------------------------------------

    def setting(self, name: str) -> Any:
        """A target setting, else its default from the target's schema (written there only)."""
        return setting(self.config, self.schema, name)

    def options_for(self, stream: str) -> StreamOptions:
        """The load options of ``stream``; an unmapped stream is an error naming it and the options."""
        options = self.streams.get(stream)
        if options is None:
            raise UnmappedStreamError(unmapped_stream_message(stream, self.streams))
        return options

    @property
    def organization_id(self) -> str:
        """The Dinero organization loaded into."""
        return self.gateway.organization_id

    # -- shared lazily built objects ------------------------------------------------------------
    @property
    def journal(self) -> VoucherJournal:
        """The voucher journal of this organization (see :mod:`target_dinero.journal`)."""
        with self._lock:
            if self._journal is None:
                store, legacy = self._store_location()
                self._journal = VoucherJournal(
                    store, namespace=self.journal_namespace, legacy_jsonl=legacy, read_only=self.dry_run
                )
            return self._journal

    @property
    def markers(self) -> VoucherJournal:
        """Pending/done markers of invoice, contact and product writes (same store, own namespace)."""
        with self._lock:
            if self._markers is None:
                store, _ = self._store_location()
                self._markers = VoucherJournal(
                    store,
                    namespace=self.journal_namespace + "#objects",
                    lock_namespace=self.journal_namespace,
                    read_only=self.dry_run,
                )
            return self._markers

    def write_lock(self, family: str) -> threading.Lock:
        """The lock every sink writing objects of ``family`` holds while it loads a batch.

        singer-sdk drains the sinks of one phase in parallel threads, and the organization's run lock is
        held by the whole process, so two streams of one load type (the same ``ExternalReference`` in
        both, or refunds of one invoice) would each find the object missing and each create it -- a twin
        manual or purchase voucher, a second full credit note. Sinks of one family load one at a time;
        other families still drain side by side.
        """
        with self._lock:
            return self._write_locks.setdefault(family, threading.Lock())

    def hold_run_lock(self) -> None:
        """Take the organization's lock in the journal store before the first look-up of a load.

        Every load type's look-ups and writes happen under it, so two overlapping runs (or two workers
        sharing the store) never both find an object missing and both create it.
        """
        if not self.dry_run:
            self.journal.hold_run_lock()

    @property
    def journal_namespace(self) -> str:
        """``<api host>/<organization>``: one store can hold the journals of many organizations."""
        host = re.sub(r"[^A-Za-z0-9.-]+", "_", urlsplit(self.gateway.settings.api_url).netloc or "dinero")
        return f"{host}/{self.organization_id}"

    def _store_location(self) -> tuple[str, Path]:
        legacy = self._ledger_path()
        store = self.config.get("journal_store")
        if store:
            return str(store), legacy
        return str(legacy.with_suffix(".sqlite3")), legacy

    def _ledger_path(self) -> Path:
        if self.config.get("ledger_file"):
            return Path(str(self.config["ledger_file"])).expanduser()
        settings = self.gateway.settings
        backend = str(settings.quota_backend)
        if backend == "memory" or "://" in backend:
            backend = str(self.config.get("quota_cache_dir") or DEFAULT_QUOTA_DIR)
        host = re.sub(r"[^A-Za-z0-9.-]+", "_", urlsplit(settings.api_url).netloc or "dinero")
        return Path(backend).expanduser() / f"target-dinero-ledger-{host}-{self.organization_id}.jsonl"

    @property
    def invoice_index(self) -> RemoteIndex:
        """Existing invoices by ExternalReference."""
        with self._lock:
            if self._invoice_index is None:
                self._invoice_index = RemoteIndex(self.gateway, "/v1/{org}/invoices", INVOICE_INDEX_FIELDS)
            return self._invoice_index

    @property
    def product_index(self) -> RemoteIndex:
        """Existing products by ExternalReference."""
        with self._lock:
            if self._product_index is None:
                self._product_index = RemoteIndex(self.gateway, "/v1/{org}/products", PRODUCT_INDEX_FIELDS)
            return self._product_index

    # -- outcomes -------------------------------------------------------------------------------
    def reject(
        self, stream: str, record: Any, reason: str, field: str | None = None, *, in_doubt: bool = False
    ) -> None:
        """Send a record to the rejects file and count it.

        ``in_doubt``: the record's write may or may not have happened (an unknown outcome the run could not
        resolve, a check by hand). No STATE is emitted after it for the rest of the run
        (:attr:`state_held`): an orchestrator would save that STATE and the tap would never send the record
        again, so the "re-run looks again" the reason promises would never come.
        """
        self.rejects.write(stream, record, reason, field)
        self.report.count(stream, "rejected")
        self.logger.warning("Rejected a record of %s: %s", stream, reason)
        if in_doubt:
            with self._lock:
                self.state_held += 1

    def refused(self, stream: str, exc: BaseException, records: int = 1) -> None:
        """Count a Dinero refusal (4xx) that rejected ``records`` records; stop the whole run once the same
        refusal (:func:`refusal_signature`) has come ``max_consecutive_refusals`` times, consecutive or not.

        Dinero revokes integrations that cause many 400s, and a refusal that repeats is a defect of the
        input or the mapping, not of one record (the records refused so far are in the rejects file; a
        re-run after the fix resumes). ``dinero_api``'s breaker counts refusals in a row per endpoint;
        this one counts the same refusal across endpoints and successes in between.

        The stop goes through the gateway's switch, so no sink sends another request, and no STATE covers
        the records not tried. Raises :class:`~target_dinero.gateway.RunStopped`.
        """
        signature = refusal_signature(exc)
        with self._lock:
            self._refusals[signature] = self._refusals.get(signature, 0) + max(records, 1)
            count = self._refusals[signature]
        limit = int(self.setting("max_consecutive_refusals"))
        if count >= limit:
            reason = (
                f"Dinero refused {count} requests of this run with the same error "
                f"(max_consecutive_refusals is {limit}; the last on stream {stream}: {exc}); stopping so "
                "as not to provoke more 400 answers (Dinero revokes integrations that do). The refused "
                "records are in the rejects file: fix the input or mapping and re-run."
            )
            raise self.gateway.stop(exc, reason)  # the CLI prints it as the run's one line

    def plan(self, action: str, load_type: str, stream: str, reference: str | None, payload: Any) -> None:
        """Dry run: print what would be sent (to stderr: stdout carries the Singer STATE messages)."""
        from target_dinero.records import json_value, plain

        options = self.streams.get(stream)
        suffix = "" if options is None or options.load_as == load_type else f"_{load_type}"
        self.report.count(stream, f"would_{action}{suffix}")
        line = json.dumps(
            {
                "dry_run": True,
                "action": action,
                "load_as": load_type,
                "stream": stream,
                "external_reference": reference,
                "payload": json_value(plain(payload)),
            },
            ensure_ascii=False,
            default=str,
        )
        with self._out_lock:
            sys.stderr.write(f"target-dinero dry run: {line}\n")
            sys.stderr.flush()

    def summary(self) -> dict[str, Any]:
        """What the run did, per stream, plus the requests the client sent."""
        return {
            "dry_run": self.dry_run,
            "streams": self.report.as_dict(),
            "rejected": self.rejects.count,
            "max_rejects": self.max_rejects,
            "rejects_file": str(self.rejects.path) if self.rejects.count and self.rejects.path else None,
            "contacts_created": self.contacts.created,
            "requests": self.gateway.requests_sent,
            "notes": list(self.report.notes),
        }
