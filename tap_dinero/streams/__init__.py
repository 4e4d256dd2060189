"""tap-dinero streams, one module per domain.

==========================  =============================================  ===========================
stream                      endpoint                                       replication
==========================  =============================================  ===========================
organizations               GET /v1/organizations                          FULL_TABLE
accounting_years            GET /v1/{org}/accountingyears                  FULL_TABLE
vat_types                   GET /v1/{org}/vatTypes                         FULL_TABLE
entry_accounts              GET /v1/{org}/accounts/entry                   FULL_TABLE
purchase_accounts           GET /v1/{org}/accounts/purchase                FULL_TABLE
deposit_accounts            GET /v1/{org}/accounts/deposit                 FULL_TABLE
contacts                    GET /v1/{org}/contacts                         INCREMENTAL (UpdatedAt)
products                    GET /v1/{org}/products                         INCREMENTAL (UpdatedAt)
invoices                    GET /v1/{org}/invoices (+ /{guid} per change)  INCREMENTAL (UpdatedAt)
invoice_lines               (the invoices detail, no request of its own)   child of invoices
invoice_payments            GET /v2/{org}/invoices/{guid}/payments         child of invoices
sales_credit_notes          GET /v1/{org}/sales/creditnotes (+ /{guid})    INCREMENTAL (UpdatedAt)
credit_note_lines           (the credit notes detail, no own request)      child of sales_credit_notes
sales_credit_note_payments  GET .../sales/creditnotes/{guid}/payments      child of sales_credit_notes
trade_offers                GET /v1/{org}/tradeoffers (+ /{guid})          INCREMENTAL (UpdatedAt)
trade_offer_lines           (the trade offers detail, no own request)      child of trade_offers
entries                     GET /v1/{org}/entries, /entries/changes        INCREMENTAL (_sdc_synced_at)
manual_vouchers             GET /v1/{org}/vouchers/manuel/{guid}           child of entries
purchase_vouchers           GET /v1/{org}/vouchers/purchase/{guid}         child of entries
files                       GET /v1/{org}/files                            FULL_TABLE
reports                     GET /v1/{org}/{year}/reports/{report}          FULL_TABLE per open year
ledger_items                POST /v1/{org}/ledgeritems/status, /ledgers    FULL_TABLE (given ids)
==========================  =============================================  ===========================

Child streams are read only for the parent rows emitted in the run (documents that changed, vouchers
whose entries changed), so they follow their parent's incremental window even though the SDK lists them
as FULL_TABLE (they have no replication key of their own).

Endpoints left out, and why:

* ``/v1/{org}/sales`` -- the same rows as invoices + sales credit notes together ("lengthy and demanding").
* Ledger items (kassekladde) not named in ``ledger_item_ids`` -- no list endpoint, only reads by id.
* Purchase credit notes (``/vouchers/purchase/creditnotes/{guid}``) -- GET by guid only; entries do not
  tell them apart from purchase vouchers, so they cannot be discovered.
* Contact notes (``/contacts/{guid}/notes``), mailouts and reminders -- one request per contact/document
  on every run (no change filter across documents): a 1 000-invoice organization would spend ten
  minutes of quota per run on them. (Payments change their document, so they are read for changed
  documents only.)
* State of account (``/state-of-account/{guid}``) -- derived from entries, which the tap emits in full.
* Countries, invoice templates, sales settings, webhooks, attachments -- static or configuration data,
  not part of the books; ``/unifiedvouchers`` has no documented operation.
* Contact persons -- no such endpoint exists (a company contact has ``AttPerson`` only).
"""

from __future__ import annotations

from tap_dinero.streams.ledger import EntriesStream, ManualVouchersStream, PurchaseVouchersStream
from tap_dinero.streams.organization import (
    AccountingYearsStream,
    DepositAccountsStream,
    EntryAccountsStream,
    OrganizationsStream,
    PurchaseAccountsStream,
    VatTypesStream,
)
from tap_dinero.streams.registers import ContactsStream, FilesStream, ProductsStream
from tap_dinero.streams.reports import LedgerItemsStream, ReportsStream
from tap_dinero.streams.sales import (
    CreditNoteLinesStream,
    CreditNotePaymentsStream,
    CreditNotesStream,
    InvoiceLinesStream,
    InvoicePaymentsStream,
    InvoicesStream,
    TradeOfferLinesStream,
    TradeOffersStream,
)

__all__ = ["LINE_STREAM_TYPES", "PAYMENT_STREAM_TYPES", "STREAM_TYPES"]

#: Every stream class except the document line streams (those depend on ``include_lines``).
STREAM_TYPES = (
    OrganizationsStream,
    AccountingYearsStream,
    VatTypesStream,
    EntryAccountsStream,
    PurchaseAccountsStream,
    DepositAccountsStream,
    ContactsStream,
    ProductsStream,
    InvoicesStream,
    CreditNotesStream,
    TradeOffersStream,
    EntriesStream,
    ManualVouchersStream,
    PurchaseVouchersStream,
    FilesStream,
    ReportsStream,
    LedgerItemsStream,
)

#: Detail-line child streams, present when ``include_lines`` is true (the default).
LINE_STREAM_TYPES = (InvoiceLinesStream, CreditNoteLinesStream, TradeOfferLinesStream)

#: Payment child streams, present when ``include_payments`` is true (the default).
PAYMENT_STREAM_TYPES = (InvoicePaymentsStream, CreditNotePaymentsStream)
