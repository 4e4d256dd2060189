"""Sales documents: invoices, sales credit notes and trade offers, each with its product lines.

The documents are incremental (``changesSince`` + a ``deletedOnly`` pass). Lists carry no product lines
(REFERENCE §3.3), so for each live document the parent emits in this run -- i.e. only for documents that
changed, never for deleted ones -- the parent stream reads ``GET .../{guid}`` exactly once and:

* nests the detail's ``ProductLines``, ``TotalLines`` and ``ShowLinesInclVat`` (which says whether the
  lines' prices include VAT) in the document record, and every other detail field the list lacks (an
  invoice's ``Comment``, ``Address``, payment terms, ``Language``, ``TotalVat``, ``PaymentStatus``; a
  credit note's ``CreditNoteFor``; a trade offer's ``GeneratedVouchers`` and ``History``), so the record
  is the complete document, ``InvoiceCreateModel``-shaped (target-dinero's ``invoice`` load type takes it
  as is);
* hands the same lines to the line stream (``invoice_lines`` ...) in the child context; the line stream
  makes no request of its own. Lines are keyed by the document's Guid and the line's position.

A line removed from a draft keeps its old row (same key) in an upserting target, so documents and lines
carry ``_sdc_synced_at``, the start of the run that read the document: a document's current lines are
its line rows with the document's value (none for a deleted document).

A document a stream map filters out (on its list fields) is not read in detail. Set
``include_lines: false`` to skip the detail calls altogether: document records then have no
``ProductLines`` and the line streams do not exist.

Payments (``invoice_payments``, ``sales_credit_note_payments``) are child streams too, read for the same
documents (live, kept by the stream maps, emitted in this run) that are booked: one ``GET .../payments``
per document, made by the payment stream itself, so it costs nothing when the stream is not selected or
``include_payments`` is false. Drafts are skipped without a request (Dinero pays booked vouchers only).
Registering or deleting a payment changes the document (Timestamp, ``PaymentStatus``, ``UpdatedAt``), so
the changed documents are exactly the ones whose payments can have changed.
"""

from __future__ import annotations

import logging
import typing as t
from functools import cached_property
from urllib.parse import quote

from singer_sdk.exceptions import FatalAPIError

from dinero_api.dates import utc_now
from dinero_api.errors import DineroAPIError, DineroGone, raise_for_response
from tap_dinero.client import TAP_COLUMNS, DetailStream, DineroStream
from tap_dinero.incremental import ChangesSinceStream
from tap_dinero.pagination import page_records
from tap_dinero.schemas import list_fields

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

__all__ = [
    "DETAIL_FIELDS",
    "CreditNoteLinesStream",
    "CreditNotePaymentsStream",
    "CreditNotesStream",
    "InvoiceLinesStream",
    "InvoicePaymentsStream",
    "InvoicesStream",
    "TradeOfferLinesStream",
    "TradeOffersStream",
]

#: Fields of a document record taken from its detail (not list fields: never sent in ``fields``).
DETAIL_FIELDS = ("ShowLinesInclVat", "ProductLines", "TotalLines")
#: Child-context key carrying the document's lines to its line stream (removed before the child syncs).
LINES_KEY = "product_lines"
#: Child-context key carrying the document's ``Status`` to its payment stream (removed likewise).
STATUS_KEY = "document_status"
#: Child-context key carrying the document's ``UpdatedAt`` (when a payment deleted from it was deleted, at
#: the latest) to its payment stream (removed likewise).
UPDATED_KEY = "document_updated_at"
#: Child-context key carrying the document's ``_sdc_synced_at`` to its line stream (removed likewise).
SYNCED_KEY = "document_synced_at"
#: Every payload key a parent puts in the child context; each child stream removes them all.
PAYLOAD_KEYS = (LINES_KEY, STATUS_KEY, UPDATED_KEY, SYNCED_KEY)
#: Payment streams' partition-state key: document Guid -> its payment Guids as last emitted (space-joined).
PAYMENTS_KEY = "payments"
#: ``_sdc_synced_at`` of documents and their lines: a document's current lines are its line rows with the
#: document's value (a removed line's row stays in an upserting target, with an older value).
SYNCED_AT = {
    "type": "string",
    "format": "date-time",
    "description": "Start (UTC) of the sync run that read the document; a document's current lines are its "
    "line rows with the document's _sdc_synced_at (tap-added)",
}


class _SalesDocumentStream(ChangesSinceStream):
    """A sales document list whose live rows are completed from one detail read each."""

    primary_keys: t.ClassVar[list[str]] = ["organization_id", "Guid"]
    #: ``GET`` path of one document (``{organization_id}`` and ``{guid}`` are filled in).
    detail_path: t.ClassVar[str]
    #: True for documents that can be paid (invoices, credit notes): they have a payment child stream.
    has_payment_stream: t.ClassVar[bool] = False

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """Start outside a detail read; every document of this run carries the same read time."""
        super().__init__(*args, **kwargs)
        self._reading_detail = False
        self._synced_at = utc_now().isoformat()

    @classmethod
    def build_schema(cls) -> dict[str, t.Any]:
        """The read model plus ``_sdc_synced_at`` (see :data:`SYNCED_AT`)."""
        schema = super().build_schema()
        schema["properties"]["_sdc_synced_at"] = dict(SYNCED_AT)
        return schema

    @property
    def api_fields(self) -> list[str]:
        """The list fields of the schema (detail-only fields cannot be asked of the list)."""
        detail_only = set(self.detail_only_fields)
        return [name for name in super().api_fields if name not in detail_only]

    @cached_property
    def detail_only_fields(self) -> tuple[str, ...]:
        """The schema's properties the list cannot carry, taken from the detail read: the lines and totals
        (:data:`DETAIL_FIELDS`) and every other field of the detail model the list model lacks -- an
        invoice's ``Comment``, ``Address``, payment terms, ``TotalVat``, ``PaymentStatus``, a credit note's
        ``CreditNoteFor``, a trade offer's ``GeneratedVouchers`` and ``History``. The detail is read for
        the lines anyway; these fields were read and dropped before."""
        listed = set(list_fields(self.schema_name) or ())
        return tuple(
            name for name in self.schema["properties"] if name not in listed and name not in TAP_COLUMNS
        )

    def unemitted_properties(self) -> set[str]:
        """The deselected properties, plus the detail's fields when no detail is read (``include_lines``
        false): turning lines on later then reads every document once more."""
        left_out = super().unemitted_properties()
        if not self.dinero_tap.include_lines:
            left_out.update(self.detail_only_fields)
        return left_out

    # ------------------------------------------------------------------------------ detail
    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Nest the detail's lines and totals in a live document's record (one GET per document)."""
        row = super().post_process(row, context) or row
        row["_sdc_synced_at"] = self._synced_at
        if self._wants_detail(row):
            detail = self.read_detail(context, str(row["Guid"]))
            if detail is not None:
                row.update(self.detail_fields(detail))
            self.note_incomplete(str(row["Guid"]), complete=detail is not None)
        return row

    def detail_fields(self, detail: dict[str, t.Any]) -> dict[str, t.Any]:
        """The detail-only fields of a detail (see :attr:`detail_only_fields`; null where the detail has
        none), each line of ``ProductLines``/``TotalLines`` cut to the schema's line properties."""
        lowered = {str(key).lower(): value for key, value in detail.items()}
        fields: dict[str, t.Any] = {name: lowered.get(name.lower()) for name in self.detail_only_fields}
        known_lower = {name.lower() for name in self.schema["properties"]}
        unknown = [key for key in detail if str(key).lower() not in known_lower]
        if unknown:  # a field of the detail no schema has: left out, but named once
            self.warn_unknown_fields(unknown)
        for name in ("ProductLines", "TotalLines"):
            items = fields[name]
            if not isinstance(items, list):
                fields[name] = [] if name == "ProductLines" else None  # TotalLines only where Dinero has them
                continue
            known = self.schema["properties"][name]["items"]["properties"]
            fields[name] = [
                self.schema_fields_of(item, known, name) for item in items if isinstance(item, dict)
            ]
        return fields

    def _wants_detail(self, row: dict[str, t.Any]) -> bool:
        """Lines are on, the row is live, and some stream map keeps it (a filter on list fields)."""
        return self.dinero_tap.include_lines and self._live_and_kept(row)

    def _live_and_kept(self, row: dict[str, t.Any]) -> bool:
        """The row is live (not from the deletion pass) and some stream map keeps it."""
        if self._deleted_pass or row.get("DeletedAt"):
            return False
        for stream_map in self.stream_maps:
            try:
                if stream_map.get_filter_result(row):
                    return True
            except Exception:  # a filter that needs detail fields: read the detail
                return True
        return False

    def read_detail(self, context: Context | None, guid: str) -> dict[str, t.Any] | None:
        """``GET`` one document through the stream's session (quota, retries, request count).

        A document that vanished between the list and the detail call (404, or Dinero error 63/65 "item
        is deleted") is skipped with a warning: None. The caller notes the row incomplete, so unless the
        deletion pass shows the document deleted, the bookmark stays and the next run reads it again.
        """
        path = self.detail_path.replace("{organization_id}", self.organization_for(context))
        url = self.url_base + path.replace("{guid}", quote(guid, safe=""))
        prepared = self.build_prepared_request(method="GET", url=url, params={}, headers=self.http_headers)
        self._reading_detail = True
        try:
            response = self.send_prepared(prepared, context)
        finally:
            self._reading_detail = False
        if response.status_code >= 400:
            return None
        records = page_records(response)  # parsed (money as Decimal) and cached by the JSON check
        return records[0] if records and isinstance(records[0], dict) else None

    def validate_response(self, response: requests.Response) -> None:
        """List pages fail on any error; a detail that vanished is let through (see read_detail)."""
        if not self._reading_detail:
            super().validate_response(response)
            return
        try:
            raise_for_response(response)
        except DineroAPIError as exc:
            if isinstance(exc, DineroGone):
                self.logger.warning("Skipping the lines of a %s document: %s", self.name, exc)
                return
            raise FatalAPIError(str(exc)) from exc

    # ------------------------------------------------------------------------------ children
    @cached_property
    def _any_child_selected(self) -> bool:
        """Whether a child stream (lines, payments) is selected: read once, the selection is fixed."""
        return any(child.selected or child.has_selected_descendents for child in self.child_streams)

    def generate_child_contexts(
        self, record: dict[str, t.Any], context: Context | None
    ) -> t.Iterable[Context | None]:
        """One child context per live document emitted in this run: its lines (when read in detail)
        for the line stream, its ``Status`` for the payment stream."""
        if not self._any_child_selected:
            return  # no line or payment stream selected: no child context per row (and no SDK walk)
        has_payments = self.has_payment_stream and self.dinero_tap.include_payments
        if "ProductLines" not in record and not (has_payments and self._live_and_kept(record)):
            return  # a deleted document, a filtered-out one, or a detail that vanished (and no payments)
        child: dict[str, t.Any] = {
            "organization_id": self.organization_for(context),
            "document_guid": str(record["Guid"]),
        }
        if "ProductLines" in record:
            child[LINES_KEY] = list(record.get("ProductLines") or [])
            child[SYNCED_KEY] = self._synced_at
        if has_payments:
            child[STATUS_KEY] = record.get("Status")
            child[UPDATED_KEY] = record.get("UpdatedAt")
        yield child


class _LinesStream(DineroStream):
    """``ProductLines`` of one document, one row per line, taken from the parent's detail read.

    The parent passes the lines in the child context; :meth:`preprocess_context` takes them out before
    the SDK freezes, logs and partitions the context, so state and metrics see only the organization and
    the document Guid. No request is made here.
    """

    #: Column naming the parent document in each line row.
    parent_key: t.ClassVar[str]
    state_partitioning_keys: t.ClassVar[list[str]] = ["organization_id"]

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """Start with no document."""
        super().__init__(*args, **kwargs)
        self._document_guid: str | None = None
        self._lines: list[dict[str, t.Any]] = []
        self._document_synced_at: str | None = None

    @classmethod
    def build_schema(cls) -> dict[str, t.Any]:
        """The line read model plus ``_sdc_synced_at``: the document's (see :data:`SYNCED_AT`)."""
        schema = super().build_schema()
        schema["properties"]["_sdc_synced_at"] = dict(SYNCED_AT)
        return schema

    def log(self, message: str, *args: t.Any, level: int = logging.INFO, **kwargs: t.Any) -> None:
        """The SDK's per-sync INFO lines go to DEBUG here: a line stream is synced once per document."""
        super().log(message, *args, level=logging.DEBUG if level == logging.INFO else level, **kwargs)

    def preprocess_context(self, context: Context) -> Context:
        """Keep the document's lines aside; the context keeps the organization and document Guid."""
        context = dict(context)
        self._lines = list(context.pop(LINES_KEY, None) or [])
        self._document_synced_at = context.get(SYNCED_KEY)
        for key in PAYLOAD_KEYS:
            context.pop(key, None)
        self._document_guid = str(context.get("document_guid"))
        return context

    def get_partition_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """The handed-over lines with the document Guid and the line position, cut to the schema."""
        known = self.schema["properties"]
        lines, self._lines = self._lines, []
        for position, line in enumerate(lines):
            row = {key: value for key, value in line.items() if key in known}
            yield {
                **row,
                self.parent_key: self._document_guid,
                "LinePosition": position,
                "_sdc_synced_at": self._document_synced_at,
            }


class InvoicesStream(_SalesDocumentStream):
    """Invoices (drafts and booked): ``GET /v1/{org}/invoices``, lines from ``/invoices/{guid}``."""

    name = "invoices"
    path = "/v1/{organization_id}/invoices"
    detail_path = "/v1/{organization_id}/invoices/{guid}"
    schema_name = "invoice"
    has_payment_stream = True


class InvoiceLinesStream(_LinesStream):
    """Product lines of changed invoices, from the detail the ``invoices`` stream read."""

    name = "invoice_lines"
    path = InvoicesStream.detail_path
    schema_name = "invoice_line"
    parent_stream_type = InvoicesStream
    parent_key = "InvoiceGuid"
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "InvoiceGuid", "LinePosition"]


class CreditNotesStream(_SalesDocumentStream):
    """Sales credit notes: ``GET /v1/{org}/sales/creditnotes``, lines from ``.../{guid}``."""

    name = "sales_credit_notes"
    path = "/v1/{organization_id}/sales/creditnotes"
    detail_path = "/v1/{organization_id}/sales/creditnotes/{guid}"
    schema_name = "sales_credit_note"
    has_payment_stream = True


class CreditNoteLinesStream(_LinesStream):
    """Product lines of changed credit notes, from the detail the ``sales_credit_notes`` stream read."""

    name = "credit_note_lines"
    path = CreditNotesStream.detail_path
    schema_name = "sales_credit_note_line"
    parent_stream_type = CreditNotesStream
    parent_key = "CreditNoteGuid"
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "CreditNoteGuid", "LinePosition"]


class TradeOffersStream(_SalesDocumentStream):
    """Trade offers (quotes): ``GET /v1/{org}/tradeoffers``, lines from ``.../{guid}``."""

    name = "trade_offers"
    path = "/v1/{organization_id}/tradeoffers"
    detail_path = "/v1/{organization_id}/tradeoffers/{guid}"
    schema_name = "trade_offer"


class TradeOfferLinesStream(_LinesStream):
    """Product lines of changed trade offers, from the detail the ``trade_offers`` stream read."""

    name = "trade_offer_lines"
    path = TradeOffersStream.detail_path
    schema_name = "trade_offer_line"
    parent_stream_type = TradeOffersStream
    parent_key = "TradeOfferGuid"
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "TradeOfferGuid", "LinePosition"]


class _PaymentsStream(DetailStream):
    """Payments of one booked document, one row per payment: ``GET .../{guid}/payments``.

    The answer (``InvoicePaymentsModel``) is one object per document: its ``Payments`` become rows, each
    carrying the document's Guid and the answer's totals (``PaidAmount``, ``RemainingAmount``,
    ``InvoiceTotalIncludingReminderExpenses``, ``RemainderAsFeeAvailable``) as of this read.

    Deleted payments: Dinero answers live payments only, but deleting a payment changes its document, so
    the document is read again in the next run. The partition state keeps, per document with payments,
    the Guids of the payments last emitted (``payments``: document Guid -> space-joined payment Guids,
    about 80 bytes per document with payments); a Guid that was there and is missing from the new read is
    emitted once as deleted -- key columns, ``DeletedAt`` and ``_sdc_deleted_at`` set to the document's
    ``UpdatedAt`` (Dinero does not say when the payment went; the document changed then at the latest) --
    the tap's deletion convention of the incremental streams. A read that failed (the document vanished)
    concludes nothing.
    """

    #: Column naming the parent document in each payment row.
    parent_key: t.ClassVar[str]

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """Start with no document; every row of this run carries the same read time."""
        super().__init__(*args, **kwargs)
        self._document_guid: str | None = None
        self._document_status: str | None = None
        self._document_updated_at: str | None = None
        self._read_ok = False
        self._synced_at = utc_now().isoformat()

    @classmethod
    def build_schema(cls) -> dict[str, t.Any]:
        """The payment read model plus ``_sdc_synced_at``: the rows of a document's latest read are its
        current payments (Dinero does not list deleted ones)."""
        schema = super().build_schema()
        schema["properties"]["_sdc_synced_at"] = {
            "type": "string",
            "format": "date-time",
            "description": "Start (UTC) of the sync run that read the document's payments (tap-added)",
        }
        for name in ("DeletedAt", "_sdc_deleted_at"):
            schema["properties"][name] = {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "Set on a payment that was emitted before and is gone from its document: "
                "the document's UpdatedAt when that was seen (tap-added; null while the payment exists)",
            }
        return schema

    def preprocess_context(self, context: Context) -> Context:
        """Keep the document's status aside (and drop the lines meant for the line stream)."""
        context = dict(context)
        self._document_status = context.get(STATUS_KEY)
        self._document_updated_at = context.get(UPDATED_KEY)
        for key in PAYLOAD_KEYS:
            context.pop(key, None)
        self._document_guid = str(context.get("document_guid"))
        return context

    def get_partition_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """The document's payments; nothing (and no request) for a draft, which cannot be paid."""
        if not self.dinero_tap.include_payments or str(self._document_status or "").lower() == "draft":
            return
        document = str(self._document_guid)
        state = self.get_context_state(context)
        emitted: dict[str, str] = state.setdefault(PAYMENTS_KEY, {})
        before = emitted.get(document, "").split()
        self._read_ok = False
        now: list[str] = []
        for row in self.request_records(context):
            now.append(str(row.get("Guid")))
            yield row
        if not self._read_ok:
            return  # the document vanished (or the answer was not a payments object): nothing concluded
        deleted_at = self._document_updated_at or self._synced_at
        for guid in before:
            if guid not in now:
                yield {
                    self.parent_key: document,
                    "Guid": guid,
                    "DeletedAt": deleted_at,
                    "_sdc_deleted_at": deleted_at,
                    "_sdc_synced_at": self._synced_at,
                }
        if now:
            emitted[document] = " ".join(now)
        else:
            emitted.pop(document, None)

    def parse_detail(self, detail: dict[str, t.Any]) -> t.Iterable[dict[str, t.Any]]:
        """One row per payment with the document Guid and the answer's totals."""
        if not isinstance(detail, dict):
            return
        self._read_ok = True
        totals = {key: value for key, value in detail.items() if key != "Payments"}
        for payment in detail.get("Payments") or []:
            if isinstance(payment, dict):
                yield {
                    **totals,
                    **payment,
                    self.parent_key: self._document_guid,
                    "DeletedAt": None,
                    "_sdc_deleted_at": None,
                    "_sdc_synced_at": self._synced_at,
                }


class InvoicePaymentsStream(_PaymentsStream):
    """Payments registered on changed booked invoices: ``GET /v2/{org}/invoices/{guid}/payments``."""

    name = "invoice_payments"
    path = "/v2/{organization_id}/invoices/{document_guid}/payments"
    schema_name = "invoice_payment"
    parent_stream_type = InvoicesStream
    parent_key = "InvoiceGuid"
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "InvoiceGuid", "Guid"]


class CreditNotePaymentsStream(_PaymentsStream):
    """Refunds paid on changed booked credit notes: ``GET /v1/{org}/sales/creditnotes/{guid}/payments``."""

    name = "sales_credit_note_payments"
    path = "/v1/{organization_id}/sales/creditnotes/{document_guid}/payments"
    schema_name = "sales_credit_note_payment"
    parent_stream_type = CreditNotesStream
    parent_key = "CreditNoteGuid"
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "CreditNoteGuid", "Guid"]
