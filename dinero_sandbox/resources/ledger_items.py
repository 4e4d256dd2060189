"""Ledger items - the day book, "kassekladde" (spec tag ``LedgerItems``).

Items are created unbooked (``Status: Draft``) by ``POST /v1.2/{org}/ledgeritems`` (an array, at most
1000; a client-chosen ``Id`` is honoured, an existing one -> 400 code 42), read back with ``POST
ledgeritems/ledgers`` (the unbooked ones asked for; an empty array: all unbooked), changed with
``PUT /v1/{org}/ledgeritems`` (``Id`` and current ``Version`` required; a stale Version -> code 58)
and removed with
``DELETE ledgeritems/delete``. ``POST ledgeritems/book`` only *starts* booking, as in Dinero: the items turn
``PendingBooking`` and a background job books them ``DINERO_SANDBOX_LEDGER_BOOKING_SECONDS`` (default 0.5)
later - then they are ``Booked`` with a VoucherNumber (theirs, or the next of the voucher series): each
becomes a booked manual voucher whose Guid is the item's Id (``BookedByType: Kassekladde``), so its lines
appear in ``/entries`` (``VoucherType: ManualVoucher``) like any manual voucher's. ``POST
ledgeritems/status`` shows the progress.

Lines follow the manual-voucher rules (``vouchers.manual_postings``: a positive Amount debits AccountNumber
and credits BalancingAccountNumber, VAT split by the VAT codes); an item's postings must balance (400 code
42 on ``Lines`` otherwise). ``POST /v1.2/ledgeritems`` answers one ``LedgerItemReadModel {Id, Version}`` as
the spec says (of the first item; send your own Ids to address the others).
"""

from __future__ import annotations

import os
import threading
import uuid
from datetime import date
from typing import Any

from flask import Response

from .. import validate as v
from ..amounts import r2
from ..api_common import get_ci, org_data, state
from ..errors import DineroError, json_response
from ..orgdata import OrgData
from ..timeutil import now_str
from ..vouchers import manual_postings, manual_read_line
from ..write_common import client_label
from ..writes_sales import ensure_year
from ..writes_vouchers import link_file
from .common import blueprint, body_list, next_version, ok

bp = blueprint("ledger_items")
MAX_ITEMS = 1000


def booking_seconds() -> float:
    """How long the asynchronous booking takes."""
    return float(os.environ.get("DINERO_SANDBOX_LEDGER_BOOKING_SECONDS", "0.5"))


def _lines(org: OrgData, raw: Any, prefix: str, errors: v.Errors) -> list[dict[str, Any]]:
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        errors.add(prefix + "Lines", "Lines must be a list.")
        return []
    out = []
    for k, line in enumerate(raw):
        p = f"{prefix}Lines[{k}]."
        if not isinstance(line, dict):
            errors.add(f"{prefix}Lines[{k}]", "A line must be an object.")
            continue
        before = len(errors.items)
        amount = v.number(line, "Amount", errors, prefix=p, req=True)
        acc = v.account(org, line, "AccountNumber", errors, prefix=p)
        bal = v.account(org, line, "BalancingAccountNumber", errors, prefix=p)
        acc_vat = v.vat_code(line, "AccountVatCode", errors, prefix=p)
        bal_vat = v.vat_code(line, "BalancingAccountVatCode", errors, prefix=p)
        desc = v.text(line, "Description", errors, prefix=p, max_len=1000)
        line_id = v.guid(line, "Id", errors, prefix=p)
        pays = v.guid(line, "IsPaymentForVoucherId", errors, prefix=p)
        if pays and acc is not None:
            errors.add(p + "AccountNumber", "AccountNumber must be empty when IsPaymentForVoucherId is set.")
        if acc is None and bal is None and len(errors.items) == before:
            errors.add(p + "AccountNumber", "A line needs AccountNumber or BalancingAccountNumber.")
        if len(errors.items) > before:
            continue
        read = manual_read_line(
            {
                "Description": desc,
                "AccountNumber": acc,
                "BalancingAccountNumber": bal,
                "Amount": amount,
                "AccountVatCode": acc_vat,
                "BalancingAccountVatCode": bal_vat,
            },
            org.account,
        )
        out.append(
            {
                "Id": line_id or str(uuid.uuid4()),
                "Description": desc,
                "Amount": amount,
                "AccountNumber": acc,
                "AccountVatCode": acc_vat,
                "BalancingAccountNumber": bal,
                "BalancingAccountVatCode": bal_vat,
                "IsPaymentForVoucherId": pays,
                "_Read": read,
            }
        )
    postings = [p for line in out for p in manual_postings(line["_Read"])]
    if out and abs(round(sum(p[1] for p in postings), 2)) > 0.005:
        errors.add(prefix + "Lines", "The lines do not balance (debit must equal credit).")
    return out


def _item_fields(org: OrgData, item: dict[str, Any], prefix: str, errors: v.Errors) -> dict[str, Any]:
    day = v.date_field(item, "VoucherDate", errors, prefix=prefix) or date.today().isoformat()
    number = v.integer(item, "VoucherNumber", errors, prefix=prefix)
    file_guid = v.text(item, "FileGuid", errors, prefix=prefix, max_len=64)
    if file_guid and org.table("files").find(file_guid) is None:
        errors.add(prefix + "FileGuid", f"File {file_guid} does not exist.")
    return {
        "VoucherDate": day,
        "VoucherNumber": number,
        "FileGuid": file_guid,
        "Lines": _lines(org, get_ci(item, "Lines"), prefix, errors),
    }


def _public(table: Any, row: int) -> dict[str, Any]:
    lines = [
        {k: x for k, x in line.items() if not k.startswith("_")} for line in table.value(row, "Lines") or []
    ]
    return {
        "Id": table.cols["Id"][row],
        "Version": table.cols["Version"][row],
        "VoucherNumber": table.cols["VoucherNumber"][row],
        "VoucherDate": table.cols["VoucherDate"][row],
        "FileGuid": table.cols["FileGuid"][row],
        "Lines": lines,
    }


def _find(org: OrgData, item: dict[str, Any], k: int, *, version: bool) -> int:
    table = org.table("ledger_items")
    errors = v.Errors()
    item_id = v.guid(item, "Id", errors, prefix=f"[{k}].")
    if item_id is None and not errors.items:
        errors.add(f"[{k}].Id", "The Id field is required.")
    errors.raise_if_any()
    row = table.find(item_id)
    if row is None or table.cols["DeletedAt"][row] is not None:
        raise DineroError(
            400, 42, "Validation Error", {f"[{k}].Id": f"Ledger item {item_id} does not exist."}
        )
    given = get_ci(item, "Version")
    if version and given is None:
        raise DineroError(400, 42, "Validation Error", {f"[{k}].Version": "The Version field is required."})
    if given is not None and given != table.cols["Version"][row]:
        raise DineroError(
            400,
            58,
            "Timestamp out of date",
            {"Version": f"Ledger item {item_id} changed; get it again and retry."},
        )
    return row


def _require_unbooked(table: Any, row: int) -> None:
    if table.cols["Status"][row] != "Draft":
        raise DineroError(
            400,
            45,
            "Invalid request",
            {"message": f"Ledger item {table.cols['Id'][row]} is {table.cols['Status'][row]}."},
        )


@bp.post("/v1.2/<org>/ledgeritems")
def add_items() -> Response:
    """Create unbooked items -> ``LedgerItemReadModel`` of the first."""
    org = org_data()
    items = body_list()
    if not items:
        raise DineroError(400, 42, "Validation Error", {"body": "At least one ledger item is required."})
    if len(items) > MAX_ITEMS:
        raise DineroError(400, 43, "Limit Exceeded", {"body": f"At most {MAX_ITEMS} ledger items."})
    table = org.table("ledger_items")
    errors = v.Errors()
    prepared = []
    for k, item in enumerate(items):
        chosen = v.guid(item, "Id", errors, prefix=f"[{k}].")
        if chosen and (table.find(chosen) is not None or any(p[0] == chosen for p in prepared)):
            errors.add(f"[{k}].Id", f"A ledger item with Id {chosen} already exists.")
        prepared.append((chosen or str(uuid.uuid4()), _item_fields(org, item, f"[{k}].", errors)))
    errors.raise_if_any()
    now = now_str()
    for item_id, fields in prepared:
        table.add(
            {
                "Id": item_id,
                "Version": next_version(org),
                "Status": "Draft",
                "CreatedAt": now,
                "UpdatedAt": now,
                "DeletedAt": None,
                "_BookedAt": None,
                **fields,
            }
        )
    org.touch()
    first = table.find(prepared[0][0])
    return json_response({"Id": prepared[0][0], "Version": table.cols["Version"][first]})


@bp.put("/v1/<org>/ledgeritems")
def update_items() -> Response:
    """Replace unbooked items (Id and current Version required) -> ``LedgerItemReadModel[]``."""
    org = org_data()
    items = body_list()
    table = org.table("ledger_items")
    rows = [_find(org, item, k, version=True) for k, item in enumerate(items)]
    for row in rows:
        _require_unbooked(table, row)
    errors = v.Errors()
    changes = [_item_fields(org, item, f"[{k}].", errors) for k, item in enumerate(items)]
    errors.raise_if_any()
    out = []
    for row, fields in zip(rows, changes, strict=True):
        table.update(row, {**fields, "Version": next_version(org), "UpdatedAt": now_str()})
        out.append({"Id": table.cols["Id"][row], "Version": table.cols["Version"][row]})
    org.touch()
    return json_response(out)


@bp.post("/v1/<org>/ledgeritems/ledgers")
def get_items() -> Response:
    """The unbooked items asked for (all unbooked ones for an empty array) -> ``LedgerItemModelV2[]``."""
    org = org_data()
    items = body_list()
    table = org.table("ledger_items")
    if items:
        rows = [_find(org, item, k, version=False) for k, item in enumerate(items)]
    else:
        rows = [r for r in table.rows() if table.cols["DeletedAt"][r] is None]
    return json_response([_public(table, r) for r in rows if table.cols["Status"][r] == "Draft"])


@bp.post("/v1/<org>/ledgeritems/book")
def book_items() -> Response:
    """Start booking (asynchronous); bare 200 once started."""
    org = org_data()
    items = body_list()
    table = org.table("ledger_items")
    rows = [_find(org, item, k, version=False) for k, item in enumerate(items)]
    used = {
        n for t in ("manual_vouchers", "purchase_vouchers") for n in org.table(t).cols["VoucherNumber"] if n
    }
    for k, row in enumerate(rows):
        _require_unbooked(table, row)
        if not table.value(row, "Lines"):
            raise DineroError(
                400, 42, "Validation Error", {f"[{k}].Lines": "An item needs lines to be booked."}
            )
        ensure_year(org, table.cols["VoucherDate"][row], f"[{k}].VoucherDate")
        number = table.cols["VoucherNumber"][row]
        if number is not None and number in used:
            raise DineroError(
                400, 42, "Validation Error", {f"[{k}].VoucherNumber": f"{number} is already used."}
            )
    for row in rows:
        table.update(row, {"Status": "PendingBooking", "Version": next_version(org), "UpdatedAt": now_str()})
    org.touch()
    ids = [table.cols["Id"][r] for r in rows]
    lock = state().lock
    timer = threading.Timer(booking_seconds(), _finish_booking, args=(lock, org, ids, client_label()))
    timer.daemon = True
    timer.start()
    return ok()


def _finish_booking(lock: Any, org: OrgData, ids: list[str], booked_by: str) -> None:
    """The background booking: each item becomes a booked manual voucher with the item's Id as its Guid
    (``BookedByType: Kassekladde``), so its lines are entries like any manual voucher's and
    ``GET /vouchers/manuel/{Id}`` (which the tap follows from an entry's VoucherGuid) finds it."""
    with lock:
        table = org.table("ledger_items")
        vouchers = org.table("manual_vouchers")
        for item_id in ids:
            row = table.find(item_id)
            if row is None or table.cols["Status"][row] != "PendingBooking" or table.cols["DeletedAt"][row]:
                continue
            number = table.cols["VoucherNumber"][row]
            if number is None:
                number = org.next_number("voucher")
            else:
                org.counters["voucher"] = max(org.counters["voucher"], number)
            lines = [
                line.get("_Read") or manual_read_line(line, org.account)
                for line in table.value(row, "Lines") or []
            ]
            now = now_str()
            if vouchers.find(item_id) is None:
                vouchers.add(
                    {
                        "Guid": item_id,
                        "VoucherNumber": number,
                        "VoucherDate": table.cols["VoucherDate"][row],
                        "TotalInclVat": r2(sum(x["AmountInclVatValue"] for x in lines)),
                        "TotalExclVat": r2(sum(x["AmountExclVatValue"] for x in lines)),
                        "FileGuid": table.cols["FileGuid"][row],
                        "CreditNoteFor": None,
                        "Status": "Booked",
                        "Lines": lines,
                        "Timestamp": org.next_timestamp(),
                        "ExternalReference": None,
                        "BookedByType": "Kassekladde",
                        "BookedByUsername": booked_by,
                        "BookingTime": now,
                        "CreatedAt": now,
                        "UpdatedAt": now,
                        "DeletedAt": None,
                        "_BookedAt": now,
                    }
                )
                link_file(org, table.cols["FileGuid"][row], item_id, number)
            table.update(
                row,
                {
                    "Status": "Booked",
                    "VoucherNumber": number,
                    "Version": next_version(org),
                    "UpdatedAt": now,
                    "_BookedAt": now,
                },
            )
        org.touch()


@bp.post("/v1/<org>/ledgeritems/status")
def item_status() -> Response:
    """``LedgerItemStatusReadModel[]``: Draft, PendingBooking or Booked (+ VoucherNumber once booked)."""
    org = org_data()
    table = org.table("ledger_items")
    out = []
    for k, item in enumerate(body_list()):
        row = _find(org, item, k, version=False)
        booked = table.cols["Status"][row] == "Booked"
        out.append(
            {
                "Status": table.cols["Status"][row],
                "VoucherNumber": table.cols["VoucherNumber"][row] if booked else None,
                "Id": table.cols["Id"][row],
                "Version": table.cols["Version"][row],
            }
        )
    return json_response(out)


@bp.delete("/v1/<org>/ledgeritems/delete")
def delete_items() -> Response:
    """Delete unbooked items (a given Version must be current); bare 200."""
    org = org_data()
    items = body_list()
    table = org.table("ledger_items")
    rows = [_find(org, item, k, version=False) for k, item in enumerate(items)]
    for row in rows:
        _require_unbooked(table, row)
    now = now_str()
    for row in rows:
        table.update(row, {"DeletedAt": now, "UpdatedAt": now, "Version": next_version(org)})
    org.touch()
    return ok()
