"""Seeded manual vouchers (finansbilag), purchase vouchers (købsbilag) and the receipt files attached
to them, plus a few loose files."""

from __future__ import annotations

from typing import Any

from . import seed_names as names
from .amounts import r2
from .seed_context import DAY_MS, SeedContext
from .vouchers import AccountLookup, manual_read_line, purchase_read_line, purchase_totals

BOOKER = "bogholder@dinerodemo.dk"


def build_manual_vouchers(ctx: SeedContext, n: int, lookup: AccountLookup) -> list[dict[str, Any]]:
    """``n`` manual vouchers; index % 10 == 9 is a draft, index % 20 == 19 a deleted draft."""
    s = ctx.stream("manual_vouchers")
    rows = []
    for i in range(n):
        h = s(i)
        desc, acc, bal, lo, hi, acc_vat, bal_vat = names.MANUAL_PATTERNS[h % len(names.MANUAL_PATTERNS)]
        created_ms = ctx.spread(i, n, s.unit(i, 1))
        amount = r2(lo + (hi - lo) * s.unit(i, 2))
        line_in = {
            "Description": desc,
            "AccountNumber": acc,
            "BalancingAccountNumber": bal,
            "Amount": amount,
            "AccountVatCode": acc_vat,
            "BalancingAccountVatCode": bal_vat,
        }
        lines = [manual_read_line(line_in, lookup)]
        draft = i % 10 == 9
        booked_ms = None if draft else ctx.clip(created_ms + 60_000 + (h >> 8) % 7_200_000)
        updated_ms = booked_ms if booked_ms is not None else created_ms
        rows.append(
            {
                "Guid": s.guid(i),
                "VoucherNumber": None,
                "VoucherDate": ctx.dstr(created_ms),
                "TotalInclVat": r2(sum(x["AmountInclVatValue"] for x in lines)),
                "TotalExclVat": r2(sum(x["AmountExclVatValue"] for x in lines)),
                "FileGuid": s.file_guid(i) if h % 3 else None,
                "CreditNoteFor": None,
                "Status": "Draft" if draft else "Booked",
                "Timestamp": f"{0x40000000 + i:016X}",
                "ExternalReference": None,
                "BookedByType": None if draft else "Web",
                "BookedByUsername": None if draft else BOOKER,
                "BookingTime": None if booked_ms is None else ctx.tstr(booked_ms),
                "CreatedAt": ctx.tstr(created_ms),
                "UpdatedAt": ctx.tstr(updated_ms),
                "DeletedAt": ctx.tstr(updated_ms) if i % 20 == 19 else None,
                "_BookedAt": None if booked_ms is None else ctx.tstr(booked_ms),
                "Lines": lines,
            }
        )
    return rows


def build_purchase_vouchers(ctx: SeedContext, n: int, lookup: AccountLookup) -> list[dict[str, Any]]:
    """``n`` purchase vouchers (cash and credit); index % 9 == 8 is a draft, index % 18 == 17 a deleted
    draft."""
    s = ctx.stream("purchase_vouchers")
    rows = []
    suppliers = ctx.supplier_rows or ctx.customer_rows
    for i in range(n):
        h = s(i)
        created_ms = ctx.spread(i, n, s.unit(i, 1))
        cash = h % 5 < 3
        line_count = 1 + (h >> 3) % 2
        lines = []
        for j in range(line_count):
            desc, acc = names.PURCHASE_PATTERNS[(h >> (6 + 4 * j)) % len(names.PURCHASE_PATTERNS)]
            amount = r2(100 + 9900 * s.unit(i, 10 + j))
            lines.append(
                purchase_read_line({"Description": desc, "AccountNumber": acc, "Amount": amount}, lookup)
            )
        net, gross, totals = purchase_totals(lines)
        draft = i % 9 == 8
        booked_ms = None if draft else ctx.clip(created_ms + 60_000 + (h >> 8) % 7_200_000)
        supplier = suppliers[(h >> 20) % len(suppliers)]
        payment_ms = created_ms if cash else created_ms + 30 * DAY_MS
        if draft:
            status = "Draft"
        elif cash or payment_ms < ctx.span_ms - 2 * DAY_MS:
            status = "Paid"
        else:
            status = "Booked"
        updated_ms = booked_ms if booked_ms is not None else created_ms
        rows.append(
            {
                "Guid": s.guid(i),
                "Timestamp": f"{0x50000000 + i:016X}",
                "Status": status,
                "FileGuid": s.file_guid(i) if h % 4 else None,
                "VoucherNumber": None,
                "VoucherDate": ctx.dstr(created_ms),
                "PaymentDate": ctx.dstr(payment_ms),
                "RegionKey": "DK" if cash else None,
                "PurchaseType": "cash" if cash else "credit",
                "DepositAccountNumber": (55000 if h % 7 else 58000) if cash else None,
                "ContactGuid": None if cash else ctx.contact_guids[supplier],
                "ExternalReference": None,
                "CurrencyKey": None if cash else "DKK",
                "BookedByType": None if draft else "Web",
                "BookedByUsername": None if draft else BOOKER,
                "BookingTime": None if booked_ms is None else ctx.tstr(booked_ms),
                "CreatedAt": ctx.tstr(created_ms),
                "UpdatedAt": ctx.tstr(updated_ms),
                "DeletedAt": ctx.tstr(updated_ms) if i % 18 == 17 else None,
                "_BookedAt": None if booked_ms is None else ctx.tstr(booked_ms),
                "Lines": lines,
                "VoucherTotals": totals,
                "_Net": net,
                "_Gross": gross,
            }
        )
    return rows


def number_vouchers(manual: list[dict[str, Any]], purchase: list[dict[str, Any]]) -> int:
    """Give booked vouchers their VoucherNumber (one series, booking order); return the last number."""
    booked = [v for v in (*manual, *purchase) if v["_BookedAt"] is not None]
    booked.sort(key=lambda v: (v["_BookedAt"], v["Guid"]))
    for k, voucher in enumerate(booked, start=1):
        voucher["VoucherNumber"] = k
    return len(booked)


def build_files(
    ctx: SeedContext, manual: list[dict[str, Any]], purchase: list[dict[str, Any]], loose: int
) -> list[dict[str, Any]]:
    """One file per voucher with a FileGuid (visible: attached), plus ``loose`` files uploaded through
    Dinero's web archive (visible, unused) and ``loose`` files uploaded through the API and never attached
    (invisible, per the best-practices page)."""
    s = ctx.stream("files")
    rows = []
    for k, voucher in enumerate([*manual, *purchase]):
        if not voucher["FileGuid"]:
            continue
        h = s(k)
        pdf = h % 3 != 0
        uploaded_ms = max(0, ctx.day_of(voucher["VoucherDate"]) + (h >> 4) % DAY_MS // 2)
        linked_at = voucher["CreatedAt"]
        stem, ext = ("faktura", "pdf") if pdf else ("kvittering", "jpg")
        rows.append(
            {
                "FileGuid": voucher["FileGuid"],
                "Name": f"{stem}-{voucher['VoucherDate']}-{k}.{ext}",
                "Extension": ".pdf" if pdf else ".jpg",
                "Size": 20_000 + (h >> 8) % 900_000,
                "UploadedAt": min(ctx.tstr(uploaded_ms), linked_at),
                "Note": None,
                "NumberOfPages": 1 + (h >> 30) % 3 if pdf else None,
                "Linked": [
                    {
                        "VoucherId": voucher["VoucherNumber"] or 0,
                        "VoucherGuid": voucher["Guid"],
                        "LinkedAt": linked_at,
                    }
                ],
                "UploadedBy": BOOKER,
                "_Visible": True,
            }
        )
    for k in range(2 * loose):
        h = s(10_000_000 + k)
        web = k < loose
        uploaded_ms = ctx.clip(ctx.span_ms - DAY_MS * (1 + h % 30))
        rows.append(
            {
                "FileGuid": s.file_guid(10_000_000 + k),
                "Name": f"{'scan' if web else 'upload'}-{k}.pdf",
                "Extension": ".pdf",
                "Size": 15_000 + h % 300_000,
                "UploadedAt": ctx.tstr(uploaded_ms),
                "Note": None,
                "NumberOfPages": 1,
                "Linked": [],
                "UploadedBy": BOOKER if web else "API",
                "_Visible": web,
            }
        )
    return rows
