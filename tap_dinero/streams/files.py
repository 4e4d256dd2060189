"""Files stream (full table: ``uploadedAfter`` would miss files that get linked later)."""

from __future__ import annotations

import typing as t

from tap_dinero.client import DineroStream

__all__ = ["FilesStream"]


class FilesStream(DineroStream):
    """The file archive: ``GET /v1/{org}/files`` (bare array, paged, no ``fields``).

    The list has no count, so a page exactly as long as ``pageSize`` is followed by one more request.
    """

    name = "files"
    path = "/v1/{organization_id}/files"
    schema_name = "file"
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "FileGuid"]
    paginated = True
