"""A tiny scriptable Dinero stand-in (Flask in a local thread) for the shared-client tests.

The full sandbox (``tests/conftest.py``) covers realistic data; here we need precise control over
what each request is answered (401 once, 503 twice, 429 with Retry-After, a slow answer, ...), so
this fake answers from a per-route queue of scripted responses and records every request.
"""

from __future__ import annotations

import base64
import itertools
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

CLIENT_ID = "dinero-sandbox"
CLIENT_SECRET = "sandbox-secret"
API_KEY = "sandbox-api-key"
REFRESH_TOKEN = "sandbox-refresh-token"
ORG = "100000"


@dataclass
class Scripted:
    """One scripted answer."""

    status: int = 200
    body: Any = None  # dict/list -> JSON, str -> text
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    delay: float = 0.0


@dataclass
class Seen:
    """One request as the fake server received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]
    body: bytes
    ts: float


class FakeDinero:
    """Scriptable Dinero: token endpoints for both flows plus any API path."""

    def __init__(self) -> None:
        self.app = Flask("fake-dinero")
        self.lock = threading.Lock()
        self.seen: list[Seen] = []
        self.queues: dict[tuple[str, str], deque[Scripted]] = defaultdict(deque)
        self.defaults: dict[tuple[str, str], Scripted] = {}
        self.valid_tokens: set[str] = set()
        self.valid_refresh_tokens: set[str] = {REFRESH_TOKEN}
        self.token_expires_in = 3600
        self._counter = itertools.count(1)
        self.collections: dict[str, tuple[list[dict[str, Any]], bool, int | None]] = {}
        self._routes()
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    # -- scripting ------------------------------------------------------------------------------
    def enqueue(self, method: str, path: str, *answers: Scripted) -> None:
        """Answer the next requests to (method, path) with ``answers``, in order."""
        with self.lock:
            self.queues[(method.upper(), path)].extend(answers)

    def default(self, method: str, path: str, answer: Scripted) -> None:
        """Answer every request to (method, path) with ``answer`` once the queue is empty."""
        with self.lock:
            self.defaults[(method.upper(), path)] = answer

    def collection(
        self,
        path: str,
        rows: list[dict[str, Any]],
        *,
        envelope: bool = True,
        max_page_size: int | None = None,
        ignore_paging: bool = False,
    ) -> None:
        """Serve ``rows`` at GET ``path`` with Dinero's page/pageSize semantics."""
        self.collections[path] = (rows, envelope, -1 if ignore_paging else max_page_size)

    def revoke_tokens(self) -> None:
        """Make every access token issued so far invalid (as if expired server-side)."""
        with self.lock:
            self.valid_tokens.clear()

    # -- inspection -----------------------------------------------------------------------------
    def api_requests(self) -> list[Seen]:
        """Requests other than the token endpoints."""
        with self.lock:
            return [s for s in self.seen if not s.path.endswith("/token")]

    def token_requests(self) -> list[Seen]:
        """Requests to the token endpoints."""
        with self.lock:
            return [s for s in self.seen if s.path.endswith("/token")]

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(5)

    # -- server ---------------------------------------------------------------------------------
    def _issue(self) -> str:
        token = f"access-{next(self._counter)}"
        self.valid_tokens.add(token)
        return token

    def _record(self) -> None:
        with self.lock:
            self.seen.append(
                Seen(
                    method=request.method,
                    path=request.path,
                    query=dict(request.args),
                    headers=dict(request.headers),
                    form=dict(request.form)
                    if request.mimetype == "application/x-www-form-urlencoded"
                    else {},
                    body=request.get_data(),
                    ts=time.time(),
                )
            )

    @staticmethod
    def _answer(scripted: Scripted) -> Response:
        if scripted.delay:
            time.sleep(scripted.delay)
        if isinstance(scripted.body, (dict, list)):
            response = jsonify(scripted.body)
        else:
            response = Response(scripted.body or "", content_type=scripted.content_type or "text/plain")
        if scripted.content_type:
            response.content_type = scripted.content_type
        response.status_code = scripted.status
        for key, value in scripted.headers.items():
            response.headers[key] = value
        return response

    def _routes(self) -> None:
        app = self.app

        @app.post("/dineroapi/oauth/token")
        def password_grant() -> Any:
            self._record()
            auth = request.headers.get("Authorization", "")
            expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if auth != expected:
                return jsonify(error="invalid_client"), 401
            form = request.form
            if (
                form.get("grant_type") != "password"
                or form.get("scope") != "read write"
                or form.get("username") != API_KEY
                or form.get("password") != API_KEY
            ):
                return jsonify(error="invalid_grant"), 400
            with self.lock:
                token = self._issue()
            return jsonify(
                access_token=token, token_type="Bearer", expires_in=self.token_expires_in, refresh_token=None
            )

        @app.post("/connect/token")
        def refresh_grant() -> Any:
            self._record()
            form = request.form
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                return jsonify(error="invalid_client"), 401
            with self.lock:
                rt = form.get("refresh_token")
                if form.get("grant_type") != "refresh_token" or rt not in self.valid_refresh_tokens:
                    return jsonify(error="invalid_grant"), 400
                self.valid_refresh_tokens.discard(rt)  # rotation: each refresh token works once
                new_rt = f"rotated-refresh-{next(self._counter)}"
                self.valid_refresh_tokens.add(new_rt)
                token = self._issue()
            return jsonify(
                access_token=token,
                token_type="Bearer",
                expires_in=self.token_expires_in,
                refresh_token=new_rt,
            )

        @app.route("/<path:rest>", methods=["GET", "POST", "PUT", "DELETE"])
        def api(rest: str) -> Any:
            self._record()
            path = "/" + rest
            auth = request.headers.get("Authorization", "")
            with self.lock:
                authorized = auth.startswith("Bearer ") and auth[7:] in self.valid_tokens
                queue = self.queues.get((request.method, path))
                scripted = queue.popleft() if queue else self.defaults.get((request.method, path))
            if not authorized:
                return jsonify(code=41, message="Unauthorized"), 401
            if scripted is not None:
                return self._answer(scripted)
            if request.method == "GET" and path in self.collections:
                rows, envelope, max_size = self.collections[path]
                page = int(request.args.get("page", 0))
                size = int(request.args.get("pageSize", 100))
                if max_size == -1:
                    chunk = rows
                else:
                    size = min(size, max_size or size)
                    chunk = rows[page * size : (page + 1) * size]
                if not envelope:
                    return jsonify(chunk)
                return jsonify(
                    Collection=chunk,
                    Pagination={
                        "MaxPageSizeAllowed": 1000,
                        "PageSize": size,
                        "Result": len(chunk),
                        "ResultWithoutFilter": len(rows),
                        "Page": page,
                    },
                )
            return jsonify(ok=True, method=request.method, path=path)
