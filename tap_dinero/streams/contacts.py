"""Contacts stream (incremental by ``changesSince``, with deletions)."""

from __future__ import annotations

import typing as t

from tap_dinero.incremental import ChangesSinceStream

__all__ = ["ContactsStream"]


class ContactsStream(ChangesSinceStream):
    """Customers and suppliers: ``GET /v1/{org}/contacts`` (envelope, ordered by UpdatedAt).

    Dinero has no contact-person endpoint (a company contact carries ``AttPerson`` only).
    """

    name = "contacts"
    path = "/v1/{organization_id}/contacts"
    schema_name = "contact"
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "ContactGuid"]
