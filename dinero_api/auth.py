"""Access tokens for Dinero: API-key password grant and Visma Connect refresh-token grant.

Both flows end in ``Authorization: Bearer <token>`` (REFERENCE §1). Tokens last about an hour and are
cached in-process (thread-safe) and re-acquired 60 s before they expire. Token requests go through a
plain ``requests.Session`` of their own: they do not pass the quota throttle (Dinero does not count
them).

Visma Connect refresh tokens rotate: each refresh answers a new refresh token and the old one stops
working. The new one is kept in memory and, when ``token_file`` is configured, written to that file
(JSON, mode 0600, atomic replace) under a file lock together with the current access token, so that a
tap and a target running at the same time share one access token instead of racing to spend the same
refresh token. A refresh token read from an existing ``token_file`` wins over the configured one.
A refresh whose answer was lost (timeout, reset) is never replayed with the same refresh token: the
identity provider may already have rotated it, and replaying a used refresh token can revoke the
whole grant.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests
from filelock import FileLock
from urllib3.exceptions import NewConnectionError

from dinero_api.errors import DineroAuthError, DineroTokenFileError, error_for_response, register_secret
from dinero_api.retry import RetryPolicy
from dinero_api.settings import DineroSettings

__all__ = [
    "ApiKeyTokenProvider",
    "RefreshTokenProvider",
    "TokenProvider",
    "token_provider_for",
]

logger = logging.getLogger(__name__)

#: Re-acquire a token this many seconds before it expires (REFERENCE §1.1, §1.3).
EARLY_REFRESH_SECONDS = 60.0
_DEFAULT_EXPIRES_IN = 3600.0
_USER_AGENT = "dinero-singer (tap-dinero/target-dinero)"


@dataclass(frozen=True)
class AccessToken:
    """An access token and the wall-clock time (epoch seconds) it expires."""

    value: str = field(repr=False)
    expires_at: float
    lifetime: float = _DEFAULT_EXPIRES_IN

    def usable(self, now: float | None = None) -> bool:
        """True while more than 60 s (or half the lifetime, if shorter) are left."""
        now = time.time() if now is None else now
        return self.expires_at - now > min(EARLY_REFRESH_SECONDS, self.lifetime / 2)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> AccessToken:
        """Build from an OAuth token response (``expires_in`` defaults to one hour)."""
        try:
            lifetime = float(payload.get("expires_in") or _DEFAULT_EXPIRES_IN)
        except (TypeError, ValueError):
            lifetime = _DEFAULT_EXPIRES_IN
        return cls(payload["access_token"], time.time() + lifetime, lifetime)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _never_sent(exc: BaseException) -> bool:
    """True when the request provably never reached the server (so replaying it is harmless)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


class TokenProvider(ABC):
    """Hands out a valid bearer token (cached, thread-safe); ``invalidate`` after a 401."""

    def __init__(self, settings: DineroSettings, *, http: requests.Session | None = None) -> None:
        self.settings = settings
        self._http = http or requests.Session()
        self._http.headers["User-Agent"] = _USER_AGENT
        self._lock = threading.RLock()
        self._token: AccessToken | None = None
        self._rejected: set[str] = set()  # digests of access tokens Dinero answered 401 to
        self.grants = 0  # token requests made (for tests and stats)

    def get_token(self) -> str:
        """A bearer token that is valid for at least the next minute."""
        with self._lock:
            if self._token is None or not self._token.usable():
                self._token = self._obtain()
                register_secret(self._token.value)
            return self._token.value

    def is_current(self, token: str) -> bool:
        """Whether ``token`` is still the cached, usable token (checked after a quota wait)."""
        with self._lock:
            return self._token is not None and self._token.value == token and self._token.usable()

    def invalidate(self, token: str) -> None:
        """Forget ``token`` (Dinero refused it); the next :meth:`get_token` fetches a new one."""
        with self._lock:
            self._rejected.add(_digest(token))
            if self._token is not None and self._token.value == token:
                self._token = None

    @abstractmethod
    def _obtain(self) -> AccessToken:
        """Get a fresh access token from the token endpoint (or a shared cache)."""

    # ------------------------------------------------------------------------------------------
    def _post(self, data: dict[str, str], *, auth: tuple[str, str] | None) -> requests.Response:
        self.grants += 1
        return self._http.post(
            self.settings.token_url,
            data=data,
            auth=auth,
            headers={"Accept": "application/json"},
            timeout=self.settings.request_timeout,
        )

    def _token_from(self, response: requests.Response, hint: str) -> dict[str, Any]:
        status = response.status_code
        if status == 429 or status >= 500:
            # The token endpoint is down or busy: no verdict on the credentials, so no credentials hint
            # (DineroServerError / DineroRateLimited, not DineroAuthError, which stops runs as "refused").
            raise error_for_response(
                response,
                hint=f"The token endpoint {self.settings.token_url} is failing or busy; this is not a "
                "refusal of the credentials. Run again later.",
            )
        if status != 200:
            raise error_for_response(response, cls=DineroAuthError, hint=hint)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("access_token"), str):
            raise DineroAuthError(
                f"Token endpoint {self.settings.token_url} answered HTTP 200 without an access_token.",
                status_code=200,
                method="POST",
            )
        return payload


class ApiKeyTokenProvider(TokenProvider):
    """Personal-integration flow: password grant with the organization's API key (REFERENCE §1.1)."""

    def _obtain(self) -> AccessToken:
        settings = self.settings
        assert settings.api_key is not None

        retry = RetryPolicy.from_settings(settings)

        # The password grant creates nothing: replayed after a transport error or a 5xx answer.
        @retry.on_exception(requests.exceptions.RequestException, logger=logger)
        @retry.on_predicate(lambda r: r.status_code >= 500, logger=logger)
        def grant() -> requests.Response:
            return self._post(
                {
                    "grant_type": "password",
                    "scope": "read write",
                    "username": settings.api_key or "",
                    "password": settings.api_key or "",
                },
                auth=(settings.client_id, settings.client_secret),
            )

        try:
            response = grant()
        except requests.exceptions.RequestException as exc:
            raise DineroAuthError(
                f"Token request to {settings.token_url} failed: {type(exc).__name__}", method="POST"
            ) from None
        payload = self._token_from(
            response,
            hint="Check client_id/client_secret (invalid_client) and api_key (invalid_grant): the API key "
            "must belong to the organization and the client must be a Dinero API client.",
        )
        return AccessToken.from_payload(payload)


class RefreshTokenProvider(TokenProvider):
    """Visma Connect flow: refresh-token grant with rotation kept in memory and in ``token_file``."""

    def __init__(self, settings: DineroSettings, *, http: requests.Session | None = None) -> None:
        super().__init__(settings, http=http)
        assert settings.refresh_token is not None
        self._refresh_token: str = settings.refresh_token
        self.token_file: Path | None = settings.token_file
        if self.token_file is None:
            logger.warning(
                "refresh_token is used without token_file: the rotated refresh token is kept in memory "
                "only and the configured one may be spent after this run. Set token_file to keep it."
            )

    @property
    def current_refresh_token(self) -> str:
        """The refresh token that the next refresh would spend (for tests; never log it)."""
        with self._lock:
            return self._refresh_token

    def _obtain(self) -> AccessToken:
        if self.token_file is None:
            return self._refresh()
        try:
            self.token_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise self._cannot_keep(exc) from None
        lock = FileLock(str(self.token_file) + ".lock")
        try:
            lock.acquire()
        except OSError as exc:  # a read-only directory refuses the lock file too
            raise self._cannot_keep(exc) from None
        try:
            return self._obtain_locked()
        finally:
            lock.release()

    def _obtain_locked(self) -> AccessToken:
        """The token file's access token if still usable, else a refresh whose successor is kept."""
        assert self.token_file is not None
        state = self._read_file()
        if state is not None:
            stored_refresh = state.get("refresh_token")
            if isinstance(stored_refresh, str) and stored_refresh:
                self._refresh_token = stored_refresh
                register_secret(stored_refresh)
            access = state.get("access_token")
            expires_at = state.get("expires_at")
            if isinstance(access, str) and isinstance(expires_at, (int, float)):
                token = AccessToken(access, float(expires_at))
                if token.usable() and _digest(access) not in self._rejected:
                    return token  # another process (or an earlier run) already refreshed
        # Spend the refresh token only when its successor can be kept: prove the file's directory
        # takes a new file (written, synced, renamed) first.
        try:
            _probe_writable(self.token_file)
        except OSError as exc:
            raise self._cannot_keep(exc) from None
        token = self._refresh()
        self._write_file(token)
        return token

    def _cannot_keep(self, exc: OSError) -> DineroTokenFileError:
        return DineroTokenFileError(
            f"token_file {self.token_file} cannot be written ({_os_reason(exc)}), so the rotated refresh "
            "token could not be kept: the refresh token was NOT spent. Make the file and its directory "
            "writable (or point token_file elsewhere) and run again.",
            method="POST",
        )

    def _refresh(self) -> AccessToken:
        settings = self.settings
        data = {
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token,
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
        }

        @RetryPolicy.from_settings(settings).on_exception(
            requests.exceptions.RequestException, giveup=lambda exc: not _never_sent(exc), logger=logger
        )
        def grant() -> requests.Response:
            return self._post(data, auth=None)

        try:
            response = grant()
        except requests.exceptions.RequestException as exc:
            raise DineroAuthError(
                f"Refresh-token request to {settings.token_url} failed ({type(exc).__name__}); its outcome "
                "is unknown, so the refresh token was not replayed (it may already have been rotated). Run "
                "again; if Visma Connect then answers invalid_grant, re-authorize to get a new refresh "
                "token.",
                method="POST",
            ) from None
        payload = self._token_from(
            response,
            hint="invalid_grant means the refresh token expired, was revoked or was already used (refresh "
            "tokens rotate: set token_file so the newest one is kept); re-authorize to get a new one. "
            "invalid_client means client_id/client_secret are wrong.",
        )
        new_refresh = payload.get("refresh_token")
        if isinstance(new_refresh, str) and new_refresh:
            register_secret(new_refresh)
            self._refresh_token = new_refresh
        return AccessToken.from_payload(payload)

    # ------------------------------------------------------------------------------------------
    def _read_file(self) -> dict[str, Any] | None:
        assert self.token_file is not None
        try:
            text = self.token_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise DineroAuthError(f"Cannot read token_file {self.token_file}: {exc.strerror}") from None
        try:
            state = json.loads(text)
        except ValueError:
            logger.warning("token_file %s is not valid JSON; ignoring it", self.token_file)
            return None
        if not isinstance(state, dict):
            return None
        if state.get("client_id") not in (None, self.settings.client_id):
            logger.warning("token_file %s belongs to another client_id; ignoring it", self.token_file)
            return None
        return state

    def _write_file(self, token: AccessToken) -> None:
        """Keep the rotated refresh token: atomic replace of ``token_file`` (temp file, fsync, rename,
        directory fsync). If that fails the refresh token is already spent: rescue the successor to a
        private file elsewhere and stop the run at once, saying where it is (never printing it)."""
        assert self.token_file is not None
        state = {
            "client_id": self.settings.client_id,
            "token_url": self.settings.token_url,
            "refresh_token": self._refresh_token,
            "access_token": token.value,
            "expires_at": token.expires_at,
            "updated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        try:
            _write_atomic(self.token_file, state)
            return
        except OSError as exc:
            failure = exc
        rescued = _rescue(state, self.token_file)
        if rescued is not None:
            recovery = (
                f"The new refresh token was saved to {rescued} (mode 0600): move that file to "
                f"{self.token_file} (or copy its refresh_token into the refresh_token setting) before the "
                "next run."
            )
        else:
            recovery = (
                "It could not be saved anywhere else either: re-authorize with Visma Connect to get a new "
                "refresh token."
            )
        raise DineroTokenFileError(
            "The refresh token was spent but its successor could not be written to token_file "
            f"{self.token_file} ({_os_reason(failure)}). {recovery} Stopped so that nothing later "
            "depends on an out-of-date token file.",
            method="POST",
        )


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _fsync_dir(directory: Path) -> None:
    """fsync a directory so a rename in it survives a crash (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF):  # file systems that cannot sync directories
            raise
    finally:
        os.close(fd)


def _write_atomic(path: Path, state: dict[str, Any]) -> None:
    """Write JSON to ``path`` atomically and durably (mode 0600); raises OSError, leaving no temp file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _probe_writable(path: Path) -> None:
    """Raise OSError unless a file next to ``path`` can be created, synced, renamed and removed, and
    ``path`` itself (when it exists) is readable: what keeping a rotated refresh token needs."""
    probe = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.probe")
    target = probe.with_suffix(".probe2")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("{}")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(probe, target)
    finally:
        for leftover in (probe, target):
            with contextlib.suppress(OSError):
                leftover.unlink()
    if path.exists() and not os.access(path, os.R_OK):
        raise PermissionError(errno.EACCES, "token_file is not readable")


def _rescue(state: dict[str, Any], token_file: Path) -> Path | None:
    """Save the state to a private file outside ``token_file``'s directory; its path, or None."""
    name = f"dinero-token-rescued-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}.json"
    xdg = os.environ.get("XDG_CACHE_HOME")
    candidates = [
        Path(xdg) / "dinero-singer" if xdg else Path("~/.cache/dinero-singer").expanduser(),
        Path.home(),
        Path(tempfile.gettempdir()),
    ]
    for directory in candidates:
        if directory.resolve() == token_file.parent.resolve():
            continue
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            _write_atomic(directory / name, state)
            return directory / name
        except OSError:
            continue
    return None


_REGISTRY: dict[tuple[Any, ...], TokenProvider] = {}
_REGISTRY_LOCK = threading.Lock()


def token_provider_for(settings: DineroSettings) -> TokenProvider:
    """The process-wide token provider for these credentials (one refresh chain per credential)."""
    credential = settings.api_key or settings.refresh_token or ""
    key = (
        os.getpid(),
        settings.auth_flow,
        settings.token_url,
        settings.client_id,
        _digest(f"{settings.client_secret}\0{credential}"),
        str(settings.token_file) if settings.token_file else None,
    )
    with _REGISTRY_LOCK:
        provider = _REGISTRY.get(key)
        if provider is None:
            provider = (
                ApiKeyTokenProvider(settings)
                if settings.auth_flow == "api_key"
                else RefreshTokenProvider(settings)
            )
            _REGISTRY[key] = provider
        return provider


def forget_cached_tokens() -> None:
    """Drop every process-wide token provider, so the next request asks the token endpoint again.

    For hosts that outlive a credential change (and for tests whose server revoked every token).
    """
    with _REGISTRY_LOCK:
        _REGISTRY.clear()
