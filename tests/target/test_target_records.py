"""Record helpers: references, Guids, amounts and dates (pure functions, no sandbox)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from target_dinero.records import RecordRejected, derive_reference, deterministic_guid, to_date, to_decimal


def test_derived_reference_is_stable_and_at_most_128_characters() -> None:
    assert derive_reference("", "orders", [42]) == "orders:42"
    assert derive_reference("shop/", "orders", ["a", 1]) == "shop/orders:a|1"
    long_key = ["x" * 300]
    ref = derive_reference("p/", "orders", long_key)
    assert len(ref) <= 128
    assert ref == derive_reference("p/", "orders", long_key)
    assert ref != derive_reference("p/", "orders", ["y" * 300])


def test_guid_depends_on_organization_kind_and_reference() -> None:
    guid = deterministic_guid("100000", "invoice", "SHOP-1")
    assert guid == deterministic_guid("100000", "invoice", "SHOP-1")
    assert guid != deterministic_guid("100001", "invoice", "SHOP-1")
    assert guid != deterministic_guid("100000", "contact", "SHOP-1")


@pytest.mark.parametrize("value", ["NaN", "Infinity", float("nan"), float("-inf"), True, "12,50", "1e13"])
def test_amounts_must_be_finite_numbers(value: object) -> None:
    with pytest.raises(RecordRejected) as info:
        to_decimal(value, "Amount")
    assert info.value.field == "Amount"


def test_amounts_accept_numbers_and_numeric_strings() -> None:
    assert to_decimal("62.50", "amount") == Decimal("62.50")
    assert to_decimal(Decimal("0.1"), "amount") == Decimal("0.1")
    assert to_decimal(None, "Discount", required=False) is None


def test_timestamps_become_the_local_calendar_day() -> None:
    copenhagen = ZoneInfo("Europe/Copenhagen")
    assert to_date("2026-11-02T23:30:00Z", "date", tz=copenhagen) == dt.date(2026, 11, 3)
    assert to_date("2026-11-02T23:30:00", "date", tz=copenhagen) == dt.date(2026, 11, 2)  # naive: local
    assert to_date("2026-11-02", "date") == dt.date(2026, 11, 2)


@pytest.mark.parametrize("value", ["1989-12-31", "02-11-2026", "2026-02-30", "", None])
def test_impossible_or_out_of_range_dates_are_rejected(value: object) -> None:
    with pytest.raises(RecordRejected):
        to_date(value, "Date")
    with pytest.raises(RecordRejected):
        to_date(dt.date.today() + dt.timedelta(days=400), "Date")
