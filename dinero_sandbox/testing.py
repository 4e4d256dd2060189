"""Run the sandbox in-process for tests: ``SandboxServer`` starts the Flask app on 127.0.0.1 with a free
port in a background thread (werkzeug's threaded server) and wraps the ``/_sandbox/`` inspection API.

    with SandboxServer(seed_size="demo", quota_requests=5, quota_window=1.0) as sandbox:
        requests.get(f"{sandbox.url}/v1/organizations", headers=...)
        sandbox.stats()["by_status"]
"""

from __future__ import annotations

import json
import threading
import urllib.request
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app
from .behaviours import Behaviours
from .constants import DEFAULT_QUOTA_REQUESTS, DEFAULT_QUOTA_WINDOW
from .state import SandboxState


class _QuietHandler(WSGIRequestHandler):
    """Request handler that does not print one line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class SandboxServer:
    """A sandbox server on a free local port, usable as a context manager."""

    def __init__(
        self,
        seed_size: str = "demo",
        quota_requests: int = DEFAULT_QUOTA_REQUESTS,
        quota_window: float = DEFAULT_QUOTA_WINDOW,
        host: str = "127.0.0.1",
        port: int = 0,
        behaviours: dict[str, str] | None = None,
    ) -> None:
        self.state = SandboxState(
            seed_size, quota_requests, quota_window, Behaviours().update(**(behaviours or {}))
        )
        self.app = create_app(self.state)
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> SandboxServer:
        """Start serving in a daemon thread."""
        if self._server is not None:
            return self
        self._server = make_server(
            self._host, self._port, self.app, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="dinero-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, no trailing slash."""
        if self._server is None:
            raise RuntimeError("sandbox server not started")
        return f"http://{self._host}:{self._server.server_port}"

    @property
    def token_url(self) -> str:
        """The API-key flow token endpoint."""
        return f"{self.url}/dineroapi/oauth/token"

    @property
    def connect_token_url(self) -> str:
        """The Visma Connect token endpoint."""
        return f"{self.url}/connect/token"

    # -- inspection API ---------------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}/_sandbox{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise RuntimeError(f"sandbox {method} {path} -> {exc.code}: {detail}") from None

    def reset(self, seed_size: str = "demo") -> dict[str, Any]:
        """Re-seed and clear log, quota counters and faults."""
        return self._call("POST", "/reset", {"seed_size": seed_size})

    def stats(self) -> dict[str, Any]:
        """``{"in_flight", "total", "by_status", "by_route", "quota"}``; ``in_flight``: not yet answered."""
        return self._call("GET", "/stats")

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """The request log (entries with id > since)."""
        return self._call("GET", f"/requests?since={since}")

    def clear_requests(self) -> None:
        """Forget the request log."""
        self._call("DELETE", "/requests")

    def orgs(self) -> dict[str, dict[str, int]]:
        """Organization ids and the size of each of their collections."""
        return self._call("GET", "/orgs")

    def dump(self, org: str | int, collection: str, fields: list[str] | None = None) -> list[dict[str, Any]]:
        """Every stored object of a collection (deleted and drafts included), optionally only ``fields``."""
        query = f"?fields={','.join(fields)}" if fields else ""
        return self._call("GET", f"/orgs/{org}/{collection}{query}")

    def mutate(
        self,
        org: str | int,
        collection: str,
        action: str = "update",
        guid: str | None = None,
        fields: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create/update/delete/restore an object behind the API's back."""
        return self._call(
            "POST",
            f"/orgs/{org}/mutate",
            {"collection": collection, "action": action, "guid": guid, "fields": fields or {}},
        )

    def set_quota(self, requests: int, window: float) -> dict[str, Any]:
        """Change the quota (and forget past requests)."""
        return self._call("POST", "/quota", {"requests": requests, "window": window})

    def set_token_ttl(self, seconds: float) -> dict[str, Any]:
        """Lifetime of tokens issued from now on."""
        return self._call("POST", "/tokens", {"ttl": seconds})

    def expire_tokens(self) -> dict[str, Any]:
        """Invalidate every access token issued so far."""
        return self._call("POST", "/tokens", {"expire": True})

    def set_fault(
        self,
        mode: str,
        count: int = 1,
        path_contains: str | None = None,
        method: str | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Arm a fault (see ``dinero_sandbox.faults``)."""
        spec = {"mode": mode, "count": count, "path_contains": path_contains, "method": method, **options}
        return self._call("POST", "/faults", spec)

    def faults(self) -> list[dict[str, Any]]:
        """Armed and spent faults."""
        return self._call("GET", "/faults")

    def bodies(self) -> list[dict[str, Any]]:
        """JSON request bodies received, each with the contract operation it was checked against."""
        return self._call("GET", "/bodies")

    def clear_bodies(self) -> None:
        """Forget the request bodies received so far."""
        self._call("DELETE", "/bodies")

    def set_behaviours(self, **values: str) -> dict[str, str]:
        """Switch uncertain facts (dinero_sandbox/behaviours.py) until the next reset."""
        return self._call("POST", "/behaviours", values)

    def behaviours(self) -> dict[str, str]:
        """The current behaviours."""
        return self._call("GET", "/behaviours")["current"]

    def clear_faults(self) -> None:
        """Disarm every fault."""
        self._call("DELETE", "/faults")
