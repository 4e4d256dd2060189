"""Manual vouchers (finansbilag), optionally with an attached file and booked; journaled exactly once.

Dinero cannot list or search manual vouchers, so the target keeps a journal of what it created
(:mod:`target_dinero.journal` explains why and what that survives); the write protocol is in
:mod:`target_dinero.voucher_writer`. Validation before any request: JSON schema, accounts and VAT codes of
the organization, finite non-zero amounts, a voucher date in an accounting year, lines without a
balancing account posting zero together (with the VAT Dinero adds to sales-VAT lines), and the file
(type, size, readable).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from target_dinero.amounts import dinero_vat, from_ore, is_whole_ore, to_ore
from target_dinero.files import check_attachment
from target_dinero.records import RecordRejected, digest, to_date, to_decimal, to_int, validate_shape
from target_dinero.sinks.base import DineroSink, Prepared
from target_dinero.voucher_writer import VoucherWriter

__all__ = ["ManualVoucherSink", "voucher_lines"]


def _posted(sink: DineroSink, account: int, code: Any, amount: Decimal, where: str) -> Decimal:
    """What a line without a balancing account posts in all (its account plus its VAT): ``Amount`` is the
    net for a sales VAT code, to which Dinero adds the VAT rounded to øre (REFERENCE §4.4), and already
    the gross for a purchase code. The code is the line's ``AccountVatCode``, else the account's own VAT
    code (null means the account's default; ``none`` means no VAT)."""
    reference = sink.run.reference
    text = str(code).strip() if code not in (None, "") else None
    if text is None:
        text = str((reference.accounts(fresh=True).get(account) or {}).get("VatCode") or "").strip()
    if not text.upper().startswith("U"):
        return amount
    rate = reference.vat_rates().get(text.upper(), Decimal(0))
    if not rate:
        return amount
    vat = dinero_vat(to_ore(amount), rate)
    if vat is None:
        raise RecordRejected(
            f"{where}: Dinero adds VAT {text} of exactly half an øre to {amount}; whether the voucher "
            "balances depends on how Dinero rounds it. Give this line a balancing account, or its VAT as a "
            "line of its own with AccountVatCode 'none'",
            f"{where}.Amount",
        )
    return amount + from_ore(vat)


def voucher_lines(sink: DineroSink, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validate ManuelVoucherLineCreateModel lines against the organization's chart and VAT codes.

    A line with a balancing account balances by itself. Lines without one must together post zero --
    counted with the VAT Dinero adds to a sales-VAT line (``Amount`` is its net), not as the bare
    amounts: ``-100`` on a U25 sales account and ``+100`` on the bank post -125 and +100.
    """
    reference = sink.run.reference
    result = []
    open_total = Decimal(0)
    open_amounts = Decimal(0)
    for index, line in enumerate(lines):
        where = f"Lines[{index}]"
        amount = to_decimal(line.get("Amount"), f"{where}.Amount")
        if amount == 0:
            raise RecordRejected(f"{where}.Amount is zero", f"{where}.Amount")
        if not is_whole_ore(amount):
            # Dinero keeps øre: 10.005 would be stored rounded (and a voucher "balanced" within half an
            # øre would not balance in Dinero). Refuse rather than let Dinero hold another amount.
            raise RecordRejected(
                f"{where}.Amount {amount} has a fraction of an øre; Dinero holds whole øre", f"{where}.Amount"
            )
        account = to_int(line.get("AccountNumber"), f"{where}.AccountNumber")
        reference.check_account(account, f"{where}.AccountNumber")
        balancing = line.get("BalancingAccountNumber")
        if balancing not in (None, ""):
            balancing = to_int(balancing, f"{where}.BalancingAccountNumber")
            reference.check_account(balancing, f"{where}.BalancingAccountNumber")
            if balancing == account:
                raise RecordRejected(
                    f"{where}: account and balancing account are both {account}",
                    f"{where}.BalancingAccountNumber",
                )
        for code_field in ("AccountVatCode", "BalancingAccountVatCode"):
            reference.check_vat_code(line.get(code_field), f"{where}.{code_field}")
        if balancing in (None, ""):
            balancing = None
            open_amounts += amount
            open_total += _posted(sink, account, line.get("AccountVatCode"), amount, where)
        result.append(
            {
                "Description": line.get("Description") or None,
                "AccountNumber": account,
                "BalancingAccountNumber": balancing,
                "Amount": amount,
                "AccountVatCode": line.get("AccountVatCode") or None,
                "BalancingAccountVatCode": line.get("BalancingAccountVatCode") or None,
            }
        )
    if open_total != 0:
        vat = open_total - open_amounts
        raise RecordRejected(
            "the voucher does not balance: lines without BalancingAccountNumber post "
            f"{open_total} in all, not 0"
            + (f" (their amounts add up to {open_amounts}, plus {vat} VAT Dinero adds)" if vat else ""),
            "Lines",
        )
    return result


class ManualVoucherSink(DineroSink):
    """load_as: manual_voucher."""

    load_type = "manual_voucher"

    def setup(self) -> None:
        """One journaled writer per sink (the journal itself is shared by the run)."""
        super().setup()
        self.writer = VoucherWriter(self.run, self.stream_name, self.load_type)

    def prepare(self, record: dict[str, Any]) -> Prepared:
        """Validate a voucher record and build the ManuelVoucherCreateModel."""
        validate_shape("manual_voucher", record)
        reference = self.reference_for(record)
        day = to_date(record["VoucherDate"], "VoucherDate")
        self.run.reference.check_bookable_date(day, "VoucherDate")
        payload: dict[str, Any] = {
            "VoucherDate": day.isoformat(),
            "ExternalReference": reference,
            "Lines": voucher_lines(self, record["Lines"]),
        }
        attachment = None
        if record.get("File"):
            attachment = check_attachment(record["File"])
            if record.get("FileGuid"):
                raise RecordRejected("give File or FileGuid, not both", "FileGuid")
        elif record.get("FileGuid"):
            payload["FileGuid"] = str(record["FileGuid"])
        file_identity = None
        if attachment is not None:
            file_identity = attachment.url or attachment.read().digest
        fingerprint = digest({**payload, "File": file_identity})
        return Prepared(
            record=record,
            reference=reference,
            payload=payload,
            book=self.book_wanted(record),
            extra={"attachment": attachment, "digest": fingerprint},
        )

    def load_one(self, item: Prepared) -> None:
        """Create (or update the draft of) one voucher, then book it when asked."""
        self.writer.upsert(
            item.reference,
            item.payload,
            item.extra["digest"],
            attachment=item.extra["attachment"],
            book=item.book,
            update_drafts=self.options.update_drafts,
            booked_must_match=True,
        )
