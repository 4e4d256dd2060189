"""One sink per load type."""

from __future__ import annotations

from target_dinero.sinks.contact import ContactSink
from target_dinero.sinks.credit_note_payment import CreditNotePaymentSink
from target_dinero.sinks.daily_sales import DailySalesSink
from target_dinero.sinks.invoice import InvoiceSink
from target_dinero.sinks.invoice_payment import InvoicePaymentSink
from target_dinero.sinks.ledger_item import LedgerItemSink
from target_dinero.sinks.manual_voucher import ManualVoucherSink
from target_dinero.sinks.product import ProductSink
from target_dinero.sinks.purchase_voucher import PurchaseVoucherSink
from target_dinero.sinks.sales_credit_note import SalesCreditNoteSink

__all__ = [
    "SINKS",
    "ContactSink",
    "CreditNotePaymentSink",
    "DailySalesSink",
    "InvoicePaymentSink",
    "InvoiceSink",
    "LedgerItemSink",
    "ManualVoucherSink",
    "ProductSink",
    "PurchaseVoucherSink",
    "SalesCreditNoteSink",
]

#: load_as -> sink class
SINKS = {
    "invoice": InvoiceSink,
    "manual_voucher": ManualVoucherSink,
    "daily_sales": DailySalesSink,
    "contact": ContactSink,
    "product": ProductSink,
    "invoice_payment": InvoicePaymentSink,
    "sales_credit_note": SalesCreditNoteSink,
    "sales_credit_note_payment": CreditNotePaymentSink,
    "purchase_voucher": PurchaseVoucherSink,
    "ledger_item": LedgerItemSink,
}
