"""``load_as: ledger_item``: journal lines as unbooked kassekladde items for the bookkeeper to approve.

Each record becomes one ledger item (``POST /v1.2/{org}/ledgeritems``: a voucher date, balanced lines in the
manual-voucher form) -- unbooked by default, booked when the record's ``Book`` (or the stream's ``book``)
asks (``POST ledgeritems/book`` starts Dinero's asynchronous booking).

Exactly once through client-chosen Ids: an item's ``Id`` is ``uuid5(organization, reference)``, so the same
record always names the same item. Before writing, the organization's unbooked items are read once per run
(``POST ledgeritems/ledgers`` with an empty list: all of them); items the journal (``ledger_file``) says
this target created are asked about by Id (``POST ledgeritems/status``) -- a booked item is no longer
listed as unbooked. Only items found nowhere are created, up to 1 000 per request. A create whose answer is
lost, or refused because an Id exists, is followed by the same look-up before anything is sent again; an
Id that exists is never created a second time (Dinero refuses a taken Id: code 42).

Requests: about 1/1000 per item (one create per 1 000 items, plus the look-ups), +1 per 1 000 to book.
Dinero cannot list booked items; the README says what the tap can read back.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from typing import Any

from dinero_api.errors import DineroValidationError
from target_dinero.records import (
    RecordRejected,
    deterministic_guid,
    json_value,
    to_date,
    to_int,
    validate_shape,
)
from target_dinero.sinks.base import DineroSink, Prepared
from target_dinero.sinks.manual_voucher import voucher_lines
from target_dinero.sinks.settlement import UNKNOWN_OUTCOME

__all__ = ["LedgerItemSink"]

MAX_ITEMS = 1000
_INDEXED = re.compile(r"^\[(\d+)\]\.?([A-Za-z]*)")


def _vat(code: Any) -> str:
    text = str(code or "").strip().upper()
    return "" if text in ("NONE", "NULL") else text


def _digest(item: dict[str, Any]) -> str:
    """A digest of :func:`_content` (kept in the journal: booked items cannot be read back)."""
    return hashlib.sha256(repr(_content(item)).encode()).hexdigest()[:32]


def _content(item: dict[str, Any]) -> tuple[Any, ...]:
    """What an item books, in a comparable form: its date and the multiset of its lines' accounts, VAT
    codes and amounts (to the øre). Descriptions do not move money and are left out."""
    lines = []
    for line in item.get("Lines") or []:
        amount = line.get("Amount")
        lines.append(
            (
                str(line.get("AccountNumber") or ""),
                str(line.get("BalancingAccountNumber") or ""),
                Decimal(str(amount if amount is not None else 0)).quantize(Decimal("0.01")),
                _vat(line.get("AccountVatCode")),
                _vat(line.get("BalancingAccountVatCode")),
            )
        )
    return (str(item.get("VoucherDate") or "")[:10], tuple(sorted(lines)))


def _describe(item: dict[str, Any]) -> str:
    day, lines = _content(item)
    shown = "; ".join(f"{a}/{b or '-'} {amount}" for a, b, amount, _v1, _v2 in lines)
    return f"{day}: {shown}"


def _named_items(exc: DineroValidationError, size: int) -> dict[int, tuple[str, ...]]:
    """Index -> fields of the items a refusal of a batch names (``[3].FileGuid``); empty when it names
    none, or names an index outside the batch (``size`` 0: any index)."""
    named: dict[int, list[str]] = {}
    for key in exc.validation_errors:
        found = _INDEXED.match(str(key))
        if found is None:
            continue
        index = int(found.group(1))
        if size and index >= size:
            return {}
        named.setdefault(index, []).append(found.group(2))
    return {k: tuple(v) for k, v in named.items()}


class LedgerItemSink(DineroSink):
    """Kassekladde lines."""

    load_type = "ledger_item"

    def prepare(self, record: dict[str, Any]) -> Prepared:
        """Validate locally: date in an accounting year, lines on the chart, balanced, whole øre."""
        validate_shape("ledger_item", record)
        reference = self.reference_for(record)
        day = to_date(record["VoucherDate"], "VoucherDate")
        self.run.reference.check_bookable_date(day, "VoucherDate")
        item_id = deterministic_guid(self.run.organization_id, "ledger_item", reference)
        lines = voucher_lines(self, record["Lines"])
        sign = str(self.run.config.get("manual_voucher_amount_sign") or "")
        if sign == "credit_account":  # what the user means stays a debit of AccountNumber
            lines = [{**line, "Amount": -line["Amount"]} for line in lines]
        payload: dict[str, Any] = {"Id": item_id, "VoucherDate": day.isoformat(), "Lines": lines}
        if record.get("VoucherNumber") not in (None, ""):
            payload["VoucherNumber"] = to_int(record["VoucherNumber"], "VoucherNumber")
        if record.get("FileGuid"):
            payload["FileGuid"] = str(record["FileGuid"])
        return Prepared(record=record, reference=reference, payload=payload, book=self.book_wanted(record))

    # -- look-ups --------------------------------------------------------------------------------------
    def _read(self, path: str, body: Any) -> Any:
        """A read that Dinero serves as POST (``ledgers``, ``status``): allowed in dry run, safe to replay."""
        gateway = self.run.gateway
        return gateway._call(gateway.client.post_json, path, json_value(body), retry_safe=True)

    def _key(self, reference: str) -> str:
        return f"ledger_item:{reference}"

    def _existing(self, items: list[Prepared], *, ask: list[Prepared] | None = None) -> dict[str, str]:
        """Id -> status (Draft, PendingBooking, Booked) of the items of ``items`` that exist in Dinero.

        Every unbooked item is in ``ledgers``; an item the journal lists that is not there is asked about
        (``status``: booked since, or never made) -- but not one this run sent a moment ago: had Dinero
        made it, it would be unbooked and listed (a late commit meets the resend's taken Id, which the
        refusal names and ``ask`` then looks up). Dinero answers ``status`` for an Id it does not know with
        a 400, so those questions are kept to what only ``status`` can tell.
        """
        unbooked = self._read("/v1/{org}/ledgeritems/ledgers", []) or []
        found = {str(row.get("Id")).lower(): "Draft" for row in unbooked if isinstance(row, dict)}
        self._unbooked = {str(row.get("Id")).lower(): row for row in unbooked if isinstance(row, dict)}
        sent_now = getattr(self, "_sent_now", set())
        journaled = [
            i.payload["Id"]
            for i in items
            if i.payload["Id"].lower() not in found
            and i.payload["Id"].lower() not in sent_now
            and (self.run.journal.get(self._key(i.reference)) or {}).get("status") in ("created", "pending")
        ] + [i.payload["Id"] for i in ask or [] if i.payload["Id"].lower() not in found]
        journaled = list(dict.fromkeys(journaled))
        for start in range(0, len(journaled), MAX_ITEMS):
            chunk = journaled[start : start + MAX_ITEMS]
            rows: list[Any] = []
            while chunk:
                try:
                    rows += self._read("/v1/{org}/ledgeritems/status", [{"Id": i} for i in chunk]) or []
                    break
                except DineroValidationError as exc:
                    # an Id Dinero does not know (a create that never happened): drop the ones the refusal
                    # names and ask about the rest together; a refusal naming none: one by one
                    named = _named_items(exc, len(chunk))
                    if named:
                        chunk = [x for k, x in enumerate(chunk) if k not in named]
                        continue
                    for item_id in chunk:
                        try:
                            rows += self._read("/v1/{org}/ledgeritems/status", [{"Id": item_id}]) or []
                        except DineroValidationError:
                            continue
                    break
            for row in rows:
                found[str(row.get("Id")).lower()] = str(row.get("Status") or "Booked")
        return found

    # -- loading --------------------------------------------------------------------------------------
    def load(self, items: list[Prepared]) -> None:
        """Look the batch up, create what is missing (≤ 1 000 per request), start booking when asked."""
        if self.run.dry_run:
            existing = self._existing(items) if items else {}
            for item in items:
                if item.payload["Id"].lower() in existing:
                    self.count("unchanged")
                else:
                    self.run.plan("create", self.load_type, self.stream_name, item.reference, item.payload)
            return
        existing = self._existing(items)
        missing = [i for i in items if i.payload["Id"].lower() not in existing]
        for start in range(0, len(missing), MAX_ITEMS):
            self._create(missing[start : start + MAX_ITEMS], existing)
        differing: list[Prepared] = []
        for item in items:
            if item.payload["Id"].lower() in existing and item not in missing:
                held = getattr(self, "_unbooked", {}).get(item.payload["Id"].lower())
                if held is None and self._booked_with_other_content(item):
                    # Booked (Dinero cannot list booked items): the journal's digest of what was sent says
                    # the record changed since -- never counted as there.
                    differing.append(item)
                    self.run.reject(
                        self.stream_name,
                        item.record,
                        f"this kassekladde item (Id {item.payload['Id']}) was created from an earlier record "
                        f"with other content and is {existing[item.payload['Id'].lower()]} in Dinero; the "
                        f"record now means {_describe(item.payload)}. A booked item cannot be changed: "
                        "book a correcting item under a new reference, or send the record as it was",
                        "Lines",
                    )
                    continue
                if held is not None and _content(held) != _content(item.payload):
                    # The same item (its Id) with other lines or date: never counted as there, never
                    # booked as it is; the bookkeeper decides (Dinero holds the earlier version).
                    differing.append(item)
                    self.run.reject(
                        self.stream_name,
                        item.record,
                        f"the kassekladde already holds this item (Id {item.payload['Id']}, unbooked) with "
                        f"other content: Dinero {_describe(held)}, the record {_describe(item.payload)}; "
                        "it is not changed -- correct or delete it in Dinero",
                        "Lines",
                    )
                    continue
                if held is not None:  # equal: the journal learns the digest (a later change is told)
                    self.run.journal.record(self._key(item.reference), digest=_digest(item.payload))
                self.count("unchanged")
        items = [i for i in items if i not in differing]
        to_book = [i for i in items if i.book and existing.get(i.payload["Id"].lower()) == "Draft"]
        for start in range(0, len(to_book), MAX_ITEMS):
            chunk = to_book[start : start + MAX_ITEMS]
            self.guarded(chunk[0].record, lambda chunk=chunk: self._book(chunk))

    def _booked_with_other_content(self, item: Prepared) -> bool:
        """Whether the journal's digest of the item's content (kept since it was sent or last seen
        unbooked) differs from the record's. Without a digest nothing can tell: Dinero cannot list booked
        items, so the item is taken as it is."""
        known = (self.run.journal.get(self._key(item.reference)) or {}).get("digest")
        return known is not None and known != _digest(item.payload)

    def _create(self, chunk: list[Prepared], existing: dict[str, str]) -> None:
        sent_now = self.__dict__.setdefault("_sent_now", set())
        for item in chunk:
            self.run.journal.record(
                self._key(item.reference),
                status="pending",
                stream=self.stream_name,
                id=item.payload["Id"],
                digest=_digest(item.payload),
            )
            sent_now.add(item.payload["Id"].lower())
        unknown = 0
        while True:  # every refusal takes at least the items it names out of the chunk
            try:
                self.run.gateway.post("/v1.2/{org}/ledgeritems", [i.payload for i in chunk])
                break
            except DineroValidationError as exc:
                # A refusal stores nothing. Items it names by index (``[k].Field``) are the refused ones:
                # those whose Id it names may exist (a taken Id) and are looked up, the others are
                # rejected with the reason, and the rest is sent again in one request -- not one request
                # (and one 400) per item. A refusal that names no item is looked up whole (its wording may
                # mean a taken Id), then narrowed down item by item.
                named = _named_items(exc, len(chunk))
                if not named and len(chunk) > 1:
                    now = self._existing(chunk, ask=chunk)
                    if not any(i.payload["Id"].lower() in now for i in chunk):
                        self.run.refused(self.stream_name, exc, 0)
                        for item in chunk:
                            self._create([item], existing)
                        return
                if not named:
                    named = {k: ("Id",) for k in range(len(chunk))}
                id_named = [chunk[k] for k, fields in named.items() if any(f.lower() == "id" for f in fields)]
                now = self._existing(id_named, ask=id_named) if id_named else {}
                taken = [i for i in id_named if i.payload["Id"].lower() in now]
                for item in taken:
                    existing[item.payload["Id"].lower()] = now[item.payload["Id"].lower()]
                    self.run.journal.record(self._key(item.reference), status="created")
                    self.count("unchanged")
                refused = [chunk[k] for k in named if chunk[k] not in taken]
                for item in refused:
                    self.run.journal.record(self._key(item.reference), status="failed")
                    self.run.reject(self.stream_name, item.record, f"Dinero refused it: {exc}")
                if refused:
                    self.run.refused(self.stream_name, exc, len(refused))
                chunk = [i for i in chunk if i not in taken and i not in refused]
                if not chunk:
                    return
            except UNKNOWN_OUTCOME as exc:
                # Look again: the create may have got through.
                now = self._existing(chunk)
                taken = [i for i in chunk if i.payload["Id"].lower() in now]
                for item in taken:
                    existing[item.payload["Id"].lower()] = now[item.payload["Id"].lower()]
                    self.run.journal.record(self._key(item.reference), status="created")
                    self.count("created")
                chunk = [i for i in chunk if i not in taken]
                if not chunk:
                    return
                unknown += 1
                if unknown == 3:
                    for item in chunk:
                        self.run.reject(
                            self.stream_name,
                            item.record,
                            f"Dinero's answer was lost ({exc}) and the item is not listed; a re-run looks "
                            "again before creating it",
                            in_doubt=True,
                        )
                    return
        for item in chunk:
            existing[item.payload["Id"].lower()] = "Draft"
            self.run.journal.record(self._key(item.reference), status="created")
            self.count("created")

    def _book(self, chunk: list[Prepared]) -> None:
        try:
            self.run.gateway.post("/v1/{org}/ledgeritems/book", [{"Id": i.payload["Id"]} for i in chunk])
        except UNKNOWN_OUTCOME:
            states = self._existing(chunk)
            rest = [i for i in chunk if states.get(i.payload["Id"].lower()) == "Draft"]
            if rest:
                self.run.gateway.post("/v1/{org}/ledgeritems/book", [{"Id": i.payload["Id"]} for i in rest])
        self.count("booking_started", len(chunk))

    def load_one(self, item: Prepared) -> None:  # pragma: no cover - load() writes in batches
        """Unused: items are written in batches."""
        raise RecordRejected("internal: ledger items load in batches", None)
