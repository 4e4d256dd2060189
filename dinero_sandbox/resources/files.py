"""Files (spec tag ``Files``): ``POST /v1/{org}/files/attachment`` uploads a file meant to be bound to a
sales document (``/attachments``); same rules as ``POST /files`` (``writes_vouchers``)."""

from __future__ import annotations

from flask import Response

from ..writes_vouchers import file_upload
from .common import blueprint

bp = blueprint("files")


@bp.post("/v1/<org>/files/attachment")
def file_attachment_upload() -> Response:
    """Upload one file (multipart) -> ``{FileGuid}``."""
    return file_upload()
