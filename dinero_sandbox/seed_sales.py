"""Seeded sales documents: invoices (column-wise, lines regenerated on demand), credit notes and trade
offers. Every value is a pure function of the organization's seed and the document's index."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from . import chart
from .amounts import dec, invoice_line, invoice_totals, public_lines, r2, round_money
from .constants import DRAFT_NUMBER
from .rng import Stream
from .seed_context import DAY_MS, SeedContext

EUR_RATE = 7.46
TEMPLATE_ID = "6f2b1b7e-3c1a-4b8e-9d0a-2f5c7a1e9b01"
_ACCOUNT_NAMES = {a.number: a.name for a in chart.ACCOUNTS}
_ACCOUNT_VAT = {a.number: a.vat_code for a in chart.ACCOUNTS}
_SALE_RATE = {
    a.number: (chart.vat_rate(a.vat_code) if chart.vat_side(a.vat_code) == "sale" else 0.0)
    for a in chart.ACCOUNTS
}


class SalesLines:
    """Deterministic product lines of seeded sales documents of one kind (stream)."""

    def __init__(self, ctx: SeedContext, stream: Stream) -> None:
        self.ctx = ctx
        self.s = stream

    def contact_row(self, i: int) -> int:
        """Which contact a document belongs to."""
        customers = self.ctx.customer_rows
        return customers[self.s(i, 3) % len(customers)]

    def specs(
        self, i: int, contact: int | None = None, max_lines: int = 3
    ) -> list[tuple[int, float, float, int]]:
        """(product row, quantity, discount %, account) of each line of document ``i``."""
        ctx = self.ctx
        h = self.s(i, 4)
        foreign = ctx.contact_foreign[self.contact_row(i) if contact is None else contact]
        out = []
        for j in range(1 + h % max_lines):
            p = (h >> (8 + 7 * j)) % len(ctx.product_guids)
            qty = float(1 + (h >> (29 + 5 * j)) % (40 if ctx.product_units[p] == "km" else 8))
            discount = 10.0 if (h >> (45 + 2 * j)) % 11 == 0 else 0.0
            account = ctx.product_accounts[p]
            if foreign:
                account = 1100 if foreign in ("SE", "DE") else 1300
            out.append((p, qty, discount, account))
        return out

    def totals(self, i: int, contact: int) -> tuple[float, float, float, float, float]:
        """(excl, vatable, non-vatable, vat, incl) of document ``i`` - the same decimal arithmetic as
        ``amounts.invoice_line`` and ``amounts.invoice_totals`` over ``lines(i)`` (so the stored totals
        and the detail's ``TotalLines`` agree to the øre), without building the lines."""
        prices = self.ctx.product_prices
        vatable = Decimal(0)
        non_vatable = Decimal(0)
        vat = Decimal(0)
        for p, qty, discount, account in self.specs(i, contact):
            total = round_money(dec(prices[p]) * (dec(qty) * (1 - dec(discount) / 100)))
            rate = _SALE_RATE.get(account, 0.0)
            if rate:
                vatable += total
            else:
                non_vatable += total
            vat += total * dec(rate)
        excl = vatable + non_vatable
        vat = round_money(vat)
        return (r2(excl), r2(vatable), r2(non_vatable), r2(vat), r2(excl + vat))

    def lines(self, i: int) -> list[dict[str, Any]]:
        """Read lines of document ``i`` (with internal VAT keys)."""
        ctx = self.ctx
        return [
            invoice_line(
                base=ctx.product_prices[p],
                quantity=qty,
                discount=discount,
                account=account,
                account_name=_ACCOUNT_NAMES.get(account),
                vat_code=_ACCOUNT_VAT.get(account),
                unit=ctx.product_units[p],
                description=ctx.product_names[p],
                product_guid=ctx.product_guids[p],
            )
            for p, qty, discount, account in self.specs(i)
        ]

    def nested(self, i: int, currency: str) -> dict[str, Any]:
        """``ProductLines`` and ``TotalLines`` of document ``i``."""
        lines = self.lines(i)
        return {
            "ProductLines": public_lines(lines),
            "TotalLines": invoice_totals(lines, currency)["TotalLines"],
        }


INVOICE_COLUMNS = (
    "Guid",
    "PaymentDate",
    "PaymentStatus",
    "PaymentConditionNumberOfDays",
    "PaymentConditionType",
    "FikCode",
    "DepositAccountNumber",
    "MailOutStatus",
    "LatestMailOutType",
    "IsSentToDebtCollection",
    "IsMobilePayInvoiceEnabled",
    "IsPensoPayEnabled",
    "Status",
    "ContactGuid",
    "TimeStamp",
    "CreatedAt",
    "UpdatedAt",
    "DeletedAt",
    "Number",
    "ContactName",
    "ShowLinesInclVat",
    "TotalExclVat",
    "TotalVatableAmount",
    "TotalInclVat",
    "TotalNonVatableAmount",
    "TotalVat",
    "InvoiceTemplateId",
    "Currency",
    "Language",
    "ExternalReference",
    "Description",
    "Comment",
    "Date",
    "Address",
    "TotalExclVatInDkk",
    "TotalInclVatInDkk",
    "Type",
    "CreditNoteFor",
    "_BookedAt",
)


def build_invoices(ctx: SeedContext, n: int) -> tuple[dict[str, list[Any]], SalesLines, int]:
    """Invoice columns, the line generator, and the highest invoice number used.

    Drafts: issued in the last 10 days (half of them) or index hash % 29 == 0; a third of the drafts are
    deleted. Booked invoices are numbered 1.. in date order; older ones are mostly paid. Rows are built as
    tuples and transposed into columns (the large seed builds 100 000 of them).
    """
    s = ctx.stream("invoices")
    gen = SalesLines(ctx, s)
    rows: list[tuple[Any, ...]] = []
    number = 0
    recent = ctx.span_ms - 10 * DAY_MS
    end_ms = ctx.span_ms
    tstr, dstr, clip, day_of = ctx.tstr, ctx.dstr, ctx.clip, ctx.day_of
    for i in range(n):
        h = s(i)
        issued = ctx.spread(i, n, s.unit(i, 1))
        contact = gen.contact_row(i)
        foreign = ctx.contact_foreign[contact]
        currency = "EUR" if foreign else "DKK"
        excl, vatable, non_vatable, vat, incl = gen.totals(i, contact)
        draft = (issued >= recent and h & 1) or h % 29 == 0
        days = ctx.contact_days[contact]
        day = dstr(issued)
        payment_day_ms = day_of(day) + days * DAY_MS
        deleted_at = None
        booked_at = None
        if draft:
            updated_ms = clip(issued + (h >> 10) % (2 * DAY_MS))
            payment_status, num, mail, mail_type, deposit = "Draft", DRAFT_NUMBER, "NotSent", "None", None
            if (h >> 7) % 3 == 0:
                updated_ms = clip(updated_ms + DAY_MS)
                deleted_at = tstr(updated_ms)
        else:
            number += 1
            num = number
            booked_ms = clip(issued + 300_000 + (h >> 12) % 36_000_000)
            booked_at = tstr(booked_ms)
            updated_ms = booked_ms
            mail, mail_type, deposit = ("SeenByCustomer" if h % 3 else "Sent"), "Mailout", None
            age_ok = payment_day_ms < end_ms - 5 * DAY_MS
            roll = (h >> 20) % 100
            if age_ok and roll < 88:
                payment_status, deposit = "Paid", 55000
                updated_ms = clip(max(booked_ms, payment_day_ms - (h >> 30) % (days * DAY_MS)))
            elif age_ok and roll < 97:
                payment_status = "Overdue"
            elif age_ok:
                payment_status, deposit = "OverPaid", 55000
                updated_ms = clip(max(booked_ms, payment_day_ms))
            else:
                payment_status = "Booked"
        rate = EUR_RATE if foreign else 1.0
        rows.append(
            (
                s.guid(i),
                dstr(payment_day_ms),
                payment_status,
                days,
                "Netto",
                None,
                deposit,
                mail,
                mail_type,
                False,
                False,
                False,
                "Draft" if draft else "Booked",
                ctx.contact_guids[contact],
                f"{0x10000000 + i:016X}",
                tstr(issued),
                tstr(updated_ms),
                deleted_at,
                num,
                ctx.contact_names[contact],
                False,
                excl,
                vatable,
                incl,
                non_vatable,
                vat,
                TEMPLATE_ID,
                currency,
                "en-GB" if foreign else "da-DK",
                f"WEBSHOP-{100000 + i}" if h % 10 < 3 else None,
                "Invoice" if foreign else "Faktura",
                "Tak for handlen" if h % 5 == 0 else "",
                day,
                ctx.contact_addresses[contact],
                round(excl * rate, 2),
                round(incl * rate, 2),
                "Invoice",
                None,
                booked_at,
            )
        )
    columns = [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in INVOICE_COLUMNS]
    return dict(zip(INVOICE_COLUMNS, columns, strict=True)), gen, number


def build_creditnotes(
    ctx: SeedContext, n: int, invoices: dict[str, list[Any]], inv_gen: SalesLines
) -> list[dict]:
    """``n`` credit notes, each crediting one line of an earlier booked invoice; index % 5 == 4 is a draft
    and index % 10 == 9 a deleted draft."""
    s = ctx.stream("creditnotes")
    n_inv = len(invoices["Guid"])
    rows = []
    number = 0
    for i in range(n):
        h = s(i)
        j = min(n_inv - 1, int(n_inv * (i + s.unit(i, 1)) / max(n, 1)))
        while j > 0 and (invoices["Status"][j] != "Booked"):
            j -= 1
        contact = inv_gen.contact_row(j)
        foreign = ctx.contact_foreign[contact]
        currency = invoices["Currency"][j]
        inv_created = ctx.day_of(invoices["Date"][j])
        created_ms = ctx.clip(inv_created + DAY_MS * (1 + h % 40) + (h >> 8) % DAY_MS)
        base_line = inv_gen.lines(j)[0]
        line = dict(base_line)
        qty = 1.0
        line.update(
            Quantity=qty,
            TotalAmount=r2(base_line["BaseAmountValue"] * qty),
            TotalAmountInclVat=r2(base_line["BaseAmountValueInclVat"] * qty),
        )
        totals = invoice_totals([line], currency)
        draft = i % 5 == 4
        deleted = i % 10 == 9
        if draft:
            num, status, pstatus, booked_at = DRAFT_NUMBER, "Draft", "Draft", None
            updated_ms = created_ms
        else:
            number += 1
            num, status, pstatus = number, "Booked", "Paid" if h % 4 else "Booked"
            updated_ms = ctx.clip(created_ms + 600_000)
            booked_at = ctx.tstr(updated_ms)
        rate = EUR_RATE if foreign else 1.0
        rows.append(
            {
                "Guid": s.guid(i),
                "PaymentDate": None,
                "PaymentStatus": pstatus,
                "PaymentConditionNumberOfDays": 0,
                "PaymentConditionType": "Netto",
                "FikCode": None,
                "DepositAccountNumber": None,
                "MailOutStatus": "NotSent" if draft else "Sent",
                "LatestMailOutType": "None" if draft else "Mailout",
                "IsSentToDebtCollection": False,
                "IsMobilePayInvoiceEnabled": False,
                "IsPensoPayEnabled": False,
                "Status": status,
                "ContactGuid": invoices["ContactGuid"][j],
                "TimeStamp": f"{0x20000000 + i:016X}",
                "CreatedAt": ctx.tstr(created_ms),
                "UpdatedAt": ctx.tstr(updated_ms),
                "DeletedAt": ctx.tstr(updated_ms) if (draft and deleted) else None,
                "Number": num,
                "ContactName": invoices["ContactName"][j],
                "ShowLinesInclVat": False,
                "TotalExclVat": totals["TotalExclVat"],
                "TotalVatableAmount": totals["TotalVatableAmount"],
                "TotalInclVat": totals["TotalInclVat"],
                "TotalNonVatableAmount": totals["TotalNonVatableAmount"],
                "TotalVat": totals["TotalVat"],
                "InvoiceTemplateId": TEMPLATE_ID,
                "Currency": currency,
                "Language": invoices["Language"][j],
                "ExternalReference": None,
                "Description": "Credit note" if foreign else "Kreditnota",
                "Comment": "",
                "Date": ctx.dstr(created_ms),
                "Address": invoices["Address"][j],
                "TotalExclVatInDkk": r2(totals["TotalExclVat"] * rate),
                "TotalInclVatInDkk": r2(totals["TotalInclVat"] * rate),
                "Type": "CreditNote",
                "CreditNoteFor": invoices["Guid"][j],
                "_BookedAt": booked_at,
                "ProductLines": public_lines([line]),
                "TotalLines": totals["TotalLines"],
            }
        )
    return rows


def build_tradeoffers(ctx: SeedContext, n: int, invoices: dict[str, list[Any]]) -> list[dict]:
    """``n`` trade offers (tilbud): recent ones are drafts, older ones invoiced/accepted/declined;
    index % 13 == 12 is deleted."""
    s = ctx.stream("tradeoffers")
    gen = SalesLines(ctx, s)
    n_inv = len(invoices["Guid"])
    rows = []
    for i in range(n):
        h = s(i)
        created_ms = ctx.spread(i, n, s.unit(i, 1))
        contact = gen.contact_row(i)
        foreign = ctx.contact_foreign[contact]
        currency = "EUR" if foreign else "DKK"
        lines = gen.lines(i)
        totals = invoice_totals(lines, currency)
        if created_ms > ctx.span_ms - 20 * DAY_MS:
            status = "Draft"
        else:
            status = ("Invoiced", "Invoiced", "CustomerAccepted", "CustomerDeclined", "Draft")[h % 5]
        generated = []
        if status == "Invoiced" and n_inv:
            generated = [invoices["Guid"][min(n_inv - 1, int(n_inv * created_ms / ctx.span_ms))]]
        updated_ms = ctx.clip(created_ms + (0 if status == "Draft" else (h >> 9) % (20 * DAY_MS)))
        rows.append(
            {
                "Guid": s.guid(i),
                "TimeStamp": f"{0x30000000 + i:016X}",
                "Number": i + 1,
                "ContactName": ctx.contact_names[contact],
                "ContactGuid": ctx.contact_guids[contact],
                "Address": ctx.contact_addresses[contact],
                "Date": ctx.dstr(created_ms),
                "Comment": "Tilbuddet gælder i 30 dage" if h % 2 else "",
                "Description": "Tilbud",
                "ExternalReference": f"CRM-OFFER-{700 + i}" if h % 4 == 0 else None,
                "Language": "en-GB" if foreign else "da-DK",
                "Currency": currency,
                "ShowLinesInclVat": False,
                "TotalExclVat": totals["TotalExclVat"],
                "TotalVatableAmount": totals["TotalVatableAmount"],
                "TotalInclVat": totals["TotalInclVat"],
                "TotalNonVatableAmount": totals["TotalNonVatableAmount"],
                "TotalVat": totals["TotalVat"],
                "HasGeneratedAnyVouchers": bool(generated),
                "Status": status,
                "MailOutStatus": "NotSent" if status == "Draft" else "SeenByCustomer",
                "LatestMailOutType": "None" if status == "Draft" else "TradeOffer",
                "CreatedAt": ctx.tstr(created_ms),
                "UpdatedAt": ctx.tstr(updated_ms),
                "DeletedAt": ctx.tstr(updated_ms) if i % 13 == 12 else None,
                "ProductLines": public_lines(lines),
                "TotalLines": totals["TotalLines"],
                "GeneratedVouchers": generated,
                "History": [],
            }
        )
    return rows
