"""Money arithmetic shared by the seed and the write endpoints: invoice lines and totals, voucher lines
and their VAT split. Amounts are rounded to øre (2 decimals)."""

from __future__ import annotations

from typing import Any

from . import chart


def r2(value: float) -> float:
    """Round to two decimals (øre)."""
    return round(value + 0.0, 2)


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
    if show_incl_vat:
        base_incl = base
        base_excl = base / (1 + rate)
    else:
        base_excl = base
        base_incl = base * (1 + rate)
    factor = quantity * (1 - discount / 100.0)
    if line_type == "Text":
        factor = 0.0
    return {
        "AccountName": account_name,
        "BaseAmountValue": r2(base),
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
    """Totals and ``TotalLines`` of a sales document from its read lines."""
    vatable = sum(line["TotalAmount"] for line in lines if line.get("_VatRate"))
    non_vatable = sum(line["TotalAmount"] for line in lines if not line.get("_VatRate"))
    vat = sum(line["TotalAmount"] * line.get("_VatRate", 0.0) for line in lines)
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
    """(net, vat, gross) of a manual/purchase voucher line amount.

    Per the reference, ``Amount`` includes VAT for purchase VAT codes and excludes it for sales codes.
    """
    rate = chart.vat_rate(vat_code)
    side = chart.vat_side(vat_code)
    if side == "purchase" and rate:
        net = r2(amount / (1 + rate))
        return net, r2(amount - net), r2(amount)
    if side == "sale" and rate:
        vat = r2(amount * rate)
        return r2(amount), vat, r2(amount + vat)
    return r2(amount), 0.0, r2(amount)
