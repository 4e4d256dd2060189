"""The one door from target-dinero to Dinero: the shared client, a dry-run guard and the stop switch.

Every request of the target goes through :class:`DineroGateway`, so that
* in ``dry_run`` no write request can leave the process (a write there is a bug and raises),
* a 401/403 (already retried once with a fresh token by the client) stops the whole run at once:
  the switch is shared by the sinks flushing in parallel, so none sends another request; so does the
  client's refusal breaker (Dinero refused ``max_consecutive_refusals`` requests in a row),
* payloads are converted from Decimal to JSON numbers in one place.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from dinero_api.errors import DineroAuthError
from dinero_api.refusals import DineroRefusalsExceeded
from target_dinero.records import json_value

__all__ = ["DineroGateway", "DryRunWriteError", "RunStopped"]


class RunStopped(RuntimeError):
    """Dinero refused our credentials (401/403), or refused request after request: the run stops
    without writing anything more (and without a STATE covering the records not written)."""

    error: BaseException | None = None  # the DineroAuthError / DineroRefusalsExceeded that stopped the run


class DryRunWriteError(RuntimeError):
    """A write was attempted in dry-run mode (a bug: sinks must only plan in dry run)."""


class DineroGateway:
    """Thread-safe access to one organization through :class:`dinero_api.client.DineroClient`."""

    def __init__(self, config: Mapping[str, Any], *, dry_run: bool = False) -> None:
        self._config = dict(config)
        self.dry_run = dry_run
        self._client: Any = None
        self._settings: Any = None
        self._lock = threading.Lock()
        self._stopped: BaseException | None = None
        self._stop_reason: str | None = None

    # -- construction -----------------------------------------------------------------------
    @property
    def settings(self) -> Any:
        """The validated shared settings (built on first use, so --about needs no credentials)."""
        with self._lock:
            if self._settings is None:
                from dinero_api.settings import DineroSettings

                self._settings = DineroSettings.from_config(self._config)
            return self._settings

    @property
    def organization_id(self) -> str:
        """The organization every request goes to."""
        return str(self.settings.organization_id)

    @property
    def client(self) -> Any:
        """The shared :class:`DineroClient` (one per organization, thread-safe)."""
        settings = self.settings
        with self._lock:
            if self._client is None:
                from dinero_api.client import DineroClient

                self._client = DineroClient(settings, organization_id=str(settings.organization_id))
            return self._client

    @property
    def requests_sent(self) -> int | None:
        """Requests the client sent so far (None before the first one)."""
        if self._client is None:
            return None
        stats = getattr(self._client, "stats", None)
        return getattr(stats, "requests", None)

    # -- stop switch ------------------------------------------------------------------------
    def _check(self) -> None:
        if self._stopped is not None:
            if self._stop_reason is None and isinstance(self._stopped, DineroRefusalsExceeded):
                stopped = RunStopped(f"run stopped: {self._stopped}")
            else:
                stopped = RunStopped(
                    self._stop_reason or f"run stopped after an authorization failure: {self._stopped}"
                )
            stopped.error = self._stopped
            raise stopped

    def stop(self, error: BaseException, reason: str) -> RunStopped:
        """Stop the run for every sink (no request is sent after this); returns the error to raise."""
        with self._lock:
            if self._stopped is None:
                self._stopped, self._stop_reason = error, reason
        stopped = RunStopped(reason)
        stopped.error = error
        return stopped

    def excuse_refusal(self, error: BaseException) -> None:
        """``error`` was Dinero's expected answer (e.g. "Guid taken", the object found by a look-up): it
        does not count towards ``max_consecutive_refusals``."""
        if self._client is not None:
            self._client.excuse_refusal(error)

    def _call(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        self._check()
        try:
            return func(*args, **kwargs)
        except DineroRefusalsExceeded as exc:
            with self._lock:
                self._stopped = self._stopped or exc
            stopped = RunStopped(f"run stopped: {exc}")
            stopped.error = exc  # dinero_api.cli quotes it (exit code 7)
            raise stopped from exc
        except DineroAuthError as exc:
            with self._lock:
                self._stopped = self._stopped or exc
            stopped = RunStopped(
                f"Dinero refused the credentials ({exc}); stopping the run so as not to provoke more "
                "401/403 answers (Dinero revokes integrations that do). Check client_id/secret, the API "
                "key or refresh token and that the organization has an active Pro subscription."
            )
            # The sinks drain in joblib workers, which replace __cause__ with a text traceback: keep the
            # error itself so that dinero_api.cli can name the real cause (e.g. an unreachable token host).
            stopped.error = exc
            raise stopped from exc

    # -- reads --------------------------------------------------------------------------------
    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET and decode JSON."""
        return self._call(self.client.get_json, path, params=dict(params or {}))

    # -- writes ---------------------------------------------------------------------------------
    def _guard_write(self, what: str) -> None:
        if self.dry_run:
            raise DryRunWriteError(f"dry run must not send {what}")

    def post(self, path: str, payload: Any, *, retry_safe: bool = False) -> Any:
        """POST a JSON body; returns the decoded answer.

        ``retry_safe``: the body carries a client-chosen Guid, so the client may replay it after a 5xx or
        timeout (a replay cannot create a twin).
        """
        self._guard_write(f"POST {path}")
        return self._call(self.client.post_json, path, json_value(payload), retry_safe=retry_safe)

    def put(self, path: str, payload: Any) -> Any:
        """PUT a JSON body; returns the decoded answer.

        A body with a Timestamp is never replayed by the client: after a late commit the replay's Timestamp
        is stale and Dinero refuses it (a refusal counted against the integration). Its 5xx, timeout or
        reset raises DineroUnknownOutcome; the caller re-reads the object (exactly_once.await_write).
        """
        self._guard_write(f"PUT {path}")
        timestamped = isinstance(payload, dict) and any(str(k).lower() == "timestamp" for k in payload)
        return self._call(self.client.put_json, path, json_value(payload), replayable=not timestamped)

    def delete(self, path: str, payload: Any = None) -> Any:
        """DELETE (with a JSON body such as ``{"Timestamp": ...}``); returns the decoded answer."""
        self._guard_write(f"DELETE {path}")
        return self._call(self.client.delete, path, json_value(payload))

    def upload_file(self, file_name: str, content: bytes, content_type: str) -> Any:
        """POST /files (multipart, ``fileName`` query parameter); returns Dinero's decoded answer.

        A 2xx whose body is not JSON raises :class:`~dinero_api.errors.DineroUnreadableWriteAnswer` (an
        unknown outcome, naming the request); the caller checks the answer holds a FileGuid.
        """
        self._guard_write("POST /files")
        return self._call(
            self.client.post_file,
            "/v1/{org}/files",
            params={"fileName": file_name},
            files={"file": (file_name, content, content_type)},
        )
