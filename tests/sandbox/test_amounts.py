"""The sandbox's emulation of Dinero's money arithmetic: decimal, per line, with a stated midpoint rule."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP

import pytest

from dinero_sandbox import amounts


@pytest.mark.parametrize(
    ("net", "rule", "vat"),
    [
        (0.06, ROUND_HALF_UP, 0.02),  # 0.015: a binary float rounds this down to 0.01
        (0.02, ROUND_HALF_UP, 0.01),  # 0.005
        (0.02, ROUND_HALF_EVEN, 0.0),
        (0.06, ROUND_HALF_EVEN, 0.02),
        (-0.06, ROUND_HALF_UP, -0.02),  # half away from zero for returns too
        (1234.58, ROUND_HALF_UP, 308.65),  # 308.645
    ],
)
def test_sales_vat_of_a_voucher_line_is_rounded_decimally(
    monkeypatch: pytest.MonkeyPatch, net: float, rule: str, vat: float
) -> None:
    monkeypatch.setattr(amounts, "ROUNDING", rule)
    assert amounts.split_voucher_amount(net, "U25") == (net, vat, round(net + vat, 2))


def test_purchase_amount_keeps_its_gross() -> None:
    net, vat, gross = amounts.split_voucher_amount(100.01, "I25")
    assert (net, vat, gross) == (80.01, 20.0, 100.01)
