"""Money arithmetic shared by the seed and the write endpoints: invoice lines and totals, voucher lines
and their VAT split.

How Dinero rounds is not documented: neither the API reference (REFERENCE.md §4.3-§4.6 only name the
amount fields) nor Dinero's OpenAPI spec say whether VAT is rounded per line or per document, nor how a
midpoint (0.005) is rounded. The sandbox therefore states its emulation here, in one place:

* every amount is computed in **decimal** arithmetic (Dinero is a .NET service with ``decimal`` amounts;
  binary floats would round 0.015 down and 0.005 up depending on their representation);
* manual/purchase voucher lines: the VAT of **each line** is rounded to øre
  (``VatAmountValue = round(net x rate)`` for sales codes, ``net = round(gross / (1 + rate))`` for purchase
  codes), and a voucher's totals are sums of its rounded lines;
* invoice lines: ``TotalAmount = round(unit price excl. VAT x quantity x (1 - discount/100))`` per line;
  the invoice's VAT is rounded once, on the sum of its lines' VAT;
* midpoints are rounded as :data:`ROUNDING` says: half away from zero by default (the Danish convention
  for øre, "afrunding"). ``.NET``'s own default, ``Math.Round`` to even, is the other plausible choice;
  ``DINERO_SANDBOX_ROUNDING=half_even`` (or setting :data:`ROUNDING`) switches to it, and the target's
  tests run under both, because the target must not depend on which one Dinero uses.
"""

from __future__ import annotations

import os
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

from . import chart

CENT = Decimal("0.01")
ROUNDING = ROUND_HALF_EVEN if os.environ.get("DINERO_SANDBOX_ROUNDING") == "half_even" else ROUND_HALF_UP


def dec(value: Any) -> Decimal:
    """A JSON number as the decimal it was written as (``62.5`` -> ``Decimal('62.5')``)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    return Decimal(repr(float(value)))


def round_money(value: Decimal) -> Decimal:
    """Round a decimal amount to øre with the sandbox's midpoint rule (:data:`ROUNDING`)."""
    return value.quantize(CENT, rounding=ROUNDING)


def r2(value: Any) -> float:
    """Round to two decimals (øre), decimally, and return a JSON float."""
    return float(round_money(dec(value))) + 0.0


def invoice_line(
    *,
    base: float,
    quantity: float,
    discount: float,
    account: int,
    account_name: str | None,
    vat_code: str | None,
    unit: str | None,
    description: str | None,
    product_guid: str | None,
    comments: str | None = None,
    line_type: str = "Product",
    show_incl_vat: bool = False,
) -> dict[str, Any]:
    """An ``InvoiceLinesReadModel`` from create-model values (VAT from the account's VAT code)."""
    rate = chart.vat_rate(vat_code) if chart.vat_side(vat_code) == "sale" else 0.0
    d_rate, d_base = dec(rate), dec(base)
    if show_incl_vat:
        base_incl = d_base
        base_excl = d_base / (1 + d_rate)
    else:
        base_excl = d_base
        base_incl = d_base * (1 + d_rate)
    factor = dec(quantity) * (1 - dec(discount) / 100)
    if line_type == "Text":
        factor = Decimal(0)
    return {
        "AccountName": account_name,
        "BaseAmountValue": r2(d_base),
        "BaseAmountValueInclVat": r2(base_incl),
        "TotalAmount": r2(base_excl * factor),
        "TotalAmountInclVat": r2(base_incl * factor),
        "ProductGuid": product_guid,
        "Description": description or "",
        "Comments": comments or "",
        "Quantity": quantity,
        "AccountNumber": account,
        "Unit": unit,
        "Discount": discount,
        "LineType": line_type,
        "_VatCode": vat_code,
        "_VatRate": rate,
    }


def public_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Lines without internal keys."""
    return [{k: v for k, v in line.items() if not k.startswith("_")} for line in lines]


def invoice_totals(lines: list[dict[str, Any]], currency: str = "DKK") -> dict[str, Any]:
    """Totals and ``TotalLines`` of a sales document from its read lines (VAT rounded once, on the sum)."""
    vatable = sum((dec(line["TotalAmount"]) for line in lines if line.get("_VatRate")), Decimal(0))
    non_vatable = sum((dec(line["TotalAmount"]) for line in lines if not line.get("_VatRate")), Decimal(0))
    vat = round_money(
        sum((dec(line["TotalAmount"]) * dec(line.get("_VatRate", 0.0)) for line in lines), Decimal(0))
    )
    excl = vatable + non_vatable
    total_lines = [{"Type": "SubTotal", "TotalAmount": r2(excl), "Position": 0, "Label": "Subtotal"}]
    if vat:
        total_lines.append({"Type": "Vat", "TotalAmount": r2(vat), "Position": 1, "Label": "Moms (25%)"})
    total_lines.append(
        {"Type": "Total", "TotalAmount": r2(excl + vat), "Position": 2, "Label": f"Total {currency}"}
    )
    return {
        "TotalExclVat": r2(excl),
        "TotalVatableAmount": r2(vatable),
        "TotalNonVatableAmount": r2(non_vatable),
        "TotalVat": r2(vat),
        "TotalInclVat": r2(excl + vat),
        "TotalLines": total_lines,
    }


def split_voucher_amount(amount: float, vat_code: str | None) -> tuple[float, float, float]:
    """(net, vat, gross) of a manual/purchase voucher line amount, rounded per line.

    Per the reference, ``Amount`` includes VAT for purchase VAT codes and excludes it for sales codes.
    """
    rate = dec(chart.vat_rate(vat_code))
    side = chart.vat_side(vat_code)
    value = round_money(dec(amount))
    if side == "purchase" and rate:
        net = round_money(value / (1 + rate))
        return float(net), float(value - net), float(value)
    if side == "sale" and rate:
        vat = round_money(value * rate)
        return float(value), float(vat), float(value + vat)
    return float(value), 0.0, float(value)
