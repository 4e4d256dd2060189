"""The organization's chart of accounts, VAT codes and accounting years: fetched lazily, kept between runs.

Local validation checks account numbers and VAT codes against these before any write, so a typo costs
no request and provokes no 400 from Dinero. Each list is fetched at most once per run (thread-safe),
and only when some record needs it.

Between runs (``reference_cache_seconds``, default 3600; 0 reads every run) the lists are kept in the
journal store, so a run every few minutes does not read the same chart again before each batch. What
was read by an earlier run is trusted only where a stale answer cannot cost money or make a twin:

* an account, VAT code, deposit account or date that is **not** in a kept list is never rejected (or a
  deposit account created) on its say-so: the list is read again first, once per run;
* one that **is** in a kept list but was deleted in Dinero since is refused by Dinero (a 400, the record
  rejected with Dinero's reason) -- nothing is written twice or with another amount; and the refusal
  drops the list it names (:meth:`ReferenceData.after_refusal`), so the following records are checked
  against a fresh read and rejected locally instead of each costing a 400;
* what decides an amount (an account's VAT code, which sets an invoice line's VAT) is read fresh in the
  run that uses it (:meth:`ReferenceData.accounts` with ``fresh=True``). VAT rates are Dinero's system
  VAT types (25 % since 1992) and come from the kept list.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
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
#: Dinero's error code for a date in no accounting year.
_NO_ACCOUNTING_YEAR = 47
#: The VAT code that suppresses VAT on a manual-voucher line.
NO_VAT = "none"


def _ci(row: dict[str, Any], name: str) -> Any:
    for key, value in row.items():
        if key.lower() == name.lower():
            return value
    return None


class ReferenceData:
    """Accounts (entry + deposit), VAT types and accounting years of one organization."""

    def __init__(
        self,
        gateway: DineroGateway,
        store: Callable[[], Any] | None = None,
        max_age: float = 0.0,
    ) -> None:
        self._gateway = gateway
        self._lock = threading.RLock()
        #: the journal store's namespace of this organization (a VoucherJournal), built lazily
        self._store = store
        self._max_age = max_age
        self._accounts: dict[int, dict[str, Any]] | None = None
        self._deposit: dict[int, dict[str, Any]] | None = None
        self._vat: dict[str, Decimal] | None = None
        self._years: list[tuple[dt.date, dt.date]] | None = None
        #: kinds whose list this run took from the store (not read from Dinero in this run)
        self._kept: set[str] = set()
        #: kinds read from Dinero again in this run (never taken from the store any more)
        self._read_now: set[str] = set()
        #: kinds dropped because Dinero refused a record naming them (once per run each)
        self._dropped_after_refusal: set[str] = set()
        #: bumped whenever a refusal dropped a list: records validated before must be validated again
        self.generation = 0

    # -- kept between runs ----------------------------------------------------------------------------
    def _kept_rows(self, kind: str) -> Any:
        """The rows an earlier run read (younger than ``max_age``), else None."""
        if self._store is None or self._max_age <= 0 or kind in self._read_now:
            return None
        entry = self._store().get(f"reference:{kind}")
        if not entry or "rows" not in entry:
            return None
        try:
            at = dt.datetime.strptime(str(entry.get("at")), "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=dt.timezone.utc
            )
        except ValueError:
            return None
        if (dt.datetime.now(dt.timezone.utc) - at).total_seconds() >= self._max_age:
            return None
        self._kept.add(kind)
        return entry["rows"]

    def _keep(self, kind: str, rows: Any) -> None:
        if self._store is not None and self._max_age > 0:
            self._store().record(f"reference:{kind}", rows=rows)
        self._kept.discard(kind)

    def refresh(self, kind: str) -> bool:
        """Read ``kind`` (accounts, deposit, vat, years) from Dinero again when this run took it from the
        store; True when it did (the caller checks again)."""
        with self._lock:
            if kind not in self._kept:
                return False
            self._kept.discard(kind)
            self._read_now.add(kind)
            loaders: dict[str, tuple[str, Callable[[], Any]]] = {
                "accounts": ("_accounts", self.accounts),
                "deposit": ("_deposit", self.deposit_accounts),
                "vat": ("_vat", self.vat_rates),
                "years": ("_years", self.accounting_years),
            }
            attribute, load = loaders[kind]
            setattr(self, attribute, None)
            load()
            return True

    def forget(self, kind: str) -> None:
        """Read ``kind`` from Dinero the next time it is asked for (the target just changed it)."""
        with self._lock:
            self._kept.discard(kind)
            self._read_now.add(kind)
            attribute = {"accounts": "_accounts", "deposit": "_deposit", "vat": "_vat", "years": "_years"}
            setattr(self, attribute[kind], None)

    def after_refusal(self, error: Any) -> list[str]:
        """Dinero refused a record (``error``, a 4xx :class:`~dinero_api.errors.DineroAPIError`): drop the
        lists its validation errors name -- an account (``...AccountNumber``), a VAT code (``...VatCode``),
        a deposit account, a date outside the accounting years (``...Date``, Dinero's code 47) -- so the
        following records are validated against a fresh read instead of each costing a 400.

        Each list is dropped at most once per run for a refusal: when a list read in this run is still
        refused, the refusal is about something else and reading it again would cost a GET per record.
        Returns the kinds dropped.
        """
        fields = [str(name).lower() for name in (getattr(error, "validation_errors", None) or {})]
        kinds: set[str] = set()
        for name in fields:
            leaf = name.rsplit(".", 1)[-1]
            if "depositaccount" in leaf:
                kinds.add("deposit")
            elif "accountnumber" in leaf:
                kinds.update(("accounts", "deposit"))
            if "vatcode" in leaf:
                kinds.add("vat")
            if leaf.endswith("date"):
                kinds.add("years")
        if getattr(error, "code", None) == _NO_ACCOUNTING_YEAR:
            kinds.add("years")
        dropped: list[str] = []
        with self._lock:
            for kind in sorted(kinds):
                if kind in self._dropped_after_refusal:
                    continue
                self._dropped_after_refusal.add(kind)
                self.forget(kind)
                dropped.append(kind)
            if dropped:
                self.generation += 1
        return dropped

    # -- the lists ------------------------------------------------------------------------------------
    def _load_accounts(self, path: str, fields: str) -> dict[int, dict[str, Any]]:
        rows = self._gateway.get(path, {"fields": fields}) or []
        return _by_number(rows)

    def _accounts_of(self, kind: str, path: str, fields: str) -> dict[int, dict[str, Any]]:
        kept = self._kept_rows(kind)
        if kept is not None:
            return _by_number(kept)
        found = self._load_accounts(path, fields)
        self._keep(kind, list(found.values()))
        return found

    def accounts(self, *, fresh: bool = False) -> dict[int, dict[str, Any]]:
        """Entry accounts by number (GET /accounts/entry, once; kept between runs). ``fresh``: read in
        this run (what decides an amount, e.g. an account's VAT code)."""
        with self._lock:
            if fresh and self._accounts is None:
                self._read_now.add("accounts")  # not yet loaded: never from the store
            elif fresh:
                self.refresh("accounts")
            if self._accounts is None:
                self._accounts = self._accounts_of(
                    "accounts", "/v1/{org}/accounts/entry", "AccountNumber,Name,VatCode,IsHidden"
                )
            return self._accounts

    def deposit_accounts(self) -> dict[int, dict[str, Any]]:
        """Deposit (bank/cash) accounts by number (GET /accounts/deposit, once, only when needed)."""
        with self._lock:
            if self._deposit is None:
                self._deposit = self._accounts_of(
                    "deposit", "/v1/{org}/accounts/deposit", "AccountNumber,Name,IsHidden"
                )
            return self._deposit

    def check_account(self, number: int, field: str) -> None:
        """Reject unless ``number`` is an account of the organization (lists kept from an earlier run
        are read again before a reject)."""
        for _ in range(2):
            if number in self.accounts() or number in self.deposit_accounts():
                return
            if not (self.refresh("accounts") | self.refresh("deposit")):
                break
        raise RecordRejected(f"{field}: account {number} does not exist in the organization's chart", field)

    def vat_rates(self) -> dict[str, Decimal]:
        """VAT code (upper case) -> rate (GET /vatTypes, once; kept between runs)."""
        with self._lock:
            if self._vat is None:
                kept = self._kept_rows("vat")
                if kept is not None:
                    self._vat = {str(code): Decimal(str(rate)) for code, rate in kept.items()}
                else:
                    rows = self._gateway.get("/v1/{org}/vatTypes") or []
                    self._vat = {
                        str(_ci(r, "VatCode")).upper(): Decimal(str(_ci(r, "VatRate") or 0))
                        for r in rows
                        if _ci(r, "VatCode")
                    }
                    self._keep("vat", {code: str(rate) for code, rate in self._vat.items()})
            return self._vat

    def check_vat_code(self, code: str | None, field: str) -> None:
        """Reject unless ``code`` is null, ``none`` or one of the organization's VAT codes."""
        if code is None or code.lower() == NO_VAT:
            return
        if code.upper() not in self.vat_rates() and not (
            self.refresh("vat") and code.upper() in self.vat_rates()
        ):
            known = ", ".join(sorted(self.vat_rates())) or "none listed"
            raise RecordRejected(f"{field}: VAT code {code!r} is unknown (known: {known}, or 'none')", field)

    def accounting_years(self) -> list[tuple[dt.date, dt.date]]:
        """(from, to) of every accounting year (GET /accountingyears, once; kept between runs)."""
        with self._lock:
            if self._years is None:
                kept = self._kept_rows("years")
                if kept is not None:
                    self._years = [(dt.date.fromisoformat(a), dt.date.fromisoformat(b)) for a, b in kept]
                    return self._years
                rows = self._gateway.get("/v1/{org}/accountingyears") or []
                years = []
                for row in rows:
                    start, end = _ci(row, "FromDate"), _ci(row, "ToDate")
                    if start and end:
                        years.append(
                            (dt.date.fromisoformat(str(start)[:10]), dt.date.fromisoformat(str(end)[:10]))
                        )
                self._years = sorted(years)
                self._keep("years", [[a.isoformat(), b.isoformat()] for a, b in self._years])
            return self._years

    def check_bookable_date(self, day: dt.date, field: str) -> None:
        """Reject a voucher date no accounting year covers (Dinero error 47).

        Booking into the year right after the last one is allowed: Dinero creates that year. Years kept
        from an earlier run are read again before a reject (a year may have been added since).
        """
        try:
            self._check_bookable_date(day, field)
        except RecordRejected:
            if not self.refresh("years"):
                raise
            self._check_bookable_date(day, field)

    def _check_bookable_date(self, day: dt.date, field: str) -> None:
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


def _by_number(rows: Any) -> dict[int, dict[str, Any]]:
    result: dict[int, dict[str, Any]] = {}
    for row in rows or []:
        number = _ci(row, "AccountNumber")
        if number is not None:
            result[int(number)] = row
    return result
