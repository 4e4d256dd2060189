"""Switches for the facts about Dinero that nobody has verified (REFERENCE.md §7), per sandbox instance.

The plugins must work whichever way real Dinero behaves, so the sandbox can play each plausible
behaviour and the tests that depend on a fact run under each one. Set them with
``SandboxServer(behaviours={...})``, ``dinero-sandbox --behaviour name=value`` or
``POST /_sandbox/behaviours {"name": "value"}``; ``GET /_sandbox/behaviours`` lists the choices.
A reset restores the instance's starting behaviours.

=========================  ==========================================================================
``updated_at``             ``utc`` (default): ``CreatedAt``/``UpdatedAt``/``DeletedAt`` are UTC.
                           ``local``: they are Danish local time (Europe/Copenhagen, with the
                           daylight-saving jumps), and ``changesSince`` (sent in UTC) is turned into
                           local wall time and compared with the stored local stamps as plain values --
                           what a server keeping local ``DateTime`` columns does. In the autumn hour
                           that repeats, a change can compare as older than a ``changesSince`` taken
                           before it.
``query_quotes``           ``double`` (default): a quote inside a ``queryFilter`` value is written
                           ``''``. ``backslash``: it is written ``\\'`` and ``\\\\`` is a backslash; a
                           doubled quote then ends the value and the filter is refused (400, code 46).
``voucher_sign``           ``debit_account`` (default): a positive manual-voucher line ``Amount`` debits
                           ``AccountNumber`` and credits ``BalancingAccountNumber``.
                           ``credit_account``: the other way round.
``result_without_filter``  ``after_filters`` (default): ``Pagination.ResultWithoutFilter`` counts the
                           rows after ``queryFilter``/``changesSince``/``deletedOnly`` (before paging).
                           ``before_filters``: it counts the list's rows before any of them (the live
                           rows; every row on ``/v2/contacts``).
``guid_taken``             How a create with a client ``Guid``/``ContactGuid`` that exists is refused:
                           ``field`` (default) 400 code 42 naming the field; ``message`` 400 code 45
                           with only a general message; ``conflict`` 409 code 45; ``server_error`` 500
                           (a duplicate-key failure; the object is not created).
``deleted_detail``         A detail ``GET`` of a deleted document/voucher/contact/product: ``ok``
                           (default) 200 with ``DeletedAt`` set; ``item_deleted`` 400 code 65 "Item is
                           deleted"; ``code_63`` 400 code 63; ``not_found`` the HTML 404 page.
``rate_limit_answer``      What a 429 (over the quota) carries besides Dinero's documented body start ``API
                           calls quota exceeded!``: ``retry_after`` (default) a ``Retry-After`` header and
                           the limit (``... maximum admitted 100 per 1m.``), as the rate limiter Dinero's
                           wording comes from sends; ``bare`` neither (no Dinero source documents a header
                           or the rest of the text, REFERENCE §5.3).
``upload_date_filter``     What ``GET /files?uploadedAfter=&uploadedBefore=`` (``yyyy/MM/dd``) keep:
                           ``as_named`` (default) files uploaded on or after ``uploadedAfter`` and on or
                           before ``uploadedBefore``; ``as_described`` the other way round, as the spec's
                           parameter descriptions say ("uploadedAfter ... limits the search to the given
                           before date").
=========================  ==========================================================================

Every value can be reached by the tests (tests/uncertain/), and the README's table of uncertain facts
names the tests that run under each.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, request

__all__ = ["CHOICES", "Behaviours", "current", "local_wall", "parse_assignment"]

CHOICES: dict[str, tuple[str, ...]] = {
    "updated_at": ("utc", "local"),
    "query_quotes": ("double", "backslash"),
    "voucher_sign": ("debit_account", "credit_account"),
    "result_without_filter": ("after_filters", "before_filters"),
    "guid_taken": ("field", "message", "conflict", "server_error"),
    "deleted_detail": ("ok", "item_deleted", "code_63", "not_found"),
    "rate_limit_answer": ("retry_after", "bare"),
    "upload_date_filter": ("as_named", "as_described"),
}
COPENHAGEN = ZoneInfo("Europe/Copenhagen")
#: Record-time fields that follow ``updated_at``.
STAMP_FIELDS = frozenset({"createdat", "updatedat", "deletedat"})


@dataclass
class Behaviours:
    """The behaviour chosen for each uncertain fact (defaults: the sandbox's historical choices)."""

    updated_at: str = "utc"
    query_quotes: str = "double"
    voucher_sign: str = "debit_account"
    result_without_filter: str = "after_filters"
    guid_taken: str = "field"
    deleted_detail: str = "ok"
    rate_limit_answer: str = "retry_after"
    upload_date_filter: str = "as_named"

    def __post_init__(self) -> None:
        self.update(**asdict(self))

    def update(self, **values: Any) -> Behaviours:
        """Set some behaviours (ValueError naming the choices for an unknown name or value)."""
        for name, value in values.items():
            if name not in CHOICES:
                raise ValueError(f"unknown behaviour {name!r}; known: {', '.join(CHOICES)}")
            if value not in CHOICES[name]:
                raise ValueError(
                    f"behaviour {name} must be one of {', '.join(CHOICES[name])} (got {value!r})"
                )
        for name, value in values.items():
            setattr(self, name, value)
        return self

    def as_dict(self) -> dict[str, str]:
        """Current values by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def copy(self) -> Behaviours:
        """An independent copy."""
        return Behaviours(**self.as_dict())


DEFAULTS = Behaviours()


def current() -> Behaviours:
    """The behaviours of the sandbox serving the current request (defaults outside a request)."""
    try:
        return current_app.config["SANDBOX_STATE"].behaviours
    except (RuntimeError, KeyError, AttributeError):
        return DEFAULTS


def parse_assignment(text: str) -> tuple[str, str]:
    """``name=value`` (the CLI form) -> (name, value), checked."""
    name, sep, value = text.partition("=")
    if not sep:
        raise ValueError(f"expected name=value, got {text!r}")
    Behaviours().update(**{name.strip(): value.strip()})
    return name.strip(), value.strip()


# -- UpdatedAt in Danish local time -------------------------------------------------------------------
@lru_cache(maxsize=65536)
def local_wall(stamp: str) -> str:
    """A stored UTC record time (``YYYY-MM-DDTHH:MM:SS.fff``) as Copenhagen wall time, same format."""
    if not stamp:
        return stamp
    try:
        parsed = datetime.strptime(stamp[:23], "%Y-%m-%dT%H:%M:%S.%f")
    except ValueError:
        return stamp
    local = parsed.replace(tzinfo=timezone.utc).astimezone(COPENHAGEN).replace(tzinfo=None)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}"


def change_key(stamp: str) -> str:
    """What a ``changesSince`` comparison compares: the stamp itself, or its local wall time."""
    return local_wall(stamp) if current().updated_at == "local" else stamp


def _localize(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (local_wall(v) if isinstance(v, str) and k.lower() in STAMP_FIELDS else _localize(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_localize(v) for v in node]
    return node


def localize_response(response: Response) -> Response:
    """Rewrite record times of a JSON API answer into local time when ``updated_at`` is ``local``."""
    if current().updated_at != "local" or response.mimetype != "application/json":
        return response
    if not request.path.startswith("/v") or response.direct_passthrough:
        return response
    try:
        body = json.loads(response.get_data())
    except ValueError:
        return response
    response.set_data(json.dumps(_localize(body), ensure_ascii=False))
    return response


# -- inspection API -----------------------------------------------------------------------------------
bp = Blueprint("behaviours", __name__)


@bp.get("/_sandbox/behaviours")
def get_behaviours() -> Response:
    """Current behaviours and the choices of each."""
    return Response(
        json.dumps({"current": current().as_dict(), "choices": CHOICES}), mimetype="application/json"
    )


@bp.post("/_sandbox/behaviours")
def set_behaviours() -> Response:
    """Switch some behaviours: ``{"updated_at": "local", ...}``."""
    body = request.get_json(silent=True) or {}
    try:
        current().update(**body)
    except ValueError as exc:
        return Response(json.dumps({"error": str(exc)}), status=400, mimetype="application/json")
    return Response(json.dumps(current().as_dict()), mimetype="application/json")


# -- answers that depend on a behaviour ---------------------------------------------------------------
def guid_taken_error(field: str, guid: str) -> Exception:
    """The refusal of a create whose client-chosen ``field`` (Guid/ContactGuid) exists already."""
    from .errors import DineroError

    mode = current().guid_taken
    text = f"An object with {field} {guid} already exists."
    if mode == "message":
        return DineroError(400, 45, "Invalid request", {"message": text})
    if mode == "conflict":
        return DineroError(409, 45, "Invalid request", {"message": text})
    if mode == "server_error":
        return DineroError(500, 50, "Error")
    return DineroError(400, 42, "Validation Error", {field: text})


def check_deleted_detail(deleted_at: Any, what: str) -> None:
    """Answer a detail GET of a deleted object the way ``deleted_detail`` says (nothing for ``ok``)."""
    if deleted_at is None:
        return
    from .errors import DineroError, NotFound

    mode = current().deleted_detail
    if mode == "item_deleted":
        raise DineroError(400, 65, "Item is deleted", {"message": f"Invalid {what}, the {what} is deleted."})
    if mode == "code_63":
        raise DineroError(400, 63, "Item is deleted", {"message": f"The {what} is deleted."})
    if mode == "not_found":
        raise NotFound()


#: The part of the 429 body every source shows (REFERENCE §5.3: the docs elide the rest as "(...)").
QUOTA_TEXT = "API calls quota exceeded!"


def quota_refusal(limit_text: str, retry_after: int) -> Response:
    """The 429 of a request over the quota, as ``rate_limit_answer`` says: with ``Retry-After`` and the
    limit in the text, or only the documented start of the text (a client must then pace itself)."""
    if current().rate_limit_answer == "bare":
        return Response(QUOTA_TEXT, status=429, mimetype="text/plain")
    response = Response(limit_text, status=429, mimetype="text/plain")
    response.headers["Retry-After"] = str(retry_after)
    return response


def upload_dates_swapped() -> bool:
    """Whether ``uploadedAfter``/``uploadedBefore`` filter the way the spec's descriptions say (swapped)."""
    return current().upload_date_filter == "as_described"


def manual_sign() -> int:
    """+1 when a positive manual-voucher Amount debits AccountNumber, -1 when it credits it."""
    return -1 if current().voucher_sign == "credit_account" else 1


def backslash_quotes() -> bool:
    """Whether ``queryFilter`` values escape a quote with a backslash (else by doubling it)."""
    return current().query_quotes == "backslash"


def count_before_filters() -> bool:
    """Whether ``ResultWithoutFilter`` counts the rows before the filters."""
    return current().result_without_filter == "before_filters"
