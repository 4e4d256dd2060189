"""The organization's registers: contacts, products and uploaded files.

Contacts stream (incremental by ``changesSince``, with deletions).

Products stream (incremental by ``changesSince``, with deletions).

Files stream (full table: ``uploadedAfter`` would miss files that get linked later).
"""

from __future__ import annotations

import typing as t

from tap_dinero.client import DineroStream
from tap_dinero.incremental import ChangesSinceStream

__all__ = ["ContactsStream", "FilesStream", "ProductsStream"]


class ContactsStream(ChangesSinceStream):
    """Customers and suppliers: ``GET /v1/{org}/contacts`` (envelope, ordered by UpdatedAt).

    Dinero has no contact-person endpoint (a company contact carries ``AttPerson`` only).
    """

    name = "contacts"
    path = "/v1/{organization_id}/contacts"
    schema_name = "contact"
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "ContactGuid"]


class ProductsStream(ChangesSinceStream):
    """Products: ``GET /v1/{org}/products`` (envelope, ordered by UpdatedAt)."""

    name = "products"
    path = "/v1/{organization_id}/products"
    schema_name = "product"
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "ProductGuid"]


class FilesStream(DineroStream):
    """The file archive: ``GET /v1/{org}/files`` (bare array, paged, no ``fields``).

    The list has no count, so a page exactly as long as ``pageSize`` is followed by one more request.
    """

    name = "files"
    path = "/v1/{organization_id}/files"
    schema_name = "file"
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "FileGuid"]
    paginated = True
