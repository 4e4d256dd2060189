"""The written list of places where the sandbox's answers may differ from Dinero's OpenAPI contract, because
observed Dinero differs from its spec. Each relaxation names the operations and the fields it concerns and
cites its evidence; :func:`apply` edits a copy of the contract for the contract test only (the committed
contract stays the spec's facts).

Nothing else is relaxed: every other response of every served operation must validate against the spec.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

__all__ = ["RELAXATIONS", "Relaxation", "apply"]


@dataclass(frozen=True)
class Relaxation:
    """One difference between the spec and observed Dinero, scoped to operations and fields."""

    name: str
    #: ``"GET /v1/{organizationId}/contacts"``-style operation keys.
    operations: tuple[str, ...]
    #: Fields of the list rows that may be absent although the spec marks them ``required``.
    may_omit: tuple[str, ...] = ()
    #: Field names that may come back in another casing (the casing the ``fields`` default asks for).
    recased: tuple[str, ...] = ()
    evidence: str = ""


_PROJECTION_EVIDENCE = (
    "List endpoints return only the fields asked for with `fields` (default: a few, in the casing of the "
    "default, e.g. `name`, `contactGuid`); the spec's own `fields` description: 'the property name will be "
    "returned the way you request it'. REFERENCE.md §3.3 and §6.7; examples/contacts-list.response.json "
    "(rows with only the asked fields); OPENAPI-SOURCE.md 'Known disagreements'."
)

RELAXATIONS: tuple[Relaxation, ...] = (
    Relaxation(
        "contacts list rows are projected by `fields`",
        ("GET /v1/{organizationId}/contacts", "GET /v2/{organizationId}/contacts"),
        may_omit=(
            "ContactGuid",
            "CountryKey",
            "IsCreditor",
            "IsDebitor",
            "IsMember",
            "IsPerson",
            "Name",
            "UseCvr",
        ),
        recased=("Name", "ContactGuid"),
        evidence=_PROJECTION_EVIDENCE,
    ),
    Relaxation(
        "products list rows are projected by `fields`",
        ("GET /v1/{organizationId}/products",),
        may_omit=(
            "AccountNumber",
            "BaseAmountValue",
            "BaseAmountValueInclVat",
            "CreatedAt",
            "ProductGuid",
            "Quantity",
            "TotalAmount",
            "TotalAmountInclVat",
            "Unit",
            "UpdatedAt",
        ),
        evidence=_PROJECTION_EVIDENCE + " examples/products-list.response.json.",
    ),
    Relaxation(
        "sales document list rows are projected by `fields`",
        (
            "GET /v1/{organizationId}/invoices",
            "GET /v1/{organizationId}/sales",
            "GET /v1/{organizationId}/sales/creditnotes",
        ),
        may_omit=("Guid", "Number", "TotalExclVat", "TotalExclVatInDkk", "TotalInclVat", "TotalInclVatInDkk"),
        evidence=_PROJECTION_EVIDENCE + " examples/invoices-list.response.json.",
    ),
    Relaxation(
        "trade offer list rows are projected by `fields` (default in lower camel case)",
        ("GET /v1/{organizationId}/tradeoffers",),
        may_omit=(
            "ContactGuid",
            "Guid",
            "HasGeneratedAnyVouchers",
            "Number",
            "ProductLines",
            "ShowLinesInclVat",
            "TotalExclVat",
            "TotalInclVat",
            "TotalNonVatableAmount",
            "TotalVat",
            "TotalVatableAmount",
        ),
        recased=("Guid", "ContactName", "Date", "Description"),
        evidence=_PROJECTION_EVIDENCE + " Lists carry no lines: REFERENCE.md §3.3 (trade offers).",
    ),
    Relaxation(
        "organizations list rows are projected by `fields` (default `id,name,isPro`)",
        ("GET /v1/organizations",),
        may_omit=("IsTaxFreeUnion", "IsVatFree"),
        recased=("Id", "Name", "IsPro"),
        evidence=_PROJECTION_EVIDENCE,
    ),
    Relaxation(
        "account lists are projected by `fields` (default AccountNumber and Name)",
        (
            "GET /v1/{organizationId}/accounts/entry",
            "GET /v1/{organizationId}/accounts/purchase",
            "GET /v1/{organizationId}/accounts/deposit",
        ),
        may_omit=("IsDefaultSalesAccount", "IsHidden", "IsDefault"),
        evidence=_PROJECTION_EVIDENCE
        + " examples/accounts-list.response.json (AccountNumber and Name only).",
    ),
    Relaxation(
        "contact notes are projected by `fields`",
        ("GET /v1/{organizationId}/contacts/{contactGuid}/notes",),
        may_omit=("Id", "NoteDate", "Text"),
        evidence=_PROJECTION_EVIDENCE,
    ),
)


#: Dinero's timestamps carry no offset and 0-3 (here up to 7) fractional digits: "2017-05-19T14:20:47.407".
LOCAL_DATE_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?(Z|[+-]\d{2}:\d{2})?$"
DATE_TIME_EVIDENCE = (
    "Timestamps arrive without an offset, e.g. `2024-01-27T02:38:33.552`: examples/invoice-get.response.json "
    "(CreatedAt/UpdatedAt), REFERENCE.md §3.5 (GO `dineroLayout = 2006-01-02T15:04:05.999`), "
    "OPENAPI-SOURCE.md 'Known disagreements'. Applies to the properties the spec types `format: date-time`, "
    "nothing else: the value must still be an ISO date and time."
)


def _relax_date_times(node: Any, names: set[str], key: str = "") -> None:
    """Swap ``format: date-time`` for the offset-less pattern (recording the property names concerned)."""
    if isinstance(node, dict):
        if node.get("format") == "date-time":
            node.pop("format")
            node["pattern"] = LOCAL_DATE_TIME
            names.add(key)
        for sub_key, value in node.items():
            if sub_key == "properties":
                for prop, sub in value.items():
                    _relax_date_times(sub, names, prop)
            else:
                _relax_date_times(value, names, key)
    elif isinstance(node, list):
        for value in node:
            _relax_date_times(value, names, key)


def date_time_fields(contract: dict[str, Any]) -> set[str]:
    """Names of the properties the date-time relaxation concerns."""
    names: set[str] = set()
    _relax_date_times(copy.deepcopy(contract["components"]["schemas"]), names)
    return names


def _safe(text: str) -> str:
    """A schema name usable in a ``$ref`` (no ``/`` or braces)."""
    return "".join(ch if ch.isalnum() else "_" for ch in text)


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def _item_ref(schemas: dict[str, Any], response_schema: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The place holding the list item ``$ref`` (an envelope's ``Collection`` or a bare array)."""
    if "$ref" in response_schema:
        envelope = schemas[response_schema["$ref"].rsplit("/", 1)[-1]]
        holder = envelope["properties"]["Collection"]["items"]
    else:
        holder = response_schema["items"]
    return holder, holder["$ref"].rsplit("/", 1)[-1]


def apply(contract: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``contract`` with every relaxation applied to the operations it names (only there: the
    same model answered by a detail GET keeps the spec's rules)."""
    out = copy.deepcopy(contract)
    schemas = out["components"]["schemas"]
    for relaxation in RELAXATIONS:
        for key in relaxation.operations:
            method, path = key.split(" ", 1)
            op = out["paths"][path][method.lower()]
            media = op["responses"]["200"]["content"]["application/json"]
            if "$ref" in media["schema"]:  # envelope: relax a per-operation copy of it
                env_name = media["schema"]["$ref"].rsplit("/", 1)[-1]
                env_copy = _safe(f"{env_name}__{method}_{path}")
                schemas[env_copy] = copy.deepcopy(schemas[env_name])
                media["schema"] = {"$ref": f"#/components/schemas/{env_copy}"}
            holder, item_name = _item_ref(schemas, media["schema"])
            relaxed = copy.deepcopy(schemas[item_name])
            relaxed["required"] = [f for f in relaxed.get("required", []) if f not in relaxation.may_omit]
            for name in relaxation.recased:
                relaxed["properties"][_lower_first(name)] = relaxed["properties"][name]
            relaxed_name = _safe(f"{item_name}__projected_{method}_{path}")
            schemas[relaxed_name] = relaxed
            holder["$ref"] = f"#/components/schemas/{relaxed_name}"
    # Timestamps without offset (DATE_TIME_EVIDENCE); only response-side schemas matter here.
    _relax_date_times(schemas, set())
    # Spec typo: the file upload's request media type is written `multipart/formdata`; the generator
    # needs the real name to build a body (Dinero takes multipart/form-data: examples/file-upload.http).
    for ops in out["paths"].values():
        for op in ops.values():
            content = op.get("requestBody", {}).get("content", {})
            if "multipart/formdata" in content:
                content["multipart/form-data"] = content.pop("multipart/formdata")
    return out
