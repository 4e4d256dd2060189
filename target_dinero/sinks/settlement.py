"""Payments on booked documents (invoices, sales credit notes), registered exactly once.

Shared by the ``invoice_payment`` and ``sales_credit_note`` sinks and by ``Payments`` on an invoice record.

The rule every write here follows (the same as the target's exactly-once protocol): **look the payment up
in Dinero before writing it, and again after any outcome that is not a parsed, confirmed success**.

* A payment carries the target's reference in its ``ExternalReference`` (and in its Description, as
  ``[reference]``, in case Dinero drops the field); the document's payments list
  (``GET /v2/{org}/invoices/{guid}/payments``, ``GET /v1/{org}/sales/creditnotes/{guid}/payments``) is
  compared with it before the first payment on a document in a run;
* a document the target booked in this very run has no payments (a draft cannot be paid, and nothing
  else knew it was booked): the booking answer's TimeStamp is kept, so its first payment costs one
  request; every payment answer carries the document's new TimeStamp, so the next one costs one too;
* after a lost answer (5xx, timeout, reset, unparsable 2xx) or a stale Timestamp, the document and its
  payments are read again: a payment that got through is counted, never sent twice; one that did not is
  sent once more; a second lost answer rejects the record (a re-run looks again first).

Requests per payment: 1 on a document booked in the same run; 3 on a document from an earlier run
(GET document for its Timestamp, GET its payments, POST) -- the check against existing payments is
never skipped to save a request.

Deposit accounts: the account of a payment is checked against ``GET /accounts/deposit`` (once per run,
or the list an earlier run read, kept ``reference_cache_seconds`` in the journal store and read again
before anything is refused or created) before the first payment that uses it, and created
(``POST /accounts/deposit``) when the stream's ``create_deposit_account`` allows; otherwise the payment
is rejected before any write.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import threading
import weakref
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from dinero_api.errors import (
    DineroConnectionError,
    DineroMalformedResponse,
    DineroServerError,
    DineroTimestampConflict,
    DineroUnknownOutcome,
    DineroValidationError,
)
from target_dinero.exactly_once import ExactlyOnce
from target_dinero.records import (
    MAX_EXTERNAL_REFERENCE,
    RecordRejected,
    normalize_reference,
    to_date,
    to_decimal,
    to_int,
)
from target_dinero.remote_index import field_ci

if TYPE_CHECKING:
    from target_dinero.config import StreamOptions
    from target_dinero.run import RunContext

__all__ = [
    "UNKNOWN_OUTCOME",
    "DocumentPayments",
    "PaymentSpec",
    "document_payments",
    "parse_payment",
    "positional_reference",
]

#: Errors after which a write may or may not have happened.
UNKNOWN_OUTCOME = (DineroUnknownOutcome, DineroServerError, DineroConnectionError, DineroMalformedResponse)

MIN_DEPOSIT_ACCOUNT = 50000
MAX_ACCOUNT = 99999  # Dinero's account numbers have at most five digits

#: kind -> (document path, payments list path, payments create path)
_PATHS = {
    "invoice": (
        "/v1/{{org}}/invoices/{g}",
        "/v2/{{org}}/invoices/{g}/payments",
        "/v1/{{org}}/invoices/{g}/payments",
    ),
    "purchase": (
        "/v1/{{org}}/vouchers/purchase/{g}",
        "/v1/{{org}}/purchase-vouchers/{g}/payments",
        "/v1/{{org}}/purchase-vouchers/{g}/payments",
    ),
    "creditnote": (
        "/v1/{{org}}/sales/creditnotes/{g}",
        "/v1/{{org}}/sales/creditnotes/{g}/payments",
        "/v1/{{org}}/sales/creditnotes/{g}/payments",
    ),
}


@dataclasses.dataclass(frozen=True)
class PaymentSpec:
    """One validated payment: what is sent, and the reference that identifies it in Dinero."""

    reference: str
    amount: Decimal
    deposit_account: int
    payment_date: str | None
    remainder_is_fee: bool
    foreign_amount: Decimal | None
    description: str
    #: the reference was derived from the payment's position in the record (``<doc>/payment/<n>``), not
    #: given: it is matched to the document's payments by amount too (:meth:`DocumentPayments.pay_all`)
    positional: bool = False
    #: the record names its DepositAccountNumber (False: the stream's ``deposit_account`` default, which
    #: may change between runs without the payment changing -- never compared with a registered payment)
    account_stated: bool = True

    @property
    def voucher_amount(self) -> Decimal:
        """What the payment settles in the document's currency."""
        return self.foreign_amount if self.foreign_amount is not None else self.amount

    def renamed(self, reference: str) -> PaymentSpec:
        """The same payment under another (positional) reference."""
        old = f"[{self.reference}]"
        text = self.description[: -len(old)] if self.description.endswith(old) else f"{self.description} "
        return dataclasses.replace(self, reference=reference, description=f"{text}[{reference}]")

    def body(self, timestamp: Any) -> dict[str, Any]:
        """The payment create body (``CreatePaymentModel``)."""
        body: dict[str, Any] = {
            "Timestamp": timestamp,
            "Amount": self.amount,
            "DepositAccountNumber": self.deposit_account,
            "Description": self.description,
            "RemainderIsFee": self.remainder_is_fee,
            "ExternalReference": self.reference,
        }
        if self.payment_date:
            body["PaymentDate"] = self.payment_date
        if self.foreign_amount is not None:
            body["AmountInForeignCurrency"] = self.foreign_amount
        return body


def moves_no_money(raw: Any) -> bool:
    """Whether a payment in a document's list carries no money: ``Amount`` 0 (and no foreign amount but 0,
    no ``RemainderIsFee``). A shop marks an order that cost nothing (a 100 % coupon, a free sample) as paid
    and its export lists that payment of 0.00; Dinero has nothing to register for it. Such an entry is
    left out -- its position still numbers the others -- instead of rejecting the whole document (the
    free order was never booked). A negative amount, or 0 with ``RemainderIsFee`` (the whole invoice
    written off), still goes through :func:`parse_payment` and is rejected there."""
    if not isinstance(raw, dict) or raw.get("RemainderIsFee"):
        return False
    try:
        amount = to_decimal(raw.get("Amount"), "Amount", required=False)
        foreign = to_decimal(raw.get("AmountInForeignCurrency"), "AmountInForeignCurrency", required=False)
    except RecordRejected:
        return False  # parse_payment names the field
    return amount is not None and amount == 0 and (foreign is None or foreign == 0)


def parse_payment(
    raw: dict[str, Any], reference: str, options: StreamOptions, where: str = "", *, positional: bool = False
) -> PaymentSpec:
    """Validate a payment locally (no request): positive whole-øre amounts, a date, a deposit account."""
    prefix = f"{where}." if where else ""
    amount = to_decimal(raw.get("Amount"), f"{prefix}Amount")
    assert amount is not None
    if amount <= 0:
        raise RecordRejected(f"{prefix}Amount must be positive, got {amount}", f"{prefix}Amount")
    if amount != amount.quantize(Decimal("0.01")):
        raise RecordRejected(f"{prefix}Amount {amount} has a fraction of an øre", f"{prefix}Amount")
    foreign = to_decimal(
        raw.get("AmountInForeignCurrency"), f"{prefix}AmountInForeignCurrency", required=False
    )
    if foreign is not None and foreign <= 0:
        raise RecordRejected(
            f"{prefix}AmountInForeignCurrency must be positive", f"{prefix}AmountInForeignCurrency"
        )
    if foreign is not None and foreign != foreign.quantize(Decimal("0.01")):
        # Dinero keeps two decimals: 93.755 would be stored as 93.76 or 93.75, silently another amount
        raise RecordRejected(
            f"{prefix}AmountInForeignCurrency {foreign} has a fraction of a cent",
            f"{prefix}AmountInForeignCurrency",
        )
    day = raw.get("PaymentDate")
    payment_date = to_date(day, f"{prefix}PaymentDate").isoformat() if day not in (None, "") else None
    account_raw = raw.get("DepositAccountNumber")
    if account_raw in (None, ""):
        if options.deposit_account is None:
            raise RecordRejected(
                f"{prefix}DepositAccountNumber is missing and streams.{options.stream}.deposit_account "
                "is not set",
                f"{prefix}DepositAccountNumber",
            )
        account = options.deposit_account
    else:
        account = to_int(account_raw, f"{prefix}DepositAccountNumber")
    reference = normalize_reference(reference)
    if not reference or len(reference) > MAX_EXTERNAL_REFERENCE:
        raise RecordRejected(f"{prefix}ExternalReference is blank or too long", f"{prefix}ExternalReference")
    text = str(raw.get("Description") or "Betaling").strip() or "Betaling"
    description = f"{text} [{reference}]"
    if len(description) > 255:
        raise RecordRejected(
            f"{prefix}Description with the payment's reference is longer than 255 characters",
            f"{prefix}Description",
        )
    fee = raw.get("RemainderIsFee")
    return PaymentSpec(
        reference,
        amount,
        account,
        payment_date,
        bool(fee),
        foreign,
        description,
        positional=positional,
        account_stated=account_raw not in (None, ""),
    )


def _own_reference(payment: dict[str, Any]) -> str | None:
    own = field_ci(payment, "ExternalReference")
    return normalize_reference(own) or None if own not in (None, "") else None


def _matches(payment: dict[str, Any], reference: str) -> bool:
    """Whether ``payment`` carries ``reference``: its own ExternalReference decides; without one, the
    ``[reference]`` the target puts at the end of the Description (only there: a tag inside a text someone
    typed is not an identity)."""
    own = _own_reference(payment)
    if own is not None:
        return own == reference
    return str(field_ci(payment, "Description") or "").rstrip().endswith(f"[{reference}]")


def _reference_with_prefix(payment: dict[str, Any], prefix: str) -> str | None:
    """The payment's reference when it starts with ``prefix`` (own, else the Description's end tag)."""
    own = _own_reference(payment)
    if own is not None:
        return own if own.startswith(prefix) else None
    text = str(field_ci(payment, "Description") or "").rstrip()
    start = text.rfind(f"[{prefix}")
    if not text.endswith("]") or start < 0:
        return None
    return normalize_reference(text[start + 1 : -1]) or None


def _amount_of(payment: dict[str, Any]) -> Decimal | None:
    value = field_ci(payment, "Amount")
    try:
        return Decimal(str(value)).quantize(Decimal("0.01")) if value is not None else None
    except ArithmeticError:
        return None


def _rate_of(document: dict[str, Any]) -> Decimal | None:
    """DKK per unit of a document's currency, from its totals (None when it does not say)."""
    incl, in_dkk = field_ci(document, "TotalInclVat"), field_ci(document, "TotalInclVatInDkk")
    try:
        incl_d, dkk_d = Decimal(str(incl)), Decimal(str(in_dkk))
    except ArithmeticError:
        return None
    if not incl_d.is_finite() or not dkk_d.is_finite() or incl_d == 0 or dkk_d == 0:
        return None
    return dkk_d / incl_d


#: How far (as a factor) a payment's own rate (DKK ``Amount`` / ``AmountInForeignCurrency``) may be from
#: its document's rate before it is taken for swapped or same-currency amounts rather than an exchange
#: difference: 1.5 lets any real rate move through (years of EUR/DKK, USD/DKK) and catches 100/100
#: for any currency more than 1.5 DKK or less than 0.67 DKK.
MAX_RATE_FACTOR = Decimal("1.5")

#: How much a payment may exceed what is owed and still be registered without ``allow_overpayment``: a
#: rounding difference, not a duplicate or an amount in øre. A shop that rounds VAT per line (WooCommerce's
#: default) charges a few øre more than Dinero's total, which rounds the VAT once on the sum; that payment
#: is money received, and Dinero marks the document OverPaid by the øre. The same bound as an øre-rounding
#: line's ("more than 1.00 is not a rounding difference").
OVERPAYMENT_TOLERANCE = Decimal("1.00")


def _same_amount(payment: dict[str, Any], spec: PaymentSpec) -> bool:
    """Whether a payment Dinero holds is ``spec``'s amount (in the document's currency, or in DKK: the
    read model's ``Amount`` is not documented as either). A row without an amount is not contradicted."""
    held = _amount_of(payment)
    return held is None or held in (spec.amount, spec.voucher_amount)


def _other_date_or_account(payment: dict[str, Any], spec: PaymentSpec) -> tuple[str, str, str] | None:
    """(what Dinero holds, what the record says, the field) when a payment found under the record's own
    reference has another date or deposit account -- counting it as there would silently keep the old
    one. Positional payments (no reference of their own) are matched by amount only, so not checked;
    nor are values Dinero's row or the record leaves out (a deposit account taken from the stream's default
    is not the record's: the default may move to another account while the payment stays what it was)."""
    if spec.positional:
        return None
    held_date = str(field_ci(payment, "PaymentDate") or "")[:10]
    if spec.payment_date and held_date and held_date != spec.payment_date[:10]:
        return f"PaymentDate {held_date}", f"{spec.payment_date[:10]}", "PaymentDate"
    held_account = field_ci(payment, "DepositAccountNumber")
    if (
        spec.account_stated
        and held_account not in (None, "")
        and str(held_account) != str(spec.deposit_account)
    ):
        return (
            f"DepositAccountNumber {held_account}",
            f"{spec.deposit_account}",
            "DepositAccountNumber",
        )
    return None


@dataclasses.dataclass
class _Known:
    timestamp: Any
    status: str
    payments: list[dict[str, Any]]
    #: what is still owed (document currency) as Dinero last said; None when not read in this run
    remaining: Decimal | None = None
    #: the document's currency (None: not known to this run)
    currency: str | None = None
    #: the document's total incl. reminder fees (document currency); None when not read in this run
    total: Decimal | None = None
    #: computes ``total`` of a document this run booked (all of it owed), when a payment first needs it
    owed: Callable[[], Decimal] | None = None
    #: DKK per unit of the document's currency (its ``TotalInclVatInDkk / TotalInclVat``); None: not read
    rate: Decimal | None = None
    #: the document's ExternalReference, when read in this run
    reference: str | None = None


class DocumentPayments:
    """Per run: what the target knows of documents' Timestamps and payments, and the payment writes."""

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self._known: dict[tuple[str, str], _Known] = {}
        #: documents read in this run by whoever found them (the payment sink's look-up by Guid), not yet
        #: with their payments: the first payment reads only the payments
        self._documents: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._deposit_checked: set[int] = set()
        #: deposit accounts that could not be made in this run, with the reason: never asked for again
        self._deposit_failed: dict[int, str] = {}

    # -- what is known -------------------------------------------------------------------------------
    def booked_now(
        self,
        kind: str,
        guid: str,
        timestamp: Any,
        currency: str | None = None,
        *,
        total: Callable[[], Decimal] | None = None,
        reference: str | None = None,
    ) -> None:
        """The target just booked this document: it has no payments, its Timestamp is ``timestamp``;
        ``total`` computes what Dinero holds as its total (the larger under either midpoint rule), all of
        it owed -- called when the first payment needs it; ``reference``: its ExternalReference (a
        foreign-currency payment finds the document's rate in its list row without reading it first)."""
        if timestamp:
            with self._lock:
                self._known[(kind, guid.lower())] = _Known(
                    timestamp, "Booked", [], currency=currency, owed=total, reference=reference
                )

    def seen_document(self, kind: str, guid: str, document: dict[str, Any]) -> None:
        """The document was just read (GET by its Guid): its Timestamp and Status serve the first payment,
        which then reads only the document's payments (the check against them is never skipped)."""
        with self._lock:
            self._documents[(kind, guid.lower())] = document

    def _read(self, kind: str, guid: str, document: dict[str, Any] | None = None) -> _Known:
        doc_path, list_path, _ = (p.format(g=guid) for p in _PATHS[kind])
        if document is None:
            document = self.run.gateway.get(doc_path) or {}
        answer = self.run.gateway.get(list_path) or {}
        rows = field_ci(answer, "Payments") if isinstance(answer, dict) else answer
        remaining = field_ci(answer, "RemainingAmount") if isinstance(answer, dict) else None
        total = (
            field_ci(answer, "InvoiceTotalIncludingReminderExpenses") if isinstance(answer, dict) else None
        )
        known = _Known(
            field_ci(document, "TimeStamp") or field_ci(document, "Timestamp"),
            str(field_ci(document, "Status") or ""),
            [dict(r) for r in rows or []],
            Decimal(str(remaining)) if remaining is not None else None,
            str(field_ci(document, "Currency") or field_ci(document, "CurrencyKey") or "") or None,
            Decimal(str(total)) if total is not None else None,
            rate=_rate_of(document),
            reference=str(field_ci(document, "ExternalReference") or "") or None,
        )
        self._known[(kind, guid.lower())] = known
        return known

    def timestamp(self, kind: str, guid: str) -> Any:
        """The document's Timestamp as last seen by this run (None when unknown)."""
        with self._lock:
            known = self._known.get((kind, guid.lower()))
            return known.timestamp if known is not None else None

    # -- deposit accounts ----------------------------------------------------------------------------
    def check_deposit(self, number: int, options: StreamOptions, plan_stream: str) -> None:
        """Make sure ``number`` is a deposit account (create it when the stream allows), once per run."""
        with self._lock:
            if number in self._deposit_checked:
                return
            if number in self._deposit_failed:
                raise RecordRejected(self._deposit_failed[number], "DepositAccountNumber")
            reference = self.run.reference
            if number in reference.deposit_accounts() or (
                reference.refresh("deposit") and number in reference.deposit_accounts()
            ):  # a list kept from an earlier run is read again before anything is refused or created
                self._deposit_checked.add(number)
                return
            if not options.create_deposit_account:
                raise RecordRejected(
                    f"DepositAccountNumber {number} is not a deposit account of the organization (set "
                    f"streams.{options.stream}.create_deposit_account to create it)",
                    "DepositAccountNumber",
                )
            if not MIN_DEPOSIT_ACCOUNT <= number <= MAX_ACCOUNT or number in reference.accounts(fresh=True):
                raise RecordRejected(
                    f"DepositAccountNumber {number} cannot be created as a deposit account (it must be "
                    f"{MIN_DEPOSIT_ACCOUNT} to {MAX_ACCOUNT} and not an existing entry account)",
                    "DepositAccountNumber",
                )
            body = {"Number": number, "Name": options.deposit_account_name or f"Clearing {number}"}
            if self.run.dry_run:
                self.run.plan("create", "deposit_account", plan_stream, str(number), body)
            else:
                # an unknown outcome is looked up just below: the account exists or the error stands
                try:
                    with contextlib.suppress(*UNKNOWN_OUTCOME):
                        self.run.gateway.post("/v1/{org}/accounts/deposit", body)
                except DineroValidationError as exc:
                    # refused once: every later payment on it is rejected with this reason, no request
                    self._deposit_failed[number] = f"Dinero refused to create deposit account {number}: {exc}"
                    raise
                reference.forget("deposit")
                if number not in reference.deposit_accounts():
                    raise RecordRejected(f"creating deposit account {number} failed", "DepositAccountNumber")
                self.run.report.count(plan_stream, "deposit_account_created")
            self._deposit_checked.add(number)

    @staticmethod
    def _check_currency(kind: str, known: _Known, spec: PaymentSpec) -> None:
        """Refuse locally what Dinero would refuse (or book as an exchange difference): a payment without
        ``AmountInForeignCurrency`` on a document in another currency, one with it on a DKK document."""
        currency = (known.currency or "").upper()
        if not currency:
            return  # not known to this run: Dinero decides
        if currency != "DKK" and spec.foreign_amount is None:
            raise RecordRejected(
                f"the {kind} is in {currency}: AmountInForeignCurrency (the amount in {currency}) is "
                "required besides Amount (DKK)",
                "AmountInForeignCurrency",
            )
        if currency == "DKK" and spec.foreign_amount is not None and spec.foreign_amount != spec.amount:
            raise RecordRejected(
                f"the {kind} is in DKK: AmountInForeignCurrency {spec.foreign_amount} differs from Amount "
                f"{spec.amount} (Dinero would book the difference as an exchange loss/gain)",
                "AmountInForeignCurrency",
            )

    def _check_rate(self, kind: str, guid: str, known: _Known, spec: PaymentSpec) -> None:
        """Refuse a foreign-currency payment whose DKK ``Amount`` cannot be the money received for its
        ``AmountInForeignCurrency``: Dinero settles the document at its own rate and books the rest as an
        exchange difference, so 100 DKK entered for 100 EUR (or the two swapped) would book about 646 DKK
        of exchange loss without a word. The document's rate is read once when this run has not."""
        if spec.foreign_amount is None or (known.currency or "DKK").upper() == "DKK":
            return
        if (
            known.rate is None
            and kind == "invoice"
            and not (self.run.dry_run and guid.startswith("dry-run:"))
        ):
            known.rate = self._invoice_rate(guid, known)
        if known.rate is None:
            return  # the document states no DKK total: Dinero decides
        paid_rate = spec.amount / spec.foreign_amount
        if known.rate / MAX_RATE_FACTOR <= paid_rate <= known.rate * MAX_RATE_FACTOR:
            return
        currency = (known.currency or "").upper()
        raise RecordRejected(
            f"Amount {spec.amount} DKK for AmountInForeignCurrency {spec.foreign_amount} {currency} is "
            f"{paid_rate:.4f} DKK per {currency}, the {kind}'s rate is {known.rate:.4f}: Dinero would book "
            f"the difference, {(spec.foreign_amount * known.rate - spec.amount).quantize(Decimal('0.01'))} "
            f"DKK, as an exchange difference. Amount is the DKK received, AmountInForeignCurrency the amount "
            f"in {currency} (swapped, or both in {currency}?). A rate that really moved further than a "
            f"factor {MAX_RATE_FACTOR} since the {kind} cannot be loaded: register that payment in Dinero",
            "Amount",
        )

    def _invoice_rate(self, guid: str, known: _Known) -> Decimal | None:
        """An invoice's DKK per unit of its currency, from its list row (only list rows carry the DKK
        total): the run's invoice index, asked again when the row it has holds no totals (an invoice
        this run created). None when the invoice has no reference to find it by."""
        reference = known.reference
        number = None
        if reference is None:
            document = self.run.gateway.get(_PATHS["invoice"][0].format(g=guid)) or {}
            reference = known.reference = str(field_ci(document, "ExternalReference") or "") or None
            number = field_ci(document, "Number")
        if reference is None:
            if number in (None, ""):
                return None
            # no reference to find its row by: Dinero's free-text search covers the invoice number
            answer = self.run.gateway.get(
                "/v1/{org}/invoices",
                {
                    "fields": "Guid,TotalInclVat,TotalInclVatInDkk",
                    "freeTextSearch": str(number),
                    "pageSize": 1000,
                },
            )
            rows = field_ci(answer, "Collection") if isinstance(answer, dict) else answer
            found = [r for r in rows or [] if str(field_ci(r, "Guid") or "").lower() == guid.lower()]
            return _rate_of(found[0]) if found else None
        index = self.run.invoice_index
        row = index.lookup([reference]).get(normalize_reference(reference))
        if row is None or _rate_of(row) is None:
            row = index.recheck(reference)
        if row is None or str(field_ci(row, "Guid") or "").lower() != guid.lower():
            return None
        return _rate_of(row)

    def pay_all(
        self, kind: str, guid: str, specs: list[PaymentSpec], stream: str, options: StreamOptions
    ) -> list[str]:
        """Pay a document's payments from one record (``Payments``): :meth:`pay` each, after matching the
        ones whose reference is only their position (``<doc>/payment/<n>``) to the document's payments.

        A position is not an identity: when the upstream list changes order or gains an entry in front,
        ``payment/1`` names another payment. So a positional payment is the document's payment of its
        reference only when the amounts agree; else it takes an unmatched positional payment of the same
        amount; else a reference no payment holds (``payment/<n>`` past every one in use). Re-reading the
        same input matches the same way, so nothing is paid twice whatever the order.
        """
        positional = [s for s in specs if s.positional]
        if positional:
            specs = self._match_positions(kind, guid, specs)
        return [self.pay(kind, guid, spec, stream, options) for spec in specs]

    def _match_positions(self, kind: str, guid: str, specs: list[PaymentSpec]) -> list[PaymentSpec]:
        key = (kind, guid.lower())
        with self._lock:
            known = self._known.get(key)
            if known is None:
                if self.run.dry_run and guid.startswith("dry-run:"):
                    return specs
                known = self._read(kind, guid)
            prefix = next(s.reference for s in specs if s.positional).rsplit("/payment/", 1)[0] + "/payment/"
            held: dict[str, dict[str, Any]] = {}
            for payment in known.payments:
                ref = _reference_with_prefix(payment, prefix)
                if ref:
                    held.setdefault(ref, payment)
            used: set[str] = set()
            out: list[PaymentSpec | None] = [None] * len(specs)
            # 1. a positional reference held with the same amount, and every given reference, stay
            for i, spec in enumerate(specs):
                if not spec.positional or (
                    spec.reference in held and _same_amount(held[spec.reference], spec)
                ):
                    out[i] = spec
                    used.add(spec.reference)
            # 2. else an unmatched positional payment of the same amount
            for i, spec in enumerate(specs):
                if out[i] is None:
                    ref = next(
                        (
                            r
                            for r, p in held.items()
                            if r not in used and _amount_of(p) is not None and _same_amount(p, spec)
                        ),
                        None,
                    )
                    if ref is not None:
                        out[i] = spec.renamed(ref)
                        used.add(ref)
            # A held positional payment the record no longer lists beside a listed one Dinero does not
            # hold: an amount changed upstream cannot be told from a new payment -- pay nothing, say so.
            gone = [r for r in held if r not in used]
            new = [specs[i] for i in range(len(specs)) if out[i] is None]
            if gone and new:
                raise RecordRejected(
                    f"the {kind} holds payment(s) {', '.join(f'{r} of {_amount_of(held[r])}' for r in gone)} "
                    "that the record's Payments no longer list, and the record lists payment(s) of "
                    f"{', '.join(str(x.voucher_amount) for x in new)} that the {kind} does not hold: a "
                    "payment without its own ExternalReference whose amount changed cannot be told from a "
                    "new one, so none is paid. Give Payments an ExternalReference, or correct it in Dinero",
                    "Payments",
                )
            # 3. else its own position when free, otherwise the first position no payment holds
            taken = set(held) | used | {s.reference for s in specs if not s.positional}
            number = len(specs)
            for i, spec in enumerate(specs):
                if out[i] is None:
                    if spec.reference not in taken:
                        out[i] = spec
                    else:
                        while True:
                            number += 1
                            candidate = f"{prefix}{number}"
                            if candidate not in taken:
                                break
                        out[i] = spec.renamed(candidate)
                    taken.add(out[i].reference)  # type: ignore[union-attr]
            return [s for s in out if s is not None]

    def _check_fee(
        self, kind: str, guid: str, known: _Known, spec: PaymentSpec, options: StreamOptions
    ) -> None:
        """Refuse a ``RemainderIsFee`` payment that would write off more than a fee.

        Dinero writes off *whatever* is left after the payment (the sandbox emulates that; no document
        bounds it): a partial payment carrying ``RemainderIsFee`` -- an instalment, a bad map -- would
        close the invoice and book the unpaid balance as an expense, silently. The write-off may be at
        most ``max_remainder_fee_share`` of the document's total; what is still owed is read from
        Dinero (the document's payments list: one request when this run has not read it yet).
        """
        if self.run.dry_run and guid.startswith("dry-run:"):
            return  # not written yet: nothing to read; the real run checks
        if known.remaining is None or known.total is None:
            answer = self.run.gateway.get(_PATHS[kind][1].format(g=guid)) or {}
            if isinstance(answer, dict):
                remaining = field_ci(answer, "RemainingAmount")
                total = field_ci(answer, "InvoiceTotalIncludingReminderExpenses")
                known.remaining = Decimal(str(remaining)) if remaining is not None else None
                known.total = Decimal(str(total)) if total is not None else None
        if known.remaining is None or known.total is None:
            raise RecordRejected(
                f"RemainderIsFee: Dinero did not say what is still owed on the {kind}, so the remainder "
                "it would write off as a fee is unknown; not paid",
                "RemainderIsFee",
            )
        write_off = known.remaining - spec.voucher_amount
        limit = (abs(known.total) * options.max_remainder_fee_share).quantize(Decimal("0.01"))
        if write_off > limit:
            cent = Decimal("0.01")
            raise RecordRejected(
                f"RemainderIsFee would write off {write_off.quantize(cent)} of the {kind}'s total "
                f"{known.total.quantize(cent)} as a fee (still owed {known.remaining.quantize(cent)}, paid "
                f"now {spec.voucher_amount.quantize(cent)}): more than streams.{options.stream}."
                f"max_remainder_fee_share ({options.max_remainder_fee_share} of the total: {limit}). A "
                "remainder that large is an unpaid balance, not a fee; nothing was paid. If it is a fee (a "
                f"fixed card fee on a small {kind}), raise streams.{options.stream}.max_remainder_fee_share",
                "RemainderIsFee",
            )

    # -- the write ----------------------------------------------------------------------------------
    def pay(self, kind: str, guid: str, spec: PaymentSpec, stream: str, options: StreamOptions) -> str:
        """Register ``spec`` on the booked document ``guid`` unless it is there; returns the outcome
        counted (``paid``, ``payment_exists``; empty in dry run, where the plan counts)."""
        self.check_deposit(spec.deposit_account, options, stream)
        key = (kind, guid.lower())
        with self._lock:
            known = self._known.get(key)
            if known is None:
                if self.run.dry_run and guid.startswith("dry-run:"):
                    known = _Known(None, "Booked", [])
                else:
                    known = self._read(kind, guid, self._documents.pop(key, None))
            held = next((p for p in known.payments if _matches(p, spec.reference)), None)
            if held is not None:
                if not _same_amount(held, spec):
                    # The same payment (its reference) with another amount: a payment cannot be changed,
                    # and paying again would pay twice. Never counted as "there": the reason says what.
                    raise RecordRejected(
                        f"the {kind} already holds payment {spec.reference!r} of {_amount_of(held)}, the "
                        f"record says {spec.voucher_amount}: a registered payment is not changed or paid "
                        "again (delete it in Dinero to register the new amount)",
                        "Amount",
                    )
                changed = _other_date_or_account(held, spec)
                if changed:
                    raise RecordRejected(
                        f"the {kind} already holds payment {spec.reference!r} with {changed[0]}, the record "
                        f"says {changed[1]}: a registered payment is not changed or paid again (delete it "
                        "in Dinero to register it as the record says)",
                        changed[2],
                    )
                return "payment_exists"
            self._check_currency(kind, known, spec)
            self._check_rate(kind, guid, known, spec)
            if known.owed is not None and known.remaining is None:
                known.total = known.remaining = known.owed()
                known.owed = None
            if known.status.lower() == "draft":
                raise RecordRejected(f"the {kind} is a draft: only booked documents can be paid", "Book")
            if known.remaining is not None and known.remaining <= 0 and not options.allow_overpayment:
                # Paid in full by payments that do not carry this reference (by hand, another tool): a
                # payment now would pay twice. Dinero is not touched; the reason says what to check.
                raise RecordRejected(
                    f"the {kind} is already fully paid in Dinero (remaining {known.remaining}) by payments "
                    f"without this payment's reference {spec.reference!r}; not paid again",
                    "Amount",
                )
            if (
                known.remaining is not None
                and spec.voucher_amount - known.remaining > OVERPAYMENT_TOLERANCE
                and not options.allow_overpayment
            ):
                # Dinero takes it and marks the document OverPaid: a payment beyond the balance is far
                # more often a duplicate under another reference, or an amount in øre, than a real one.
                raise RecordRejected(
                    f"payment {spec.reference!r} of {spec.voucher_amount.quantize(Decimal('0.01'))} is more "
                    f"than the {known.remaining.quantize(Decimal('0.01'))} still owed on the {kind}: Dinero "
                    f"would mark it overpaid (over by more than {OVERPAYMENT_TOLERANCE}: no rounding "
                    f"difference). If it is a real payment, set streams.{options.stream}.allow_overpayment; "
                    "if it is one already registered under another reference, drop it",
                    "Amount",
                )
            if spec.remainder_is_fee:
                self._check_fee(kind, guid, known, spec, options)
            if self.run.dry_run:
                self.run.plan("pay", f"{kind}_payment", stream, spec.reference, spec.body(known.timestamp))
                known.payments.append({"ExternalReference": spec.reference})
                return ""  # counted by the plan
            create_path = _PATHS[kind][2].format(g=guid)

            def send() -> Any:
                current = self._known.get(key)
                return self.run.gateway.post(create_path, spec.body(current.timestamp if current else None))

            def lookup() -> dict[str, Any] | None:
                fresh = self._read(kind, guid)
                return next((p for p in fresh.payments if _matches(p, spec.reference)), None)

            # The protocol of every write (target_dinero.exactly_once): a pending marker in the shared
            # store before the POST; after an unknown outcome the document's payments are read until the
            # payment shows or the commit horizon has passed (Dinero chooses the payment's Guid, so a
            # POST it received may still commit) -- only then is it sent again. A marker left pending by a
            # killed run is settled the same way before anything is sent.
            marker = f"payment:{kind}:{guid.lower()}:{spec.reference}"
            for attempt in range(2):
                try:
                    answer, created = ExactlyOnce(self.run).create(
                        stream=stream,
                        journal=self.run.markers,
                        key=marker,
                        reference=spec.reference,
                        what=f"payment on {kind} {guid}",
                        send=send,
                        expect="TimeStamp",
                        lookup=lookup,
                        lookup_text=f"GET {_PATHS[kind][1].format(g=guid)}",
                        pending_fields={"amount": str(spec.amount)},
                    )
                except DineroTimestampConflict:
                    # someone changed the document since its Timestamp was read: read again and retry once
                    if lookup() is not None:
                        return "paid"
                    if attempt == 1:
                        raise
                    continue
                known = self._known.get(key)
                if not created or known is None or not field_ci(answer, "TimeStamp"):
                    # found by a look-up (or no new TimeStamp): the look-up's read is the current state
                    return "paid"
                known.timestamp = field_ci(answer, "TimeStamp")
                if known.remaining is not None:
                    known.remaining -= spec.voucher_amount
                    if spec.remainder_is_fee:
                        # Dinero wrote what was left off as a fee: nothing is owed any more
                        known.remaining = min(known.remaining, Decimal(0))
                known.payments.append(
                    {
                        "ExternalReference": spec.reference,
                        "Guid": field_ci(answer, "Guid"),
                        "Amount": spec.voucher_amount,
                    }
                )
                return "paid"
        return "paid"  # pragma: no cover


_SHARED: weakref.WeakKeyDictionary[Any, DocumentPayments] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def document_payments(run: RunContext) -> DocumentPayments:
    """The run's one :class:`DocumentPayments` (shared by the sinks flushing in parallel)."""
    with _SHARED_LOCK:
        found = _SHARED.get(run)
        if found is None:
            found = _SHARED[run] = DocumentPayments(run)
        return found


def resolve_invoice(sink: Any, record: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(Guid, index row) of the invoice a payment / credit note record names, or None when absent.

    By ``InvoiceGuid`` (no request), else by ``InvoiceExternalReference`` through the run's invoice index
    (one list request per 1 000 invoices, shared with the invoice sink: an invoice the target created in
    this run is known without a request).
    """
    guid = record.get("InvoiceGuid")
    if guid:
        return str(guid), {"Guid": str(guid)}
    ref = normalize_reference(record.get("InvoiceExternalReference"))
    row = sink.run.invoice_index.lookup([ref]).get(ref)
    if row is None or field_ci(row, "DeletedAt"):
        return None
    return str(field_ci(row, "Guid")), row


def invoice_key(record: dict[str, Any]) -> None:
    """Reject a record that names no invoice (before any request)."""
    ref = record.get("InvoiceExternalReference")
    if not record.get("InvoiceGuid") and (ref in (None, "") or not normalize_reference(ref)):
        raise RecordRejected(
            "InvoiceExternalReference or InvoiceGuid is required: the record names no invoice (a credit "
            "note or payment not linked to an invoice cannot be loaded)",
            "InvoiceExternalReference",
        )


def positional_reference(document_reference: str, position: int) -> str:
    """The reference of a document's payment that has none of its own: ``<document>/payment/<n>``.

    When that is longer than Dinero's 128 characters (a long document reference), the document part is
    the first 160 bits of its SHA-256 instead -- stable, so a re-run finds the payment -- rather than the
    whole record being refused for a reference the target made up.
    """
    reference = f"{document_reference}/payment/{position}"
    if len(reference) <= MAX_EXTERNAL_REFERENCE:
        return reference
    digest = hashlib.sha256(document_reference.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"{digest}/payment/{position}"


def invoice_payments(
    record: dict[str, Any], reference: str, options: StreamOptions, book: bool
) -> list[PaymentSpec]:
    """The validated ``Payments`` of an invoice record (``<reference>/payment/<n>`` when they have no
    ExternalReference of their own). Paying needs a booked invoice: payments on a record that is not
    booked are refused before any request."""
    raw_payments = record.get("Payments") or []
    if any(not moves_no_money(raw) for raw in raw_payments) and not book:
        raise RecordRejected("Payments need a booked invoice: set Book (or the stream's book)", "Payments")
    specs = []
    for index, raw in enumerate(raw_payments):
        if moves_no_money(raw):
            continue
        own = raw.get("ExternalReference")
        ref = str(own) if own not in (None, "") else positional_reference(reference, index + 1)
        specs.append(
            parse_payment(dict(raw), ref, options, f"Payments[{index}]", positional=own in (None, ""))
        )
    if len({s.reference for s in specs}) != len(specs):
        raise RecordRejected("two Payments carry the same ExternalReference", "Payments")
    return specs


def invoice_send(record: dict[str, Any], options: StreamOptions, book: bool) -> str | None:
    """How a booked invoice is sent after booking (record's ``Send``, else the stream's ``send``): email,
    einvoice or None. Sending needs a booked invoice: refused before any request otherwise."""
    value = record.get("Send")
    how = options.send if value is None else (value or None)
    if how is True:
        how = "email"
    if how in (None, False, ""):
        return None
    if how not in ("email", "einvoice"):
        raise RecordRejected(f"Send is {how!r}; expected email, einvoice or false", "Send")
    if not book:
        raise RecordRejected("sending an invoice needs it booked: set Book (or the stream's book)", "Send")
    return str(how)


def pay_invoice(sink: Any, item: Any) -> None:
    """Register an invoice record's ``Payments`` once each, then send it when asked (``Send`` / the
    stream's ``send``) -- after the invoice was written and booked."""
    row = sink.run.invoice_index.lookup([item.reference]).get(normalize_reference(item.reference))
    if row is None:
        return  # dry run of a create that was not booked, or nothing written
    if str(field_ci(row, "Status") or "").lower() == "draft":
        raise RecordRejected("the invoice is still a draft: its Payments were not registered", "Payments")
    payments = document_payments(sink.run)
    specs = item.extra.get("payments") or []
    for outcome in payments.pay_all(
        "invoice", str(field_ci(row, "Guid")), specs, sink.stream_name, sink.options
    ):
        if outcome:
            sink.count(outcome)
    how = item.extra.get("send")
    if how:
        from target_dinero.sinks.mailout import send_once

        guid = str(field_ci(row, "Guid"))
        known = payments.timestamp("invoice", guid)
        sent = send_once(sink.run, guid, how, sink.stream_name, item.reference, known)
        if sent:
            sink.count(sent)
