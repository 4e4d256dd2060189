"""Which of Dinero's operations (``spec_operations.json``, derived from Dinero's OpenAPI spec by
``scripts/spec_operations.py``) the sandbox routes: each spec path is turned into a concrete path (sample
values for its parameters, lower-cased as the case-insensitive middleware does) and matched against the
Flask url map with its method. A rule placeholder that swallows a literal segment of the spec path (e.g.
``invoices/<guid>`` catching ``invoices/templates``) does not count, except for placeholders that are
known to enumerate those literals (``accounts/<kind>``)."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import Map

ENUMERATED = {"kind": {"entry", "purchase", "deposit"}}
_PARAM = re.compile(r"\{([^}]+)\}")


def spec_operations() -> list[dict[str, str]]:
    """Dinero's operations: ``[{"method", "path", "tag"}]``."""
    text = resources.files("dinero_sandbox.resources").joinpath("spec_operations.json").read_text("utf-8")
    return json.loads(text)


def _concrete(path: str) -> tuple[str, list[bool]]:
    """A concrete lower-case path and, per segment, whether the spec has a parameter there."""
    segments = path.strip("/").split("/")
    out, is_param = [], []
    for seg in segments:
        if _PARAM.fullmatch(seg):
            name = seg[1:-1].lower()
            out.append("2025" if name == "accountingyear" else "100000" if name == "organizationid" else "1")
            is_param.append(True)
        else:
            out.append(seg.lower())
            is_param.append(False)
    return "/" + "/".join(out), is_param


def routed(url_map: Map, method: str, path: str) -> str | None:
    """The endpoint serving a spec operation, or None."""
    concrete, is_param = _concrete(path)
    adapter = url_map.bind("sandbox.local")
    try:
        endpoint, _ = adapter.match(concrete, method=method)
    except (MethodNotAllowed, HTTPException):
        return None
    rule = next(r for r in url_map.iter_rules(endpoint) if method in (r.methods or ()))
    rule_segments = rule.rule.strip("/").split("/")
    if len(rule_segments) != len(is_param):
        return None
    for seg, param, value in zip(rule_segments, is_param, concrete.strip("/").split("/"), strict=True):
        holder = re.fullmatch(r"<(?:[^:>]+:)?([^>]+)>", seg)
        if holder and not param and value not in ENUMERATED.get(holder.group(1), set()):
            return None
    return str(endpoint)


def coverage(url_map: Map) -> dict[str, Any]:
    """``{"covered": [...], "missing": [...], "total": n}`` of the spec's operations."""
    covered, missing = [], []
    for op in spec_operations():
        endpoint = routed(url_map, op["method"], op["path"])
        (covered if endpoint and not endpoint.startswith("inspect.") else missing).append(
            {**op, "endpoint": endpoint}
        )
    return {"covered": covered, "missing": missing, "total": len(covered) + len(missing)}
