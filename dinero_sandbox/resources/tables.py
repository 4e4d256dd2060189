"""Column tables of the object kinds the resource modules add (payments, mailouts, reminders, contact notes,
attachments, purchase credit notes, ledger items, webhook subscriptions). ``orgdata.new_tables`` adds them
to every organization, so the inspection API (``/_sandbox/orgs/{org}/{collection}`` and ``.../mutate``)
reads and changes them like the original collections."""

from __future__ import annotations

from ..store import Table

TIMES = ("CreatedAt", "UpdatedAt", "DeletedAt")

PAYMENT_FIELDS = (
    "Guid",
    "VoucherGuid",
    "VoucherKind",
    "DepositAccountNumber",
    "Currency",
    "ExchangeRate",
    "PaymentClass",
    "RelatedVoucherId",
    "ExternalReference",
    "PaymentDate",
    "Description",
    "Amount",
    "AmountInVoucherCurrency",
    "RemainderIsFee",
    *TIMES,
    "_Seeded",
)
MAILOUT_FIELDS = (
    "Id",
    "VoucherGuid",
    "Date",
    "SeenAt",
    "Sender",
    "Receiver",
    "Subject",
    "Message",
    "DownloadCount",
    "PrintCount",
    "Type",
    "Status",
    "LatestEvent",
    "IsSmsMessage",
    "CCToSender",
    *TIMES,
)
REMINDER_FIELDS = (
    "Key",
    "Id",
    "VoucherGuid",
    "IsDraft",
    "IsDeleted",
    "Number",
    "InvoiceTotalInclVatAmount",
    "FeeAmount",
    "InterestAmount",
    "CompensationFeeAvailable",
    "CompensationFeeAmount",
    "AccumulatedFeesAndInterestAmount",
    "PaidAmount",
    "ReminderTotalInclVatAmount",
    "Timestamp",
    "Date",
    "Title",
    "Description",
    "WithDebtCollectionWarning",
    "WithFee",
    "WithInterestFee",
    "WithCompensationFee",
    *TIMES,
)
CONTACT_NOTE_FIELDS = (
    "Id",
    "ContactGuid",
    "NoteDate",
    "AuthorName",
    "AuthorEmail",
    "Text",
    *TIMES,
)
ATTACHMENT_FIELDS = ("Key", "OrganizationId", "DocumentId", "FileGuid", "FileName", *TIMES)
PURCHASE_CREDITNOTE_FIELDS = (
    "Guid",
    "CreditNoteFor",
    "FileGuid",
    "CreditNoteNumber",
    "ContactGuid",
    "Date",
    "Currency",
    "Timestamp",
    "Status",
    "BookedByType",
    "BookedByUsername",
    "BookingTime",
    *TIMES,
    "_BookedAt",
)
LEDGER_ITEM_FIELDS = (
    "Id",
    "Version",
    "VoucherNumber",
    "VoucherDate",
    "FileGuid",
    "Status",
    *TIMES,
    "_BookedAt",
)
WEBHOOK_FIELDS = ("Key", "EventId", "Uri", *TIMES)


def extra_tables() -> dict[str, Table]:
    """Empty tables of the added kinds."""
    return {
        "payments": Table("payments", "Guid", PAYMENT_FIELDS),
        "mailouts": Table("mailouts", "Id", MAILOUT_FIELDS),
        "reminders": Table("reminders", "Key", REMINDER_FIELDS),
        "contact_notes": Table("contact_notes", "Id", CONTACT_NOTE_FIELDS),
        "attachments": Table("attachments", "Key", ATTACHMENT_FIELDS),
        "purchase_creditnotes": Table(
            "purchase_creditnotes", "Guid", PURCHASE_CREDITNOTE_FIELDS, nested=("Lines", "Totals")
        ),
        "ledger_items": Table("ledger_items", "Id", LEDGER_ITEM_FIELDS, nested=("Lines",)),
        "webhook_subscriptions": Table("webhook_subscriptions", "Key", WEBHOOK_FIELDS),
    }
