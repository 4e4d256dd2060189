"""Target settings: the JSON schema of target-dinero's own settings and the per-stream load options.

Which stream loads as what is configuration (``streams``); a stream without a mapping is an error that
names the stream and the configured options, never a silent drop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from singer_sdk import typing as th

from dinero_api.settings import setting
from target_dinero.schemas import LOAD_TYPES

__all__ = [
    "DailySalesOptions",
    "StreamOptions",
    "UnmappedStreamError",
    "parse_streams",
    "target_settings",
]

MAX_PREFIX_LENGTH = 48


class UnmappedStreamError(ValueError):
    """A stream arrived that the ``streams`` setting does not map to a load type."""


_DAILY_SALES_PROPERTIES = th.PropertiesList(
    th.Property(
        "payment_accounts",
        th.ObjectType(additional_properties=th.IntegerType),
        description="daily_sales: payment method -> account number that receives it (card -> 55010, "
        "mobilepay -> 55020, cash -> 55000, ...). Matched case-insensitively.",
    ),
    th.Property("revenue_account", th.IntegerType, description="daily_sales: revenue account, e.g. 1000"),
    th.Property(
        "vat_account",
        th.IntegerType,
        description="daily_sales: sales-VAT account. When set, VAT is moved from the revenue account to it "
        "with an explicit line (amounts incl. VAT, VAT codes 'none'); when absent, Dinero splits VAT by "
        "vat_code on the revenue side.",
    ),
    th.Property("vat_code", th.StringType, description="daily_sales: VAT code of the revenue, e.g. U25"),
    th.Property("vat_rate", th.NumberType, description="daily_sales: VAT rate (0.25); default: vat_code's"),
    th.Property("date_field", th.StringType, default="date", description="daily_sales: date/timestamp field"),
    th.Property("amount_field", th.StringType, default="amount", description="daily_sales: amount incl. VAT"),
    th.Property("payment_method_field", th.StringType, default="payment_method"),
    th.Property("id_field", th.StringType, default="id", description="daily_sales: sale id (dedupe)"),
    th.Property("vat_rate_field", th.StringType, description="daily_sales: per-sale VAT rate field"),
    th.Property("timezone", th.StringType, default="Europe/Copenhagen"),
    th.Property("description", th.StringType, default="Dagens salg {date}"),
    th.Property(
        "whole_days",
        th.BooleanType,
        default=False,
        description="daily_sales: every run carries whole days (all sales of each day it mentions). Then a "
        "day's voucher is replaced by exactly this run's sales of that day (a booked day gets a supplement "
        "voucher for the difference), and sales without id are accepted for days an earlier run loaded.",
    ),
)

_STREAM_OPTIONS = th.ObjectType(
    th.Property("load_as", th.StringType, required=True, allowed_values=list(LOAD_TYPES)),
    th.Property("book", th.BooleanType, default=False, description="book invoices/vouchers after creating"),
    th.Property(
        "external_reference_field",
        th.StringType,
        description="record field to use as ExternalReference when the record has none "
        "(default: derived from stream name and key properties)",
    ),
    th.Property(
        "update_drafts",
        th.BooleanType,
        default=True,
        description="update an existing draft when the record differs from it (booked objects never change). "
        "Off: a draft that differs from its record is rejected naming the fields, neither updated nor booked",
    ),
    th.Property(
        "rounding_account",
        th.IntegerType,
        description="invoice: VAT-free account that receives an øre-rounding line when Dinero's per-line "
        "rounding would make the invoice's total differ from the record's (its TotalInclVat, or the sum of "
        "its lines when ShowLinesInclVat); without it such a record is rejected",
    ),
    th.Property(
        "deposit_account",
        th.IntegerType,
        description="invoice_payment / Payments / sales_credit_note refunds: deposit (bank or clearing) "
        "account of a payment that names none",
    ),
    th.Property(
        "create_deposit_account",
        th.BooleanType,
        default=False,
        description="create a payment's deposit account (number >= 50000) when the organization lacks it, "
        "before the first payment that uses it; without it such a payment is rejected",
    ),
    th.Property(
        "deposit_account_name",
        th.StringType,
        description="name of a deposit account the target creates (default 'Clearing <number>')",
    ),
    th.Property(
        "allow_overpayment",
        th.BooleanType,
        default=False,
        description="invoice_payment / Payments / refunds: register a payment larger than what is still "
        "owed on the document by more than 1.00 (Dinero marks it OverPaid). Without it such a payment -- "
        "usually a duplicate under another reference, or an amount in øre -- is rejected before any write, "
        "naming both amounts; up to 1.00 over (a shop rounding VAT per line) is registered either way",
    ),
    th.Property(
        "max_remainder_fee_share",
        th.NumberType(minimum=0, maximum=1),
        default=0.1,
        description="invoice_payment / Payments / refunds with RemainderIsFee: the largest remainder Dinero "
        "may write off as a fee, as a share of the document's total (0.1 = 10 %: card fees are a few "
        "percent; a larger remainder is an unpaid balance). A payment whose remainder is larger is "
        "rejected before any write, naming both amounts; 0 never writes a remainder off",
    ),
    th.Property(
        "send",
        th.StringType,
        allowed_values=["email", "einvoice"],
        description="invoice: after booking, send each invoice by e-mail or as an e-invoice (NemHandel), "
        "never twice (Dinero's mailouts of the invoice are read first); a record's Send overrides it",
    ),
    *_DAILY_SALES_PROPERTIES,
    additional_properties=False,
)
#: The per-stream options' schema: their defaults are read from here (written there only).
_STREAM_OPTIONS_SCHEMA = _STREAM_OPTIONS.to_dict()


def target_settings() -> th.PropertiesList:
    """target-dinero's own settings (merged with dinero_api's shared settings by the target)."""
    return th.PropertiesList(
        th.Property(
            "streams",
            th.ObjectType(additional_properties=_STREAM_OPTIONS),
            description='Stream name -> load options, e.g. {"orders": {"load_as": "invoice", "book": true}}. '
            f"load_as is one of {', '.join(LOAD_TYPES)}. A stream with no entry stops the run.",
        ),
        th.Property(
            "rejects_file",
            th.StringType,
            default="target-dinero-rejects.jsonl",
            description="JSONL file that receives rejected records: {stream, record, reason, field}",
        ),
        th.Property(
            "max_rejects",
            th.IntegerType(minimum=0),
            default=0,
            description="number of rejected records tolerated; more make the run end non-zero",
        ),
        th.Property(
            "dry_run", th.BooleanType, default=False, description="validate and resolve, write nothing"
        ),
        th.Property(
            "external_reference_prefix",
            th.StringType,
            default="",
            description="prefix of the ExternalReference the target derives from stream and primary key",
        ),
        th.Property(
            "manual_voucher_amount_sign",
            th.StringType,
            default="debit_account",
            allowed_values=["debit_account", "credit_account"],
            description="how Dinero books a positive manual-voucher line Amount (undocumented): "
            "debit_account = AccountNumber debited, BalancingAccountNumber credited; credit_account = the "
            "reverse. Records always mean debit_account; the target flips the signs it sends for "
            "credit_account. Check one booked voucher's entries in Dinero before loading.",
        ),
        th.Property(
            "journal_store",
            th.StringType,
            description="where the target's journal (what it wrote, per organization) is kept, shared by "
            "every worker that reaches it: a file path (SQLite) or a redis:// URL. Default: the SQLite "
            "file <ledger_file>.sqlite3. Every worker loading into one organization must use the same "
            "store; runs on one organization take turns through its lock.",
        ),
        th.Property(
            "ledger_file",
            th.StringType,
            description="JSONL journal of earlier versions, merged into journal_store on first use; its "
            "directory and name also place the default store. Default <quota cache "
            "dir>/target-dinero-ledger-<host>-<org>.jsonl.",
        ),
        th.Property(
            "commit_horizon_seconds",
            th.NumberType(minimum=0),
            default=120,
            description="after a write whose outcome is unknown (lost answer, timeout), how long Dinero "
            "may still commit it: a look-up that finds nothing before this time has passed since the "
            "write was sent is repeated (polling) before the target concludes it was not made.",
        ),
        th.Property(
            "reference_cache_seconds",
            th.NumberType(minimum=0),
            default=3600,
            description="how long the organization's accounts, deposit accounts, VAT codes and accounting "
            "years read by one run are used by the next runs (kept in journal_store) instead of being read "
            "again: one to four requests less per run. An account, code or date not in a kept list is "
            "looked up again before a record is rejected; an account's VAT code that sets an invoice "
            "amount is always read in the run. 0: read them in every run.",
        ),
        th.Property(
            "voucher_receipts",
            th.BooleanType,
            default=True,
            description="attach a generated one-page PDF receipt to every manual/daily-sales voucher "
            "without a file, so that Dinero can find the voucher again through its file (GET /files) "
            "after a lost answer or from another worker. Costs one upload per such voucher.",
        ),
    )


@dataclasses.dataclass(frozen=True)
class DailySalesOptions:
    """How the sales of one day become one manual voucher."""

    payment_accounts: dict[str, int]
    revenue_account: int
    vat_account: int | None
    vat_code: str | None
    vat_rate: Decimal | None
    date_field: str
    amount_field: str
    payment_method_field: str
    id_field: str
    vat_rate_field: str | None
    timezone: ZoneInfo
    description: str
    whole_days: bool = False

    def account_for(self, method: str) -> int | None:
        """Account of a payment method (case-insensitive), or None when unmapped."""
        return self.payment_accounts.get(method.strip().lower())


@dataclasses.dataclass(frozen=True)
class StreamOptions:
    """Load options of one stream."""

    stream: str
    load_as: str
    book: bool = False
    external_reference_field: str | None = None
    update_drafts: bool = True
    daily_sales: DailySalesOptions | None = None
    rounding_account: int | None = None
    deposit_account: int | None = None
    create_deposit_account: bool = False
    deposit_account_name: str | None = None
    send: str | None = None
    max_remainder_fee_share: Decimal = Decimal("0.1")
    allow_overpayment: bool = False


def _daily_sales(stream: str, raw: Mapping[str, Any], errors: list[str]) -> DailySalesOptions | None:
    where = f"streams.{stream}"
    accounts = raw.get("payment_accounts") or {}
    if not accounts:
        errors.append(f"{where}.payment_accounts is required for load_as daily_sales (method -> account)")
    revenue = raw.get("revenue_account")
    if revenue is None:
        errors.append(f"{where}.revenue_account is required for load_as daily_sales")
    vat_code = raw.get("vat_code")
    vat_rate: Decimal | None = None
    if raw.get("vat_rate") is not None:
        try:
            vat_rate = Decimal(str(raw["vat_rate"]))
        except InvalidOperation:
            vat_rate = None
        if vat_rate is None or not (Decimal(0) <= vat_rate < Decimal(1)):
            errors.append(f"{where}.vat_rate must be a fraction between 0 and 1 (e.g. 0.25)")
    if raw.get("vat_account") is None and not vat_code:
        errors.append(
            f"{where}: daily_sales needs vat_code (Dinero splits VAT) or vat_account (explicit line)"
        )
    try:
        zone = ZoneInfo(setting(raw, _STREAM_OPTIONS_SCHEMA, "timezone"))
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(f"{where}.timezone {raw.get('timezone')!r} is not a known IANA time zone")
        zone = ZoneInfo("UTC")
    if errors and (not accounts or revenue is None):
        return None
    return DailySalesOptions(
        payment_accounts={str(k).strip().lower(): int(v) for k, v in accounts.items()},
        revenue_account=int(revenue),
        vat_account=int(raw["vat_account"]) if raw.get("vat_account") is not None else None,
        vat_code=vat_code,
        vat_rate=vat_rate,
        date_field=_option(raw, "date_field"),
        amount_field=_option(raw, "amount_field"),
        payment_method_field=_option(raw, "payment_method_field"),
        id_field=_option(raw, "id_field"),
        vat_rate_field=raw.get("vat_rate_field"),
        timezone=zone,
        description=_option(raw, "description"),
        whole_days=bool(_option(raw, "whole_days")),
    )


def _option(raw: Mapping[str, Any], name: str) -> Any:
    """A stream's load option, else its default from the options' schema."""
    return setting(raw, _STREAM_OPTIONS_SCHEMA, name)


def parse_streams(config: Mapping[str, Any]) -> tuple[dict[str, StreamOptions], list[str]]:
    """Read the ``streams`` setting; returns the options per stream and the list of problems found."""
    errors: list[str] = []
    prefix = config.get("external_reference_prefix") or ""
    if len(prefix) > MAX_PREFIX_LENGTH:
        errors.append(f"external_reference_prefix is longer than {MAX_PREFIX_LENGTH} characters")
    result: dict[str, StreamOptions] = {}
    for stream, raw in (config.get("streams") or {}).items():
        if not isinstance(raw, Mapping):
            errors.append(f"streams.{stream} must be an object with load_as")
            continue
        load_as = raw.get("load_as")
        if load_as not in LOAD_TYPES:
            errors.append(f"streams.{stream}.load_as is {load_as!r}; expected one of {', '.join(LOAD_TYPES)}")
            continue
        daily = _daily_sales(stream, raw, errors) if load_as == "daily_sales" else None
        result[stream] = StreamOptions(
            stream=stream,
            load_as=load_as,
            book=bool(_option(raw, "book")),
            external_reference_field=raw.get("external_reference_field"),
            update_drafts=bool(_option(raw, "update_drafts")),
            daily_sales=daily,
            rounding_account=_rounding_account(stream, raw, errors),
            deposit_account=_optional_account(stream, raw, "deposit_account", errors),
            create_deposit_account=bool(_option(raw, "create_deposit_account")),
            deposit_account_name=raw.get("deposit_account_name"),
            send=raw.get("send") or None,
            max_remainder_fee_share=_fee_share(stream, raw, errors),
            allow_overpayment=bool(_option(raw, "allow_overpayment")),
        )
    return result, errors


def _fee_share(stream: str, raw: Mapping[str, Any], errors: list[str]) -> Decimal:
    """``max_remainder_fee_share`` as an exact fraction 0..1 (a JSON float's shortest text)."""
    value = _option(raw, "max_remainder_fee_share")
    try:
        share = Decimal(str(value))
    except (InvalidOperation, ValueError):
        share = Decimal(-1)
    if isinstance(value, bool) or not share.is_finite() or not Decimal(0) <= share <= Decimal(1):
        errors.append(f"streams.{stream}.max_remainder_fee_share must be a fraction between 0 and 1")
        return Decimal("0.1")
    return share


def _rounding_account(stream: str, raw: Mapping[str, Any], errors: list[str]) -> int | None:
    value = raw.get("rounding_account")
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        errors.append(f"streams.{stream}.rounding_account must be an account number")
        return None


def _optional_account(stream: str, raw: Mapping[str, Any], name: str, errors: list[str]) -> int | None:
    value = raw.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        errors.append(f"streams.{stream}.{name} must be an account number")
        return None


def unmapped_stream_message(stream: str, streams: Mapping[str, StreamOptions]) -> str:
    """The error text for a stream without a mapping: names the stream and the options."""
    known = ", ".join(f"{name} -> {opts.load_as}" for name, opts in sorted(streams.items())) or "none"
    return (
        f"Stream {stream!r} has no mapping in the target's `streams` setting, so its records would be "
        f'dropped. Add e.g. "streams": {{"{stream}": {{"load_as": "invoice"}}}} with load_as one of '
        f"{', '.join(LOAD_TYPES)} (configured streams: {known}), or remove the stream with a stream map."
    )
