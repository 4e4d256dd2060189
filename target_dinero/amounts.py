"""Money arithmetic of the target: amounts in øre, and nets that Dinero's own VAT rounding turns back into
the gross the input says.

Why this module exists: when a manual-voucher line carries a *sales* VAT code, its ``Amount`` is the net
and Dinero adds the VAT itself, rounded to øre per line (REFERENCE.md §4.4: "Amount ... should exclude VAT
when VAT type is sale"). For 25 % VAT the gross ``net + round(net x 0.25)`` skips some øre values:
no net gives 0.03, 0.08, 0.13 ... when midpoints round to even, and the ones it does give through a
midpoint (net 0.02 → VAT 0.005) depend on how Dinero rounds a midpoint, which no Dinero document states.
So the target never relies on a midpoint:

* :func:`dinero_vat` is the VAT Dinero computes for a net, or None when ``net x rate`` falls on (or within
  a hair of) a midpoint -- such a net is never sent;
* :func:`nets_for_gross` finds one net whose gross is exactly the wanted amount, else two nets (two
  lines on the same accounts) whose grosses add up to it -- always possible for 25 % and 0 %, and for any
  rate whose products do not all sit on midpoints -- else None, and the caller rejects the amount with
  its reason instead of sending something Dinero would store differently.

Everything is :class:`~decimal.Decimal`; amounts reach Dinero with at most two decimals.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

__all__ = [
    "CENT",
    "InvoiceLineMoney",
    "InvoiceMoney",
    "dinero_gross",
    "dinero_vat",
    "from_ore",
    "invoice_money",
    "invoice_money_is_certain",
    "is_whole_ore",
    "nets_for_gross",
    "to_ore",
]

CENT = Decimal("0.01")
#: A net whose VAT (in øre) lies closer than this to a midpoint is never sent (float-safe margin too).
_MIDPOINT_MARGIN = Decimal("0.000001")
#: How far from the first guess :func:`nets_for_gross` looks for a second, small line (in øre).
_SPLIT_SEARCH = 500


def is_whole_ore(value: Decimal) -> bool:
    """True when ``value`` has no fraction of an øre (``12.50`` yes, ``12.505`` no)."""
    return value == value.quantize(CENT)


def to_ore(value: Decimal) -> int:
    """An amount in kroner that is a whole number of øre, as an integer number of øre."""
    ore = value * 100
    if ore != ore.to_integral_value():
        raise ValueError(f"{value} is not a whole number of øre")
    return int(ore)


def from_ore(ore: int) -> Decimal:
    """øre -> kroner with two decimals."""
    return (Decimal(ore) / 100).quantize(CENT)


def dinero_vat(net_ore: int, rate: Decimal) -> int | None:
    """The VAT in øre Dinero adds to a line of ``net_ore`` at ``rate``, or None when it is a midpoint case.

    Away from a midpoint every rounding rule (half up, half even, half away from zero, a double's
    nearest) gives the same øre, so the answer does not depend on what Dinero does with 0.005.
    """
    exact = Decimal(net_ore) * rate
    fraction = exact - exact.to_integral_value(rounding=ROUND_FLOOR)
    if abs(fraction - Decimal("0.5")) < _MIDPOINT_MARGIN:
        return None
    return int(exact.to_integral_value(rounding=ROUND_HALF_UP))


def _single_net(gross_ore: int, rate: Decimal) -> int | None:
    """A net (øre) whose gross after Dinero's VAT is exactly ``gross_ore``, away from midpoints."""
    guess = int((Decimal(gross_ore) / (1 + rate)).to_integral_value(rounding=ROUND_FLOOR))
    for net in sorted(range(guess - 3, guess + 4), key=lambda n: abs(n - guess)):
        vat = dinero_vat(net, rate)
        if vat is not None and net + vat == gross_ore:
            return net
    return None


def nets_for_gross(gross_ore: int, rate: Decimal) -> list[int] | None:
    """Nets (øre), one or two, whose grosses after Dinero's per-line VAT add up to exactly ``gross_ore``.

    One net when one exists; otherwise the bulk plus a small second line (a few øre, possibly of the
    other sign) on the same accounts. None when no such pair is found (then the amount cannot be
    represented with this VAT code and the caller must refuse it or use explicit VAT lines).
    """
    if gross_ore == 0:
        return []
    if rate == 0:
        return [gross_ore]
    single = _single_net(gross_ore, rate)
    if single is not None:
        return [single]
    sign = 1 if gross_ore > 0 else -1
    for size in range(1, _SPLIT_SEARCH + 1):
        for small in (sign * size, -sign * size):
            vat = dinero_vat(small, rate)
            if vat is None:
                continue
            rest = _single_net(gross_ore - (small + vat), rate)
            if rest is not None and rest != 0:
                return [rest, small]
    return None


def dinero_gross(nets_ore: Iterable[int], rate: Decimal) -> int | None:
    """What Dinero holds (øre, incl. VAT) for lines with these nets, or None if one is a midpoint case."""
    total = 0
    for net in nets_ore:
        vat = dinero_vat(net, rate)
        if vat is None:
            return None
        total += net + vat
    return total


# -- invoices ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class InvoiceLineMoney:
    """The amount fields of one invoice line, as Dinero reads them."""

    price: Decimal  # BaseAmountValue: unit price, incl. VAT when the invoice shows lines incl. VAT
    quantity: Decimal
    discount: Decimal  # percent
    rate: Decimal  # VAT rate of the line's account (sales VAT codes only)
    text: bool = False  # Text lines carry no amount


@dataclasses.dataclass(frozen=True)
class InvoiceMoney:
    """What Dinero computes for an invoice: totals, and the sum of its lines' amounts incl. VAT."""

    excl: Decimal
    vat: Decimal
    incl: Decimal
    lines_incl: Decimal


def invoice_money(
    lines: Iterable[InvoiceLineMoney], show_incl_vat: bool, rounding: str = ROUND_HALF_UP
) -> InvoiceMoney:
    """Dinero's invoice arithmetic (as the sandbox emulates it, ``dinero_sandbox/amounts.py``).

    Per line ``TotalAmount = round(price excl. VAT x quantity x (1 - discount/100))`` and
    ``TotalAmountInclVat = round(price incl. VAT x ...)``; the invoice's VAT is rounded once, on the sum
    of the lines' VAT; ``TotalInclVat = TotalExclVat + TotalVat``. ``rounding`` is the midpoint rule.
    """
    excl = vat_sum = lines_incl = Decimal(0)
    for line in lines:
        if line.text:
            continue
        factor = line.quantity * (1 - line.discount / 100)
        if show_incl_vat:
            base_incl, base_excl = line.price, line.price / (1 + line.rate)
        else:
            base_excl, base_incl = line.price, line.price * (1 + line.rate)
        total = (base_excl * factor).quantize(CENT, rounding=rounding)
        excl += total
        vat_sum += total * line.rate
        lines_incl += (base_incl * factor).quantize(CENT, rounding=rounding)
    vat = vat_sum.quantize(CENT, rounding=rounding)
    return InvoiceMoney(excl=excl, vat=vat, incl=excl + vat, lines_incl=lines_incl)


def invoice_money_is_certain(lines: list[InvoiceLineMoney], show_incl_vat: bool) -> bool:
    """True when Dinero's totals do not depend on how it rounds a midpoint (half up and half even agree)."""
    return invoice_money(lines, show_incl_vat, ROUND_HALF_UP) == invoice_money(
        lines, show_incl_vat, ROUND_HALF_EVEN
    )
