"""The booked ledger (``/entries``, ``/entries/changes``): entries derived from booked vouchers.

Entries are not stored: each booked invoice, credit note, manual and purchase voucher yields its postings
on demand (deterministic ``EntryGuid`` per voucher and posting), so a 100 000-invoice seed costs nothing
until asked. An entry's change time is its voucher's booking time. Offsets of deleted booked vouchers are
stored in ``OrgData.extra_entries``. Primo entries (``Type: Primo``) carry each balance account's total
before the accounting year (result accounts are carried to equity 61000), with one EntryGuid per
(year, account).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from . import chart, models
from .amounts import r2
from .behaviours import change_key, manual_sign
from .orgdata import OrgData
from .vouchers import manual_postings, purchase_postings

_ACCOUNT_NAMES = {a.number: a.name for a in chart.ACCOUNTS}
_VAT_NAMES = {v.code.lower(): v.name for v in chart.VAT_TYPES}

Source = tuple[str, int]  # (table name, row)
_SALES_ENTRY_FIELDS = (
    "Guid",
    "Number",
    "Date",
    "ContactName",
    "ContactGuid",
    "TotalInclVat",
    "TotalInclVatInDkk",
    "TotalVat",
    "ProductLines",
)


def entry_guid(*parts: Any) -> str:
    """A deterministic GUID for an entry."""
    digest = hashlib.md5(":".join(map(str, parts)).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-a{digest[17:20]}-{digest[20:32]}"


def _entry(
    account: int,
    amount: float,
    vat_code: str | None,
    *,
    date: str,
    number: Any,
    guid: str,
    file_guid: str | None,
    vtype: str,
    description: str,
    contact: str | None,
    index: int,
    org: OrgData,
) -> dict[str, Any]:
    name = _ACCOUNT_NAMES.get(account)
    if name is None:
        acc = org.account(account)
        name = acc["Name"] if acc else None
    code = vat_code if vat_code and vat_code.lower() != "none" else None
    return {
        "AccountNumber": account,
        "AccountName": name,
        "Date": date,
        "VoucherNumber": number,
        "VoucherGuid": guid,
        "FileGuid": file_guid,
        "VoucherType": vtype,
        "Description": description,
        "VatType": _VAT_NAMES.get(code.lower()) if code else None,
        "VatCode": code,
        "Amount": r2(amount),
        "EntryGuid": entry_guid(guid, index),
        "ContactGuid": contact,
        "Type": "Normal",
    }


def is_booked(org: OrgData, source: Source) -> bool:
    """Whether a voucher row has been booked (and so has entries)."""
    table = org.table(source[0])
    return table.cols["_BookedAt"][source[1]] is not None


def voucher_date(org: OrgData, source: Source) -> str:
    """The accounting date of a voucher row."""
    name, row = source
    table = org.table(name)
    col = "Date" if name in ("invoices", "creditnotes") else "VoucherDate"
    return table.cols[col][row]


def entries_of(org: OrgData, source: Source) -> list[dict[str, Any]]:
    """The entries one booked voucher produced."""
    name, row = source
    table = org.table(name)
    if name in ("invoices", "creditnotes"):
        v = table.get(row, _SALES_ENTRY_FIELDS)
        sign = 1.0 if name == "invoices" else -1.0
        rate = (v["TotalInclVatInDkk"] / v["TotalInclVat"]) if v["TotalInclVat"] else 1.0
        vtype = models.VOUCHER_TYPE_INVOICE if name == "invoices" else models.VOUCHER_TYPE_CREDITNOTE
        label = "Faktura" if name == "invoices" else "Kreditnota"
        desc = f"{label} {v['Number']} - {v['ContactName']}"
        postings: list[tuple[int, float, str | None]] = []
        for line in v.get("ProductLines") or []:
            if line.get("LineType") == "Text" or not line.get("TotalAmount"):
                continue
            acc = org.account(line["AccountNumber"])
            postings.append(
                (line["AccountNumber"], -sign * line["TotalAmount"] * rate, acc and acc.get("VatCode"))
            )
        if v["TotalVat"]:
            postings.append((chart.SALES_VAT_ACCOUNT, -sign * v["TotalVat"] * rate, None))
        postings.insert(0, (chart.RECEIVABLES_ACCOUNT, -sum(p[1] for p in postings), None))
        common = dict(
            date=v["Date"],
            number=v["Number"],
            guid=v["Guid"],
            file_guid=None,
            vtype=vtype,
            description=desc,
            contact=v["ContactGuid"],
        )
        return [
            _entry(acc, amount, vat, index=k, org=org, **common)  # type: ignore[arg-type]
            for k, (acc, amount, vat) in enumerate(postings)
        ]
    v = table.get(row)
    if name == "manual_vouchers":
        postings = []
        descs = []
        for line in v.get("Lines") or []:
            sign = manual_sign()  # which side a positive Amount debits (behaviours.voucher_sign)
            for acc, amount, vat in manual_postings(line):
                postings.append((acc, sign * amount, vat))
                descs.append(line.get("Description") or "")
        common = dict(
            date=v["VoucherDate"],
            number=v["VoucherNumber"],
            guid=v["Guid"],
            file_guid=v["FileGuid"],
            vtype=models.VOUCHER_TYPE_MANUAL,
            description=None,
            contact=None,
        )
        return [
            _entry(acc, amount, vat, index=k, org=org, **{**common, "description": descs[k]})  # type: ignore[arg-type]
            for k, (acc, amount, vat) in enumerate(postings)
        ]
    postings = purchase_postings(v)
    desc = ", ".join(x.get("Description") or "" for x in v.get("Lines") or []) or "Køb"
    common = dict(
        date=v["VoucherDate"],
        number=v["VoucherNumber"],
        guid=v["Guid"],
        file_guid=v["FileGuid"],
        vtype=models.VOUCHER_TYPE_PURCHASE,
        description=desc,
        contact=v["ContactGuid"],
    )
    return [
        _entry(acc, amount, vat, index=k, org=org, **common)  # type: ignore[arg-type]
        for k, (acc, amount, vat) in enumerate(postings)
    ]


VOUCHER_TABLES = ("invoices", "creditnotes", "manual_vouchers", "purchase_vouchers")


def booked_sources(org: OrgData, from_day: str | None = None, to_day: str | None = None) -> list[Source]:
    """Booked vouchers dated within [from_day, to_day] (inclusive), in date order."""
    found: list[tuple[str, int, Source]] = []
    for name in VOUCHER_TABLES:
        table = org.table(name)
        booked = table.cols["_BookedAt"]
        dates = table.cols["Date" if name in ("invoices", "creditnotes") else "VoucherDate"]
        for row in range(len(table)):
            if booked[row] is None:
                continue
            day = dates[row]
            if (from_day and day < from_day) or (to_day and day > to_day):
                continue
            found.append((day, row, (name, row)))
    found.sort(key=lambda x: (x[0], x[2][0], x[1]))
    return [s for _, _, s in found]


def changed_sources(org: OrgData, since: str, until: str) -> list[Source]:
    """Booked vouchers whose entries changed (were booked) within [since, until]."""
    out: list[Source] = []
    low, high = change_key(since), change_key(until)  # local wall times under behaviours.updated_at=local
    for name in VOUCHER_TABLES:
        table = org.table(name)
        booked = table.cols["_BookedAt"]
        for row in range(len(table)):
            at = booked[row]
            if at is not None and low <= change_key(at) <= high:
                out.append((name, row))
    return out


def extra_entries(
    org: OrgData,
    from_day: str | None = None,
    to_day: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[dict[str, Any]]:
    """Stored offset entries within a date range and/or change window."""
    out = []
    for e in org.extra_entries:
        if (from_day and e["Date"] < from_day) or (to_day and e["Date"] > to_day):
            continue
        if (since and e["_ChangedAt"] < since) or (until and e["_ChangedAt"] > until):
            continue
        out.append({k: v for k, v in e.items() if not k.startswith("_")})
    return out


def _balances_before(org: OrgData, day: str) -> dict[int, float]:
    sums: dict[int, float] = {}
    for source in booked_sources(org, None, None):
        if voucher_date(org, source) >= day:
            continue
        for e in entries_of(org, source):
            sums[e["AccountNumber"]] = sums.get(e["AccountNumber"], 0.0) + e["Amount"]
    for e in org.extra_entries:
        if e["Date"] < day:
            sums[e["AccountNumber"]] = sums.get(e["AccountNumber"], 0.0) + e["Amount"]
    return sums


def primo_entries(org: OrgData, year: dict[str, Any]) -> list[dict[str, Any]]:
    """Primo entries of an accounting year (none for the first year)."""
    if year is org.accounting_years[0]:
        return []
    key = (
        "primo",
        year["FromDate"],
        tuple(org.table(n).version for n in VOUCHER_TABLES),
        len(org.extra_entries),
    )

    def compute() -> list[dict[str, Any]]:
        sums = _balances_before(org, year["FromDate"])
        carried: dict[int, float] = {}
        for account, amount in sums.items():
            target = account if account >= 50000 else chart.EQUITY_ACCOUNT
            carried[target] = carried.get(target, 0.0) + amount
        out = []
        for account in sorted(carried):
            amount = r2(carried[account])
            if not amount:
                continue
            out.append(
                {
                    "AccountNumber": account,
                    "AccountName": _ACCOUNT_NAMES.get(account),
                    "Date": year["FromDate"],
                    "VoucherNumber": None,
                    "VoucherGuid": None,
                    "FileGuid": None,
                    "VoucherType": None,
                    "Description": "Primo",
                    "VatType": None,
                    "VatCode": None,
                    "Amount": amount,
                    "EntryGuid": entry_guid(org.id, "primo", year["Name"], account),
                    "ContactGuid": None,
                    "Type": "Primo",
                }
            )
        return out

    return org.table("accounts").cached(key, compute)


def iter_entries(org: OrgData, sources: list[Source]) -> Iterator[dict[str, Any]]:
    """Entries of the given vouchers, one voucher at a time."""
    for source in sources:
        yield from entries_of(org, source)
