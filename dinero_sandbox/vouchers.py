"""Manual ("manuel") and purchase voucher lines: from the create model to the read model, and the
ledger postings each line produces.

Sign convention (the reference marks it unknown, §4.4/§7.9; this is the sandbox's choice): a positive
``Amount`` is debited (+) to ``AccountNumber`` and credited (-) to ``BalancingAccountNumber``. The VAT code of
the account side applies when it has a rate, else the balancing side's; ``Amount`` includes VAT for
purchase codes and excludes it for sales codes (reference §4.4). A null VAT code means the account's
default VAT code; ``none`` means no VAT.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import chart
from .amounts import r2, split_voucher_amount

AccountLookup = Callable[[Any], "dict[str, Any] | None"]


def effective_vat(code: str | None, account: dict[str, Any] | None) -> str | None:
    """The VAT code a line side uses: explicit code, else the account's default."""
    if code is not None:
        return code
    if account is None:
        return None
    return account.get("VatCode")


def manual_read_line(line: dict[str, Any], lookup: AccountLookup) -> dict[str, Any]:
    """``ManuelVoucherLineReadModel`` of a create line."""
    acc = lookup(line.get("AccountNumber")) if line.get("AccountNumber") is not None else None
    bal = (
        lookup(line.get("BalancingAccountNumber")) if line.get("BalancingAccountNumber") is not None else None
    )
    acc_vat = effective_vat(line.get("AccountVatCode"), acc)
    bal_vat = effective_vat(line.get("BalancingAccountVatCode"), bal)
    vat_code = acc_vat if chart.vat_rate(acc_vat) else bal_vat
    net, vat, gross = split_voucher_amount(float(line["Amount"]), vat_code)
    return {
        "Description": line.get("Description"),
        "AmountExclVatValue": net,
        "AmountInclVatValue": gross,
        "VatAmountValue": vat,
        "AccountNumber": line.get("AccountNumber"),
        "BalancingAccountNumber": line.get("BalancingAccountNumber"),
        "AccountVatCode": acc_vat,
        "BalancingAccountVatCode": bal_vat,
        "CurrencyKey": "DKK",
        "AmountInForeignCurrency": None,
    }


def manual_postings(line: dict[str, Any]) -> list[tuple[int, float, str | None]]:
    """(account, amount, vat code) postings of one manual voucher read line (they sum to zero)."""
    acc, bal = line.get("AccountNumber"), line.get("BalancingAccountNumber")
    acc_vat, bal_vat = line.get("AccountVatCode"), line.get("BalancingAccountVatCode")
    net, vat, gross = line["AmountExclVatValue"], line["VatAmountValue"], line["AmountInclVatValue"]
    out: list[tuple[int, float, str | None]] = []
    if vat and chart.vat_rate(acc_vat):
        if acc is not None:
            out.append((acc, net, acc_vat))
        out.append((chart.vat_account(acc_vat), vat, None))
        if bal is not None:
            out.append((bal, -gross, None))
    elif vat:
        if acc is not None:
            out.append((acc, gross, None))
        if bal is not None:
            out.append((bal, -net, bal_vat))
        out.append((chart.vat_account(bal_vat), -vat, None))
    else:
        if acc is not None:
            out.append((acc, net, acc_vat))
        if bal is not None:
            out.append((bal, -net, bal_vat))
    return out


def purchase_read_line(line: dict[str, Any], lookup: AccountLookup) -> dict[str, Any]:
    """``PurchaseVoucherLineReadModel`` of a create line (``Amount`` is the VAT-inclusive gross)."""
    acc = lookup(line.get("AccountNumber")) if line.get("AccountNumber") is not None else None
    vat_code = effective_vat(line.get("VatCode"), acc)
    net, vat, gross = split_voucher_amount(
        float(line["Amount"]), vat_code if chart.vat_side(vat_code) == "purchase" else None
    )
    return {
        "Description": line.get("Description"),
        "VatCode": vat_code,
        "AccountNumber": line.get("AccountNumber"),
        "AmountExclVatValue": net,
        "AmountInclVatValue": gross,
        "VatAmountValue": vat,
        "AccountTagName": line.get("AccountTagName"),
        "AccountWeightTagId": None,
        "AccountWeightTagVersion": None,
        "AccountTagSynonym": None,
    }


def purchase_totals(lines: list[dict[str, Any]]) -> tuple[float, float, list[dict[str, Any]]]:
    """(net, gross, VoucherTotals) of purchase read lines."""
    net = r2(sum(x["AmountExclVatValue"] for x in lines))
    vat = r2(sum(x["VatAmountValue"] for x in lines))
    totals = [
        {"Label": "Subtotal", "Total": net, "Type": "SubTotal", "Position": 0},
        {"Label": "Moms", "Total": vat, "Type": "Vat", "Position": 1},
        {"Label": "Total", "Total": r2(net + vat), "Type": "Total", "Position": 2},
    ]
    return net, r2(net + vat), totals


def purchase_postings(voucher: dict[str, Any]) -> list[tuple[int, float, str | None]]:
    """Postings of a booked purchase voucher: expense lines and VAT debited, bank/creditors credited."""
    out: list[tuple[int, float, str | None]] = []
    gross_total = 0.0
    for line in voucher.get("Lines") or []:
        if line.get("AccountNumber") is not None:
            out.append((line["AccountNumber"], line["AmountExclVatValue"], line.get("VatCode")))
        if line["VatAmountValue"]:
            out.append((chart.PURCHASE_VAT_ACCOUNT, line["VatAmountValue"], None))
        gross_total += line["AmountInclVatValue"]
    counter = chart.PAYABLES_ACCOUNT
    if (voucher.get("PurchaseType") or "").lower() == "cash":
        counter = voucher.get("DepositAccountNumber") or chart.BANK_ACCOUNT
    out.append((counter, -r2(gross_total), None))
    return out
