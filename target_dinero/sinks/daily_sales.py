"""Daily sales: many sale records -> ONE manual voucher per day (Dinero's guidance for POS/web-shop sales).

Each record is one sale (date or timestamp, amount incl. VAT, payment method, optional id and VAT rate;
field names configurable). The sales of a day become one voucher, ``ExternalReference`` =
``<prefix><stream>:<YYYY-MM-DD>``:

* one line per payment method: its configured account (debit) against the revenue account (credit),
  for the method's total incl. VAT;
* VAT: with ``vat_account`` one more line moves the VAT (per rate, rounded to øre on the day's total)
  from the revenue account to the VAT account, all lines with VAT code ``none`` (exact amounts);
  without it, the method lines carry the net amount and ``BalancingAccountVatCode = vat_code`` and Dinero
  adds the VAT (øre rounding is then Dinero's, per line).

Exactly once, across runs and batches: the journal remembers which sales (by id, or by a hash of the
record) each day's voucher contains. Sales arriving again are recognised; new sales of a day whose
voucher is still a draft update it (PUT with its Timestamp); new sales of a day already booked go to a
supplement voucher ``…:YYYY-MM-DD#2`` (a booked voucher is never changed). With ``book``, days are booked
at the end of the run (and drafts left by an interrupted run are booked by the next one), so a day
costs 2 requests: create + book.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from target_dinero.records import (
    RecordRejected,
    derive_reference,
    digest,
    money,
    to_date,
    to_decimal,
    validate_shape,
)
from target_dinero.reference_data import NO_VAT
from target_dinero.sinks.base import DineroSink, Prepared
from target_dinero.voucher_writer import VoucherWriter

__all__ = ["DailySalesSink"]

_MAX_PARTS = 50


class DailySalesSink(DineroSink):
    """load_as: daily_sales."""

    load_type = "daily_sales"
    #: Sales are small and a day split over two drains costs one more request (an update): drain rarely.
    MAX_SIZE_DEFAULT = 10_000

    def setup(self) -> None:
        """Check the configured accounts once, before any record."""
        super().setup()
        self.writer = VoucherWriter(self.run, self.stream_name, self.load_type)
        self.opts = self.options.daily_sales
        assert self.opts is not None  # parse_streams guarantees it for load_as daily_sales
        self._checked = False

    def _check_config(self) -> None:
        if self._checked:
            return
        opts, ref = self.opts, self.run.reference
        for method, account in opts.payment_accounts.items():
            ref.check_account(account, f"streams.{self.stream_name}.payment_accounts.{method}")
        ref.check_account(opts.revenue_account, f"streams.{self.stream_name}.revenue_account")
        if opts.vat_account is not None:
            ref.check_account(opts.vat_account, f"streams.{self.stream_name}.vat_account")
        if opts.vat_code:
            ref.check_vat_code(opts.vat_code, f"streams.{self.stream_name}.vat_code")
        self._checked = True

    def _default_rate(self) -> Decimal:
        if self.opts.vat_rate is not None:
            return self.opts.vat_rate
        if self.opts.vat_code and self.opts.vat_code.lower() != NO_VAT:
            return self.run.reference.vat_rates().get(self.opts.vat_code.upper(), Decimal(0))
        return Decimal(0)

    # -- one sale --------------------------------------------------------------------------------
    def prepare(self, record: dict[str, Any]) -> Prepared:
        """Validate one sale and work out its day, payment account and VAT rate."""
        try:
            self._check_config()
        except RecordRejected as exc:  # a config problem: say so on every record rather than guess
            raise RecordRejected(f"stream configuration: {exc.reason}", exc.field) from exc
        opts = self.opts
        names = {
            "date": opts.date_field,
            "amount": opts.amount_field,
            "payment_method": opts.payment_method_field,
            "id": opts.id_field,
            "vat_rate": opts.vat_rate_field or "vat_rate",
        }
        sale = {key: record.get(name) for key, name in names.items()}
        if not opts.vat_rate_field:
            sale["vat_rate"] = None
        try:
            validate_shape("daily_sales", sale)
            day = to_date(sale["date"], "date", tz=opts.timezone)
            amount = to_decimal(sale["amount"], "amount")
            rate = to_decimal(sale["vat_rate"], "vat_rate", required=False)
        except RecordRejected as exc:
            field = names.get(str(exc.field).split(".")[0], exc.field)
            raise RecordRejected(exc.reason.replace(str(exc.field), str(field)), field) from exc
        rate = self._default_rate() if rate is None else rate
        if not Decimal(0) <= rate < Decimal(1):
            raise RecordRejected(
                f"{names['vat_rate']} must be a fraction such as 0.25, got {rate}", names["vat_rate"]
            )
        if opts.vat_account is None and rate not in (Decimal(0), self._default_rate()):
            raise RecordRejected(
                f"VAT rate {rate} differs from {opts.vat_code}'s; set vat_account to load mixed rates",
                names["vat_rate"],
            )
        self.run.reference.check_bookable_date(day, names["date"])
        method = str(sale["payment_method"]).strip().lower()
        if opts.account_for(method) is None:
            known = ", ".join(sorted(opts.payment_accounts))
            raise RecordRejected(
                f"payment method {sale['payment_method']!r} has no account in payment_accounts "
                f"(configured: {known})",
                names["payment_method"],
            )
        key = f"id:{sale['id']}" if sale["id"] not in (None, "") else f"h:{digest(record)}"
        return Prepared(
            record=record,
            reference=key,
            payload={
                "day": day.isoformat(),
                "method": method,
                "amount": str(money(amount)),
                "rate": str(rate),
            },
        )

    # -- one day ----------------------------------------------------------------------------------
    def _lines(self, day: str, sales: dict[str, list[str]]) -> list[dict[str, Any]]:
        opts = self.opts
        description = opts.description.format(date=day)
        gross: defaultdict[tuple[str, Decimal], Decimal] = defaultdict(Decimal)
        for method, amount, rate in sales.values():
            gross[(method, Decimal(rate))] += Decimal(amount)
        lines: list[dict[str, Any]] = []
        if opts.vat_account is not None:
            per_method: defaultdict[str, Decimal] = defaultdict(Decimal)
            per_rate: defaultdict[Decimal, Decimal] = defaultdict(Decimal)
            for (method, rate), amount in gross.items():
                per_method[method] += amount
                per_rate[rate] += amount
            for method in sorted(per_method):
                if per_method[method]:
                    lines.append(
                        {
                            "Description": f"{description} {method}",
                            "AccountNumber": opts.account_for(method),
                            "BalancingAccountNumber": opts.revenue_account,
                            "Amount": money(per_method[method]),
                            "AccountVatCode": NO_VAT,
                            "BalancingAccountVatCode": NO_VAT,
                        }
                    )
            vat = sum((money(total * rate / (1 + rate)) for rate, total in per_rate.items()), Decimal(0))
            if vat:
                lines.append(
                    {
                        "Description": f"{description} moms",
                        "AccountNumber": opts.revenue_account,
                        "BalancingAccountNumber": opts.vat_account,
                        "Amount": money(vat),
                        "AccountVatCode": NO_VAT,
                        "BalancingAccountVatCode": NO_VAT,
                    }
                )
            return lines
        for (method, rate), amount in sorted(gross.items()):
            if not amount:
                continue
            code = opts.vat_code if rate else NO_VAT
            lines.append(
                {
                    "Description": f"{description} {method}",
                    "AccountNumber": opts.account_for(method),
                    "BalancingAccountNumber": opts.revenue_account,
                    "Amount": money(amount / (1 + rate)),
                    "AccountVatCode": NO_VAT,
                    "BalancingAccountVatCode": code,
                }
            )
        return lines

    def _parts(self, base: str) -> list[tuple[str, dict[str, Any]]]:
        parts = []
        for number in range(1, _MAX_PARTS + 1):
            ref = base if number == 1 else f"{base}#{number}"
            entry = self.run.journal.get(ref)
            if entry is None:
                break
            parts.append((ref, entry))
        return parts

    def load(self, items: list[Prepared]) -> None:
        """Group the batch's sales by day and write one voucher per day."""
        by_day: defaultdict[str, list[Prepared]] = defaultdict(list)
        for item in items:
            by_day[item.payload["day"]].append(item)
        for day in sorted(by_day):
            day_items = by_day[day]
            try:
                self._load_day(day, day_items)
            except Exception as exc:  # the day's voucher failed: all its sales share the verdict
                verdict = self.rejection(exc)
                if verdict is None:
                    raise
                for item in day_items:
                    self.run.reject(self.stream_name, item.record, *verdict)

    def _load_day(self, day: str, items: list[Prepared]) -> None:
        base = derive_reference(self.run.reference_prefix, self.stream_name, [day])
        parts = self._parts(base)
        if parts:
            last_ref, last_entry = parts[-1]
            parts[-1] = (last_ref, self.writer.confirm_journal(last_ref, last_entry))
        known: dict[str, list[str]] = {}
        booked_keys: set[str] = set()
        for _, entry in parts:
            if entry.get("status") in ("failed", "deleted"):
                continue  # nothing of that attempt is in Dinero
            for key, value in (entry.get("sales") or {}).items():
                known[key] = value
                if entry.get("status") == "booked":
                    booked_keys.add(key)
        new: dict[str, list[str]] = {}
        for item in items:
            value = [item.payload["method"], item.payload["amount"], item.payload["rate"]]
            if known.get(item.reference) == value:
                continue
            if item.reference in booked_keys:
                self.run.reject(
                    self.stream_name,
                    item.record,
                    f"sale {item.reference} changed after its day {day} was booked; correct it in Dinero",
                    self.opts.amount_field,
                )
                continue
            new[item.reference] = value
        self.count("sales_seen", len(items))
        if not new:
            if parts:
                self.count("unchanged")
            return
        open_ref, open_entry = None, None
        if parts and parts[-1][1].get("status") in ("draft", "pending", "failed", "deleted", None):
            # None: a file was uploaded for it, but no create was ever sent -- still the open voucher
            open_ref, open_entry = parts[-1]
        if open_ref is None:
            if len(parts) >= _MAX_PARTS:
                raise RecordRejected(f"day {day} already has {_MAX_PARTS} vouchers", self.opts.date_field)
            open_ref = base if not parts else f"{base}#{len(parts) + 1}"
            open_entry = {}
        sales = {**(open_entry or {}).get("sales", {}), **new}
        if (open_entry or {}).get("status") in ("failed", "deleted"):
            sales = dict(new)  # nothing of that attempt exists in Dinero
            if not self.run.dry_run:
                self.run.journal.record(open_ref, sales={})
        payload = {"VoucherDate": day, "ExternalReference": open_ref, "Lines": self._lines(day, sales)}
        if not payload["Lines"]:
            self.count("unchanged")
            return
        entry = self.writer.upsert(open_ref, payload, digest(payload), book=False, update_drafts=True)
        if self.run.dry_run:
            if self.options.book:
                self.run.plan("book", self.load_type, self.stream_name, open_ref, {"VoucherDate": day})
        elif entry is not None:
            self.run.journal.record(open_ref, add_sales=new, stream=self.stream_name, book=self.options.book)
        self.count("sales_loaded", len(new))

    # -- end of run: book the days ------------------------------------------------------------------
    def clean_up(self) -> None:
        """Book every draft day voucher of this stream (this run's and any an interrupted run left)."""
        if self.options.book:
            for entry in self.run.journal.entries():
                if entry.get("stream") == self.stream_name and entry.get("status") == "draft":
                    record = {"day_voucher": entry["ref"]}
                    self.guarded(record, lambda ref=entry["ref"]: self.writer.book_draft(ref))
        super().clean_up()
