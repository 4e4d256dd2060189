"""Seeded contacts (companies with CVR, persons, a few foreign customers, suppliers) and products."""

from __future__ import annotations

from typing import Any

from . import seed_names as names
from .amounts import r2
from .seed_context import DAY_MS, SeedContext, cvr


def build_contacts(ctx: SeedContext, n: int) -> list[dict[str, Any]]:
    """``n`` contacts; every 17th (index % 17 == 16) is deleted; ordering by creation time."""
    s = ctx.stream("contacts")
    rows = []
    for i in range(n):
        h = s(i)
        created = ctx.spread(i, n, s.unit(i, 1), 0.0, 0.85)
        if i % 7 == 0:  # recently edited
            updated = ctx.clip(ctx.span_ms - DAY_MS * (1 + h % 60) + (h >> 20) % DAY_MS)
        else:
            updated = ctx.clip(created + (0 if h % 3 == 0 else (h >> 8) % (90 * DAY_MS)))
        updated = max(updated, created)
        is_person = i % 4 == 3
        foreign = names.FOREIGN[(h >> 5) % len(names.FOREIGN)] if (not is_person and i % 15 == 7) else None
        zip_code, city = names.TOWNS[(h >> 12) % len(names.TOWNS)]
        street = f"{names.STREETS[(h >> 16) % len(names.STREETS)]} {1 + (h >> 24) % 120}"
        if is_person:
            first = names.FIRST_NAMES[(h >> 28) % len(names.FIRST_NAMES)]
            last = names.LAST_NAMES[(h >> 34) % len(names.LAST_NAMES)]
            name = f"{first} {last}"
            email = f"{first}.{last}@mail.dk".lower().replace("ø", "oe").replace("æ", "ae").replace("å", "aa")
            company_type = None
            vat = None
        else:
            word = names.COMPANY_WORDS[(h >> 28) % len(names.COMPANY_WORDS)]
            trade = names.COMPANY_TRADES[(h >> 34) % len(names.COMPANY_TRADES)]
            form, company_type = names.COMPANY_FORMS[(h >> 40) % len(names.COMPANY_FORMS)]
            name = f"{word} {trade} {form}".strip()
            if i >= len(names.COMPANY_WORDS) * 2:
                name = f"{name} ({i})"
            slug = (word + trade).lower().replace("ø", "oe").replace("æ", "ae").replace("å", "aa")
            slug = "".join(ch for ch in slug if ch.isalnum())
            email = f"faktura@{slug}.dk"
            vat = cvr(s, i)
        country = "DK"
        if foreign is not None:
            country, vat_prefix, city, zip_code = foreign
            vat = f"{vat_prefix}{vat}" if vat_prefix else None
        deleted = i % 17 == 16
        deleted_at = None
        if deleted:
            updated = ctx.clip(max(updated, created + DAY_MS * (10 + h % 300)))
            deleted_at = ctx.tstr(updated)
        days = (8, 14, 30)[(h >> 46) % 3]
        supplier = i % 5 == 1 and not is_person
        rows.append(
            {
                "ContactGuid": s.guid(i),
                "CreatedAt": ctx.tstr(created),
                "UpdatedAt": ctx.tstr(updated),
                "DeletedAt": deleted_at,
                "IsDebitor": not supplier,
                "IsCreditor": supplier,
                "CompanyStatus": None if is_person else "normal",
                "VatRegionKey": "DK" if country == "DK" else ("EU" if country in ("SE", "DE") else "World"),
                "ExternalReference": f"CRM-{1000 + i}" if i % 3 == 0 else None,
                "Name": name,
                "Street": street,
                "ZipCode": zip_code,
                "City": city,
                "CountryKey": country,
                "Phone": f"+45 {20000000 + (h >> 10) % 79999999}" if not foreign else None,
                "Email": email,
                "Webpage": None if is_person else f"https://{email.split('@')[1]}",
                "AttPerson": None if is_person else names.FIRST_NAMES[(h >> 50) % len(names.FIRST_NAMES)],
                "VatNumber": vat,
                "EanNumber": f"57900{(h >> 8) % 10**8:08d}" if (not is_person and i % 11 == 2) else None,
                "SENumber": None,
                "PNumber": None,
                "PaymentConditionType": "Netto",
                "PaymentConditionNumberOfDays": days,
                "IsPerson": is_person,
                "IsMember": False,
                "MemberNumber": None,
                "UseCvr": bool(vat) and country == "DK",
                "CompanyTypeKey": company_type,
                "InvoiceMailOutOptionKey": "VAT" if vat else None,
                "PreferredInvoiceLanguageKey": "da" if country == "DK" else "en",
                "PreferredInvoiceCurrencyKey": "DKK" if country == "DK" else "EUR",
            }
        )
        ctx.contact_guids.append(rows[-1]["ContactGuid"])
        ctx.contact_names.append(name)
        ctx.contact_addresses.append(f"{street}\n{zip_code} {city}")
        ctx.contact_days.append(days)
        ctx.contact_foreign.append(None if country == "DK" else country)
        (ctx.supplier_rows if supplier else ctx.customer_rows).append(i)
    return rows


def build_products(ctx: SeedContext, n: int) -> list[dict[str, Any]]:
    """``n`` products; every 11th (index % 11 == 10) is deleted."""
    s = ctx.stream("products")
    rows = []
    for i in range(n):
        h = s(i)
        name, unit, price, account = names.PRODUCTS[i % len(names.PRODUCTS)]
        if i >= len(names.PRODUCTS):
            name = f"{name} #{i // len(names.PRODUCTS) + 1}"
            price = r2(price * (1 + (h % 40) / 100))
        created = ctx.spread(i, n, s.unit(i, 1), 0.0, 0.7)
        updated = ctx.clip(created + (h >> 8) % (400 * DAY_MS)) if i % 3 else created
        deleted_at = ctx.tstr(updated) if i % 11 == 10 else None
        rate = 0.25 if account == 1000 else 0.0
        rows.append(
            {
                "ProductGuid": s.guid(i),
                "CreatedAt": ctx.tstr(created),
                "UpdatedAt": ctx.tstr(updated),
                "DeletedAt": deleted_at,
                "ProductNumber": f"P-{1001 + i}" if i % 6 else None,
                "Name": name,
                "BaseAmountValue": price,
                "BaseAmountValueInclVat": r2(price * (1 + rate)),
                "Quantity": 1.0,
                "TotalAmount": price,
                "TotalAmountInclVat": r2(price * (1 + rate)),
                "AccountNumber": account,
                "Unit": unit,
                "ExternalReference": f"SHOP-SKU-{500 + i}" if i % 4 == 0 else None,
                "Comment": None,
            }
        )
        ctx.product_guids.append(rows[-1]["ProductGuid"])
        ctx.product_names.append(name)
        ctx.product_units.append(unit)
        ctx.product_prices.append(price)
        ctx.product_accounts.append(account)
    return rows
