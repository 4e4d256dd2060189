"""Deterministic seeded data for the sandbox's organizations.

Sizes (``--seed-size``), per organization::

    size            org      contacts products invoices creditnotes tradeoffers manual purchase loose files
    demo            100000         60       25      250          12          30     30       40      2 + 2
    demo/medium/... 100001         20       10       40           3           6      8       10      1 + 1
    medium          100000        250       25   10 000         400         500    500      666      2 + 2
    large           100000      2 500      200  100 000       4 000       5 000  5 000    6 666      2 + 2
    invoices=N      100000  max(60,N/40) max(25,min(200,N/500)) N  max(12,N/25) max(30,N/20) max(30,N/20)
                                                                                     max(40,N/15)

``,orgs=N[:SIZE]`` after any of these serves N organizations (100000 ... ; see ``seed_orgs``): 100001 keeps
its demo size, the others get SIZE (``tiny`` 5 contacts/8 invoices, ``small`` = 100001's size, ``demo`` or
``invoices=K``), each seeded from its own id.

Demo seed, organization 100000 (invoice draft/payment figures can move by one as the anchor moves):
contacts 60 (3 deleted); products 25 (2 deleted); invoices 250 (11 drafts, 3 of them deleted);
credit notes 12 (2 drafts, 1 deleted); trade offers 30 (2 deleted); manual vouchers 30 (3 drafts, 1
deleted); purchase vouchers 40 (4 drafts, 2 deleted); files 53 (51 visible); 1 178 entries plus primo
rows; accounting years: the three calendar years ending with the current one. Organization 100001:
contacts 20 (1 deleted); products 10; invoices 40 (6 drafts, 3 deleted); credit notes 3; trade offers 6;
manual vouchers 8; purchase vouchers 10; files 15 (14 visible).

Rules that fix which records are special (so tests can predict them; the exact numbers for a seed are
easiest read back through ``GET /_sandbox/orgs/{org}/{collection}``):

* contacts: index % 17 == 16 deleted (demo org 100000: 3 of 60); index % 4 == 3 persons; index % 5 == 1
  suppliers (IsCreditor); index % 15 == 7 foreign (SE/DE/NO); index % 3 == 0 have ExternalReference
  ``CRM-<1000+index>``.
* products: index % 11 == 10 deleted (2 of 25 in demo).
* invoices: drafts are half of those dated in the last 10 days plus hash % 29 == 0; a third of the drafts
  are deleted; booked invoices are numbered 1.. in date order; ~30 % carry ExternalReference
  ``WEBSHOP-<100000+index>``; lines (1-3) are regenerated from the seed on demand.
* credit notes: index % 5 == 4 drafts, index % 10 == 9 deleted drafts; each credits one line of a booked
  invoice (``CreditNoteFor``).
* trade offers: index % 13 == 12 deleted.
* manual vouchers: index % 10 == 9 drafts, index % 20 == 19 deleted drafts. Purchase vouchers: index % 9
  == 8 drafts, index % 18 == 17 deleted drafts. Booked vouchers share one VoucherNumber series.
* files: one per voucher that has a FileGuid (visible, ``Linked`` to it), ``loose`` web-archive uploads
  (visible, unused) and ``loose`` API uploads never attached (invisible in ``GET /files``).

Times: everything lies in the three calendar years ending with the anchor's year, before the anchor
(default: today 00:00 UTC), so the seed is identical for a given anchor and seed number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from . import chart
from .constants import ORG_MAIN, ORG_SECOND
from .orgdata import OrgData
from .seed_context import SeedContext, cvr
from .seed_orgs import org_ids, org_info, register_api_keys, split_seed_size
from .seed_parties import build_contacts, build_products
from .seed_sales import build_creditnotes, build_invoices, build_tradeoffers
from .seed_vouchers import build_files, build_manual_vouchers, build_purchase_vouchers, number_vouchers

DEFAULT_SEED = 20_240_101


@dataclass(frozen=True)
class OrgSize:
    """How many records of each kind one organization gets."""

    contacts: int
    products: int
    invoices: int
    creditnotes: int
    tradeoffers: int
    manual_vouchers: int
    purchase_vouchers: int
    loose_files: int


DEMO_MAIN = OrgSize(60, 25, 250, 12, 30, 30, 40, 2)
DEMO_SECOND = OrgSize(20, 10, 40, 3, 6, 8, 10, 1)
TINY = OrgSize(5, 3, 8, 1, 2, 2, 3, 0)
NAMED_SIZES = {"demo": 250, "medium": 10_000, "large": 100_000}
EXTRA_SIZES = {"tiny": TINY, "small": DEMO_SECOND, "demo": DEMO_MAIN}


def size_for_invoices(n: int) -> OrgSize:
    """The main organization's size for ``n`` invoices (demo proportions, scaled)."""
    if n == DEMO_MAIN.invoices:
        return DEMO_MAIN
    return OrgSize(
        contacts=max(60, n // 40),
        products=max(25, min(200, n // 500)),
        invoices=n,
        creditnotes=max(12, n // 25),
        tradeoffers=max(30, n // 20),
        manual_vouchers=max(30, n // 20),
        purchase_vouchers=max(40, n // 15),
        loose_files=2,
    )


def _one_size(text: str, named: dict[str, OrgSize], seed_size: str) -> OrgSize:
    if text in named:
        return named[text]
    match = re.fullmatch(r"invoices=(\d+)", text)
    if not match:
        raise ValueError(
            f"unknown seed size {seed_size!r}: use demo, medium, large or invoices=N, "
            "optionally followed by ,orgs=N[:tiny|small|demo|invoices=K]"
        )
    return size_for_invoices(int(match.group(1)))


def parse_seed_size(seed_size: str) -> dict[str, OrgSize]:
    """Sizes per organization for ``demo``, ``medium``, ``large`` or ``invoices=N``, optionally with
    ``,orgs=N[:SIZE]`` (see ``seed_orgs``)."""
    main_text, count, extra_text = split_seed_size(seed_size)
    main = _one_size(main_text, {k: size_for_invoices(v) for k, v in NAMED_SIZES.items()}, seed_size)
    extra = _one_size(extra_text, EXTRA_SIZES, seed_size)
    sizes = {ORG_MAIN: main, ORG_SECOND: DEMO_SECOND}
    ids = org_ids(count)
    return {oid: sizes.get(oid, extra) for oid in ids}


ORG_INFO: dict[str, dict[str, Any]] = {
    ORG_MAIN: {
        "Name": "Dinero Demo ApS",
        "Street": "Vesterbrogade 12",
        "City": "København V",
        "ZipCode": "1620",
        "Email": "regnskab@dinerodemo.dk",
        "Phone": "+45 70 20 30 40",
        "AttPerson": "Mette Jensen",
        "Website": "https://dinerodemo.dk",
    },
    ORG_SECOND: {
        "Name": "Anden Demo ApS",
        "Street": "Åboulevarden 3",
        "City": "Aarhus C",
        "ZipCode": "8000",
        "Email": "bogholderi@andendemo.dk",
        "Phone": "+45 86 12 34 56",
        "AttPerson": "Lars Nielsen",
        "Website": "https://andendemo.dk",
    },
}


def default_anchor() -> datetime:
    """Today 00:00 UTC: seeded times lie before it, so the seed never sits in the client's future."""
    now = datetime.utcnow()
    return datetime(now.year, now.month, now.day)


def build_org(org_id: str, size: OrgSize, *, seed: int, anchor: datetime) -> OrgData:
    """Generate one organization."""
    ctx = SeedContext(seed=seed * 1_000_003 + int(org_id), anchor=anchor)
    info = {
        "Name": org_info(org_id, ORG_INFO)["Name"],
        "Id": int(org_id),
        "Type": "Default",
        "IsPro": True,
        "IsPayingPro": True,
        "IsVatFree": False,
        "IsTaxFreeUnion": False,
        "VatNumber": cvr(ctx.stream("org"), 0),
        "CountryKey": "DK",
        **{k: v for k, v in org_info(org_id, ORG_INFO).items() if k != "Name"},
    }
    org = OrgData(org_id, info)
    accounts = org.table("accounts")
    rows = chart.account_rows()
    accounts.bulk_load({f: [r[f] for r in rows] for f in rows[0]})
    org.accounting_years = [
        {"Name": str(y), "FromDate": f"{y}-01-01", "ToDate": f"{y}-12-31", "SalarySumTaxStateEnum": "None"}
        for y in ctx.years
    ]
    _load(org.table("contacts"), build_contacts(ctx, size.contacts))
    _load(org.table("products"), build_products(ctx, size.products))
    inv_cols, inv_gen, last_invoice = build_invoices(ctx, size.invoices)
    invoices = org.table("invoices")
    invoices.bulk_load(inv_cols)
    seeded = size.invoices
    currency = inv_cols["Currency"]

    def invoice_nested(row: int) -> dict[str, Any]:
        return inv_gen.nested(row, currency[row]) if row < seeded else {}

    invoices.nested_gen = invoice_nested
    creditnotes = build_creditnotes(ctx, size.creditnotes, inv_cols, inv_gen)
    _load(org.table("creditnotes"), creditnotes)
    _load(org.table("tradeoffers"), build_tradeoffers(ctx, size.tradeoffers, inv_cols))
    manual = build_manual_vouchers(ctx, size.manual_vouchers, org.account)
    purchase = build_purchase_vouchers(ctx, size.purchase_vouchers, org.account)
    last_voucher = number_vouchers(manual, purchase)
    files = build_files(ctx, manual, purchase, size.loose_files)
    for p in purchase:
        p.pop("_Net", None)
        p.pop("_Gross", None)
    _load(org.table("manual_vouchers"), manual)
    _load(org.table("purchase_vouchers"), purchase)
    _load(org.table("files"), files)
    for f in files:
        org.file_bytes[f["FileGuid"].lower()] = b""  # seeded files: bytes synthesised on download
    org.counters.update(
        invoice=last_invoice,
        creditnote=sum(1 for c in creditnotes if c["Status"] == "Booked"),
        voucher=last_voucher,
        tradeoffer=size.tradeoffers,
        rowversion=0x60000000,
    )
    return org


def _load(table: Any, rows: list[dict[str, Any]]) -> None:
    """Bulk-load row dicts: scalar fields column-wise, nested fields per row."""
    if not rows:
        return
    start = len(table)
    nested_names = set(table.nested_fields)
    columns: dict[str, list[Any]] = {}
    for name in rows[0]:
        if name not in nested_names:
            columns[name] = [r.get(name) for r in rows]
    table.bulk_load(columns)
    if nested_names:
        for i, r in enumerate(rows):
            table.nested[start + i] = {k: r.get(k) for k in table.nested_fields}


def build_all(
    seed_size: str = "demo", *, seed: int = DEFAULT_SEED, anchor: datetime | None = None
) -> dict[str, OrgData]:
    """Every organization for a seed size."""
    anchor = anchor or default_anchor()
    orgs = {
        org_id: build_org(org_id, size, seed=seed, anchor=anchor)
        for org_id, size in parse_seed_size(seed_size).items()
    }
    register_api_keys(list(orgs))
    return orgs


__all__ = ["DEFAULT_SEED", "OrgSize", "build_all", "parse_seed_size", "size_for_invoices", "timedelta"]
