"""Sales documents: invoices, sales credit notes and trade offers, each with its product lines.

The documents are incremental (``changesSince`` + a ``deletedOnly`` pass). Lists carry no product lines
(REFERENCE §3.3), so each line stream is a child that reads ``GET .../{guid}`` once per document the
parent emitted in this run -- i.e. only for documents that changed -- and never for deleted ones.
Lines are keyed by the document's Guid and the line's position in ``ProductLines``. Set
``include_lines: false`` to skip the detail calls altogether.
"""

from __future__ import annotations

import typing as t

from tap_dinero.client import DetailStream
from tap_dinero.incremental import ChangesSinceStream

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

__all__ = [
    "CreditNoteLinesStream",
    "CreditNotesStream",
    "InvoiceLinesStream",
    "InvoicesStream",
    "TradeOfferLinesStream",
    "TradeOffersStream",
]


class _SalesDocumentStream(ChangesSinceStream):
    """A sales document list whose rows hand their Guid to a line stream."""

    primary_keys: t.ClassVar[list[str]] = ["organization_id", "Guid"]

    def generate_child_contexts(
        self, record: dict[str, t.Any], context: Context | None
    ) -> t.Iterable[Context | None]:
        """One line-stream context per live document (deleted ones have no lines to read)."""
        if not self.dinero_tap.include_lines or record.get("DeletedAt") or self._deleted_pass:
            return
        if not any(child.selected or child.has_selected_descendents for child in self.child_streams):
            return  # the line stream is deselected: a context per row would be built and thrown away
        yield {"organization_id": self.organization_for(context), "document_guid": str(record["Guid"])}


class _LinesStream(DetailStream):
    """``ProductLines`` of one document detail, one row per line."""

    #: Column naming the parent document in each line row.
    parent_key: t.ClassVar[str]

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """Remember the document being read."""
        super().__init__(*args, **kwargs)
        self._document_guid: str | None = None

    def get_partition_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Read the detail of the document named by the context."""
        self._document_guid = str((context or {}).get("document_guid"))
        yield from self.request_records(context)

    def parse_detail(self, detail: dict[str, t.Any]) -> t.Iterable[dict[str, t.Any]]:
        """Flatten ``ProductLines`` with the document Guid and the line position."""
        for position, line in enumerate(detail.get("ProductLines") or []):
            yield {**line, self.parent_key: self._document_guid, "LinePosition": position}


class InvoicesStream(_SalesDocumentStream):
    """Invoices (drafts and booked): ``GET /v1/{org}/invoices``."""

    name = "invoices"
    path = "/v1/{organization_id}/invoices"
    schema_name = "invoice"


class InvoiceLinesStream(_LinesStream):
    """Product lines of changed invoices: ``GET /v1/{org}/invoices/{guid}``."""

    name = "invoice_lines"
    path = "/v1/{organization_id}/invoices/{document_guid}"
    schema_name = "invoice_line"
    parent_stream_type = InvoicesStream
    parent_key = "InvoiceGuid"
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "InvoiceGuid", "LinePosition"]


class CreditNotesStream(_SalesDocumentStream):
    """Sales credit notes: ``GET /v1/{org}/sales/creditnotes``."""

    name = "sales_credit_notes"
    path = "/v1/{organization_id}/sales/creditnotes"
    schema_name = "sales_credit_note"


class CreditNoteLinesStream(_LinesStream):
    """Product lines of changed credit notes: ``GET /v1/{org}/sales/creditnotes/{guid}``."""

    name = "credit_note_lines"
    path = "/v1/{organization_id}/sales/creditnotes/{document_guid}"
    schema_name = "sales_credit_note_line"
    parent_stream_type = CreditNotesStream
    parent_key = "CreditNoteGuid"
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "CreditNoteGuid", "LinePosition"]


class TradeOffersStream(_SalesDocumentStream):
    """Trade offers (quotes): ``GET /v1/{org}/tradeoffers``."""

    name = "trade_offers"
    path = "/v1/{organization_id}/tradeoffers"
    schema_name = "trade_offer"


class TradeOfferLinesStream(_LinesStream):
    """Product lines of changed trade offers: ``GET /v1/{org}/tradeoffers/{guid}``."""

    name = "trade_offer_lines"
    path = "/v1/{organization_id}/tradeoffers/{document_guid}"
    schema_name = "trade_offer_line"
    parent_stream_type = TradeOffersStream
    parent_key = "TradeOfferGuid"
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "TradeOfferGuid", "LinePosition"]
