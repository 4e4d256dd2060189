"""Hypothesis strategies for hostile target input: valid records full of hostile text, and defects that
the target must detect locally (each defect names the field the rejection must name).

A *defect* is ``(path, value, field)``: set ``value`` at ``path`` inside a valid record (``DELETE``
removes the key) and expect the rejection to name ``field``.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import math
from typing import Any

from hypothesis import strategies as st

from dinero_api.filters import searchable
from dinero_sandbox.chart import ACCOUNTS, VAT_TYPES

DELETE = object()
Path = tuple[Any, ...]
Defect = tuple[Path, Any, str]

CHART = frozenset(a.number for a in ACCOUNTS)
SALES_ACCOUNTS = (1000, 1010, 1100, 1200, 1300)
EXPENSE_ACCOUNTS = (2000, 4000, 5000, 6000)
DEPOSIT_ACCOUNTS = (55000, 58000)
VAT_CODES = tuple(v.code for v in VAT_TYPES)
UNITS = ("hours", "parts", "km", "day", "week", "month", "kilogram", "litre", "box", "package", "session")
#: Dinero's queryFilter cannot carry these (dinero_api.filters refuses them).
UNFILTERABLE = "\r\n\x00"

#: Strings aimed at Dinero's queryFilter syntax, at SQL/template/path handling and at text rendering.
INJECTIONS = (
    "' ; ExternalReference eq '",
    "x' ; Name contains '",
    "a'';Email eq ''b",
    "' or '1' eq '1",
    "Name eq 'Kaffebaren ApS'",
    "'",
    "''",
    ";",
    "%27%3B%20Name%20eq%20%27",
    "\\'",
    "Robert'); DROP TABLE invoices;--",
    "<script>alert(1)</script>",
    "${jndi:ldap://127.0.0.1/a}",
    "{{7*7}}",
    "../../../../etc/passwd",
    "\u202eevil.exe",
    "zero\u200bwidth",
    "Æblegrød & Søn ApS",
    "🧾💸🇩🇰",
    "İstanbul ß ﬁ",
    "\t tab and  spaces ",
)

#: What Dinero's documents cannot hold (target_dinero.records.text_defect): C0 controls but tab, CR and LF,
#: U+FFFE/U+FFFF -- and lone surrogates (category Cs), which cannot even be encoded as UTF-8.
UNSTORABLE = "".join(chr(c) for c in range(0x20) if chr(c) not in "\t\r\n") + "\ufffe\uffff"
_TEXT_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters=UNFILTERABLE + UNSTORABLE)
#: Free text a record may legitimately carry: hostile, but loadable.
hostile_text = st.one_of(
    st.sampled_from(INJECTIONS),
    st.text(_TEXT_CHARS, min_size=1, max_size=40),
    st.tuples(st.sampled_from(INJECTIONS), st.text(_TEXT_CHARS, max_size=10)).map("".join),
).filter(lambda s: s.strip() != "")

#: Amounts Dinero accepts: finite, two decimals, negative included (credit lines, reversals).
amounts = st.decimals(min_value=-1_000_000, max_value=1_000_000, places=2, allow_nan=False).map(float)
quantities = st.decimals(min_value=-100, max_value=1000, places=2, allow_nan=False).map(float)
unknown_accounts = st.integers(min_value=1, max_value=999_999).filter(lambda n: n not in CHART)
unknown_vat_codes = st.one_of(
    st.sampled_from(["X99", "U26", "MOMS", "U 25", "' or '1' eq '1"]),
    st.text(st.characters(whitelist_categories=("Lu", "Nd")), min_size=1, max_size=6),
).filter(lambda c: c.upper() not in VAT_CODES and c.lower() != "none")
non_finite = st.sampled_from([math.nan, math.inf, -math.inf, "NaN", "Infinity", "-Infinity"])
huge = st.one_of(st.floats(min_value=1e12, max_value=1e300), st.sampled_from(["1e400", -1e15, 10**20]))
not_a_number = st.sampled_from(["abc", "", "1,5", "12 kr", [], {}, True, False, "0x1F"])
bad_dates = st.one_of(
    st.sampled_from(
        ["2026-13-45", "2026-02-30", "yesterday", "02-11-2026", "2026/11/02", "", "2026-11-02 25:00"]
    ),
    st.dates(max_value=dt.date(1989, 12, 31)).map(str),
    st.dates(min_value=dt.date(2028, 1, 1)).map(str),
)
over_long = st.integers(min_value=129, max_value=400).map(lambda n: "R" * n)
#: Text with one character Dinero cannot store: a lone surrogate, a control character.
unstorable_text = st.tuples(
    hostile_text,
    st.sampled_from(["\ud800", "\udfff", "\x01", "\x08", "\x0b", "\x1b", "\ufffe"]),
    hostile_text,
).map("".join)
#: Currency codes that are not money (ISO 4217 X-codes, fund codes) or not ISO 4217 at all.
not_currencies = st.sampled_from(["XXX", "XTS", "XAU", "XDR", "CLF", "ABC", "DKX"])
with_line_break = st.tuples(hostile_text, st.sampled_from(["\n", "\r\n", "\x00"]), hostile_text).map("".join)


# ------------------------------------------------------------------------------------------------------
# valid records (hostile text, loadable)
# ------------------------------------------------------------------------------------------------------
@st.composite
def invoice_lines(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "Description": draw(hostile_text),
        "Quantity": draw(quantities),
        "BaseAmountValue": draw(amounts),
        "AccountNumber": draw(st.sampled_from(SALES_ACCOUNTS)),
        "Unit": draw(st.sampled_from(UNITS)),
        "Discount": draw(st.sampled_from([0, 0, 10, 12.5, 100])),
    }


@st.composite
def valid_invoices(draw: st.DrawFn) -> dict[str, Any]:
    """An invoice with a Contact object; every text field hostile."""
    return {
        "Date": draw(st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2026, 11, 1)).map(str)),
        "Comment": draw(hostile_text),
        "Description": draw(hostile_text),
        "Currency": draw(st.sampled_from(["DKK", "EUR", "dkk"])),
        "Contact": {
            "Name": draw(hostile_text),
            "Email": draw(looked_up_text),
            "City": draw(hostile_text),
            "CountryKey": draw(st.sampled_from(["DK", "se", "DE"])),
        },
        "ProductLines": draw(st.lists(invoice_lines(), min_size=1, max_size=3)),
    }


@st.composite
def valid_vouchers(draw: st.DrawFn) -> dict[str, Any]:
    """A balanced manual voucher (one line with a balancing account, or two lines that cancel out)."""
    amount = draw(amounts.filter(lambda a: abs(a) >= 0.01))
    if draw(st.booleans()):
        lines = [
            {
                "Description": draw(hostile_text),
                "AccountNumber": draw(st.sampled_from(EXPENSE_ACCOUNTS)),
                "BalancingAccountNumber": draw(st.sampled_from(DEPOSIT_ACCOUNTS)),
                "Amount": amount,
                "AccountVatCode": draw(st.sampled_from(["none", "I25", None])),
            }
        ]
    else:
        lines = [
            {
                "Description": draw(hostile_text),
                "AccountNumber": draw(st.sampled_from(EXPENSE_ACCOUNTS)),
                "Amount": amount,
                "AccountVatCode": "none",
            },
            {
                "Description": draw(hostile_text),
                "AccountNumber": draw(st.sampled_from(DEPOSIT_ACCOUNTS)),
                "Amount": -amount,
                "AccountVatCode": "none",
            },
        ]
    return {"VoucherDate": draw(st.sampled_from(["2026-01-02", "2026-06-30", "2026-11-03"])), "Lines": lines}


#: Text of a field the target looks contacts up by: hostile, but with something besides quotes,
#: backslashes and spaces (a value of only those is rejected: no queryFilter can find it whatever
#: Dinero's quote escaping, see dinero_api.filters.searchable).
looked_up_text = hostile_text.filter(searchable)


@st.composite
def valid_contacts(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "Name": draw(hostile_text),
        "Email": draw(looked_up_text),
        "Street": draw(hostile_text),
        "CountryKey": draw(st.sampled_from(["DK", "NO"])),
        "VatNumber": draw(st.one_of(st.none(), st.from_regex(r"DK[0-9]{8}", fullmatch=True))),
    }


# ------------------------------------------------------------------------------------------------------
# defects the target must catch before any request
# ------------------------------------------------------------------------------------------------------
def _line(field: str) -> str:
    return f"ProductLines[0].{field}"


invoice_defects: st.SearchStrategy[Defect] = st.one_of(
    st.just((("ProductLines",), DELETE, "ProductLines")),
    st.just((("ProductLines",), [], "ProductLines")),
    st.sampled_from(["Quantity", "BaseAmountValue", "AccountNumber"]).map(
        lambda f: (("ProductLines", 0, f), DELETE, _line(f))
    ),
    st.tuples(
        st.sampled_from(["Quantity", "BaseAmountValue"]), st.one_of(non_finite, huge, not_a_number)
    ).map(lambda fv: (("ProductLines", 0, fv[0]), fv[1], _line(fv[0]))),
    st.one_of(not_a_number, st.sampled_from([12.5, "1000.5", "10OO"])).map(
        lambda v: (("ProductLines", 0, "AccountNumber"), v, _line("AccountNumber"))
    ),
    unknown_accounts.map(lambda n: (("ProductLines", 0, "AccountNumber"), n, _line("AccountNumber"))),
    st.sampled_from([-1, 100.5, 1e9, "ti procent", math.nan]).map(
        lambda v: (("ProductLines", 0, "Discount"), v, _line("Discount"))
    ),
    st.sampled_from(["bucket", "stk", "PARTS", ""]).map(
        lambda v: (("ProductLines", 0, "Unit"), v, _line("Unit"))
    ),
    st.just((("ProductLines", 0, "Description"), None, _line("Description"))),
    bad_dates.map(lambda d: (("Date",), d, "Date")),
    over_long.map(lambda s: (("ExternalReference",), s, "ExternalReference")),
    with_line_break.map(lambda s: (("ExternalReference",), s, "ExternalReference")),
    st.sampled_from(["", " ", None]).map(lambda v: (("Contact", "Name"), v, "Contact.Name")),
    st.integers(256, 600).map(lambda n: (("Contact", "Name"), "N" * n, "Contact.Name")),
    with_line_break.map(lambda s: (("Contact", "Email"), s, "Contact.Email")),
    st.sampled_from(["DNK", "D", "1K", "ÆØ"]).map(
        lambda v: (("Contact", "CountryKey"), v, "Contact.CountryKey")
    ),
    st.sampled_from(["not-a-guid", "' or '1' eq '1", "123"]).map(
        lambda v: (("ContactGuid",), v, "ContactGuid")
    ),
    st.sampled_from(["DKKK", "kr", "D1K"]).map(lambda v: (("Currency",), v, "Currency")),
    not_currencies.map(lambda v: (("Currency",), v, "Currency")),
    not_currencies.map(lambda v: (("Contact", "PreferredInvoiceCurrencyKey"), v, "Contact")),
    st.sampled_from(["ZZ", "XX", "EU", "UK"]).map(
        lambda v: (("Contact", "CountryKey"), v, "Contact.CountryKey")
    ),
    st.sampled_from(["Comment", "Description"]).flatmap(
        lambda f: unstorable_text.map(lambda s, f=f: ((f,), s, f))
    ),
    unstorable_text.map(lambda s: (("ProductLines", 0, "Description"), s, _line("Description"))),
    st.sampled_from(["Name", "City"]).flatmap(
        lambda f: unstorable_text.map(lambda s, f=f: (("Contact", f), s, f"Contact.{f}"))
    ),
    st.sampled_from(["fr-FR", "da", "en"]).map(lambda v: (("Language",), v, "Language")),
    st.sampled_from([-1, 366, "otte"]).map(
        lambda v: (("PaymentConditionNumberOfDays",), v, "PaymentConditionNumberOfDays")
    ),
    st.integers(256, 500).map(lambda n: (("Description",), "D" * n, "Description")),
)

#: Keep only the first line, without its balancing account: the voucher no longer balances.
UNBALANCED = "unbalanced"

voucher_defects: st.SearchStrategy[Defect] = st.one_of(
    st.just(((UNBALANCED,), None, "Lines")),
    st.just((("VoucherDate",), DELETE, "VoucherDate")),
    bad_dates.map(lambda d: (("VoucherDate",), d, "VoucherDate")),
    st.sampled_from(["1995-03-01", "2001-12-31"]).map(lambda d: (("VoucherDate",), d, "VoucherDate")),
    st.just((("Lines",), DELETE, "Lines")),
    st.just((("Lines",), [], "Lines")),
    st.just((("Lines", 0, "Amount"), DELETE, "Lines[0].Amount")),
    st.one_of(non_finite, huge, not_a_number, st.just(0)).map(
        lambda v: (("Lines", 0, "Amount"), v, "Lines[0].Amount")
    ),
    unknown_accounts.map(lambda n: (("Lines", 0, "AccountNumber"), n, "Lines[0].AccountNumber")),
    unknown_vat_codes.map(lambda c: (("Lines", 0, "AccountVatCode"), c, "Lines[0].AccountVatCode")),
    over_long.map(lambda s: (("ExternalReference",), s, "ExternalReference")),
    with_line_break.map(lambda s: (("ExternalReference",), s, "ExternalReference")),
    unstorable_text.map(lambda s: (("Lines", 0, "Description"), s, "Lines[0].Description")),
    unstorable_text.map(
        lambda s: (("File",), {"content_base64": pdf_base64(0), "FileName": s + ".pdf"}, "File.FileName")
    ),
    st.sampled_from(["%PDF", "bm90IGJhc2U2NA==", "@@@"]).map(
        lambda v: (("File",), {"content_base64": v}, "File")
    ),
)

contact_defects: st.SearchStrategy[Defect] = st.one_of(
    st.just((("Name",), DELETE, "Name")),
    st.sampled_from(["", None]).map(lambda v: (("Name",), v, "Name")),
    st.integers(256, 500).map(lambda n: (("Name",), "N" * n, "Name")),
    st.sampled_from(["DNK", "", "1", "ZZ", "XK1"]).map(lambda v: (("CountryKey",), v, "CountryKey")),
    not_currencies.map(lambda v: (("PreferredInvoiceCurrencyKey",), v, "PreferredInvoiceCurrencyKey")),
    st.sampled_from(["Name", "Street", "City"]).flatmap(
        lambda f: unstorable_text.map(lambda s, f=f: ((f,), s, f))
    ),
    with_line_break.map(lambda s: (("Email",), s, "Email")),
    with_line_break.map(lambda s: (("VatNumber",), s, "VatNumber")),
    over_long.map(lambda s: (("ExternalReference",), s, "ExternalReference")),
    st.sampled_from(["x", -5, 1000]).map(
        lambda v: (("PaymentConditionNumberOfDays",), v, "PaymentConditionNumberOfDays")
    ),
)


def apply_defect(record: dict[str, Any], defect: Defect) -> dict[str, Any]:
    """A deep copy of ``record`` with the defect applied."""
    out = copy.deepcopy(record)
    path, value, _field = defect
    if path == (UNBALANCED,):
        first = out["Lines"][0]
        first.pop("BalancingAccountNumber", None)
        out["Lines"] = [first]
        return out
    node: Any = out
    for step in path[:-1]:
        node = node[step]
    if value is DELETE:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return out


def pdf_base64(n: int) -> str:
    """A tiny distinct PDF, base64-encoded."""
    return base64.b64encode(b"%PDF-1.4\n% hypothesis " + str(n).encode() + b"\n%%EOF\n").decode()
