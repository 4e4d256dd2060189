"""The sandbox in its own process (so its CPU and memory are apart from the measured one) and its
``/_sandbox/`` inspection API."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.common import CHILD_ENV

__all__ = ["SandboxProcess"]

SANDBOX_CLI = Path(sys.executable).with_name("dinero-sandbox")


class SandboxProcess:
    """``dinero-sandbox --port 0`` in a subprocess; a context manager that stops it on exit."""

    def __init__(self, seed_size: str = "demo", quota: int = 1_000_000, window: float = 60.0) -> None:
        self.seed_size = seed_size
        self.quota = quota
        self.window = window
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> SandboxProcess:
        command = [str(SANDBOX_CLI)] if SANDBOX_CLI.exists() else [sys.executable, "-m", "dinero_sandbox.cli"]
        command += ["--port", "0", "--seed-size", self.seed_size]
        command += ["--quota", str(self.quota), "--window", str(self.window)]
        self._proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**CHILD_ENV, "PYTHONUNBUFFERED": "1"},
        )
        assert self._proc.stdout is not None
        first = self._proc.stdout.readline()
        match = re.search(r"listening on (http://\S+)", first)
        if not match:
            self.stop()
            raise RuntimeError(f"dinero-sandbox did not start: {first!r}")
        self.url = match.group(1)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Terminate the sandbox process."""
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    # -- inspection API ---------------------------------------------------------------------
    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One ``/_sandbox`` call; returns the decoded JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/_sandbox{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"sandbox {method} {path}: {exc.code} {exc.read()[:300]!r}") from None

    def reset(self, seed_size: str) -> float:
        """Re-seed (clears log, quota counters, faults); returns the seconds the seed took."""
        answer = self.call("POST", "/reset", {"seed_size": seed_size})
        self.seed_size = seed_size
        return float(answer.get("seed_seconds", 0.0))

    def set_quota(self, requests: int, window: float) -> None:
        """Change the sandbox quota (and forget past requests)."""
        self.call("POST", "/quota", {"requests": requests, "window": window})

    def clear_log(self) -> None:
        """Forget the request log."""
        self.call("DELETE", "/requests")

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """Logged requests with id > since."""
        return self.call("GET", f"/requests?since={since}")

    def api_requests(self, since: int = 0) -> list[dict[str, Any]]:
        """Logged requests to the Dinero API (token endpoints left out: they are not quota-counted)."""
        return [r for r in self.requests(since) if str(r.get("path", "")).startswith("/v")]

    def stats(self) -> dict[str, Any]:
        """Totals by status and route."""
        return self.call("GET", "/stats")

    def dump(self, org: str, collection: str) -> list[dict[str, Any]]:
        """Every stored object of a collection."""
        return self.call("GET", f"/orgs/{org}/{collection}")

    def mutate(self, org: str, collection: str, action: str, guid: str, fields: dict[str, Any]) -> Any:
        """Change one object behind the API's back (bumps UpdatedAt)."""
        body = {"collection": collection, "action": action, "guid": guid, "fields": fields}
        return self.call("POST", f"/orgs/{org}/mutate", body)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the inspection API answers."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.stats()
                return
            except (OSError, RuntimeError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
