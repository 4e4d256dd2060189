"""Singer input for target-dinero benchmarks: invoices, manual vouchers with files, daily sales."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["daily_sales", "invoices", "manual_vouchers", "write_messages"]

PDF_HEAD = b"%PDF-1.4\n1 0 obj<<>>endobj\n"


def invoices(
    n: int, prefix: str, contact_guids: Sequence[str] | None = None, contacts: int = 5
) -> Iterator[dict[str, Any]]:
    """Web-shop orders shaped as InvoiceCreateModel; customers by ContactGuid (cached) or Contact objects."""
    day = dt.date.today() - dt.timedelta(days=3)
    for i in range(n):
        record: dict[str, Any] = {
            "id": i,
            "ExternalReference": f"{prefix}-{i}",
            "Date": day.isoformat(),
            "Currency": "DKK",
            "Language": "da-DK",
            "Comment": f"Ordre {i}",
            "PaymentConditionType": "Netto",
            "PaymentConditionNumberOfDays": 8,
            "ProductLines": [
                {
                    "Description": "Kaffebønner 1 kg",
                    "Quantity": 1 + i % 3,
                    "BaseAmountValue": 100.0 + i % 7,
                    "AccountNumber": 1000,
                    "Unit": "parts",
                    "Discount": 10,
                },
                {"Description": "Levering", "Quantity": 1, "BaseAmountValue": 49.0, "AccountNumber": 1000},
            ],
        }
        if contact_guids:
            record["ContactGuid"] = contact_guids[i % len(contact_guids)]
        else:
            k = i % contacts
            record["Contact"] = {
                "Name": f"Bench kunde {prefix} {k}",
                "Email": f"{prefix}-{k}@example.dk",
                "CountryKey": "DK",
            }
        yield record


def manual_vouchers(n: int, prefix: str) -> Iterator[dict[str, Any]]:
    """Balanced manual vouchers, each with its own small PDF receipt (base64)."""
    day = dt.date.today() - dt.timedelta(days=3)
    for i in range(n):
        pdf = PDF_HEAD + f"% receipt {prefix} {i}\ntrailer<<>>\n%%EOF\n".encode()
        yield {
            "id": i,
            "ExternalReference": f"{prefix}-{i}",
            "VoucherDate": day.isoformat(),
            "File": {"content_base64": base64.b64encode(pdf).decode(), "FileName": f"bilag-{i}.pdf"},
            "Lines": [
                {
                    "Description": "Kontorartikler",
                    "AccountNumber": 5000,
                    "BalancingAccountNumber": 55000,
                    "Amount": 100 + i,
                    "AccountVatCode": "none",
                    "BalancingAccountVatCode": "none",
                }
            ],
        }


def daily_sales(days: int, per_day: int, prefix: str) -> Iterator[dict[str, Any]]:
    """POS sales as tap-csv would emit them (strings), ``per_day`` sales on each of ``days`` days."""
    methods = ("card", "mobilepay", "cash")
    first = dt.date.today() - dt.timedelta(days=days + 1)
    for d in range(days):
        day = first + dt.timedelta(days=d)
        for i in range(per_day):
            seconds = 8 * 3600 + (i * 37) % (10 * 3600)
            moment = dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=seconds)
            yield {
                "sale_id": f"{prefix}-{d}-{i}",
                "sold_at": moment.isoformat(timespec="seconds"),
                "payment_method": methods[i % 3],
                "amount": f"{25 + (i * 13) % 400}.{(i * 7) % 100:02d}",
                "vat_rate": "0.25",
            }


def daily_sales_options() -> dict[str, Any]:
    """Stream options for :func:`daily_sales` records."""
    return {
        "load_as": "daily_sales",
        "book": True,
        "payment_accounts": {"card": 55030, "mobilepay": 55020, "cash": 58000},
        "revenue_account": 1000,
        "vat_account": 64000,
        "vat_code": "U25",
        "date_field": "sold_at",
        "amount_field": "amount",
        "payment_method_field": "payment_method",
        "id_field": "sale_id",
        "vat_rate_field": "vat_rate",
    }


def write_messages(
    path: str | Path, stream: str, keys: Sequence[str], records: Iterable[dict[str, Any]]
) -> int:
    """Write SCHEMA, the RECORDs and a final STATE to ``path``; returns the record count."""
    n = 0
    with open(path, "w", encoding="utf-8") as handle:
        schema = {"type": "object", "properties": {k: {"type": ["string", "integer", "null"]} for k in keys}}
        handle.write(
            json.dumps({"type": "SCHEMA", "stream": stream, "key_properties": list(keys), "schema": schema})
            + "\n"
        )
        for record in records:
            handle.write(json.dumps({"type": "RECORD", "stream": stream, "record": record}) + "\n")
            n += 1
        handle.write(json.dumps({"type": "STATE", "value": {"bookmarks": {stream: n}}}) + "\n")
    return n
