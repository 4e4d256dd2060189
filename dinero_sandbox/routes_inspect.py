"""The sandbox's own inspection API under ``/_sandbox/`` (no auth, not counted by the quota):
request log and stats, reset, quota, token lifetime, dumps, mutations and faults."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from . import ledger
from .api_common import state
from .errors import DineroError, json_response
from .mutations import mutate

bp = Blueprint("inspect", __name__, url_prefix="/_sandbox")

COLLECTION_ALIASES = {
    "manualvouchers": "manual_vouchers",
    "purchasevouchers": "purchase_vouchers",
    "sales/creditnotes": "creditnotes",
    "credit_notes": "creditnotes",
}


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


@bp.get("/requests")
def requests_log() -> Response:
    """Logged requests (``?since=<id>``)."""
    since = int(request.args.get("since", 0) or 0)
    return json_response(state().log.entries(since))


@bp.delete("/requests")
def clear_requests() -> Response:
    """Forget the request log."""
    state().log.clear()
    return json_response({"cleared": True})


@bp.get("/stats")
def stats() -> Response:
    """Totals by status and route, plus quota usage."""
    s = state()
    out = s.log.stats()
    out["quota"] = {"requests": s.quota.requests, "window": s.quota.window, "usage": s.quota.usage()}
    return json_response(out)


@bp.post("/reset")
def reset() -> Response:
    """Re-seed (optionally another size) and clear log, quota counters and faults."""
    s = state()
    body = _body()
    try:
        s.reset(body.get("seed_size"))
    except ValueError as exc:
        return json_response({"error": str(exc)}, 400)
    return json_response({"seed_size": s.seed_size, "seed_seconds": round(s.seed_seconds, 3)})


@bp.post("/quota")
def set_quota() -> Response:
    """``{"requests": 5, "window": 1.0}``."""
    body = _body()
    quota = state().quota
    quota.configure(int(body.get("requests", quota.requests)), float(body.get("window", quota.window)))
    return json_response({"requests": quota.requests, "window": quota.window})


@bp.post("/tokens")
def tokens() -> Response:
    """``{"ttl": seconds}`` sets the lifetime of tokens issued from now on; ``{"expire": true}``
    invalidates every token issued so far."""
    body = _body()
    store = state().tokens
    expired = 0
    if "ttl" in body:
        store.ttl = float(body["ttl"])
    if body.get("expire"):
        expired = store.expire_all()
    return json_response({"ttl": store.ttl, "expired": expired})


@bp.get("/orgs")
def orgs() -> Response:
    """Organization ids and collection sizes."""
    s = state()
    with s.lock:
        return json_response(
            {oid: {name: len(t) for name, t in o.tables.items()} for oid, o in s.orgs.items()}
        )


@bp.get("/orgs/<org>/<path:collection>")
def dump(org: str, collection: str) -> Response:
    """Every stored object of a collection, deleted ones and drafts included, all public fields
    (``?fields=Guid,ExternalReference`` to fetch only some, e.g. on the large seed)."""
    s = state()
    name = COLLECTION_ALIASES.get(collection.lower(), collection.lower())
    with s.lock:
        data = s.orgs.get(org)
        if data is None:
            return json_response({"error": f"unknown organization {org}"}, 404)
        if name == "entries":
            sources = ledger.booked_sources(data)
            out = [e for src in sources for e in ledger.entries_of(data, src)]
            out.extend(ledger.extra_entries(data))
            return json_response(out)
        if name == "accountingyears":
            return json_response(data.accounting_years)
        if name not in data.tables:
            return json_response(
                {
                    "error": f"unknown collection {collection}",
                    "collections": [*data.tables, "entries", "accountingyears"],
                },
                404,
            )
        table = data.tables[name]
        fields = [f.strip() for f in request.args.get("fields", "").split(",") if f.strip()] or None
        return json_response([table.get(row, fields) for row in table.rows()])


@bp.post("/orgs/<org>/mutate")
def mutate_route(org: str) -> Response:
    """``{"collection", "action": create|update|delete, "guid", "fields"}`` -> the changed object."""
    s = state()
    with s.lock:
        data = s.orgs.get(org)
        if data is None:
            return json_response({"error": f"unknown organization {org}"}, 404)
        try:
            changed = mutate(data, _body())
        except DineroError as exc:
            return exc.response()
        except (KeyError, ValueError) as exc:
            return json_response({"error": str(exc)}, 400)
    return json_response(changed)


@bp.post("/faults")
def add_fault() -> Response:
    """Arm a fault (see ``dinero_sandbox.faults``)."""
    try:
        fault = state().faults.add(_body())
    except (ValueError, TypeError) as exc:
        return json_response({"error": str(exc)}, 400)
    return json_response(fault.describe())


@bp.get("/faults")
def list_faults() -> Response:
    """Armed and spent faults."""
    return json_response(state().faults.describe())


@bp.delete("/faults")
def clear_faults() -> Response:
    """Disarm every fault."""
    state().faults.clear()
    return json_response({"cleared": True})
