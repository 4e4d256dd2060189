"""Record helpers shared by the sinks: normalising SDK values, local validation, money, dates, references.

Every check here runs before any request: a record that fails raises :class:`RecordRejected` with the
offending field, and the sink writes it to the rejects file instead of sending it to Dinero.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from jsonschema import exceptions as jsonschema_exceptions

from target_dinero.schemas import load_validator

__all__ = [
    "MAX_EXTERNAL_REFERENCE",
    "RecordRejected",
    "derive_reference",
    "deterministic_guid",
    "json_value",
    "key_text",
    "key_text_parts",
    "normalize_reference",
    "plain",
    "same_reference",
    "text_defect",
    "to_date",
    "to_decimal",
    "to_int",
    "validate_shape",
]

MAX_EXTERNAL_REFERENCE = 128
EARLIEST_DATE = dt.date(1990, 1, 1)
_GUID_NAMESPACE = uuid.UUID("6f1f0c3e-2d5b-5b8a-9d0e-3c7a1f4b2e11")
CENT = Decimal("0.01")


class RecordRejected(Exception):
    """A record cannot be loaded; ``reason`` and ``field`` go to the rejects file."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def plain(value: Any) -> Any:
    """Turn SDK-parsed values back into JSON-like ones (dates -> ISO strings); Decimals are kept."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value


def json_value(value: Any) -> Any:
    """Make a payload JSON-serialisable: Decimal -> int/float, recursively; None values dropped."""
    if isinstance(value, Mapping):
        return {k: json_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _field_path(path: Iterable[Any]) -> str | None:
    parts = [f"[{p}]" if isinstance(p, int) else f".{p}" for p in path]
    return "".join(parts).lstrip(".") or None


_BAD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _bad_character(text: str) -> str | None:
    """What is wrong with ``text`` as text Dinero can store, or None.

    Lone surrogates (U+D800-U+DFFF, e.g. from a ``"\\ud800"`` escape) cannot be encoded as UTF-8 at all; NUL
    and the other C0 control characters except tab, line feed and carriage return, and U+FFFE/U+FFFF, are
    not characters of XML 1.0, which Dinero's documents (OIOUBL e-invoices, PDFs) are made of.
    """
    match = _BAD_TEXT.search(text)
    if match is None:
        return None
    code = ord(match.group())
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate U+{code:04X}, which cannot be encoded as UTF-8"
    return f"the control character U+{code:04X}, which Dinero's documents (XML, PDF) cannot hold"


def _strings(value: Any) -> list[str]:
    """Every string inside a JSON-like value (iterative, no paths: the fast first pass)."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return found


def text_defect(value: Any, path: str = "") -> tuple[str, str] | None:
    """(field, reason) of the first text in ``value`` (recursively) that Dinero cannot store, or None."""
    if _BAD_TEXT.search("\t".join(_strings(value))) is None:  # the common case: one regex search
        return None
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            bad = _bad_character(item)
            if bad:
                return where or "record", f"{where or 'record'} contains {bad}"
        elif isinstance(item, Mapping):
            for key, sub in reversed(list(item.items())):
                stack.append((f"{where}.{key}" if where else str(key), sub))
        elif isinstance(item, list | tuple):
            for index in reversed(range(len(item))):
                stack.append((f"{where}[{index}]", item[index]))
    return None


def validate_shape(load_type: str, record: Mapping[str, Any]) -> None:
    """Validate against ``target_dinero/schemas/<load_type>.json``; raise on the most relevant error."""
    error = jsonschema_exceptions.best_match(load_validator(load_type).iter_errors(record))
    if error is None:
        return
    while error.context:  # anyOf/oneOf: report the branch that came closest, not "not valid under any"
        error = jsonschema_exceptions.best_match(error.context)
    field = _field_path(error.absolute_path)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        field = f"{field}.{missing}" if field else missing
        raise RecordRejected(f"missing required field {field}", field)
    raise RecordRejected(f"{field or 'record'}: {error.message}", field)


#: A number written as text: digits with an optional decimal point and exponent (what JSON writes).
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
#: "1.250", "12.500", "125.000": a thousands group in Danish notation (1250) or three decimals in English
#: (1.25). A string cannot say which; the difference is a factor of 1000.
_GROUPED = re.compile(r"[+-]?[1-9]\d{0,2}\.\d{3}", re.ASCII)
_NOT_FINITE = ("nan", "+nan", "-nan", "snan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity")


def to_decimal(value: Any, field: str, *, required: bool = True, held: bool = False) -> Decimal | None:
    """A finite amount as Decimal (numbers or numeric strings); NaN/Infinity/booleans are rejected.

    What the record says must be what Dinero gets, or the record is rejected:

    * text is a plain number (``"1234.50"``, ``" 12.5 "``, ``"1e3"``); ``"1.234,50"``, ``"1,234.50"``,
      ``"1_000"``, ``"12 kr"`` are rejected, and so is ``"1.250"`` (Danish 1250, English 1.25);
    * the number reaches Dinero as a JSON double: one with more significant digits than a double holds
      (``19.999999999999999999`` would arrive as 20) is rejected, so the target never computes with a
      number other than the one it sends -- except a double written out to 17 digits
      (``99.950000000000003``, PHP's ``serialize_precision = 17``), which is that double (99.95).

    ``held``: a value Dinero sent (kept as it is; Dinero's own numbers are not checked).
    """
    if value is None or value == "":
        if required:
            raise RecordRejected(f"{field} is required", field)
        return None
    if isinstance(value, bool):
        raise RecordRejected(f"{field} must be a number, not a boolean", field)
    if isinstance(value, float) and not math.isfinite(value):
        raise RecordRejected(f"{field} must be a finite number, got {value}", field)
    if isinstance(value, str) and not held:
        text = value.strip()
        if text.lower() in _NOT_FINITE:
            raise RecordRejected(f"{field} must be a finite number, got {value!r}", field)
        if not _NUMBER_TEXT.fullmatch(text):
            raise RecordRejected(
                f"{field} must be a number written with digits and a decimal point (e.g. 1234.50), got "
                f"{value!r}",
                field,
            )
        if _GROUPED.fullmatch(text):
            danish, english = text.replace(".", ""), text
            raise RecordRejected(
                f"{field} {value!r} is ambiguous: {danish} in Danish notation, {english} in English; send "
                f'it as a JSON number, or as text that is not exactly three decimals: "{english}0" for '
                f'{english}, "{danish}.00" for {danish}',
                field,
            )
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation as exc:
        raise RecordRejected(f"{field} must be a number, got {value!r}", field) from exc
    if not number.is_finite():
        raise RecordRejected(f"{field} must be a finite number, got {value}", field)
    if abs(number) >= Decimal("1e12"):
        raise RecordRejected(f"{field} is out of range ({value})", field)
    if not held and Decimal(repr(float(number))) != number:
        double = float(number)
        if Decimal(format(double, ".17g")) == number:
            # the double written with 17 significant digits (PHP's json_encode under serialize_precision
            # 17, C's %.17g): 99.950000000000003 is the double 99.95, which is what Dinero gets
            return Decimal(repr(double))
        raise RecordRejected(
            f"{field} {value} has more significant digits than Dinero's numbers hold (it would arrive as "
            f"{float(number)!r})",
            field,
        )
    return number


def to_int(value: Any, field: str) -> int:
    """An integer such as an account number (ints or digit strings)."""
    if isinstance(value, bool) or value is None:
        raise RecordRejected(f"{field} must be an integer", field)
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if isinstance(value, Decimal | float):
        if Decimal(str(value)) != Decimal(str(value)).to_integral_value():
            raise RecordRejected(f"{field} must be an integer, got {value}", field)
        return int(Decimal(str(value)))
    if text.lstrip("-").isdigit():
        return int(text)
    raise RecordRejected(f"{field} must be an integer, got {value!r}", field)


def to_date(value: Any, field: str, *, tz: dt.tzinfo | None = None, today: dt.date | None = None) -> dt.date:
    """A calendar date from a date, a date-time (converted to ``tz`` when it carries an offset) or a string.

    Dates outside [1990-01-01, today + 1 year] are rejected: they are typos, and Dinero would refuse
    them (no accounting year) after we had spent a request.
    """
    if value is None or value == "":
        raise RecordRejected(f"{field} is required", field)
    parsed: dt.date
    if isinstance(value, dt.datetime):
        moment = value
        parsed = (moment.astimezone(tz) if tz and moment.tzinfo else moment).date()
    elif isinstance(value, dt.date):
        parsed = value
    else:
        text = str(value).strip()
        try:
            if len(text) == 10:
                parsed = dt.date.fromisoformat(text)
            else:
                moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
                parsed = (moment.astimezone(tz) if tz and moment.tzinfo else moment).date()
        except ValueError as exc:
            raise RecordRejected(
                f"{field} is not a date (YYYY-MM-DD) or ISO timestamp: {value!r}", field
            ) from exc
    today = today or dt.date.today()
    latest = today + dt.timedelta(days=366)
    if not (EARLIEST_DATE <= parsed <= latest):
        raise RecordRejected(f"{field} {parsed.isoformat()} is outside {EARLIEST_DATE} .. {latest}", field)
    return parsed


def money(value: Decimal) -> Decimal:
    """Round to øre, half up (how Danish amounts are rounded)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def normalize_reference(value: Any) -> str:
    """The identity form of a reference: Unicode NFC, leading/trailing whitespace removed.

    The identity rule (README "Exactly once"): two references are the same object exactly when their
    identity forms are equal, code point by code point -- case-sensitive, inner whitespace significant.
    The target sends references in this form and compares what Dinero returns in this form, never
    trusting Dinero's ``queryFilter`` (case-insensitive, possibly looser) to decide a match.
    """
    return unicodedata.normalize("NFC", str(value)).strip()


def same_reference(a: Any, b: Any) -> bool:
    """Whether two references identify the same object (see :func:`normalize_reference`)."""
    if a is None or b is None:
        return False
    return normalize_reference(a) == normalize_reference(b)


def _escaped(text: str, separator: str) -> str:
    return text.replace("\\", "\\\\").replace(separator, "\\" + separator)


def key_text_parts(values: Sequence[Any]) -> list[str]:
    """Each value's text (NFC, trimmed) with ``\\`` and ``|`` escaped, ready to be joined by ``|``."""
    return [_escaped(normalize_reference(plain(v)), "|") for v in values]


def key_text(values: Sequence[Any]) -> str:
    """Several key values as one text, injectively: each value's text (NFC, trimmed) with ``\\`` and ``|``
    escaped by a backslash, joined by ``|``. Values without those characters read as before (``a|1``)."""
    return "|".join(key_text_parts(values))


def derive_reference(prefix: str, stream: str, key_values: Sequence[Any]) -> str:
    """ExternalReference for a record without its own: ``<prefix><stream>:<key>``, hashed when too long.

    Injective: the stream name has ``\\`` and ``:`` escaped (so the first bare ``:`` ends it) and the key is
    :func:`key_text`, so two different (stream, key) pairs never give the same reference -- ``["a|b", "c"]``
    and ``["a", "b|c"]`` give ``a\\|b|c`` and ``a|b\\|c``. A key value is compared as its text (``1`` and
    ``"1"`` are one key), after NFC and trimming, case-sensitively (see :func:`normalize_reference`).
    Longer than 128 characters: ``<prefix><stream, cut>:<first 160 bits of SHA-256 of "<stream>:<key>">``.
    ``key_values`` must be non-empty, without None or empty values (the sink rejects such records).
    """
    if not key_values or any(v is None or normalize_reference(plain(v)) == "" for v in key_values):
        raise ValueError("derive_reference needs at least one key value, none of them empty")
    key = key_text(key_values)
    stream_text = _escaped(stream, ":")
    reference = f"{prefix}{stream_text}:{key}"
    if len(reference) <= MAX_EXTERNAL_REFERENCE:
        return reference
    digest = hashlib.sha256(f"{stream_text}:{key}".encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"{prefix}{stream_text[: MAX_EXTERNAL_REFERENCE - len(prefix) - 42]}:{digest}"


def deterministic_guid(organization_id: str, kind: str, reference: str) -> str:
    """The Guid the target sends when creating ``kind`` with ``reference`` (uuid5: same input, same Guid)."""
    return str(uuid.uuid5(_GUID_NAMESPACE, f"{organization_id}:{kind}:{reference}"))


def digest(value: Any) -> str:
    """Stable short hash of a JSON-like value (used to notice that a record changed)."""
    text = json.dumps(json_value(plain(value)), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
