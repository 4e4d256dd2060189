"""Everything the sandbox stores for one organization: its collections (column tables), accounting
years, uploaded file bytes, extra ledger entries and the number/rowversion counters."""

from __future__ import annotations

from typing import Any

from . import models
from .store import Table


def new_tables() -> dict[str, Table]:
    """Empty tables of every stored collection."""
    tables = {
        "contacts": Table("contacts", "ContactGuid", models.CONTACT_FIELDS),
        "products": Table("products", "ProductGuid", models.PRODUCT_FIELDS),
        "invoices": Table(
            "invoices",
            "Guid",
            [f for f in models.INVOICE_DETAIL_FIELDS if f not in models.SALES_NESTED]
            + list(models.SALES_EXTRA_COLUMNS),
            nested=models.SALES_NESTED,
        ),
        "creditnotes": Table(
            "creditnotes",
            "Guid",
            [f for f in models.CREDITNOTE_DETAIL_FIELDS if f not in models.SALES_NESTED]
            + list(models.SALES_EXTRA_COLUMNS),
            nested=models.SALES_NESTED,
        ),
        "tradeoffers": Table(
            "tradeoffers",
            "Guid",
            [f for f in models.TRADEOFFER_DETAIL_FIELDS if f not in models.TRADEOFFER_NESTED],
            nested=models.TRADEOFFER_NESTED,
        ),
        "manual_vouchers": Table(
            "manual_vouchers",
            "Guid",
            [f for f in models.MANUAL_VOUCHER_DETAIL_FIELDS if f != "Lines"]
            + list(models.VOUCHER_EXTRA_COLUMNS),
            nested=("Lines",),
        ),
        "purchase_vouchers": Table(
            "purchase_vouchers",
            "Guid",
            [f for f in models.PURCHASE_VOUCHER_DETAIL_FIELDS if f not in ("Lines", "VoucherTotals")]
            + list(models.VOUCHER_EXTRA_COLUMNS),
            nested=("Lines", "VoucherTotals"),
        ),
        "files": Table(
            "files",
            "FileGuid",
            [f for f in models.FILE_FIELDS if f != "Linked"] + ["_Visible"],
            nested=("Linked",),
        ),
        "accounts": Table(
            "accounts",
            "AccountNumber",
            list(dict.fromkeys([*models.ENTRY_ACCOUNT_FIELDS, *models.DEPOSIT_ACCOUNT_FIELDS, "_IsDeposit"])),
        ),
    }
    from .resources.tables import extra_tables  # the kinds the resource modules add

    tables.update(extra_tables())
    return tables


class OrgData:
    """The stored state of one Dinero organization."""

    def __init__(self, org_id: str, info: dict[str, Any]) -> None:
        self.id = org_id
        self.info = info
        self.tables: dict[str, Table] = new_tables()
        self.accounting_years: list[dict[str, Any]] = []
        self.file_bytes: dict[str, bytes] = {}
        # Ledger entries not derived from a voucher's lines (offsets of deleted booked vouchers).
        self.extra_entries: list[dict[str, Any]] = []
        self.counters: dict[str, int] = {
            "invoice": 0,
            "creditnote": 0,
            "voucher": 0,
            "tradeoffer": 0,
            "rowversion": 0x8766398,
        }
        self.version = 0
        self._accounts: dict[int, dict[str, Any]] = {}
        self._accounts_version = -1

    def table(self, name: str) -> Table:
        """A collection by name."""
        return self.tables[name]

    def next_timestamp(self) -> str:
        """A fresh rowversion-like Timestamp (16 hex digits, increasing)."""
        self.counters["rowversion"] += 1
        return f"{self.counters['rowversion']:016X}"

    def next_number(self, kind: str) -> int:
        """The next number of a series (invoice, creditnote, voucher, tradeoffer)."""
        self.counters[kind] += 1
        return self.counters[kind]

    def account(self, number: Any) -> dict[str, Any] | None:
        """An account of the chart by number (None when it does not exist); cached per chart version."""
        try:
            key = int(number)
        except (TypeError, ValueError):
            return None
        table = self.tables["accounts"]
        if self._accounts_version != table.version:
            self._accounts = {table.cols["AccountNumber"][r]: table.get(r) for r in table.rows()}
            self._accounts_version = table.version
        return self._accounts.get(key)

    def year_of(self, day: str) -> dict[str, Any] | None:
        """The accounting year containing ``day`` (``YYYY-MM-DD``)."""
        for year in self.accounting_years:
            if year["FromDate"] <= day <= year["ToDate"]:
                return year
        return None

    def touch(self) -> None:
        """Mark the organization changed (invalidates ledger caches)."""
        self.version += 1
