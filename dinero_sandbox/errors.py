"""Dinero's error answers: the JSON error body (``code``, ``message``, ``validationErrors``,
``languageSpecificMessages``, ``errorMessageList``), the HTML 404 page, OAuth token errors."""

from __future__ import annotations

import json
from typing import Any

from flask import Response

ERROR_MESSAGES = {
    40: "Not found",
    41: "Unauthorized",
    42: "Validation Error",
    43: "Limit Exceeded",
    44: "Invalid format",
    45: "Invalid request",
    46: "Invalid filter format",
    47: "Accounting year not found",
    50: "Error",
    58: "Timestamp out of date",
    59: "Voucher not booked",
    65: "Item is deleted",
}

NOT_FOUND_HTML = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>
<title>404 - File or directory not found.</title></head>
<body><div id="header"><h1>Server Error</h1></div>
<div id="content"><div class="content-container"><fieldset>
<h2>404 - File or directory not found.</h2>
<h3>The resource you are looking for might have been removed, had its name changed, or is temporarily
unavailable.</h3></fieldset></div></div></body></html>
"""


class DineroError(Exception):
    """Raised inside a handler; rendered as Dinero's JSON error body."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str | None = None,
        validation_errors: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message or ERROR_MESSAGES.get(code, "Error")
        self.validation_errors = validation_errors or {}
        super().__init__(f"{status} code {code}: {self.message} {self.validation_errors}")

    def body(self) -> dict[str, Any]:
        """The JSON body Dinero answers."""
        errors = self.validation_errors or {"message": self.message}
        return {
            "code": self.code,
            "message": self.message,
            "validationErrors": errors,
            "languageSpecificMessages": [{"property": k, "message": v} for k, v in errors.items()],
            "errorMessageList": [{"Code": k, "Message": v} for k, v in errors.items()],
        }

    def response(self) -> Response:
        """As a Flask response."""
        return Response(json.dumps(self.body()), status=self.status, mimetype="application/json")


class NotFound(Exception):
    """Raised inside a handler for an unknown resource: rendered as Dinero's HTML 404 page."""


def validation(field: str, reason: str, code: int = 42, message: str = "Validation Error") -> DineroError:
    """A 400 validation error naming one field."""
    return DineroError(400, code, message, {field: reason})


def not_found_response() -> Response:
    """Dinero's 404: an HTML page, not JSON."""
    return Response(NOT_FOUND_HTML, status=404, mimetype="text/html")


def oauth_error(status: int, error: str, description: str | None = None) -> Response:
    """An OAuth-style token endpoint error."""
    body: dict[str, Any] = {"error": error}
    if description:
        body["error_description"] = description
    return Response(json.dumps(body), status=status, mimetype="application/json")


def json_response(payload: Any, status: int = 200) -> Response:
    """A JSON response (UTF-8, non-ASCII kept)."""
    return Response(json.dumps(payload, ensure_ascii=False), status=status, mimetype="application/json")
