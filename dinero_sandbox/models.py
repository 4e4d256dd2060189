"""Field lists of the read models the sandbox serves (names exactly as REFERENCE.md §4 spells them) and
the list-endpoint rules of REFERENCE.md §2/§3 (default ``fields``, possible ``fields``, filterable fields)."""

from __future__ import annotations

from dataclasses import dataclass, field

CONTACT_FIELDS = (
    "ContactGuid",
    "CreatedAt",
    "UpdatedAt",
    "DeletedAt",
    "IsDebitor",
    "IsCreditor",
    "CompanyStatus",
    "VatRegionKey",
    "ExternalReference",
    "Name",
    "Street",
    "ZipCode",
    "City",
    "CountryKey",
    "Phone",
    "Email",
    "Webpage",
    "AttPerson",
    "VatNumber",
    "EanNumber",
    "SENumber",
    "PNumber",
    "PaymentConditionType",
    "PaymentConditionNumberOfDays",
    "IsPerson",
    "IsMember",
    "MemberNumber",
    "UseCvr",
    "CompanyTypeKey",
    "InvoiceMailOutOptionKey",
    "PreferredInvoiceLanguageKey",
    "PreferredInvoiceCurrencyKey",
)
CONTACT_WRITABLE = tuple(
    f
    for f in CONTACT_FIELDS
    if f
    not in (
        "ContactGuid",
        "CreatedAt",
        "UpdatedAt",
        "DeletedAt",
        "IsDebitor",
        "IsCreditor",
        "CompanyStatus",
        "VatRegionKey",
    )
)

PRODUCT_FIELDS = (
    "ProductGuid",
    "CreatedAt",
    "UpdatedAt",
    "DeletedAt",
    "ProductNumber",
    "Name",
    "BaseAmountValue",
    "BaseAmountValueInclVat",
    "Quantity",
    "TotalAmount",
    "TotalAmountInclVat",
    "AccountNumber",
    "Unit",
    "ExternalReference",
    "Comment",
)

INVOICE_DETAIL_FIELDS = (
    "PaymentDate",
    "PaymentStatus",
    "PaymentConditionNumberOfDays",
    "PaymentConditionType",
    "FikCode",
    "DepositAccountNumber",
    "MailOutStatus",
    "LatestMailOutType",
    "IsSentToDebtCollection",
    "IsMobilePayInvoiceEnabled",
    "IsPensoPayEnabled",
    "Status",
    "ContactGuid",
    "Guid",
    "TimeStamp",
    "CreatedAt",
    "UpdatedAt",
    "DeletedAt",
    "Number",
    "ContactName",
    "ShowLinesInclVat",
    "TotalExclVat",
    "TotalVatableAmount",
    "TotalInclVat",
    "TotalNonVatableAmount",
    "TotalVat",
    "TotalLines",
    "InvoiceTemplateId",
    "Currency",
    "Language",
    "ExternalReference",
    "Description",
    "Comment",
    "Date",
    "ProductLines",
    "Address",
)
#: SalesCreditNoteReadModel (spec): the invoice detail without the invoice-only payment fields.
CREDITNOTE_DETAIL_FIELDS = (
    *(
        f
        for f in INVOICE_DETAIL_FIELDS
        if f
        not in (
            "PaymentDate",
            "PaymentConditionNumberOfDays",
            "PaymentConditionType",
            "FikCode",
            "DepositAccountNumber",
            "IsSentToDebtCollection",
            "IsMobilePayInvoiceEnabled",
            "IsPensoPayEnabled",
        )
    ),
    "CreditNoteFor",
)
# Columns kept besides the detail model: list-only figures and the sales Type.
SALES_EXTRA_COLUMNS = ("TotalExclVatInDkk", "TotalInclVatInDkk", "Type", "CreditNoteFor", "_BookedAt")
SALES_NESTED = ("ProductLines", "TotalLines")

TRADEOFFER_DETAIL_FIELDS = (
    "Guid",
    "TimeStamp",
    "Number",
    "ContactName",
    "ContactGuid",
    "Address",
    "Date",
    "Comment",
    "Description",
    "ExternalReference",
    "Language",
    "Currency",
    "ShowLinesInclVat",
    "TotalExclVat",
    "TotalVatableAmount",
    "TotalInclVat",
    "TotalNonVatableAmount",
    "TotalVat",
    "HasGeneratedAnyVouchers",
    "Status",
    "MailOutStatus",
    "LatestMailOutType",
    "CreatedAt",
    "UpdatedAt",
    "DeletedAt",
    "ProductLines",
    "TotalLines",
    "GeneratedVouchers",
    "History",
)
TRADEOFFER_NESTED = ("ProductLines", "TotalLines", "GeneratedVouchers", "History")

MANUAL_VOUCHER_DETAIL_FIELDS = (
    "Guid",
    "VoucherNumber",
    "VoucherDate",
    "TotalInclVat",
    "TotalExclVat",
    "FileGuid",
    "CreditNoteFor",
    "Status",
    "Lines",
    "Timestamp",
    "ExternalReference",
    "BookedByType",
    "BookedByUsername",
    "BookingTime",
)
PURCHASE_VOUCHER_DETAIL_FIELDS = (
    "Guid",
    "Timestamp",
    "Status",
    "FileGuid",
    "VoucherNumber",
    "VoucherDate",
    "PaymentDate",
    "RegionKey",
    "PurchaseType",
    "Lines",
    "DepositAccountNumber",
    "ContactGuid",
    "ExternalReference",
    "VoucherTotals",
    "CurrencyKey",
    "BookedByType",
    "BookedByUsername",
    "BookingTime",
)
VOUCHER_EXTRA_COLUMNS = ("CreatedAt", "UpdatedAt", "DeletedAt", "_BookedAt")

FILE_FIELDS = (
    "FileGuid",
    "Name",
    "Extension",
    "Size",
    "UploadedAt",
    "Note",
    "NumberOfPages",
    "Linked",
    "UploadedBy",
)

ENTRY_ACCOUNT_FIELDS = (
    "AccountNumber",
    "PublicStandardNumber",
    "Name",
    "VatCode",
    "Category",
    "CategoryName",
    "IsHidden",
    "IsDefaultSalesAccount",
)
DEPOSIT_ACCOUNT_FIELDS = (
    "AccountNumber",
    "PublicStandardNumber",
    "Name",
    "BankRegistrationNumber",
    "BankAccountNumber",
    "BankSwiftNumber",
    "BankIbanNumber",
    "IsDefault",
    "IsHidden",
)

ORGANIZATION_FIELDS = (
    "Name",
    "Id",
    "Type",
    "IsPro",
    "IsPayingPro",
    "IsVatFree",
    "Email",
    "Phone",
    "Street",
    "City",
    "ZipCode",
    "AttPerson",
    "IsTaxFreeUnion",
    "VatNumber",
    "CountryKey",
    "Website",
)

ENTRY_FIELDS = (
    "AccountNumber",
    "AccountName",
    "Date",
    "VoucherNumber",
    "VoucherGuid",
    "FileGuid",
    "VoucherType",
    "Description",
    "VatType",
    "VatCode",
    "Amount",
    "EntryGuid",
    "ContactGuid",
    "Type",
)

ACCOUNTING_YEAR_FIELDS = ("Name", "FromDate", "ToDate", "SalarySumTaxStateEnum")
VAT_TYPE_FIELDS = ("VatCode", "Name", "VatRate")

# Entries' VoucherType values the sandbox emits (the reference only shows "Purchases"; the others are
# the sandbox's choice, documented here for the tap: route VoucherGuid to the voucher endpoints by it).
VOUCHER_TYPE_INVOICE = "Invoice"
VOUCHER_TYPE_CREDITNOTE = "CreditNote"
VOUCHER_TYPE_MANUAL = "ManualVoucher"
VOUCHER_TYPE_PURCHASE = "Purchases"

SALES_LIST_FIELDS = (
    "Number",
    "Guid",
    "ExternalReference",
    "ContactName",
    "ContactGuid",
    "Date",
    "PaymentDate",
    "Description",
    "Currency",
    "Status",
    "MailOutStatus",
    "LatestMailOutType",
    "TotalExclVatInDkk",
    "TotalInclVatInDkk",
    "TotalExclVat",
    "TotalInclVat",
    "CreatedAt",
    "UpdatedAt",
    "DeletedAt",
)


@dataclass(frozen=True)
class ListSpec:
    """Rules of one list endpoint: which ``fields`` it accepts and returns by default, which ``queryFilter``
    fields it allows, how API field names map to stored columns."""

    default_fields: tuple[str, ...]
    allowed_fields: tuple[str, ...]
    filterable: tuple[str, ...] = ()
    field_map: dict[str, str] = field(default_factory=dict)
    free_text: tuple[str, ...] = ()


LIST_SPECS: dict[str, ListSpec] = {
    "contacts": ListSpec(
        default_fields=("name", "contactGuid"),
        allowed_fields=CONTACT_FIELDS,
        filterable=("ExternalReference", "Name", "Email", "VatNumber", "EanNumber", "IsPerson", "Phone"),
    ),
    "products": ListSpec(
        default_fields=("Name", "ProductGuid"),
        allowed_fields=(
            "ProductGuid",
            "Name",
            "ProductNumber",
            "Quantity",
            "Unit",
            "AccountNumber",
            "BaseAmountValue",
            "BaseAmountValueInclVat",
            "TotalAmount",
            "TotalAmountInclVat",
            "ExternalReference",
            "CreatedAt",
            "UpdatedAt",
            "DeletedAt",
            "Comment",  # a property of ProductReadModel (the list's read model)
        ),
        filterable=("Name", "ProductNumber", "ExternalReference"),
        free_text=("Name", "ProductNumber"),
    ),
    "invoices": ListSpec(
        default_fields=("Guid", "ContactName", "Date", "Description"),
        # Type is a property of the list's read model (SalesVoucherReadListModel) though not among the
        # spec's `fields` options: the sandbox answers every property of the read model.
        allowed_fields=(*SALES_LIST_FIELDS, "Type"),
        filterable=("ExternalReference", "ContactGuid", "Description"),
        field_map={"Status": "PaymentStatus"},
        free_text=("Number", "ContactName", "Description", "TotalInclVat"),
    ),
    "sales": ListSpec(
        default_fields=("Guid", "ContactName", "Date", "Description", "Type"),
        allowed_fields=(*SALES_LIST_FIELDS, "Type"),
        filterable=("ExternalReference", "ContactGuid", "Description"),
        field_map={"Status": "PaymentStatus"},
        free_text=("Number", "ContactName", "Description", "TotalInclVat"),
    ),
    "creditnotes": ListSpec(
        default_fields=("Guid", "ContactName", "Date", "Description", "Type"),
        allowed_fields=(*SALES_LIST_FIELDS, "Type"),
        filterable=("ExternalReference", "ContactGuid", "Description"),
        field_map={"Status": "PaymentStatus"},
        free_text=("Number", "ContactName", "Description", "TotalInclVat"),
    ),
    "tradeoffers": ListSpec(
        default_fields=("guid", "contactName", "date", "description"),
        allowed_fields=(
            "Number",
            "Guid",
            "TimeStamp",
            "ContactName",
            "ContactGuid",
            "Address",
            "Date",
            "Comment",
            "Description",
            "ExternalReference",
            "Language",
            "Currency",
            "TotalExclVat",
            "TotalVatableAmount",
            "TotalInclVat",
            "TotalNonVatableAmount",
            "TotalVat",
            "HasGeneratedAnyVouchers",
            "Status",
            "MailOutStatus",
            "LatestMailOutType",
            "CreatedAt",
            "UpdatedAt",
            "DeletedAt",
            "InvoiceTemplateId",  # a scalar of TradeOfferReadModel (the list's read model)
        ),
        filterable=(
            "ExternalReference",
            "ContactName",
            "Address",
            "Comment",
            "Description",
            "HasGeneratedAnyVouchers",
            "Currency",
            "Date",
            "Number",
        ),
        free_text=("Number", "ContactName", "Description"),
    ),
    "organizations": ListSpec(
        default_fields=("id", "name", "isPro"),
        allowed_fields=ORGANIZATION_FIELDS,
    ),
    "accounts/entry": ListSpec(default_fields=("AccountNumber", "Name"), allowed_fields=ENTRY_ACCOUNT_FIELDS),
    "accounts/purchase": ListSpec(
        default_fields=("AccountNumber", "Name", "VatCode", "Category", "CategoryName", "IsHidden"),
        allowed_fields=ENTRY_ACCOUNT_FIELDS,
    ),
    "accounts/deposit": ListSpec(
        default_fields=("AccountNumber", "Name"), allowed_fields=DEPOSIT_ACCOUNT_FIELDS
    ),
    "files": ListSpec(default_fields=FILE_FIELDS, allowed_fields=FILE_FIELDS),
}
