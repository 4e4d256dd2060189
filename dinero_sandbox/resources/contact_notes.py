"""Contact notes (spec tag ``Contacts``): ``/v1/{org}/contacts/{contactGuid}/notes`` list (paged envelope,
``fields``, ``deletedOnly``), create, get, update, delete (soft). The create answers
``ContactCreatedResult {ContactGuid}`` as the spec says, carrying the new note's id."""

from __future__ import annotations

import uuid

from flask import Response, g, request

from .. import validate as v
from ..api_common import find_row, json_body, org_data
from ..errors import NotFound, json_response
from ..listing import arg, envelope, parse_bool, parse_fields, parse_paging
from ..models import ListSpec
from ..mutations import bump
from ..orgdata import OrgData
from ..store import Table
from ..timeutil import now_str
from ..write_common import refuse_deleted
from .common import blueprint, ok

bp = blueprint("contact_notes")
NOTE_FIELDS = ("Id", "NoteDate", "AuthorName", "AuthorEmail", "CreatedAt", "UpdatedAt", "DeletedAt", "Text")
SPEC = ListSpec(default_fields=("Id", "NoteDate", "Text"), allowed_fields=NOTE_FIELDS)


def _contact(org: OrgData, contact_guid: str) -> str:
    contacts = org.table("contacts")
    return contacts.cols["ContactGuid"][find_row(contacts, contact_guid)].lower()


def _note(org: OrgData, contact_guid: str, note_guid: str) -> tuple[Table, int]:
    contact = _contact(org, contact_guid)
    table = org.table("contact_notes")
    row = find_row(table, note_guid)
    if table.cols["ContactGuid"][row] != contact:
        raise NotFound()
    return table, row


def _text(body: dict) -> str:
    errors = v.Errors()
    text = v.text(body, "Text", errors, req=True, max_len=5000)
    errors.raise_if_any()
    return text or ""


@bp.get("/v1/<org>/contacts/<contact_guid>/notes")
def list_notes(contact_guid: str) -> Response:
    """Paged ``ContactNoteReadModel`` envelope, newest first."""
    org = org_data()
    contact = _contact(org, contact_guid)
    projection = parse_fields(arg(request.args, "fields"), SPEC)
    page, size = parse_paging(request.args)
    deleted = parse_bool(request.args, "deletedOnly", False)
    table = org.table("contact_notes")
    rows = [
        r
        for r in table.rows()
        if table.cols["ContactGuid"][r] == contact and (table.cols["DeletedAt"][r] is not None) == deleted
    ]
    rows.sort(key=lambda r: (table.cols["NoteDate"][r], r), reverse=True)
    out = [
        projection.apply(table.get(r, projection.canonical_fields))
        for r in rows[page * size : (page + 1) * size]
    ]
    return json_response(envelope(out, page, size, len(rows)))


@bp.post("/v1/<org>/contacts/<contact_guid>/notes")
def create_note(contact_guid: str) -> Response:
    """Create a note -> ``{ContactGuid: <note id>}``."""
    org = org_data()
    contact = _contact(org, contact_guid)
    contacts = org.table("contacts")
    refuse_deleted(contacts, find_row(contacts, contact), "ContactGuid")
    text = _text(json_body())
    now = now_str()
    note_id = str(uuid.uuid4())
    org.table("contact_notes").add(
        {
            "Id": note_id,
            "ContactGuid": contact,
            "NoteDate": now,
            "AuthorName": f"API ({g.get('client_id') or 'unknown'})",
            "AuthorEmail": None,
            "Text": text,
            "CreatedAt": now,
            "UpdatedAt": now,
            "DeletedAt": None,
        }
    )
    org.touch()
    return json_response({"ContactGuid": note_id})


@bp.get("/v1/<org>/contacts/<contact_guid>/notes/<note_guid>")
def get_note(contact_guid: str, note_guid: str) -> Response:
    """``ContactNoteReadModel``."""
    table, row = _note(org_data(), contact_guid, note_guid)
    return json_response(table.get(row, list(NOTE_FIELDS)))


@bp.put("/v1/<org>/contacts/<contact_guid>/notes/<note_guid>")
def update_note(contact_guid: str, note_guid: str) -> Response:
    """Replace a note's text; bare 200."""
    org = org_data()
    table, row = _note(org, contact_guid, note_guid)
    refuse_deleted(table, row, "noteGuid")
    bump(org, table, row, {"Text": _text(json_body())})
    return ok()


@bp.delete("/v1/<org>/contacts/<contact_guid>/notes/<note_guid>")
def delete_note(contact_guid: str, note_guid: str) -> Response:
    """Soft-delete a note (listed with ``deletedOnly=true``); bare 200."""
    org = org_data()
    table, row = _note(org, contact_guid, note_guid)
    refuse_deleted(table, row, "noteGuid")
    now = now_str()
    bump(org, table, row, {"DeletedAt": now}, when=now)
    return ok()
