"""The Flask application: routing, authentication, quota, faults and the request log around the
Dinero endpoints."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from . import (
    behaviours,
    contract,
    routes_auth,
    routes_inspect,
    routes_read,
    writes_parties,
    writes_sales,
    writes_vouchers,
)
from .errors import DineroError, NotFound, not_found_response
from .faults import AFTER, BEFORE
from .mutations import PAGING_COLLECTIONS, change_while_paging
from .resources import registry as resource_registry
from .state import SandboxState

RESOURCE_BLUEPRINTS = resource_registry.blueprints()  # one per spec tag: dinero_sandbox/resources/
API_BLUEPRINTS = (
    "api_read",
    "api_write_parties",
    "api_write_sales",
    "api_write_vouchers",
    *(bp.name for bp in RESOURCE_BLUEPRINTS),
)
ROUTE_DISPLAY = {"vattypes": "vatTypes", "accountingyears": "accountingyears"}


class _CaseInsensitivePaths:
    """WSGI middleware: Dinero's route segments are case-insensitive, so API paths are lower-cased
    before routing (the original is kept for the request log)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        environ["sandbox.original_path"] = path
        if not path.startswith("/_sandbox"):
            environ["PATH_INFO"] = path.lower()
        return self.app(environ, start_response)


def _route_name() -> str:
    rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    for low, display in ROUTE_DISPLAY.items():
        rule = rule.replace(low, display)
    rule = rule.replace("<org>", "{org}").replace("<guid>", "{guid}").replace("<kind>", "{kind}")
    return f"{request.method} {rule}"


def create_app(state: SandboxState) -> Flask:
    """A Flask app serving ``state``."""
    app = Flask("dinero_sandbox")
    app.config["SANDBOX_STATE"] = state
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    for blueprint in (
        routes_auth.bp,
        routes_read.bp,
        writes_parties.bp,
        writes_sales.bp,
        writes_vouchers.bp,
        routes_inspect.bp,
        behaviours.bp,
        *RESOURCE_BLUEPRINTS,
    ):
        app.register_blueprint(blueprint)
    _lock_api_views(app, state)
    app.before_request(functools.partial(_before, state))
    contract.install(app)  # request bodies against Dinero's OpenAPI contract (after authentication)
    app.after_request(functools.partial(_after, state))
    app.teardown_request(functools.partial(_teardown, state))
    app.register_error_handler(DineroError, lambda exc: exc.response())
    app.register_error_handler(NotFound, lambda exc: not_found_response())
    app.register_error_handler(HTTPException, _http_error)
    app.wsgi_app = _CaseInsensitivePaths(app.wsgi_app)  # type: ignore[method-assign]
    return app


def _lock_api_views(app: Flask, state: SandboxState) -> None:
    """Run every API handler under the state lock (one consistent view per request)."""
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.split(".")[0] not in API_BLUEPRINTS:
            continue

        def locked(*args: Any, _view: Callable[..., Any] = view, **kwargs: Any) -> Any:
            kwargs.pop("org", None)  # resolved (and access-checked) into g.org_data before the handler
            with state.lock:
                return _view(*args, **kwargs)

        functools.update_wrapper(locked, view)
        app.view_functions[endpoint] = locked


def _http_error(exc: HTTPException) -> Response:
    if exc.code == 404:
        return not_found_response()
    if exc.code == 405 and not request.path.startswith("/_sandbox"):
        # Dinero answers in its JSON error shape, not a web framework's HTML page; code 40 covers
        # "unsupported format for the method" (REFERENCE.md §5.2).
        allowed = ", ".join(sorted(exc.valid_methods or [])) if hasattr(exc, "valid_methods") else ""
        response = DineroError(
            405,
            40,
            f"The requested resource does not support http method '{request.method}'.",
            {
                "method": f"{request.method} is not allowed here"
                + (f"; allowed: {allowed}" if allowed else "")
            },
        ).response()
        if allowed:
            response.headers["Allow"] = allowed
        return response
    response = exc.get_response()
    return response


def _before(state: SandboxState) -> Response | None:
    g.started = time.perf_counter()
    g.client_id = None
    g.org = None
    if request.path.startswith("/_sandbox"):
        return None
    state.log.begin()
    g.in_flight = True
    fault = state.faults.take(
        BEFORE, request.method, request.environ.get("sandbox.original_path", request.path)
    )
    if fault is not None:
        g.fault = fault.mode
        response = _before_fault(state, fault.mode, fault.options)
        if response is not None:
            return response
    if request.blueprint not in API_BLUEPRINTS:
        return None
    return _authenticate(state)


def _before_fault(state: SandboxState, mode: str, options: dict[str, Any]) -> Response | None:
    if mode == "5xx":
        status = int(options.get("status", 500))
        return DineroError(status, 50, "Error").response()
    if mode == "429":
        response = Response(state.quota.message(), status=429, mimetype="text/plain")
        response.headers["Retry-After"] = str(int(options.get("retry_after", 1)))
        return response
    if mode == "slow":
        time.sleep(float(options.get("seconds", 5)))
    elif mode == "expire_tokens":
        state.tokens.expire_all()
    return None


def _authenticate(state: SandboxState) -> Response | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    token = state.tokens.check(value.strip()) if scheme.lower() == "bearer" and value.strip() else None
    if token is None:
        response = DineroError(
            401, 41, "Unauthorized", {"Authorization": "The access token is missing, invalid or expired"}
        ).response()
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    g.token = token
    g.client_id = token.client_id
    org_id = (request.view_args or {}).get("org")
    g.org = org_id or token.org
    if org_id is not None:
        data = state.orgs.get(org_id)
        if data is None or (token.org is not None and token.org != org_id):
            return DineroError(
                403, 41, "Unauthorized", {"organizationId": "The token gives no access to this organization"}
            ).response()
        g.org_data = data
    retry_after = state.quota.hit((token.client_id, g.org or ""))
    if retry_after is not None:
        return behaviours.quota_refusal(state.quota.message(), retry_after)
    return None


def _after(state: SandboxState, response: Response) -> Response:
    path = request.environ.get("sandbox.original_path", request.path)
    if request.path.startswith("/_sandbox"):
        return response
    response = behaviours.localize_response(response)
    if getattr(g, "fault", None) is None and response.status_code < 500:
        fault = state.faults.take(AFTER, request.method, path)
        if fault is not None:
            response = _after_fault(fault.mode, fault.options, response)
    if response.status_code == 200 and request.endpoint in PAGING_COLLECTIONS:
        _maybe_change_while_paging(state, path)
    begun = bool(g.pop("in_flight", False))
    state.log.add(
        begun=begun,
        method=request.method,
        path=path,
        query=request.query_string.decode("latin-1"),
        status=response.status_code,
        org=g.get("org"),
        client_id=g.get("client_id"),
        ts=time.time(),
        route=_route_name(),
    )
    return response


def _teardown(state: SandboxState, exc: BaseException | None) -> None:
    """A request counted in flight that was never logged (no after-request ran) is no longer in flight."""
    if g.pop("in_flight", False):
        state.log.abandon()


def _maybe_change_while_paging(state: SandboxState, path: str) -> None:
    page = request.args.get("page") or request.args.get("Page") or "0"
    if page.strip() != "0":
        return
    fault = state.faults.take(("insert_while_paging",), request.method, path)
    if fault is None:
        return
    with state.lock:
        change_while_paging(
            g.org_data,
            PAGING_COLLECTIONS[request.endpoint or ""],
            int(fault.options.get("inserts", 1)),
            int(fault.options.get("updates", 1)),
        )


def _after_fault(mode: str, options: dict[str, Any], response: Response) -> Response:
    if mode == "slow_answer":
        time.sleep(float(options.get("seconds", 5)))
        return response
    if mode == "commit_then_500":
        return DineroError(500, 50, "Error").response()
    if mode == "non_json":
        html = "<html><body><h1>Service Unavailable</h1><p>Dinero is being updated.</p></body></html>"
        return Response(html, status=int(options.get("status", 200)), mimetype="text/html")
    body = response.get_data()
    if mode == "truncated":
        return Response(body[: len(body) // 2], status=response.status_code, mimetype=response.mimetype)
    if mode == "reset":
        half = body[: max(1, len(body) // 2)]

        def broken() -> Iterable[bytes]:
            yield half
            raise ConnectionResetError("sandbox fault: connection reset mid-body")

        out = Response(broken(), status=response.status_code, mimetype=response.mimetype)
        out.headers["Content-Length"] = str(len(body))
        return out
    return response
