"""Write tap_dinero/schemas/*.json from the read models of Dinero's OpenAPI contract.

    python scripts/derive_tap_schemas.py            # rewrite the schemas
    python scripts/derive_tap_schemas.py --check    # exit 1 when a committed schema is stale

Why: the spec marks every non-nullable property ``required``, but list endpoints return only the fields
asked for (in the casing asked) and older objects lack fields added later (a real 2017 invoice has no
``TotalExclVatInDkk``), so copying the spec's ``required`` makes a validating target reject real rows.
Each stream schema therefore holds

* every property of its read model (the list's item model, or the detail model for detail streams),
* every name of the list's ``fields`` options, and what the detail read adds to the record (sales
  documents: every property of the detail model -- ``ShowLinesInclVat``, ``ProductLines``,
  ``TotalLines``, and the fields the list model lacks, such as an invoice's ``Comment``, ``Address``,
  payment terms and ``TotalVat``),

each nullable, with ``required`` only on the primary key (which Dinero cannot omit). Nested models are
inlined the same way. Types follow the spec (``integer``/``number``/``string``/``boolean``, arrays,
objects); ``format: date-time`` is kept (values arrive without an offset), ``date`` is added to the
``...Date`` strings the spec documents as ``YYYY-MM-DD``, ``uuid`` is dropped (``FileGuid`` is not always
a GUID). ``x-dinero-fields`` lists the names the tap asks for with ``fields`` (scalar list properties and
the documented options); the tap removes that key before it writes the SCHEMA message.

Source: ``dinero_api/contract/openapi-contract.json`` (itself derived from the spec by
``scripts/derive_contract.py``), so this runs without ``../shared``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "dinero_api" / "contract" / "openapi-contract.json"
OUT_DIR = ROOT / "tap_dinero" / "schemas"
DETAIL_FIELDS = ("ShowLinesInclVat", "ProductLines", "TotalLines")
ORG = "/v1/{organizationId}"

#: Stream schema -> read model, list operation (for ``fields``), detail model, primary key, tap columns.
STREAMS: dict[str, dict[str, Any]] = {
    "invoice": {
        "model": "SalesVoucherReadListModel",
        "list": f"{ORG}/invoices",
        "detail": "InvoiceReadModel",
        "key": ["Guid"],
    },
    "sales_credit_note": {
        "model": "SalesVoucherReadListModel",
        "list": f"{ORG}/sales/creditnotes",
        "detail": "SalesCreditNoteReadModel",
        # the invoice it credits: only the detail says (the list model has no such field)
        "detail_extra": ["CreditNoteFor"],
        "key": ["Guid"],
    },
    "trade_offer": {
        "model": "TradeOfferReadModel",
        "list": f"{ORG}/tradeoffers",
        "detail": "TradeOfferReadModel",
        "key": ["Guid"],
    },
    "invoice_line": {"model": "InvoiceLinesReadModel", "parent": "InvoiceGuid"},
    "sales_credit_note_line": {"model": "InvoiceLinesReadModel", "parent": "CreditNoteGuid"},
    "trade_offer_line": {"model": "TradeOfferLineReadModel", "parent": "TradeOfferGuid"},
    "contact": {"model": "ContactReadModel", "list": f"{ORG}/contacts", "key": ["ContactGuid"]},
    "product": {"model": "ProductReadModel", "list": f"{ORG}/products", "key": ["ProductGuid"]},
    "file": {"model": "FilteredFileReadModel", "key": ["FileGuid"]},
    "entry": {"model": "EntryReadModel", "key": ["EntryGuid"]},
    "entry_account": {
        "model": "EntryAccountReadModel",
        "list": f"{ORG}/accounts/entry",
        "key": ["AccountNumber"],
    },
    "purchase_account": {
        "model": "EntryAccountReadModel",
        "list": f"{ORG}/accounts/purchase",
        "key": ["AccountNumber"],
    },
    "deposit_account": {
        "model": "DepositAccountReadModel",
        "list": f"{ORG}/accounts/deposit",
        "key": ["AccountNumber"],
    },
    "accounting_year": {"model": "AccountingYearReadModel", "key": ["Name"]},
    "vat_type": {"model": "VatTypeReadModel", "key": ["VatCode"]},
    "organization": {"model": "OrganizationReadModel", "list": "/v1/organizations", "key": ["Id"]},
    "manual_voucher": {"model": "ManuelVoucherReadModel", "key": ["Guid"]},
    "purchase_voucher": {"model": "PurchaseVoucherReadModelV2", "key": ["Guid"]},
    # child rows keyed by their parent document and their own key; ``summary``: the scalar properties of
    # the answer's envelope model, copied onto every row
    "invoice_payment": {
        "model": "PaymentReadModel",
        "parent": "InvoiceGuid",
        "key": ["Guid"],
        "summary": "InvoicePaymentsModel",
    },
    "sales_credit_note_payment": {
        "model": "PaymentReadModel",
        "parent": "CreditNoteGuid",
        "key": ["Guid"],
        "summary": "InvoicePaymentsModel",
    },
    # one row per account of a report; the year and the report name are tap columns in the key
    "report": {
        "model": "SaldoBalanceReportApiModel",
        "key": ["AccountNumber"],
        "columns": ["AccountingYear", "Report"],
    },
    "ledger_item": {"model": "LedgerItemModelV2", "key": ["Id"], "status": "LedgerItemStatusReadModel"},
}
PARENT_COLUMNS = {
    "LinePosition": {
        "type": "integer",
        "description": "0-based index of the line in ProductLines (tap-added)",
    },
}
TAP_COLUMNS = {
    "AccountingYear": {"type": "string", "description": "Name of the accounting year (tap-added)"},
    "Report": {
        "type": "string",
        "description": "Which report the row is from: saldo, result, balance or primo (tap-added)",
    },
}


def _types(schema: dict[str, Any]) -> list[str]:
    raw = schema.get("type", [])
    return [raw] if isinstance(raw, str) else list(raw)


def _is_date(name: str) -> bool:
    return name == "Date" or name.endswith("Date")


def convert(schemas: dict[str, Any], schema: dict[str, Any], name: str = "", nullable: bool = True) -> dict:
    """One spec schema as a tap schema: types kept, nullable, nested models inlined."""
    if "$ref" in schema:
        model = schema["$ref"].rsplit("/", 1)[-1]
        if "properties" not in schemas[model]:  # a named enum or scalar: the scalar itself
            return convert(schemas, schemas[model], name, nullable)
        out = convert_model(schemas, model)
        if nullable:
            out["type"] = ["object", "null"]
        return out
    types = [t for t in _types(schema) if t != "null"] or ["string"]
    out: dict[str, Any] = {"type": types + (["null"] if nullable else [])}
    if len(types) == 1 and not nullable:
        out["type"] = types[0]
    if "string" in types:
        if schema.get("format") == "date-time":
            out["format"] = "date-time"
        elif _is_date(name):
            out["format"] = "date"
    if "array" in types:
        out["items"] = convert(schemas, schema.get("items", {}), name, nullable=False)
        if isinstance(out["items"].get("type"), list):
            out["items"]["type"] = [t for t in out["items"]["type"] if t != "null"]
    if "object" in types and "properties" in schema:
        out["properties"] = {k: convert(schemas, v, k) for k, v in schema["properties"].items()}
    if "enum" in schema:
        pass  # enum casing drifts in real Dinero (REFERENCE.md §6.10): not asserted
    return out


def convert_model(schemas: dict[str, Any], model: str) -> dict[str, Any]:
    """A component model as a nested object schema (every property nullable)."""
    source = schemas[model]
    return {
        "title": model,
        "type": "object",
        "properties": {k: convert(schemas, v, k) for k, v in source.get("properties", {}).items()},
        "additionalProperties": True,
    }


def _list_operation(contract: dict[str, Any], path: str) -> dict[str, Any]:
    return contract["paths"][path]["get"]


def fields_options(contract: dict[str, Any], path: str) -> list[str]:
    """The ``fields`` options of a list operation (empty when it takes no ``fields``)."""
    for param in _list_operation(contract, path).get("parameters", []):
        if param["name"] == "fields":
            return list(param.get("x-fields-options", []))
    return []


def primary_key(spec: dict[str, Any]) -> list[str]:
    """The schema's required key: the parent document's Guid (child rows), the tap's columns, then the
    row's own key (``LinePosition`` for lines, which have none)."""
    parent = [spec["parent"]] if "parent" in spec else []
    return parent + list(spec.get("columns", [])) + list(spec.get("key", ["LinePosition"]))


def stream_schema(contract: dict[str, Any], name: str) -> dict[str, Any]:
    """The tap schema of one stream."""
    spec = STREAMS[name]
    schemas = contract["components"]["schemas"]
    model = schemas[spec["model"]]
    columns = list(spec.get("columns", []))
    key = primary_key(spec)
    properties: dict[str, Any] = {}
    if "parent" in spec:
        properties[spec["parent"]] = {
            "type": "string",
            "description": "Guid of the parent document (tap-added)",
        }
        if "key" not in spec:
            properties["LinePosition"] = dict(PARENT_COLUMNS["LinePosition"])
    for column in columns:
        properties[column] = dict(TAP_COLUMNS[column])
    for prop, sub in model.get("properties", {}).items():
        properties[prop] = convert(schemas, sub, prop, nullable=prop not in key)
    for extra in (spec.get("summary"), spec.get("status")):
        for prop, sub in schemas[extra]["properties"].items() if extra else ():
            if prop not in properties and not {"array", "object"} & set(_types(sub)) and "$ref" not in sub:
                properties[prop] = convert(schemas, sub, prop)
    options = fields_options(contract, spec["list"]) if "list" in spec else []
    for option in options:
        if option not in properties:
            properties[option] = {"type": ["string", "number", "integer", "boolean", "null"]}
    if "detail" in spec:
        # everything the detail read brings (the tap reads it anyway): lines, and the fields the list
        # model lacks (an invoice's Comment, Address, payment terms, TotalVat, ...)
        detail = schemas[spec["detail"]]["properties"]
        for prop in (*DETAIL_FIELDS, *spec.get("detail_extra", ())):
            properties[prop] = convert(schemas, detail[prop], prop)
        for prop, sub in detail.items():
            if prop not in properties:
                properties[prop] = convert(schemas, sub, prop)
    # Primary key first.
    ordered = {k: properties[k] for k in key} | {k: v for k, v in properties.items() if k not in key}
    for k in key:
        types = [t for t in _types(ordered[k]) if t != "null"]
        ordered[k] = {**ordered[k], "type": types[0] if len(types) == 1 else types}
    out: dict[str, Any] = {
        "title": spec["model"],
        "description": f"Generated by scripts/derive_tap_schemas.py from the contract's {spec['model']}"
        + (f", the fields options of GET {spec['list']}" if options else "")
        + (
            f" and every field of the detail's {spec['detail']} (read per changed document)"
            if "detail" in spec
            else ""
        )
        + (f", with the scalar fields of {spec['summary']} on every row" if "summary" in spec else "")
        + (f", with the fields of {spec['status']}" if "status" in spec else "")
        + ".",
        "type": "object",
        "properties": ordered,
        "required": key,
        "additionalProperties": True,
    }
    if "list" in spec and options:
        scalar = [
            prop
            for prop, sub in model.get("properties", {}).items()
            if not {"array", "object"} & set(_types(sub)) and "$ref" not in sub and prop not in DETAIL_FIELDS
        ]
        scalar = [k for k in key if k in scalar] + [p for p in scalar if p not in key]
        out["x-dinero-fields"] = scalar + [o for o in options if o not in scalar]
    return out


def render(schema: dict[str, Any]) -> str:
    """Stable JSON text."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or check) every stream schema."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    contract = json.loads(CONTRACT.read_text(encoding="utf-8"))
    stale = []
    for name in STREAMS:
        text = render(stream_schema(contract, name))
        path = OUT_DIR / f"{name}.json"
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(
            f"stale tap schemas: {', '.join(stale)}; run python scripts/derive_tap_schemas.py",
            file=sys.stderr,
        )
        return 1
    if not args.check:
        print(f"wrote {len(STREAMS)} schemas to {OUT_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
