"""Contacts: found before created, resolved once per run and cached for every sink (thread-safe).

A contact is looked up by ExternalReference, then VatNumber, then Email (Dinero's queryFilter on
contacts, values escaped by :mod:`dinero_api.filters`); the first match wins. Only when none matches is
it created, with a client-chosen ContactGuid (uuid5 of its reference) so that a create whose answer was
lost can be confirmed with one GET instead of creating a twin. Every answer is cached under all its
keys, so an invoice stream with 1 000 orders from 50 customers costs at most 50 look-ups.
"""

from __future__ import annotations

import hashlib
import threading
import unicodedata
from collections.abc import Mapping
from typing import Any

from dinero_api.envelope import iter_pages
from dinero_api.errors import DineroGone, DineroNotFound, DineroUnknownOutcome, DineroValidationError
from dinero_api.filters import lookup, searchable
from target_dinero.exactly_once import ExactlyOnce, confirmed, may_mean_guid_taken
from target_dinero.gateway import DineroGateway
from target_dinero.records import (
    RecordRejected,
    deterministic_guid,
    key_text_parts,
    normalize_reference,
    same_reference,
)
from target_dinero.reference_data import check_country, check_currency
from target_dinero.remote_index import field_ci

__all__ = ["CONTACT_FIELDS", "ContactResolver", "contact_payload"]

#: Writable fields of ContactCreateModel (REFERENCE §4.1), in the order Dinero documents them.
CONTACT_FIELDS = (
    "ExternalReference",
    "Name",
    "Street",
    "ZipCode",
    "City",
    "CountryKey",
    "Phone",
    "Email",
    "Webpage",
    "AttPerson",
    "VatNumber",
    "EanNumber",
    "SENumber",
    "PNumber",
    "PaymentConditionType",
    "PaymentConditionNumberOfDays",
    "IsPerson",
    "IsMember",
    "MemberNumber",
    "UseCvr",
    "CompanyTypeKey",
    "InvoiceMailOutOptionKey",
    "PreferredInvoiceLanguageKey",
    "PreferredInvoiceCurrencyKey",
)
_DEFAULTS = {"CountryKey": "DK", "IsPerson": False, "IsMember": False, "UseCvr": False}
_STRINGY = {"ZipCode", "VatNumber", "EanNumber", "ProductNumber"}
_LOOKUP_FIELDS = ",".join(("ContactGuid", *CONTACT_FIELDS))


#: Fields a contact is looked up by (queryFilter), and what Dinero's filter syntax cannot carry.
_SEARCHED_FIELDS = ("ExternalReference", "VatNumber", "Email")
_UNSEARCHABLE = ("\r", "\n", "\x00")


def contact_payload(record: Mapping[str, Any], field: str = "") -> dict[str, Any]:
    """ContactCreateModel from a record (unknown/read-only fields dropped, Dinero's defaults filled).

    A look-up value that no queryFilter can carry (line break, NUL) rejects the record here, before any
    request; ``field`` names the contact object in that rejection (e.g. ``Contact`` for an invoice's).
    """
    payload: dict[str, Any] = {}
    for name in CONTACT_FIELDS:
        value = record.get(name)
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                value = None
        if value is not None and name in _STRINGY:
            value = str(value)
        if value is None and name in _DEFAULTS:
            value = _DEFAULTS[name]
        if value is not None and name == "CountryKey":
            value = check_country(value, f"{field}.{name}" if field else name)
        if value is not None and name == "PreferredInvoiceCurrencyKey":
            value = check_currency(value, f"{field}.{name}" if field else name)
        if value is not None:
            payload[name] = value
    payload["CountryKey"] = str(payload["CountryKey"]).upper()
    prefix = f"{field}." if field else ""
    for name in _SEARCHED_FIELDS:
        value = payload.get(name)
        if isinstance(value, str) and any(ch in value for ch in _UNSEARCHABLE):
            raise RecordRejected(
                f"{prefix}{name} {value!r} contains a line break or NUL character: Dinero's queryFilter "
                "cannot look the contact up by it",
                f"{prefix}{name}",
            )
        if isinstance(value, str) and not searchable(value):
            raise RecordRejected(
                f"{prefix}{name} {value!r} has nothing but quotes and backslashes: it cannot be looked up "
                "whatever Dinero's queryFilter escaping is",
                f"{prefix}{name}",
            )
    return payload


def _norm_vat(value: Any) -> str:
    return "".join(ch for ch in str(value) if ch.isalnum()).upper()


def _norm_email(value: Any) -> str:
    return unicodedata.normalize("NFC", str(value)).strip().casefold()


def _norm_name(value: Any) -> str:
    return unicodedata.normalize("NFC", str(value)).strip().casefold()


#: How each look-up field is compared (the match rule; a filter's answer is re-checked with it): an
#: ExternalReference exactly by the identity rule, a VAT number by its letters and digits, an e-mail
#: address case-insensitively. Each one also makes the cache key, so two values that compare different
#: never share a cache entry.
_MATCH: dict[str, Any] = {
    "ExternalReference": normalize_reference,
    "VatNumber": _norm_vat,
    "Email": _norm_email,
}
_CACHE_PREFIX = {"ExternalReference": "ref", "VatNumber": "vat", "Email": "email"}


def _keys(contact: Mapping[str, Any], fallback_ref: str | None = None) -> list[tuple[str, str, str]]:
    """(cache key, filter field, filter value) in look-up order; ``fallback_ref`` when nothing else."""
    keys = []
    for field in _SEARCHED_FIELDS:
        value = contact.get(field)
        if value not in (None, "") and _MATCH[field](value):
            searched = normalize_reference(value) if field == "ExternalReference" else str(value).strip()
            keys.append((f"{_CACHE_PREFIX[field]}:{_MATCH[field](value)}", field, searched))
    if fallback_ref and not keys:  # only a contact with neither VatNumber nor Email needs it
        ref = normalize_reference(fallback_ref)
        keys.append((f"ref:{ref}", "ExternalReference", ref))
    return keys


def _matches(field: str, value: str, row: Mapping[str, Any]) -> bool:
    """Whether ``row`` (a row Dinero's filter returned for ``field eq value``) really has that value."""
    actual = field_ci(row, field)
    return actual not in (None, "") and _MATCH[field](actual) == _MATCH[field](value)


def _conflicts(contact: Mapping[str, Any], row: Mapping[str, Any]) -> bool:
    """True when ``row`` is evidently another company than ``contact``."""
    vat, row_vat = contact.get("VatNumber"), field_ci(row, "VatNumber")
    if vat and row_vat and _norm_vat(vat) != _norm_vat(row_vat):
        return True
    ref, row_ref = contact.get("ExternalReference"), field_ci(row, "ExternalReference")
    return bool(ref and row_ref and not same_reference(ref, row_ref))


class ContactResolver:
    """Find-or-create contacts for the whole run; every sink shares one instance."""

    def __init__(self, gateway: DineroGateway, *, reference_prefix: str = "") -> None:
        self._gateway = gateway
        self._prefix = reference_prefix
        self._cache: dict[str, list[dict[str, Any]]] = {}  # look-up key -> live contacts having it
        self._lock = threading.RLock()  # one resolution at a time: two sinks never create the same contact
        self.created = 0
        self.run: Any = None  # the RunContext (set by it): its journal holds the pending markers

    def embedded_reference(self, contact: Mapping[str, Any]) -> str:
        """ExternalReference given to a contact created from an invoice's Contact object without one."""
        if contact.get("VatNumber"):
            key = f"vat:{_norm_vat(contact['VatNumber'])}"
        elif contact.get("Email"):
            key = f"email:{str(contact['Email']).strip().lower()}"
        else:
            # Name, street, zip code and country, each escaped (key_text) so that no two different
            # tuples give one hash; unchanged from earlier versions for values without "|" or "\\".
            parts = [str(contact.get(f) or "").lower() for f in ("Name", "Street", "ZipCode", "CountryKey")]
            joined = "|".join(key_text_parts(parts))
            key = "name:" + hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()[:24]
        return f"{self._prefix}contact:{key}"[:128]

    def _remember(self, row: dict[str, Any]) -> None:
        """Cache ``row`` under every key it has (by the match rule: its exact reference, its VAT number's
        letters and digits, its e-mail address case-folded), so a later look-up of that key finds it."""
        guid = field_ci(row, "ContactGuid")
        for cache_key, _, _ in _keys({name: field_ci(row, name) for name in _SEARCHED_FIELDS}):
            rows = self._cache.setdefault(cache_key, [])
            rows[:] = [r for r in rows if field_ci(r, "ContactGuid") != guid] + [row]

    def find(self, contact: Mapping[str, Any], fallback_ref: str | None = None) -> dict[str, Any] | None:
        """The existing contact matching ``contact`` (cached; at most one request per key and run).

        A match found by VatNumber or Email must not contradict the contact: a different VAT number, or
        a different ExternalReference when both have one, means another company sharing an address.
        """
        with self._lock:
            for cache_key, field, value in _keys(contact, fallback_ref):
                if cache_key not in self._cache:
                    rows = self._search(field, value)
                    live = [r for r in rows or [] if not field_ci(r, "DeletedAt")]
                    for row in live:  # every row the filter returned is known under its own keys
                        self._remember(row)
                    # ... but only the rows that really carry the value are matches for this key
                    self._cache[cache_key] = [r for r in live if _matches(field, value, r)]
                for row in self._cache.get(cache_key, []):
                    if field == "ExternalReference" or not _conflicts(contact, row):
                        return row
            return None

    def resolve(self, contact: Mapping[str, Any], *, plan: Any = None) -> str:
        """ContactGuid for ``contact`` (a ContactCreateModel), creating it when no match exists.

        ``plan`` (dry run): called with the payload instead of creating; returns a placeholder Guid.
        """
        with self._lock:
            fallback = None if contact.get("ExternalReference") else self.embedded_reference(contact)
            row = self.find(contact, fallback)
            if row:
                return str(field_ci(row, "ContactGuid"))
            payload = dict(contact)
            payload["ExternalReference"] = normalize_reference(payload.get("ExternalReference") or fallback)
            guid = deterministic_guid(self._gateway_org(), "contact", payload["ExternalReference"])
            if plan is not None:
                plan(payload)
                row = {**payload, "ContactGuid": guid}
                self._remember(row)
                return guid
            row = self.create(payload, guid)
            return str(field_ci(row, "ContactGuid"))

    def resolve_named(self, name: str, *, plan: Any = None) -> str:
        """ContactGuid for a customer known only by name (an invoice copied from another organization).

        The one live contact called exactly ``name`` (one look-up per name and run) is used -- e.g. one an
        earlier run copied with the ``contact`` load type. With none, or several it cannot choose
        between, a contact with just that name is found or created as :meth:`resolve` does, so the next
        run finds it again by name.
        """
        with self._lock:
            wanted = name.strip()
            if not any(ch in wanted for ch in _UNSEARCHABLE) and searchable(wanted):
                cache_key = f"name:{_norm_name(wanted)}"
                if cache_key not in self._cache:
                    rows = self._search("Name", wanted)
                    self._cache[cache_key] = [
                        r
                        for r in rows or []
                        if not field_ci(r, "DeletedAt")
                        and _norm_name(field_ci(r, "Name") or "") == _norm_name(wanted)
                    ]
                matches = self._cache[cache_key]
                if len(matches) == 1:
                    return str(field_ci(matches[0], "ContactGuid"))
            return self.resolve(contact_payload({"Name": wanted}), plan=plan)

    def _search(self, field: str, value: str) -> list[dict[str, Any]]:
        """Contacts whose ``field`` matches ``value`` as Dinero's ``eq`` does (case-insensitively).

        A value with a quote or backslash is searched with ``contains`` on a fragment that needs no
        escaping (Dinero's quote escaping is unverified: dinero_api.filters.lookup), every page read,
        and every row returned: the callers keep only the rows whose value is this one by their own
        identity rule (a reference: NFC and trimmed; a name: case-insensitive).
        """
        query, exact = lookup(field, value)
        page_size = 100 if exact else 1000  # eq matches few rows; a contains fragment may match many
        params = {"queryFilter": query, "fields": _LOOKUP_FIELDS}
        # every row the filter selects is read: a look-up must not miss one (count not trusted)
        pages = iter_pages(
            self._gateway.get, "/v1/{org}/contacts", params, page_size=page_size, trust_total=False
        )
        return [row for rows in pages for row in rows]

    def _gateway_org(self) -> str:
        return self._gateway.organization_id

    def create(self, payload: dict[str, Any], guid: str) -> dict[str, Any]:
        """POST the contact with a client-chosen ContactGuid under the exactly-once protocol.

        An unknown outcome is resolved by GET /contacts/{ContactGuid} (repeated until Dinero can no longer
        commit the lost create) before the same body -- same Guid -- is sent again; a refusal after an
        unknown outcome, or one that may mean "ContactGuid taken", is looked up the same way. When a gone
        (deleted) contact holds the Guid, it is given up by the rule of :mod:`target_dinero.exactly_once`
        and the contact is created with a server-chosen Guid.
        """
        with self._lock:
            body = {**payload, "ContactGuid": guid}
            reference = str(payload.get("ExternalReference") or guid)

            def lookup() -> dict[str, Any] | None:
                return get_or_none_contact(self._gateway, guid)

            if self.run is None:  # no journal (a resolver used on its own)
                try:
                    answer = confirmed(
                        self._gateway.post("/v1/{org}/contacts", body), "ContactGuid", "POST contacts"
                    )
                except DineroValidationError as exc:
                    if not may_mean_guid_taken(exc, "ContactGuid"):
                        raise
                    answer = self._resolve_refused_create(guid, body, payload, guid_named=False)
            else:
                # A gone (deleted) contact holding our ContactGuid gives it up: created anew with a
                # server-chosen one, found after an unknown outcome by its reference.
                answer, _ = ExactlyOnce(self.run).create_with_own_guid(
                    stream=None,
                    journal=self.run.markers,
                    key=f"contact:{reference}",
                    reference=reference,
                    what="create of a contact",
                    expect="ContactGuid",
                    send=lambda: self._gateway.post("/v1/{org}/contacts", body),
                    lookup=lookup,
                    lookup_text=f"GET /v1/{{org}}/contacts/{guid}",
                    guid_field="ContactGuid",
                    send_anew=lambda: self._gateway.post("/v1/{org}/contacts", payload),
                    lookup_anew=lambda: self._live_by_reference(reference),
                    lookup_anew_text=(
                        f"GET /v1/{{org}}/contacts?queryFilter=ExternalReference eq '{reference}'"
                    ),
                )
            created_guid = field_ci(answer, "ContactGuid") or guid
            row = {**payload, "ContactGuid": created_guid}
            self._remember(row)
            self.created += 1
            return row

    def _resolve_refused_create(
        self, guid: str, body: dict[str, Any], payload: dict[str, Any], *, guid_named: bool
    ) -> dict[str, Any]:
        """After a create whose answer was lost (``guid_named``: then it is tried once more with the
        Guid) or that was refused in a way that may mean "ContactGuid taken" (the wording is
        undocumented, REFERENCE §7.5): a live contact holding our Guid is ours (an earlier attempt got
        through); otherwise the contact is created with a server-chosen Guid (a deleted contact holds
        ours for good). Never two live contacts: nothing live holds the Guid when we create anew."""
        for attempt in range(2):
            current = self._live(guid, with_deleted=True)
            if current is not None and not field_ci(current, "DeletedAt"):
                return current
            if current is not None or not guid_named or attempt == 1:
                break
            try:
                return self._gateway.post("/v1/{org}/contacts", body) or {}
            except DineroUnknownOutcome:
                continue
        return self._gateway.post("/v1/{org}/contacts", payload) or {}

    def _live_by_reference(self, reference: str) -> dict[str, Any] | None:
        """The live contact whose ExternalReference is ``reference`` (a fresh search), or None."""
        rows = self._search("ExternalReference", reference)
        for row in rows:
            if not field_ci(row, "DeletedAt") and _matches("ExternalReference", reference, row):
                return row
        return None

    def _live(self, guid: str, *, with_deleted: bool = False) -> dict[str, Any] | None:
        """The contact holding ``guid`` (None when absent; deleted ones only ``with_deleted``). A GET of a
        deleted contact may answer 200 with DeletedAt, 400 code 63/65 or 404 (undocumented)."""
        try:
            row = self._gateway.get(f"/v1/{{org}}/contacts/{guid}")
        except DineroNotFound:
            return None
        except DineroGone:  # Dinero's "item is deleted" codes
            return {"ContactGuid": guid, "DeletedAt": "deleted"} if with_deleted else None
        if not isinstance(row, dict) or (field_ci(row, "DeletedAt") and not with_deleted):
            return None
        return row

    def update(self, guid: str, payload: dict[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
        """PUT the contact (full replacement: the current values of fields we do not send are kept)."""
        with self._lock:
            merged = {name: field_ci(current, name) for name in CONTACT_FIELDS}
            merged.update(payload)
            merged = {k: v for k, v in merged.items() if v is not None}
            try:
                self._gateway.put(f"/v1/{{org}}/contacts/{guid}", merged)
            except DineroUnknownOutcome:
                self._gateway.put(f"/v1/{{org}}/contacts/{guid}", merged)  # a full replacement: safe again
            row = {**merged, "ContactGuid": guid}
            self._remember(row)
            return row


def get_or_none_contact(gateway: DineroGateway, guid: str) -> dict[str, Any] | None:
    """The live contact with ``guid`` (a fresh GET), or None."""
    try:
        row = gateway.get(f"/v1/{{org}}/contacts/{guid}")
    except DineroGone:  # never created (404) or deleted (Dinero's codes 63/65)
        return None
    if not isinstance(row, Mapping) or field_ci(row, "DeletedAt"):
        return None
    return {**row, "ContactGuid": field_ci(row, "ContactGuid") or guid}


def require_name(contact: Mapping[str, Any], field: str) -> None:
    """Dinero requires a Name on every contact."""
    if not contact.get("Name"):
        raise RecordRejected(f"{field}.Name is required to create a contact", f"{field}.Name")
