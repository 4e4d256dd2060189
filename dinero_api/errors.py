"""Errors raised by the shared Dinero client, and the parser for Dinero's error bodies.

Dinero answers errors in several shapes (REFERENCE §5.2): its own JSON
``{"code", "message", "validationErrors", "languageSpecificMessages"}``, OAuth-style
``{"error": "invalid_client"}`` from the token endpoints (sometimes nested as a JSON string inside
``message``), an HTML page for 404 and a plain-text body for 429. :func:`raise_for_response` turns
any of them into a :class:`DineroAPIError` whose message quotes Dinero's code, message and
validation errors together with ``METHOD /path`` -- never the query string, headers or tokens.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

__all__ = [
    "DineroAPIError",
    "DineroAuthError",
    "DineroConfigError",
    "DineroConnectionError",
    "DineroError",
    "DineroGone",
    "DineroMalformedResponse",
    "DineroNotFound",
    "DineroQuotaStoreError",
    "DineroRateLimited",
    "DineroServerError",
    "DineroTimestampConflict",
    "DineroTokenFileError",
    "DineroUnknownOutcome",
    "DineroUnreadableWriteAnswer",
    "DineroValidationError",
    "ErrorDetails",
    "error_for_response",
    "parse_error_body",
    "raise_for_response",
    "redact",
    "register_secret",
]

#: Dinero error code for "Timestamp out of date" (optimistic concurrency, HTTP 400).
TIMESTAMP_OUT_OF_DATE = 58
#: Dinero's error codes for "the item is deleted" (REFERENCE §4): 63 (document), 65 (voucher/entity).
GONE_CODES = frozenset({63, 65})
_MAX_QUOTED = 1500  # characters of a body we are willing to quote in an error message


class DineroError(Exception):
    """Base class of every error raised by :mod:`dinero_api`."""


class DineroConfigError(DineroError, ValueError):
    """The configuration is missing a setting or holds an invalid value (raised before any request)."""


class DineroAPIError(DineroError):
    """A request to Dinero failed.

    Attributes mirror Dinero's error body when there is one: ``code`` (Dinero's numeric error code),
    ``dinero_message``, ``validation_errors`` (property -> reason) and ``language_messages``.
    ``method`` and ``path`` name the request without its query string.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        method: str | None = None,
        path: str | None = None,
        code: int | None = None,
        dinero_message: str | None = None,
        validation_errors: Mapping[str, Any] | None = None,
        language_messages: list[str] | None = None,
        oauth_error: str | None = None,
        response: requests.Response | None = None,
    ) -> None:
        super().__init__(redact(message))
        self.status_code = status_code
        self.method = method
        self.path = path
        self.code = code
        self.dinero_message = dinero_message
        self.validation_errors: dict[str, Any] = dict(validation_errors or {})
        self.language_messages = list(language_messages or [])
        self.oauth_error = oauth_error
        self.response = response


class DineroAuthError(DineroAPIError):
    """Authentication or authorization failed (HTTP 401 after one token refresh, 403, token endpoint)."""


class DineroGone(DineroAPIError):
    """The object is not there (any more): HTTP 404, or Dinero's "item is deleted" codes 63/65.

    One type for every way Dinero says it, so callers write ``except DineroGone`` instead of testing
    status codes and error codes themselves.
    """


class DineroNotFound(DineroGone):
    """HTTP 404: the object or route does not exist."""


class DineroValidationError(DineroAPIError):
    """HTTP 400/409/422: Dinero refused the request content (see ``code`` and ``validation_errors``)."""


class DineroTimestampConflict(DineroValidationError):
    """Dinero error code 58: the Timestamp sent is stale; GET the object and retry with its Timestamp."""


class DineroRateLimited(DineroAPIError):
    """HTTP 429 kept coming back for longer than the configured total wait."""


class DineroServerError(DineroAPIError):
    """HTTP 5xx on an idempotent request, after the configured retries."""


class DineroConnectionError(DineroAPIError):
    """Timeouts or connection failures on an idempotent request, after the configured retries."""


class DineroMalformedResponse(DineroAPIError):
    """A 2xx answer whose body is not the JSON expected (outage page, truncated body)."""

    @classmethod
    def for_response(cls, response: requests.Response) -> DineroMalformedResponse:
        """The error for ``response``, naming method, path, status and content type (never the query)."""
        method = response.request.method if response.request is not None else "GET"
        path = urlsplit(response.url).path
        return cls(
            f"Dinero API {method} {path} answered HTTP {response.status_code} with a body that is not JSON "
            f"(Content-Type {response.headers.get('Content-Type')!r}, {len(response.content)} bytes).",
            status_code=response.status_code,
            method=method,
            path=path,
            response=response,
        )


class DineroUnknownOutcome(DineroAPIError):
    """A non-idempotent request (POST) got a 5xx, timeout or reset: Dinero may or may not have acted.

    The caller must re-check (e.g. by external reference or client-chosen Guid) before retrying.
    """


class DineroUnreadableWriteAnswer(DineroUnknownOutcome, DineroMalformedResponse):
    """A write (POST/PUT/DELETE) answered 2xx with a body that is not the JSON expected.

    Dinero acted (a 2xx), but what it created cannot be read from the answer (a truncated body, an HTML
    page from a proxy, JSON without the created object's Guid): for the caller the outcome is as unknown
    as after a lost answer, and it must look the object up before writing again.
    """


# --------------------------------------------------------------------------------------------
# Secret redaction: defence in depth. Settings and token providers register the secret values
# they hold; every DineroAPIError message is scrubbed of them, whatever a server echoed back.
# --------------------------------------------------------------------------------------------
_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_MIN_SECRET_LEN = 6  # never redact tiny strings (they would mangle ordinary words)


def register_secret(value: str | None) -> None:
    """Remember a secret value so that it is replaced by ``***`` in every error message."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def redact(text: str, extra: Iterable[str | None] = ()) -> str:
    """Return ``text`` with every registered secret (and ``extra`` values) replaced by ``***``."""
    with _SECRETS_LOCK:
        secrets = set(_SECRETS)
    secrets.update(s for s in extra if s and len(s) >= _MIN_SECRET_LEN)
    # Longest first so that a secret containing another is removed whole.
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return text


# --------------------------------------------------------------------------------------------
# Body parsing
# --------------------------------------------------------------------------------------------
class ErrorDetails:
    """What could be read from an error body (all fields optional)."""

    __slots__ = (
        "code",
        "language_messages",
        "message",
        "oauth_description",
        "oauth_error",
        "text",
        "validation_errors",
    )

    def __init__(self) -> None:
        self.code: int | None = None
        self.message: str | None = None
        self.validation_errors: dict[str, Any] = {}
        self.language_messages: list[str] = []
        self.oauth_error: str | None = None
        self.oauth_description: str | None = None
        self.text: str | None = None  # quoted excerpt of a non-JSON body

    def describe(self) -> str:
        """One-line human description quoting what Dinero said."""
        parts: list[str] = []
        if self.code is not None:
            parts.append(f"Dinero error code {self.code}" + (f" {self.message!r}" if self.message else ""))
        elif self.message:
            parts.append(f"message {self.message!r}")
        if self.oauth_error:
            desc = f" ({self.oauth_description})" if self.oauth_description else ""
            parts.append(f"OAuth error {self.oauth_error!r}{desc}")
        if self.validation_errors:
            errs = ", ".join(f"{k}: {v}" for k, v in self.validation_errors.items())
            parts.append(f"validation errors: {errs}")
        if self.language_messages and not self.validation_errors:
            parts.append("messages: " + " | ".join(self.language_messages))
        if not parts and self.text:
            parts.append(f"body {self.text!r}")
        return "; ".join(parts) or "no error body"


def _get_ci(data: Mapping[str, Any], *names: str) -> Any:
    """Case-insensitive key lookup (Dinero mixes camelCase and PascalCase)."""
    lowered = {str(k).lower(): v for k, v in data.items()}
    for name in names:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_QUOTED else text[:_MAX_QUOTED] + "..."


def _fill_from_json(details: ErrorDetails, data: Any) -> None:
    if not isinstance(data, Mapping):
        details.text = _excerpt(json.dumps(data))
        return
    code = _get_ci(data, "code")
    if isinstance(code, int) and not isinstance(code, bool):
        details.code = code
    elif isinstance(code, str) and code.strip().isdigit():
        details.code = int(code)
    message = _get_ci(data, "message")
    if isinstance(message, str):
        nested = message.strip()
        # The token endpoint has been seen answering {"message": "{ \"error\": \"invalid_grant\" }"}.
        if nested.startswith("{"):
            try:
                inner = json.loads(nested)
            except ValueError:
                inner = None
            if isinstance(inner, Mapping):
                _fill_from_json(details, inner)
                return
        details.message = _excerpt(message)
    error = _get_ci(data, "error")
    if isinstance(error, str):
        details.oauth_error = error
        desc = _get_ci(data, "error_description")
        if isinstance(desc, str):
            details.oauth_description = _excerpt(desc)
    validation = _get_ci(data, "validationErrors")
    if isinstance(validation, Mapping):
        details.validation_errors = {str(k): v for k, v in validation.items()}
    elif isinstance(validation, list):
        details.validation_errors = {str(i): v for i, v in enumerate(validation)}
    lang = _get_ci(data, "languageSpecificMessages")
    if isinstance(lang, list):
        for item in lang:
            if isinstance(item, Mapping):
                msg = _get_ci(item, "message")
                prop = _get_ci(item, "property")
                if msg:
                    details.language_messages.append(f"{prop}: {msg}" if prop else str(msg))
    if details.message is None and not details.validation_errors:
        # errorMessageList [{Code, Message}] is the only content in some bodies.
        lst = _get_ci(data, "errorMessageList")
        if isinstance(lst, list):
            for item in lst:
                if isinstance(item, Mapping) and _get_ci(item, "message"):
                    details.validation_errors[
                        str(_get_ci(item, "code") or len(details.validation_errors))
                    ] = _get_ci(item, "message")


_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def parse_error_body(response: requests.Response) -> ErrorDetails:
    """Read whatever Dinero put in an error response, never failing."""
    details = ErrorDetails()
    try:
        text = response.text or ""
    except Exception:  # undecodable body: nothing to quote
        return details
    stripped = text.strip()
    if not stripped:
        return details
    if stripped[0] in "{[":
        try:
            _fill_from_json(details, json.loads(stripped))
            return details
        except ValueError:
            pass
    content_type = response.headers.get("Content-Type", "")
    if "html" in content_type.lower() or stripped[:15].lower().startswith(("<!doctype", "<html")):
        match = _TITLE_RE.search(stripped)
        title = " ".join(match.group(1).split()) if match else ""
        details.text = f"HTML page{': ' + title if title else ''}"[:200]
        return details
    details.text = _excerpt(stripped)
    return details


def _request_label(response: requests.Response) -> tuple[str | None, str | None]:
    request = response.request
    method = request.method.upper() if request is not None and request.method else None
    url = (request.url if request is not None else None) or response.url or ""
    path = urlsplit(url).path or None  # the query string may carry values we must not echo
    return method, path


def _class_for(status: int, code: int | None) -> type[DineroAPIError]:
    if code == TIMESTAMP_OUT_OF_DATE:
        return DineroTimestampConflict
    if code in GONE_CODES:
        return DineroGone
    if status in (401, 403):
        return DineroAuthError
    if status == 404:
        return DineroNotFound
    if status in (400, 409, 422):
        return DineroValidationError
    if status == 429:
        return DineroRateLimited
    if status >= 500:
        return DineroServerError
    return DineroAPIError


def error_for_response(
    response: requests.Response,
    *,
    cls: type[DineroAPIError] | None = None,
    hint: str | None = None,
) -> DineroAPIError:
    """Build (without raising) the DineroAPIError describing a non-2xx response."""
    details = parse_error_body(response)
    method, path = _request_label(response)
    status = response.status_code
    klass = cls or _class_for(status, details.code)
    where = f"{method or '?'} {path or '?'}"
    message = f"Dinero API {where} failed with HTTP {status}: {details.describe()}"
    if hint:
        message += f". {hint}"
    return klass(
        message,
        status_code=status,
        method=method,
        path=path,
        code=details.code,
        dinero_message=details.message,
        validation_errors=details.validation_errors,
        language_messages=details.language_messages,
        oauth_error=details.oauth_error,
        response=response,
    )


def raise_for_response(response: requests.Response) -> None:
    """Raise the matching :class:`DineroAPIError` if ``response`` is not 2xx/3xx; otherwise return None.

    Usable as the body of a singer-sdk stream's ``validate_response``.
    """
    if response.status_code < 400:
        return
    raise error_for_response(response)


class DineroQuotaStoreError(DineroConnectionError):
    """The shared quota store (SQLite file or Redis) cannot be used: no request is sent without a slot.

    The message is one line naming the backend (a Redis URL without its password) and what to do. A
    connection error (no request was sent, ``status_code`` None): CLIs report it like an unreachable host.
    """


class DineroTokenFileError(DineroAuthError):
    """``token_file`` cannot keep a rotated refresh token (checked before the refresh token is spent).

    Raised before spending when the file cannot be written, and right after spending when writing the
    successor failed; the message says where the successor was rescued to, or how to re-authorize.
    """
