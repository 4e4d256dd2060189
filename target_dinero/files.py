"""Voucher attachments given as a local path, a URL or base64 content: checked before any Dinero request.

Dinero takes pdf, png and jpeg receipts up to 6 MB (REFERENCE §2.14, §5.1). The record is validated when
the batch is prepared (path readable, base64 decodable, type and size), and the bytes are read again
right before the upload so a batch never holds every file in memory. A URL is fetched only at load
time (it is not Dinero); if it fails then, the record is rejected before any Dinero request for it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import requests

from target_dinero.records import RecordRejected

__all__ = ["MAX_FILE_BYTES", "Attachment", "AttachmentSpec", "check_attachment"]

MAX_FILE_BYTES = 6_000_000
_TYPES = (
    (b"%PDF", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)


@dataclasses.dataclass(frozen=True)
class Attachment:
    """The bytes to upload."""

    file_name: str
    content: bytes
    content_type: str

    @property
    def digest(self) -> str:
        """sha256 of the content (the journal uses it to reuse an upload)."""
        return hashlib.sha256(self.content).hexdigest()


def _sniff(content: bytes, field: str) -> tuple[str, str]:
    if not content:
        raise RecordRejected(f"{field} is empty", field)
    if len(content) > MAX_FILE_BYTES:
        raise RecordRejected(f"{field} is {len(content)} bytes; Dinero accepts at most 6 MB", field)
    for magic, content_type, extension in _TYPES:
        if content.startswith(magic):
            return content_type, extension
    raise RecordRejected(f"{field} is not a PDF, PNG or JPEG file (Dinero accepts only these)", field)


def _name(given: Any, fallback: str, extension: str) -> str:
    name = str(given or "").strip() or fallback or "bilag"
    name = name.replace("/", "_").replace("\\", "_")
    if not name.lower().endswith((".pdf", ".png", ".jpg", ".jpeg")):
        name += extension
    return name[:255]


@dataclasses.dataclass(frozen=True)
class AttachmentSpec:
    """A validated ``File`` object of a record; :meth:`read` returns the bytes."""

    path: str | None = None
    url: str | None = None
    content_base64: str | None = None
    file_name: str | None = None

    def describe(self) -> dict[str, Any]:
        """What dry run prints (never the content)."""
        return {
            "path": self.path,
            "url": self.url,
            "content_base64": "..." if self.content_base64 else None,
            "FileName": self.file_name,
        }

    def read(self, field: str = "File", timeout: float = 30.0) -> Attachment:
        """The attachment's bytes, type-checked (raises RecordRejected)."""
        if self.path:
            path = Path(self.path).expanduser()
            try:
                content = path.read_bytes()
            except OSError as exc:
                raise RecordRejected(f"{field}.path cannot be read: {exc}", f"{field}.path") from exc
            fallback = path.name
        elif self.url:
            try:
                response = requests.get(self.url, timeout=timeout)
                response.raise_for_status()
            except requests.RequestException as exc:
                raise RecordRejected(f"{field}.url could not be fetched: {exc}", f"{field}.url") from exc
            content = response.content
            fallback = PurePosixPath(urlsplit(self.url).path).name
        else:
            try:
                content = base64.b64decode(self.content_base64 or "", validate=True)
            except (binascii.Error, ValueError) as exc:
                raise RecordRejected(
                    f"{field}.content_base64 is not valid base64", f"{field}.content_base64"
                ) from exc
            fallback = ""
        content_type, extension = _sniff(content, field)
        return Attachment(_name(self.file_name, fallback, extension), content, content_type)


def check_attachment(spec: Mapping[str, Any], field: str = "File") -> AttachmentSpec:
    """Validate a record's ``File`` object without keeping its bytes."""
    given = [k for k in ("path", "url", "content_base64") if spec.get(k)]
    if len(given) != 1:
        raise RecordRejected(
            f"{field} needs exactly one of path, url, content_base64 (got {given or 'none'})", field
        )
    attachment = AttachmentSpec(
        path=spec.get("path"),
        url=spec.get("url"),
        content_base64=spec.get("content_base64"),
        file_name=spec.get("FileName"),
    )
    if attachment.path:
        path = Path(attachment.path).expanduser()
        if not path.is_file():
            raise RecordRejected(f"{field}.path {attachment.path!r} is not a readable file", f"{field}.path")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise RecordRejected(f"{field}.path is larger than 6 MB (Dinero's limit)", f"{field}.path")
    if attachment.path or attachment.content_base64:
        attachment.read(field)  # type and size checked now; the bytes are read again at upload time
    return attachment
