"""Request bodies checked against Dinero's OpenAPI contract, as Dinero's model binding would refuse them.

One ``before_request`` hook: a JSON body sent to an operation of the contract
(``dinero_api/contract/openapi-contract.json``, read as a file -- the sandbox imports no plugin or client
code) is validated against the operation's request schema. A body that does not fit is refused with
Dinero's 400 answer: code 42 "Validation Error" and ``validationErrors`` naming each field.

Where public evidence shows real Dinero accepting less than the spec says, the sandbox follows the
evidence (:data:`REQUEST_RELAXATIONS`):

* property names match case-insensitively -- REFERENCE.md §2: eikster-dk/dinero-go and
  simonrasmussendk/dinero-api send camelCase (``timestamp``, ``contactGuid``) and dinero-go's integration
  tests create and book invoices that way;
* unknown properties are ignored although the schemas say ``additionalProperties: false`` -- REFERENCE.md
  §4 and §6.2: manyfold-dk/manyfold-platform observed Dinero silently discarding unknown line fields;
* ``InvoiceLinesCreateModel.Discount`` may be left out -- eikster-dk/dinero-go's ``InvoiceLine`` sends
  ``discount,omitempty`` and its ``TestSaveInvoice_integration`` creates an invoice without it;
* formats (``uuid``, ``date``, ``date-time``) are left to the endpoints' own checks, which answer with
  Dinero's messages for them.

Every other spec rule on request bodies -- types, nullability, ``required``, ``enum``, lengths -- is
enforced. The bodies seen are kept (``GET /_sandbox/bodies``) so tests can check what a client sent.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from collections import deque
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from jsonschema import Draft202012Validator

from .errors import DineroError

__all__ = ["CONTRACT_PATH", "REQUEST_RELAXATIONS", "install", "operation_for"]


def _contract_path() -> Path:
    """``dinero_api/contract/openapi-contract.json`` of the same checkout or installation: the sibling of
    this package first, else where ``dinero_api`` is found (find_spec of a top-level package runs none of
    its code, so nothing of the client is imported)."""
    relative = Path("dinero_api") / "contract" / "openapi-contract.json"
    candidates = [Path(__file__).resolve().parent.parent / relative]
    spec = importlib.util.find_spec("dinero_api")
    if spec is not None and spec.submodule_search_locations:
        package = Path(next(iter(spec.submodule_search_locations)))
        candidates.append(package / "contract" / "openapi-contract.json")
    return next((c for c in candidates if c.exists()), candidates[0])


CONTRACT_PATH = _contract_path()
#: (schema name, property) pairs the spec requires but real Dinero does without (see module docstring).
REQUEST_RELAXATIONS: dict[tuple[str, str], str] = {
    ("InvoiceLinesCreateModel", "Discount"): "eikster-dk/dinero-go invoices/invoices.go + save_test.go",
}
BODY_LOG = "CONTRACT_BODIES"


@cache
def _contract() -> dict[str, Any]:
    return json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))


def _shape(path: str) -> str:
    out = []
    for part in path.lower().split("/"):
        out.append("*" if part.startswith(("{", "<")) else part)
    return "/".join(out)


@cache
def _operations() -> dict[tuple[str, str], str]:
    """(METHOD, shape) -> contract path."""
    return {
        (method.upper(), _shape(path)): path for path, ops in _contract()["paths"].items() for method in ops
    }


def operation_for(method: str, rule: str) -> tuple[str, dict[str, Any]] | None:
    """The contract path and operation of a Flask URL rule (``/v1/<org>/invoices``), or None."""
    path = _operations().get((method.upper(), _shape(rule)))
    if path is None:
        return None
    return path, _contract()["paths"][path][method.lower()]


def _resolve(node: Any, schemas: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """A schema with ``$ref``s inlined and the relaxations applied (``additionalProperties`` allowed,
    relaxed ``required`` entries dropped)."""
    if isinstance(node, list):
        return [_resolve(v, schemas, seen) for v in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in seen:  # recursive models: stop inlining
            return {}
        out = _resolve(schemas[name], schemas, (*seen, name))
        out["x-model"] = name
        return out
    out = {k: _resolve(v, schemas, seen) for k, v in node.items() if k not in ("format",)}
    if out.get("additionalProperties") is False:
        out["additionalProperties"] = True
    return out


def _relax_required(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_relax_required(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _relax_required(v) for k, v in schema.items()}
    model = out.get("x-model")
    if model and "required" in out:
        out["required"] = [f for f in out["required"] if (model, f) not in REQUEST_RELAXATIONS]
    return out


@cache
def _validator(path: str, method: str) -> Draft202012Validator | None:
    op = _contract()["paths"][path][method]
    content = (op.get("requestBody") or {}).get("content") or {}
    schema = (content.get("application/json") or {}).get("schema")
    if not schema:
        return None
    resolved = _relax_required(_resolve(copy.deepcopy(schema), _contract()["components"]["schemas"]))
    return Draft202012Validator(resolved)


def canonical(body: Any, schema: dict[str, Any]) -> Any:
    """``body`` with property names in the schema's casing (Dinero binds them case-insensitively)."""
    if isinstance(body, list):
        items = schema.get("items") or {}
        return [canonical(v, items) for v in body]
    if not isinstance(body, dict):
        return body
    props = schema.get("properties") or {}
    by_lower = {name.lower(): name for name in props}
    out: dict[str, Any] = {}
    for key, value in body.items():
        name = by_lower.get(str(key).lower(), key)
        out[name] = canonical(value, props.get(name) or {})
    return out


def _where(error: Any) -> str:
    parts: list[str] = []
    for step in error.absolute_path:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        else:
            parts.append(("." if parts else "") + str(step))
    if error.validator == "required":
        missing = str(error.message).split("'")[1] if "'" in str(error.message) else ""
        parts.append(("." if parts else "") + missing)
    return "".join(parts) or "body"


def _message(error: Any) -> str:
    if error.validator == "required":
        return f"The {_where(error).rsplit('.', 1)[-1].split(']')[-1]} field is required."
    if error.validator == "type":
        return f"The value {error.instance!r} is not valid here (expected {error.validator_value})."
    return str(error.message)


def check_request() -> Response | None:
    """The before_request hook: refuse a JSON body that does not fit the operation's request schema."""
    if request.method not in ("POST", "PUT", "PATCH", "DELETE") or request.url_rule is None:
        return None
    if not request.path.startswith("/v") or not request.is_json:
        return None
    found = operation_for(request.method, request.url_rule.rule)
    if found is None:
        return None
    path, _ = found
    body = request.get_json(silent=True)
    if body is None:
        return None  # no or malformed JSON: the endpoints answer that themselves
    validator = _validator(path, request.method.lower())
    if validator is None:
        return None
    body = canonical(body, validator.schema)
    log = current_app.config.setdefault(BODY_LOG, deque(maxlen=10_000))
    log.append({"method": request.method, "operation": path, "body": body})
    errors = sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return None
    return DineroError(400, 42, "Validation Error", {_where(e): _message(e) for e in errors}).response()


bp = Blueprint("contract", __name__)


@bp.get("/_sandbox/bodies")
def bodies() -> Response:
    """JSON bodies the sandbox received, with the contract operation each was checked against."""
    return Response(
        json.dumps(list(current_app.config.get(BODY_LOG, ())), default=str), mimetype="application/json"
    )


@bp.delete("/_sandbox/bodies")
def clear_bodies() -> Response:
    """Forget the received bodies."""
    current_app.config.get(BODY_LOG, deque()).clear()
    return Response(b"", status=204)


def install(app: Flask) -> None:
    """Register the hook and the inspection route on ``app``."""
    app.register_blueprint(bp)
    app.before_request(check_request)
