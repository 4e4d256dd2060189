"""Validation of write bodies, reported as Dinero does: HTTP 400, code 42 ("Validation Error"),
``validationErrors`` mapping each offending property (``ProductLines[0].AccountNumber``) to a reason."""

from __future__ import annotations

import math
import re
from typing import Any

from . import chart
from .api_common import get_ci, has_ci
from .errors import DineroError
from .orgdata import OrgData
from .timeutil import parse_date

UNITS = (
    "hours",
    "parts",
    "km",
    "day",
    "week",
    "month",
    "kilogram",
    "cubicMetre",
    "set",
    "litre",
    "box",
    "case",
    "carton",
    "metre",
    "package",
    "shipment",
    "squareMetre",
    "session",
    "tonne",
)
PAYMENT_CONDITIONS = ("Netto", "NettoCash", "CurrentMonthOut", "Paid")
LANGUAGES = ("da-DK", "en-GB")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class Errors:
    """Collects validation errors; ``raise_if_any`` raises the Dinero error."""

    def __init__(self) -> None:
        self.items: dict[str, str] = {}

    def add(self, field: str, reason: str) -> None:
        """Record one problem (the first per field wins)."""
        self.items.setdefault(field, reason)

    def raise_if_any(self) -> None:
        """Raise 400 code 42 when anything was recorded."""
        if self.items:
            raise DineroError(400, 42, "Validation Error", dict(self.items))


def required(body: dict[str, Any], name: str, errors: Errors, prefix: str = "") -> Any:
    """A required property (missing or null -> error)."""
    value = get_ci(body, name)
    if value is None:
        errors.add(prefix + name, f"The {name} field is required.")
    return value


def text(
    body: dict[str, Any],
    name: str,
    errors: Errors,
    *,
    max_len: int | None = None,
    prefix: str = "",
    req: bool = False,
) -> str | None:
    """An optional (or required) string property."""
    value = get_ci(body, name)
    if value is None:
        if req:
            errors.add(prefix + name, f"The {name} field is required.")
        return None
    if not isinstance(value, str):
        errors.add(prefix + name, f"The {name} field must be a string.")
        return None
    if req and not value.strip():
        errors.add(prefix + name, f"The {name} field is required.")
    if max_len is not None and len(value) > max_len:
        errors.add(prefix + name, f"The {name} field may be at most {max_len} characters.")
    return value


def boolean(
    body: dict[str, Any],
    name: str,
    errors: Errors,
    *,
    prefix: str = "",
    req: bool = False,
    default: bool | None = None,
) -> bool | None:
    """A boolean property."""
    value = get_ci(body, name)
    if value is None:
        if req:
            errors.add(prefix + name, f"The {name} field is required.")
        return default
    if not isinstance(value, bool):
        errors.add(prefix + name, f"The {name} field must be true or false.")
        return default
    return value


def number(
    body: dict[str, Any],
    name: str,
    errors: Errors,
    *,
    prefix: str = "",
    req: bool = False,
    lo: float | None = None,
    hi: float | None = None,
) -> float | None:
    """A finite number property within optional bounds."""
    value = get_ci(body, name)
    if value is None:
        if req:
            errors.add(prefix + name, f"The {name} field is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(float(value)):
        errors.add(prefix + name, f"The {name} field must be a number.")
        return None
    value = float(value)
    if abs(value) >= 1e12:
        errors.add(prefix + name, f"The {name} field is out of range.")
        return None
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        errors.add(prefix + name, f"The {name} field must be between {lo:g} and {hi:g}.")
        return None
    return value


def integer(
    body: dict[str, Any], name: str, errors: Errors, *, prefix: str = "", req: bool = False
) -> int | None:
    """An integer property."""
    value = get_ci(body, name)
    if value is None:
        if req:
            errors.add(prefix + name, f"The {name} field is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or float(value) != int(value):
        errors.add(prefix + name, f"The {name} field must be an integer.")
        return None
    return int(value)


def date_field(body: dict[str, Any], name: str, errors: Errors, *, prefix: str = "") -> str | None:
    """A ``YYYY-MM-DD`` property (date-times are cut to their date)."""
    value = get_ci(body, name)
    if value is None:
        return None
    if not isinstance(value, str) or parse_date(value[:10]) is None or (len(value) > 10 and value[10] != "T"):
        errors.add(prefix + name, f"The {name} field must be a date (YYYY-MM-DD).")
        return None
    return value[:10]


def guid(body: dict[str, Any], name: str, errors: Errors, *, prefix: str = "") -> str | None:
    """A GUID property."""
    value = get_ci(body, name)
    if value is None:
        return None
    if not isinstance(value, str) or not _GUID.match(value):
        errors.add(prefix + name, f"The {name} field must be a GUID.")
        return None
    return value.lower()


def account(
    org: OrgData, body: dict[str, Any], name: str, errors: Errors, *, prefix: str = "", req: bool = False
) -> int | None:
    """An account number that exists in the organization's chart."""
    number_value = integer(body, name, errors, prefix=prefix, req=req)
    if number_value is None:
        return None
    if org.account(number_value) is None:
        errors.add(prefix + name, f"Account {number_value} does not exist in the chart of accounts.")
        return None
    return number_value


def vat_code(body: dict[str, Any], name: str, errors: Errors, *, prefix: str = "") -> str | None:
    """A VAT code that exists (``none`` allowed)."""
    value = get_ci(body, name)
    if value is None:
        return None
    if not isinstance(value, str):
        errors.add(prefix + name, f"The {name} field must be a string.")
        return None
    if value.lower() == chart.NO_VAT:
        return chart.NO_VAT
    vat = chart.VAT_BY_CODE.get(value.lower())
    if vat is None:
        errors.add(prefix + name, f"VAT code {value!r} does not exist.")
        return None
    return vat.code


def choice(
    body: dict[str, Any],
    name: str,
    options: tuple[str, ...],
    errors: Errors,
    *,
    prefix: str = "",
    default: str | None = None,
) -> str | None:
    """One of ``options`` (case-insensitive; returned in canonical spelling)."""
    value = get_ci(body, name)
    if value is None:
        return default
    for option in options:
        if isinstance(value, str) and option.lower() == value.lower():
            return option
    errors.add(prefix + name, f"The {name} field must be one of {', '.join(options)}.")
    return default


def timestamp(body: dict[str, Any], errors: Errors) -> str | None:
    """The required ``Timestamp`` of an update/book/delete body."""
    value = get_ci(body, "Timestamp")
    if value is None or not isinstance(value, str) or not value:
        errors.add("Timestamp", "The Timestamp field is required.")
        return None
    return value


def present(body: dict[str, Any], name: str) -> bool:
    """Whether a property is present (any casing)."""
    return has_ci(body, name)
