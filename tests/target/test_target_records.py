"""Record helpers: references, Guids, amounts and dates (pure functions, no sandbox)."""

from __future__ import annotations

import datetime as dt
import unicodedata
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from target_dinero.contacts import ContactResolver
from target_dinero.records import (
    RecordRejected,
    derive_reference,
    deterministic_guid,
    normalize_reference,
    to_date,
    to_decimal,
)
from target_dinero.remote_index import RemoteIndex


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


# -- identity: derived references are injective; look-ups compare by the identity rule ----------------
PROPERTY = settings(max_examples=400, deadline=None, derandomize=True, database=None)
#: Characters that matter to the encoding (separators, escapes), case and normalization.
_TRICKY = st.sampled_from([*"ab|\\:AB é", "e\u0301", "\u00e9", "İ", "ß", "\u00a0", "ǅ", "ﬁ"])
key_value = st.one_of(
    st.lists(_TRICKY, min_size=1, max_size=6).map("".join),
    st.text(min_size=1, max_size=8),
    st.integers(-5, 5),
    st.text(st.sampled_from("x|\\"), min_size=60, max_size=140),  # long: the hashed form
).filter(lambda v: normalize_reference(v) != "")
key_tuple = st.lists(key_value, min_size=1, max_size=3)
stream_name = st.one_of(
    st.sampled_from(["orders", "a:b", "a", "b:orders", "x\\", "o" * 120]), st.text(max_size=5)
)


def _identity(values: list[Any]) -> tuple[str, ...]:
    return tuple(normalize_reference(str(v)) for v in values)


@PROPERTY
@given(stream_name, key_tuple, stream_name, key_tuple)
def test_multi_field_key_collision_is_impossible(s1: str, k1: list, s2: str, k2: list) -> None:
    """Two (stream, key) pairs give one reference exactly when they are the same by the identity rule."""
    same = (s1, _identity(k1)) == (s2, _identity(k2))
    assert (derive_reference("p/", s1, k1) == derive_reference("p/", s2, k2)) == same


def test_multi_field_key_collision_examples() -> None:
    assert derive_reference("", "o", ["a|b", "c"]) != derive_reference("", "o", ["a", "b|c"])
    assert derive_reference("", "o", ["a\\", "b"]) != derive_reference("", "o", ["a\\|b"])
    assert derive_reference("", "a:b", ["c"]) != derive_reference("", "a", ["b:c"])
    assert derive_reference("", "o", ["a", "b"]) != derive_reference("", "o", ["a|b"])
    assert derive_reference("", "o", [1]) == derive_reference("", "o", ["1"])  # compared as text
    assert derive_reference("", "orders", ["A-1", 7]) == "orders:A-1|7"  # plain keys read as before


@PROPERTY
@given(stream_name, key_tuple, st.sampled_from(["upper", "nfd", "spaces"]))
def test_reference_identity_is_nfc_trimmed_and_case_sensitive(stream: str, key: list, variant: str) -> None:
    if variant == "upper":
        other = [str(v).upper() for v in key]
        expect_same = _identity(other) == _identity(key)
    elif variant == "nfd":
        other = [unicodedata.normalize("NFD", str(v)) for v in key]
        expect_same = True
    else:
        other = [f" {v}\t" for v in key]
        expect_same = True
    assert (derive_reference("", stream, key) == derive_reference("", stream, other)) == expect_same


def _loose(value: Any) -> str:
    return unicodedata.normalize("NFKC", str(value)).casefold().strip()


class LooseGateway:
    """A stand-in for Dinero whose queryFilter is as loose as it may be: it returns every row whose
    value *contains* the searched one, ignoring case, compatibility forms and surrounding whitespace."""

    organization_id = "100000"

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.posts: list[dict[str, Any]] = []

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        params = params or {}
        query = params.get("queryFilter")
        rows = self.rows
        if query:
            field, _, value = query.partition(" eq ")
            needle = _loose(value.strip().strip("'").replace("''", "'"))
            rows = [r for r in rows if needle in _loose(r.get(field.strip()) or "")]
        return {
            "Collection": rows,
            "Pagination": {"Result": len(rows), "ResultWithoutFilter": len(self.rows)},
        }

    def post(self, path: str, body: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.posts.append(body)
        self.rows.append(body)
        return {"ContactGuid": body.get("ContactGuid")}


_VARIANTS = st.sampled_from(
    [
        lambda r: r.upper(),
        lambda r: r.lower(),
        lambda r: r + "0",
        lambda r: "x" + r,
        lambda r: r.replace("-", " -"),
        lambda r: unicodedata.normalize("NFD", r),
        lambda r: f"  {r} ",
    ]
)
_REFS = st.lists(_TRICKY, min_size=1, max_size=5).map(lambda t: "R-" + "".join(t))


@PROPERTY
@given(_REFS, st.lists(_VARIANTS, min_size=1, max_size=4), st.booleans())
def test_remote_index_never_accepts_a_looser_match(ref: str, variants: list, paged: bool) -> None:
    """Only rows whose reference is ``ref`` by the identity rule are "the object of ``ref``"."""
    rows = [{"ExternalReference": v(ref), "Guid": f"g{i}"} for i, v in enumerate(variants)]
    gateway = LooseGateway(rows)
    index = RemoteIndex(gateway, "/v1/{org}/invoices", ["Guid"])  # type: ignore[arg-type]
    if not paged:
        index.mark_writing()  # forces the per-reference queryFilter look-up
    found = index.lookup([ref]).get(normalize_reference(ref))
    exact = [r for r in rows if normalize_reference(r["ExternalReference"]) == normalize_reference(ref)]
    assert found == (exact[0] if exact else None)


@PROPERTY
@given(_REFS, st.lists(_VARIANTS, min_size=1, max_size=4))
def test_contact_lookup_never_accepts_a_looser_reference_match(ref: str, variants: list) -> None:
    rows = [
        {"ExternalReference": v(ref), "ContactGuid": f"c{i}", "Name": "Other"} for i, v in enumerate(variants)
    ]
    resolver = ContactResolver(LooseGateway(rows))  # type: ignore[arg-type]
    found = resolver.find({"ExternalReference": ref, "Name": "Mine"})
    exact = [r for r in rows if normalize_reference(r["ExternalReference"]) == normalize_reference(ref)]
    assert (found or {}).get("ContactGuid") == (exact[0]["ContactGuid"] if exact else None)


def test_contact_lookup_by_email_or_vat_ignores_rows_the_filter_matched_loosely() -> None:
    rows = [
        {"ContactGuid": "c1", "Email": "anna@firma.dk.evil", "Name": "Other"},
        {"ContactGuid": "c2", "VatNumber": "DK123456789", "Name": "Other"},
    ]
    resolver = ContactResolver(LooseGateway(rows))  # type: ignore[arg-type]
    assert resolver.find({"Email": "anna@firma.dk", "Name": "Anna"}) is None
    assert resolver.find({"VatNumber": "DK12345678", "Name": "Anna"}) is None
    assert resolver.find({"Email": "ANNA@firma.dk.evil "})["ContactGuid"] == "c1"  # e-mail: case-folded


def test_embedded_contact_reference_is_injective_over_its_fields() -> None:
    resolver = ContactResolver(LooseGateway([]))  # type: ignore[arg-type]
    one = resolver.embedded_reference({"Name": "a|b", "Street": "c"})
    two = resolver.embedded_reference({"Name": "a", "Street": "b|c"})
    assert one != two


@pytest.mark.parametrize(
    ("text", "meant"), [("1.125", "1.1250"), ("12.500", "12.5000"), ("1.250", "1250.00")]
)
def test_an_ambiguous_amount_text_is_rejected_with_a_form_that_keeps_its_value(text: str, meant: str) -> None:
    """"1.125" (a quantity in kg, a price with three decimals) cannot be told from Danish 1125: the reason
    offers a spelling that keeps either meaning exactly -- "two decimals" would make 1.125 kg 1.12 or 1.13."""
    with pytest.raises(RecordRejected) as caught:
        to_decimal(text, "ProductLines[0].Quantity")
    reason = str(caught.value)
    assert "ProductLines[0].Quantity" in reason and f'"{meant}"' in reason, reason
    assert "two decimals" not in reason


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        (Decimal("99.950000000000003"), Decimal("99.95")),  # json_encode(99.95), serialize_precision 17
        (Decimal("0.10000000000000001"), Decimal("0.1")),
        ("124.98999999999999", Decimal("124.99")),
        (Decimal("1.0000000000000002"), Decimal("1.0000000000000002")),  # a double's own shortest form
    ],
)
def test_a_double_written_with_17_digits_is_the_double(written: Any, meant: Decimal) -> None:
    """A PHP shop with ``serialize_precision = 17`` (php.ini before PHP 7.1) writes 99.95 as
    99.950000000000003: that text is the double 99.95, which is what Dinero gets. It loads as 99.95 -- it
    was rejected as "more digits than Dinero's numbers hold", and every order of such a shop with it."""
    assert to_decimal(written, "BaseAmountValue") == meant


def test_a_number_no_double_holds_is_still_rejected() -> None:
    with pytest.raises(RecordRejected):
        to_decimal(Decimal("19.999999999999999999"), "BaseAmountValue")  # 20 digits: would arrive as 20
    with pytest.raises(RecordRejected):
        to_decimal(Decimal("99.950000000000001"), "BaseAmountValue")  # 17 digits, but no double's
