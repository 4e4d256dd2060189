"""The organization's chart of accounts, VAT codes and accounting years: fetched once per run, lazily.

Local validation checks account numbers and VAT codes against these before any write, so a typo costs
no request and provokes no 400 from Dinero. Each list is fetched at most once per run (thread-safe),
and only when some record needs it.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal
from importlib import resources
from typing import Any

from target_dinero.gateway import DineroGateway
from target_dinero.records import RecordRejected

__all__ = [
    "COUNTRIES",
    "CURRENCIES",
    "NO_VAT",
    "UNITS",
    "ReferenceData",
    "check_country",
    "check_currency",
]

_ISO = json.loads(resources.files(__package__).joinpath("iso_codes.json").read_text(encoding="utf-8"))
#: ISO 4217 codes of money an invoice can be written in (scripts/iso_codes.py says which codes are left
#: out: metals, units of account, fund codes, XTS, XXX).
CURRENCIES = frozenset(_ISO["currencies"])
_NOT_MONEY: dict[str, str] = _ISO["not_money"]
#: ISO 3166-1 alpha-2 country codes (Dinero's CountryKey).
COUNTRIES = frozenset(_ISO["countries"])


def check_currency(code: Any, field: str) -> str | None:
    """The upper-cased ISO 4217 code, or reject: Dinero would refuse it only after the invoice's contact
    had been created."""
    if code in (None, ""):
        return None
    text = str(code).strip().upper()
    if text in CURRENCIES:
        return text
    why = (
        f"{_NOT_MONEY[text]}, not money an invoice can be written in"
        if text in _NOT_MONEY
        else ("not an ISO 4217 currency code")
    )
    raise RecordRejected(f"{field} {code!r} is {why}", field)


def check_country(code: Any, field: str) -> str | None:
    """The upper-cased ISO 3166-1 alpha-2 country code, or reject."""
    if code in (None, ""):
        return None
    text = str(code).strip().upper()
    if text in COUNTRIES:
        return text
    raise RecordRejected(f"{field} {code!r} is not an ISO 3166-1 country code (DK, SE, DE, ...)", field)


#: Dinero's invoice-line/product units (REFERENCE §4.2).
UNITS = frozenset(
    [
        "hours",
        "parts",
        "km",
        "day",
        "week",
        "month",
        "kilogram",
        "cubicMetre",
        "set",
        "litre",
        "box",
        "case",
        "carton",
        "metre",
        "package",
        "shipment",
        "squareMetre",
        "session",
        "tonne",
    ]
)
#: The VAT code that suppresses VAT on a manual-voucher line.
NO_VAT = "none"


def _ci(row: dict[str, Any], name: str) -> Any:
    for key, value in row.items():
        if key.lower() == name.lower():
            return value
    return None


class ReferenceData:
    """Accounts (entry + deposit), VAT types and accounting years of one organization."""

    def __init__(self, gateway: DineroGateway) -> None:
        self._gateway = gateway
        self._lock = threading.RLock()
        self._accounts: dict[int, dict[str, Any]] | None = None
        self._deposit: dict[int, dict[str, Any]] | None = None
        self._vat: dict[str, Decimal] | None = None
        self._years: list[tuple[dt.date, dt.date]] | None = None

    def _load_accounts(self, path: str, fields: str) -> dict[int, dict[str, Any]]:
        rows = self._gateway.get(path, {"fields": fields}) or []
        result: dict[int, dict[str, Any]] = {}
        for row in rows:
            number = _ci(row, "AccountNumber")
            if number is not None:
                result[int(number)] = row
        return result

    def accounts(self) -> dict[int, dict[str, Any]]:
        """Entry accounts by number (GET /accounts/entry, once)."""
        with self._lock:
            if self._accounts is None:
                self._accounts = self._load_accounts(
                    "/v1/{org}/accounts/entry", "AccountNumber,Name,VatCode,IsHidden"
                )
            return self._accounts

    def deposit_accounts(self) -> dict[int, dict[str, Any]]:
        """Deposit (bank/cash) accounts by number (GET /accounts/deposit, once, only when needed)."""
        with self._lock:
            if self._deposit is None:
                self._deposit = self._load_accounts(
                    "/v1/{org}/accounts/deposit", "AccountNumber,Name,IsHidden"
                )
            return self._deposit

    def check_account(self, number: int, field: str) -> None:
        """Reject unless ``number`` is an account of the organization."""
        if number in self.accounts() or number in self.deposit_accounts():
            return
        raise RecordRejected(f"{field}: account {number} does not exist in the organization's chart", field)

    def vat_rates(self) -> dict[str, Decimal]:
        """VAT code (upper case) -> rate (GET /vatTypes, once)."""
        with self._lock:
            if self._vat is None:
                rows = self._gateway.get("/v1/{org}/vatTypes") or []
                self._vat = {
                    str(_ci(r, "VatCode")).upper(): Decimal(str(_ci(r, "VatRate") or 0))
                    for r in rows
                    if _ci(r, "VatCode")
                }
            return self._vat

    def check_vat_code(self, code: str | None, field: str) -> None:
        """Reject unless ``code`` is null, ``none`` or one of the organization's VAT codes."""
        if code is None or code.lower() == NO_VAT:
            return
        if code.upper() not in self.vat_rates():
            known = ", ".join(sorted(self.vat_rates())) or "none listed"
            raise RecordRejected(f"{field}: VAT code {code!r} is unknown (known: {known}, or 'none')", field)

    def accounting_years(self) -> list[tuple[dt.date, dt.date]]:
        """(from, to) of every accounting year (GET /accountingyears, once)."""
        with self._lock:
            if self._years is None:
                rows = self._gateway.get("/v1/{org}/accountingyears") or []
                years = []
                for row in rows:
                    start, end = _ci(row, "FromDate"), _ci(row, "ToDate")
                    if start and end:
                        years.append(
                            (dt.date.fromisoformat(str(start)[:10]), dt.date.fromisoformat(str(end)[:10]))
                        )
                self._years = sorted(years)
            return self._years

    def check_bookable_date(self, day: dt.date, field: str) -> None:
        """Reject a voucher date no accounting year covers (Dinero error 47).

        Booking into the year right after the last one is allowed: Dinero creates that year.
        """
        years = self.accounting_years()
        if not years:
            return
        first, last_end = years[0][0], years[-1][1]
        if day < first:
            raise RecordRejected(f"{field} {day} is before the first accounting year ({first})", field)
        if any(start <= day <= end for start, end in years):
            return
        if last_end < day <= last_end.replace(year=last_end.year + 1):
            return
        raise RecordRejected(f"{field} {day} is in no accounting year of the organization", field)
