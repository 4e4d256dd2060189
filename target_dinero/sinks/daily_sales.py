"""Daily sales: many sale records -> ONE manual voucher per day (Dinero's guidance for POS/web-shop sales).

Each record is one sale (date or timestamp, amount incl. VAT, payment method, optional id and VAT rate;
field names configurable). The sales of a day become one voucher, ``ExternalReference`` =
``<prefix><stream>:<YYYY-MM-DD>``:

* one line per payment method: its configured account (debit) against the revenue account (credit),
  for the method's total incl. VAT;
* VAT: with ``vat_account`` one more line moves the VAT (per rate, rounded to øre on the day's total)
  from the revenue account to the VAT account, all lines with VAT code ``none`` (exact amounts);
  without it, the method lines carry a net amount and ``BalancingAccountVatCode = vat_code`` and Dinero
  adds the VAT per line. The net is chosen (:func:`target_dinero.amounts.nets_for_gross`) so that
  Dinero's rounding gives back the method's gross to the øre, never relying on how Dinero rounds a
  midpoint; where no single net does, the method gets a second small line on the same accounts.

Identity (README "Daily sales"): a sale *is* its ``id_field``. The journal keeps, per day, the sales the
day holds (``day_sales``: key -> [method, amount, rate]); a sale arriving again with the same id replaces
its earlier version, on whatever day it now belongs to (moved days lose it), and a record deleted
upstream (``_sdc_deleted_at`` / ``DeletedAt``) removes it. Sales without id are distinct from each other
within one run (three identical 25.00 sales are 75.00). For a day an earlier run loaded with sales
without id, a new sale without id cannot be told from a re-sent one: it is rejected with that reason --
unless the stream sets ``whole_days: true`` (every run carries whole days), in which case the day's
content is replaced by exactly this run's sales of that day.

After every change the day's voucher equals its sales: the booked vouchers of a day are never changed;
the open draft (or a new supplement ``…:YYYY-MM-DD#n``) holds the difference between the day's sales and
what the booked vouchers hold (negative when sales were corrected down, moved away or returned); a draft
whose difference is zero is deleted. With ``book``, days are booked at the end of the run (and drafts
left by an interrupted run are booked by the next one), so a new day costs 2 requests: create + book.

What each voucher holds is journaled per content digest (``plans``): the writer records the digest it
sent before and after each write, so a crash between a write and the journal never attributes a content
to a voucher that Dinero does not hold.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

from dinero_api.errors import DineroGone, DineroTimestampConflict, DineroUnknownOutcome
from target_dinero.amounts import dinero_vat, from_ore, is_whole_ore, nets_for_gross, to_ore
from target_dinero.exactly_once import RedoNextRun
from target_dinero.records import (
    RecordRejected,
    derive_reference,
    digest,
    money,
    normalize_reference,
    plain,
    to_date,
    to_decimal,
    validate_shape,
)
from target_dinero.reference_data import NO_VAT
from target_dinero.remote_index import field_ci
from target_dinero.sinks.base import DineroSink, Prepared, in_doubt, is_deleted_upstream
from target_dinero.voucher_writer import PATH, VoucherWriter

__all__ = ["DailySalesSink"]

_MAX_PARTS = 50
_LIVE = ("draft", "booked", "pending")
_DAY_IN_REF = re.compile(r":(\d{4}-\d{2}-\d{2})(?:#\d+)?$")
_VAT = "vat"

Totals = dict[str, Decimal]  # "<method>|<rate>" -> gross incl. VAT; "vat" -> VAT amount


def _canonical(sales: dict[str, Any]) -> dict[str, Any]:
    """A day's journaled sales keyed by :meth:`DailySalesSink._key`'s form: journals of earlier versions
    kept an id as it came (``id: POS-1``, padded or decomposed), which would not meet the same sale again."""
    out: dict[str, Any] = {}
    for key, value in sales.items():
        if key.startswith("id:"):
            text = normalize_reference(key[3:])
            key = f"id:{text}" if text else key
        out[key] = value
    return out


def _rate_text(rate: Decimal | str) -> str:
    """A rate as a canonical string ("0.250" and "0.25" are one rate)."""
    value = Decimal(str(rate)).normalize()
    return format(value, "f") if value else "0"


def _aggregate(sales: dict[str, list[str]]) -> Totals:
    """Gross per (method, rate) of a set of sales."""
    totals: Totals = defaultdict(Decimal)
    for method, amount, rate in sales.values():
        totals[f"{method}|{_rate_text(rate)}"] += Decimal(amount)
    return dict(totals)


def _vat_of_day(totals: Totals) -> Decimal:
    """The day's VAT, rounded to øre per rate on the day's total (explicit-VAT mode)."""
    per_rate: defaultdict[Decimal, Decimal] = defaultdict(Decimal)
    for key, amount in totals.items():
        if key != _VAT:
            per_rate[Decimal(key.rsplit("|", 1)[1])] += amount
    return sum((money(total * rate / (1 + rate)) for rate, total in per_rate.items() if rate), Decimal(0))


def _encode(totals: Totals) -> dict[str, str]:
    return {k: str(v) for k, v in sorted(totals.items()) if v}


def _decode(raw: dict[str, str]) -> Totals:
    return {k: Decimal(v) for k, v in raw.items()}


class DailySalesSink(DineroSink):
    """load_as: daily_sales."""

    load_type = "daily_sales"
    write_family = "manual_voucher"  # its day vouchers are manual vouchers
    #: Sales are small and a day split over two drains costs one more request (an update): drain rarely.
    MAX_SIZE_DEFAULT = 10_000

    def setup(self) -> None:
        """Check the configured accounts once, before any record."""
        super().setup()
        self.writer = VoucherWriter(self.run, self.stream_name, self.load_type)
        self.opts = self.options.daily_sales
        assert self.opts is not None  # parse_streams guarantees it for load_as daily_sales
        self._checked = False
        # Sales without id get keys unique to this run: identical records of one input are distinct sales.
        self._run_token = uuid.uuid4().hex[:16]
        self._sequence = 0
        self._days_this_run: set[str] = set()
        self._index: dict[str, set[str]] | None = None

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

    def _code_rate(self) -> Decimal:
        """The rate Dinero applies for ``vat_code`` (0 for none / no code)."""
        if self.opts.vat_code and self.opts.vat_code.lower() != NO_VAT:
            return self.run.reference.vat_rates().get(self.opts.vat_code.upper(), Decimal(0))
        return Decimal(0)

    def _default_rate(self) -> Decimal:
        if self.opts.vat_rate is not None:
            return self.opts.vat_rate
        return self._code_rate()

    # -- one sale --------------------------------------------------------------------------------
    def process_batch(self, context: dict) -> None:
        """Validate every sale (deletions included: they remove a sale), then load the batch by day."""
        items: dict[str, Prepared] = {}
        for record in context.get("records", []):
            deleted = is_deleted_upstream(record)
            try:
                item = self.prepare(plain(record), deleted=deleted)
            except RecordRejected as exc:
                self.run.reject(self.stream_name, record, exc.reason, exc.field)
                continue
            if item.reference in items:
                self.tally_duplicate_merged()
                del items[item.reference]  # the later version of a sale wins
            items[item.reference] = item
        if items:
            with self.run.write_lock(self.write_family or self.load_type):  # see DineroSink.process_batch
                self.load(list(items.values()))

    def _key(self, sale_id: Any) -> str | None:
        """The journal key of a sale: its id in the identity form of references (NFC, trimmed; ``7`` and
        ``"7"`` one id), so a sale re-sent with its id padded or decomposed is the same sale, not a second
        one on its day."""
        if sale_id in (None, ""):
            return None
        text = normalize_reference(plain(sale_id))
        return f"id:{text}" if text else None

    def _anonymous_key(self) -> str:
        self._sequence += 1
        return f"n:{self._run_token}:{self._sequence}"

    def prepare(self, record: dict[str, Any], deleted: bool = False) -> Prepared:
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
        if deleted:
            return self._prepare_deletion(record, sale, names)
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
        assert amount is not None
        if not is_whole_ore(amount):
            raise RecordRejected(
                f"{names['amount']} {amount} has a fraction of an øre; Dinero holds amounts in whole øre, "
                "so the day could not equal its sales. Round it at the source.",
                names["amount"],
            )
        rate = self._default_rate() if rate is None else rate
        if not Decimal(0) <= rate < Decimal(1):
            raise RecordRejected(
                f"{names['vat_rate']} must be a fraction such as 0.25, got {rate}", names["vat_rate"]
            )
        if opts.vat_account is None and rate not in (Decimal(0), self._code_rate()):
            raise RecordRejected(
                f"VAT rate {rate} differs from the rate of {opts.vat_code} in Dinero ({self._code_rate()}); "
                "set vat_account to load other rates",
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
        key = self._key(sale["id"]) or self._anonymous_key()
        return Prepared(
            record=record,
            reference=key,
            payload={
                "day": day.isoformat(),
                "method": method,
                "amount": str(amount.quantize(Decimal("0.01"))),
                "rate": _rate_text(rate),
                "deleted": False,
            },
        )

    def _prepare_deletion(
        self, record: dict[str, Any], sale: dict[str, Any], names: dict[str, str]
    ) -> Prepared:
        """A sale deleted upstream: it leaves its day (found by id in the journal)."""
        day = None
        try:
            day = to_date(sale["date"], "date", tz=self.opts.timezone).isoformat()
        except RecordRejected:
            day = None
        key = self._key(sale["id"])
        if key is None:
            if not self.opts.whole_days:
                raise RecordRejected(
                    f"a deleted sale without {names['id']} cannot be matched to the sale it removes; give "
                    f"sales an id (id_field) or set whole_days when every run carries whole days",
                    names["id"],
                )
            key = self._anonymous_key()
        return Prepared(record=record, reference=key, payload={"day": day, "deleted": True})

    # -- the journal's view of the days ---------------------------------------------------------------
    def _base(self, day: str) -> str:
        return derive_reference(self.run.reference_prefix, self.stream_name, [day])

    def _parts(self, base: str) -> list[tuple[str, dict[str, Any]]]:
        parts = []
        for number in range(1, _MAX_PARTS + 1):
            ref = base if number == 1 else f"{base}#{number}"
            entry = self.run.journal.get(ref)
            if entry is None:
                break
            parts.append((ref, entry))
        return parts

    def _legacy_sales(self, parts: list[tuple[str, dict[str, Any]]]) -> dict[str, list[str]]:
        """Sales of a day journaled by versions before ``day_sales`` (per voucher ``sales``)."""
        known: dict[str, list[str]] = {}
        for _, entry in parts:
            if entry.get("status") in _LIVE:
                known.update(entry.get("sales") or {})
        return known

    def _day_sales(self, day: str) -> tuple[dict[str, list[str]], bool]:
        """(the sales the day holds, whether anything of the day may be in Dinero)."""
        base = self._base(day)
        parts = self._parts(base)
        in_dinero = any(entry.get("status") in _LIVE for _, entry in parts)
        if parts and "day_sales" in parts[0][1]:
            return _canonical(parts[0][1]["day_sales"]), in_dinero
        return _canonical(self._legacy_sales(parts)), in_dinero

    def _sale_index(self) -> dict[str, set[str]]:
        """Sale key -> days whose journaled sales contain it (built once per run, kept up to date)."""
        if self._index is not None:
            return self._index
        prefix = f"{self.run.reference_prefix}{self.stream_name}:"
        current: dict[str, dict[str, Any]] = {}  # day -> day_sales
        legacy: defaultdict[str, dict[str, Any]] = defaultdict(dict)  # day -> union of per-voucher sales
        for entry in self.run.journal.entries():
            ref = str(entry.get("ref") or "")
            if entry.get("stream") not in (None, self.stream_name) or not ref.startswith(prefix):
                continue
            match = _DAY_IN_REF.search(ref)
            day = entry.get("day") or (match.group(1) if match else None)
            if day is None:
                continue
            if "day_sales" in entry:
                current[day] = entry["day_sales"]
            elif entry.get("status") in _LIVE:
                legacy[day].update(entry.get("sales") or {})
        index: defaultdict[str, set[str]] = defaultdict(set)
        for day, sales in {**legacy, **current}.items():
            for key in _canonical(sales):
                index[key].add(day)
        self._index = dict(index)
        return self._index

    def _held_before(self, sales: dict[str, list[str]]) -> bool:
        """True when the day holds sales without id that an earlier run loaded."""
        mine = f"n:{self._run_token}:"
        return any(key.startswith(("n:", "h:")) and not key.startswith(mine) for key in sales)

    # -- a batch ------------------------------------------------------------------------------------
    def load(self, items: list[Prepared]) -> None:
        """Work out every day the batch changes (new, corrected, moved, deleted sales), then write each."""
        index = self._sale_index()
        changes: defaultdict[str, dict[str, list[str] | None]] = defaultdict(dict)
        owners: defaultdict[str, list[Prepared]] = defaultdict(list)
        carried: set[str] = set()
        known: dict[str, tuple[dict[str, list[str]], bool]] = {}

        def day_state(day: str) -> tuple[dict[str, list[str]], bool]:
            if day not in known:
                known[day] = self._day_sales(day)
            return known[day]

        for item in items:
            payload, key = item.payload, item.reference
            if payload["deleted"]:
                if payload["day"] and self.opts.whole_days:
                    carried.add(payload["day"])
                    owners[payload["day"]].append(item)
                held = index.get(key, set())
                if not held:
                    self.count("skipped_deleted")
                for old_day in held:
                    changes[old_day][key] = None
                    owners[old_day].append(item)
                continue
            day = payload["day"]
            if key.startswith("n:") and not self.opts.whole_days and day not in self._days_this_run:
                sales, in_dinero = day_state(day)
                if self._held_before(sales) or (in_dinero and not sales):
                    self.run.reject(
                        self.stream_name,
                        item.record,
                        f"sale without {self.opts.id_field} for {day}, a day an earlier run already loaded "
                        "with sales without id: it cannot be told from a re-sent sale, so it is not loaded. "
                        f"Give sales an id ({self.opts.id_field}), or set whole_days: true when every run "
                        "carries all sales of each day it mentions.",
                        self.opts.id_field,
                    )
                    continue
            for old_day in index.get(key, set()) - {day}:
                changes[old_day][key] = None  # the sale moved: it leaves its old day
                owners[old_day].append(item)
            changes[day][key] = [payload["method"], payload["amount"], payload["rate"]]
            owners[day].append(item)
            carried.add(day)
        self.count("sales_seen", sum(1 for item in items if not item.payload["deleted"]))
        days = set(changes) | (carried if self.opts.whole_days else set())
        # Days that lose sales first: a sale whose old day cannot be corrected is not added to its new day
        # (it would be on two days); it is rejected with the old day's reason and retried by the next run.
        losing = {day for day, change in changes.items() if any(v is None for v in change.values())}
        blocked: set[str] = set()
        for day in sorted(days, key=lambda d: (d not in losing, d)):
            change = {k: v for k, v in changes.get(day, {}).items() if k not in blocked}
            try:
                self._change_day(day, change, replace=self._replaces(day, carried))
            except Exception as exc:  # the day's voucher failed: its sales share the verdict
                verdict = self.rejection(exc)
                if verdict is None:
                    raise
                blocked.update(k for k, v in changes.get(day, {}).items() if v is None)
                for item in owners[day]:
                    self.run.reject(self.stream_name, item.record, *verdict, in_doubt=in_doubt(exc))

    def _replaces(self, day: str, carried: set[str]) -> bool:
        """whole_days: the first batch of this run that carries a day replaces the day's sales."""
        return self.opts.whole_days and day in carried and day not in self._days_this_run

    def _change_day(self, day: str, changes: dict[str, list[str] | None], *, replace: bool) -> None:
        before, _ = self._day_sales(day)
        sales = {} if replace else dict(before)
        for key, value in changes.items():
            if value is None:
                sales.pop(key, None)
            else:
                sales[key] = value
        loaded = sum(1 for k, v in changes.items() if v is not None and before.get(k) != v)
        if sales == before and not self._needs_write(day, sales):
            self.count("unchanged")
            self._days_this_run.add(day)
            return
        self._write_day(day, sales)
        if not self.run.dry_run:
            index = self._sale_index()
            for key in before:
                index.get(key, set()).discard(day)
            for key in sales:
                index.setdefault(key, set()).add(day)
        self._days_this_run.add(day)
        self.count("sales_loaded", loaded)

    # -- one day -----------------------------------------------------------------------------------
    def _contribution(self, entry: dict[str, Any]) -> Totals:
        """What one voucher of the day holds in Dinero (by the digest the writer last confirmed)."""
        plans = entry.get("plans") or {}
        if entry.get("digest") in plans:
            return _decode(plans[entry["digest"]])
        totals = _aggregate(entry.get("sales") or {})  # journaled before plans existed
        if self.opts.vat_account is not None:
            totals[_VAT] = _vat_of_day(totals)  # what that version's VAT line held
        return totals

    def _difference(self, day: str, sales: dict[str, list[str]]) -> tuple[Totals, list[tuple[str, dict]]]:
        """(what the open voucher of the day must hold, the day's vouchers)."""
        parts = self._parts(self._base(day))
        if parts:
            last_ref, last_entry = parts[-1]
            parts[-1] = (last_ref, self.writer.confirm_journal(last_ref, last_entry))
        wanted = _aggregate(sales)
        if self.opts.vat_account is not None:
            wanted[_VAT] = _vat_of_day(wanted)
        booked: Totals = defaultdict(Decimal)
        for _, entry in parts:
            if entry.get("status") == "booked":
                for key, value in self._contribution(entry).items():
                    booked[key] += value
        need = {k: wanted.get(k, Decimal(0)) - booked.get(k, Decimal(0)) for k in set(wanted) | set(booked)}
        if self.opts.vat_account is None:
            need.pop(_VAT, None)  # Dinero computes the VAT of each line itself
        return {k: v for k, v in need.items() if v}, parts

    def _needs_write(self, day: str, sales: dict[str, list[str]]) -> bool:
        """True when the day's vouchers do not hold ``sales`` yet (an interrupted earlier write)."""
        need, parts = self._difference(day, sales)
        open_part = parts[-1] if parts and parts[-1][1].get("status") != "booked" else None
        if open_part is None or open_part[1].get("status") not in _LIVE:
            return bool(need)
        return _encode(self._contribution(open_part[1])) != _encode(need)

    def _write_day(self, day: str, sales: dict[str, list[str]], attempt: int = 0) -> None:
        base = self._base(day)
        need, parts = self._difference(day, sales)
        open_ref, open_entry = None, None
        if parts and parts[-1][1].get("status") in (None, "draft", "pending", "failed", "deleted"):
            open_ref, open_entry = parts[-1]  # None: the day was journaled while it needed no voucher
        if not need:
            if open_ref is not None and open_entry is not None and open_entry.get("status") == "draft":
                self._delete_draft(open_ref, open_entry)
            elif open_entry is not None and open_entry.get("status") == "pending":
                raise RecordRejected(
                    f"an earlier run sent the voucher {open_ref!r} but never learnt whether Dinero created "
                    f"it; check Dinero for ExternalReference {open_ref!r} before the day can be corrected",
                    self.opts.date_field,
                )
            self._record_day(base, day, sales)
            return
        if open_ref is None:
            if len(parts) >= _MAX_PARTS:
                raise RecordRejected(f"day {day} already has {_MAX_PARTS} vouchers", self.opts.date_field)
            open_ref = base if not parts else f"{base}#{len(parts) + 1}"
        lines = self._lines(day, need)
        payload = {"VoucherDate": day, "ExternalReference": open_ref, "Lines": lines}
        fingerprint = digest(payload)
        if not self.run.dry_run:
            plans = dict((open_entry or {}).get("plans") or {})
            current = (open_entry or {}).get("digest")
            plans = {k: v for k, v in plans.items() if k == current}
            plans[fingerprint] = _encode(need)
            self.run.journal.record(
                open_ref, plans=plans, day=day, stream=self.stream_name, book=self.options.book
            )
        entry = self.writer.upsert(open_ref, payload, fingerprint, book=False, update_drafts=True)
        if self.run.dry_run:
            if self.options.book:
                self.run.plan("book", self.load_type, self.stream_name, open_ref, {"VoucherDate": day})
            return
        if entry is not None and entry.get("status") == "booked" and entry.get("digest") != fingerprint:
            # Someone booked the draft in Dinero before we could change it: it keeps what it held, and
            # the difference goes to a supplement voucher.
            if attempt >= 2:
                raise RecordRejected(f"the vouchers of {day} keep changing in Dinero", self.opts.date_field)
            self._write_day(day, sales, attempt + 1)
            return
        self._record_day(base, day, sales)

    def _record_day(self, base: str, day: str, sales: dict[str, list[str]]) -> None:
        if not self.run.dry_run:
            self.run.journal.record(base, day=day, day_sales=sales, stream=self.stream_name)

    def _delete_draft(self, ref: str, entry: dict[str, Any]) -> None:
        """Remove a draft whose day no longer needs it (its sales were returned, moved or deleted)."""
        if self.run.dry_run:
            self.run.plan("delete", self.load_type, self.stream_name, ref, {"Guid": entry.get("guid")})
            return
        guid = str(entry["guid"])
        timestamp = entry.get("timestamp")
        for _ in range(2):
            try:
                self.run.gateway.delete(f"{PATH}/{guid}", {"Timestamp": timestamp})
                break
            except (DineroTimestampConflict, DineroUnknownOutcome):
                current = self.writer.get(guid)
                if current is None:
                    break  # gone already (our delete arrived, or someone deleted it)
                if str(field_ci(current, "Status") or "").lower() == "booked":
                    self.run.journal.record(ref, status="booked", timestamp=field_ci(current, "Timestamp"))
                    raise RedoNextRun(
                        f"voucher {ref} was booked in Dinero while the target corrected it; re-run to add "
                        "the correction as a supplement voucher",
                        self.opts.date_field,
                    ) from None
                timestamp = field_ci(current, "Timestamp")
            except DineroGone:  # 404, or "item is deleted" (Dinero's codes, dinero_api.errors)
                break  # deleted already
        self.writer.mark_deleted(ref, guid)
        self.count("deleted")

    def _lines(self, day: str, need: Totals) -> list[dict[str, Any]]:
        """Voucher lines that make Dinero hold exactly ``need`` (gross per method and rate, and VAT)."""
        opts = self.opts
        description = opts.description.format(date=day)
        lines: list[dict[str, Any]] = []

        def line(method: str, amount: Decimal, code: str, suffix: str = "") -> dict[str, Any]:
            return {
                "Description": f"{description} {method}{suffix}",
                "AccountNumber": opts.account_for(method),
                "BalancingAccountNumber": opts.revenue_account,
                "Amount": amount,
                "AccountVatCode": NO_VAT,
                "BalancingAccountVatCode": code,
            }

        if opts.vat_account is not None:
            per_method: defaultdict[str, Decimal] = defaultdict(Decimal)
            for key, amount in need.items():
                if key != _VAT:
                    per_method[key.rsplit("|", 1)[0]] += amount
            lines.extend(line(m, per_method[m], NO_VAT) for m in sorted(per_method) if per_method[m])
            vat = need.get(_VAT, Decimal(0))
            if vat:
                lines.append(
                    {
                        "Description": f"{description} moms",
                        "AccountNumber": opts.revenue_account,
                        "BalancingAccountNumber": opts.vat_account,
                        "Amount": vat,
                        "AccountVatCode": NO_VAT,
                        "BalancingAccountVatCode": NO_VAT,
                    }
                )
            return lines
        for key in sorted(need):
            method, rate_text = key.rsplit("|", 1)
            rate, gross = Decimal(rate_text), need[key]
            if not rate:
                lines.append(line(method, gross, NO_VAT))
                continue
            nets = nets_for_gross(to_ore(gross), rate)
            if nets is None:
                raise RecordRejected(
                    f"{gross} incl. {rate_text} VAT for {method} on {day} cannot be reached by any net "
                    f"amount with Dinero's per-line VAT rounding; set vat_account to load explicit VAT lines",
                    opts.amount_field,
                )
            for number, net in enumerate(nets):
                assert dinero_vat(net, rate) is not None
                suffix = "" if number == 0 else " (øreudligning)"
                lines.append(line(method, from_ore(net), str(opts.vat_code), suffix))
        return lines

    # -- end of run: book the days ------------------------------------------------------------------
    def clean_up(self) -> None:
        """Book every draft day voucher of this stream (this run's and any an interrupted run left)."""
        if self.options.book:
            for entry in self.run.journal.entries():
                if entry.get("stream") == self.stream_name and entry.get("status") == "draft":
                    record = {"day_voucher": entry["ref"]}
                    self.guarded(record, lambda ref=entry["ref"]: self.writer.book_draft(ref))
        super().clean_up()
