"""``DineroClient``: one organization's view of the Dinero API, shared by the tap and the target.

It owns a :class:`~dinero_api.session.DineroSession` (quota, token, retries), substitutes ``{org}``
in relative paths, raises :class:`~dinero_api.errors.DineroAPIError` for non-2xx answers and decodes
JSON; list endpoints are paged with :func:`dinero_api.envelope.iter_pages` over
:meth:`DineroClient.get_json`. Thread-safe: create one per organization and share it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import requests

from dinero_api.auth import TokenProvider, token_provider_for
from dinero_api.envelope import decode_json
from dinero_api.errors import (
    DineroConfigError,
    DineroMalformedResponse,
    DineroUnreadableWriteAnswer,
    raise_for_response,
)
from dinero_api.logs import AnnouncedThrottle
from dinero_api.quota import QuotaThrottle, get_throttle
from dinero_api.refusals import RefusalBreaker
from dinero_api.retry import RetryPolicy
from dinero_api.session import NOT_REPLAYABLE_HEADER, RETRY_SAFE_HEADER, DineroSession
from dinero_api.settings import DineroSettings
from dinero_api.stats import RequestStats

__all__ = ["DineroClient"]

logger = logging.getLogger(__name__)


class DineroClient:
    """Client for one Dinero organization.

    Args:
        settings: validated :class:`DineroSettings`.
        organization_id: the organization (digits); defaults to ``settings.organization_id``. May be
            None only for organization-free routes such as ``/v1/organizations``.
        token_provider, throttle: override the process-wide shared ones (tests).
    """

    def __init__(
        self,
        settings: DineroSettings,
        organization_id: str | int | None = None,
        *,
        token_provider: TokenProvider | None = None,
        throttle: QuotaThrottle | None = None,
    ) -> None:
        org = organization_id if organization_id is not None else settings.organization_id
        if org is not None:
            org = str(org).strip()
            if not org.isdigit():
                raise DineroConfigError(f'organization_id must be digits only, e.g. "100000" (got {org!r}).')
        self.settings = settings
        self.organization_id: str | None = org
        self.stats = RequestStats()
        #: Retry timing of every request of this client (each retry counted in ``stats``).
        self.retry = RetryPolicy.from_settings(settings, on_retry=lambda _details: self.stats.record_retry())
        self.throttle = throttle or get_throttle(
            settings.client_id,
            org,
            requests=settings.quota_requests,
            window_seconds=settings.quota_window_seconds,
            backend=settings.quota_backend,
            api_host=settings.api_host,
            outage_seconds=settings.quota_backend_outage_seconds,
        )
        self.session = DineroSession(
            token_provider=token_provider or token_provider_for(settings),
            throttle=AnnouncedThrottle(self.throttle),  # logs a wait longer than a few seconds
            api_url=settings.api_url,
            stats=self.stats,
            timeout=settings.request_timeout,
            retry=self.retry,
            max_rate_limit_wait=settings.max_rate_limit_wait_seconds,
            refusals=RefusalBreaker(settings.max_consecutive_refusals),
        )

    def excuse_refusal(self, error: BaseException) -> None:
        """``error`` (a refusal) turned out to be an expected answer: do not count it towards
        ``max_consecutive_refusals`` (see :mod:`dinero_api.refusals`)."""
        self.session.refusals.excuse(getattr(error, "method", None), getattr(error, "path", None))

    def __repr__(self) -> str:
        return f"DineroClient(org={self.organization_id!r}, api_url={self.settings.api_url!r})"

    def __enter__(self) -> DineroClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections (the shared throttle and token cache stay)."""
        self.session.close()

    # ------------------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        """Absolute URL for ``path`` (``{org}`` / ``{organizationId}`` replaced by the organization id)."""
        if path.startswith(("http://", "https://")):
            return path
        if "{org}" in path or "{organizationId}" in path:
            if self.organization_id is None:
                raise DineroConfigError(f"{path} needs an organization: set organization_id.")
            path = path.replace("{org}", self.organization_id).replace(
                "{organizationId}", self.organization_id
            )
        return f"{self.settings.api_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        files: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        retry_safe: bool = False,
        replayable: bool = True,
        timeout: float | None = None,
    ) -> requests.Response:
        """Send one request and return the 2xx response; raise :class:`DineroAPIError` otherwise.

        ``retry_safe=True`` lets a POST be retried after 5xx/timeouts like a GET (only when replaying it
        cannot create a duplicate, e.g. it carries a client-chosen Guid). ``replayable=False`` keeps a PUT
        or DELETE from being replayed (one carrying a Timestamp: a replay after a late commit is refused).
        """
        all_headers = dict(headers or {})
        if retry_safe:
            all_headers[RETRY_SAFE_HEADER] = "1"
        if not replayable:
            all_headers[NOT_REPLAYABLE_HEADER] = "1"
        response = self.session.request(
            method.upper(),
            self.url(path),
            params=dict(params) if params else None,
            json=json,
            files=files,
            data=data,
            headers=all_headers or None,
            timeout=timeout,
        )
        raise_for_response(response)
        return response

    @staticmethod
    def decode(response: requests.Response) -> Any:
        """JSON body of ``response`` (money as Decimal, see :mod:`dinero_api.envelope`); None when empty."""
        if not response.content or not response.content.strip():
            return None
        try:
            return decode_json(response.content)
        except ValueError:
            raise DineroMalformedResponse.for_response(response) from None

    @staticmethod
    def decode_write(response: requests.Response) -> Any:
        """JSON body of a write's 2xx answer; a body that is not JSON is an *unknown outcome*.

        Dinero may have stored the object (it answered 2xx), but the answer does not say what it stored:
        :class:`DineroUnreadableWriteAnswer` (a :class:`DineroUnknownOutcome`) tells the caller to look
        the object up before writing again -- never to treat it as a refusal.
        """
        try:
            return DineroClient.decode(response)
        except DineroMalformedResponse as exc:
            raise DineroUnreadableWriteAnswer(
                f"{exc} The write may have been stored: the outcome is unknown; look the object up "
                "before sending it again.",
                status_code=exc.status_code,
                method=exc.method,
                path=exc.path,
                response=response,
            ) from None

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET and decode JSON.

        A 2xx whose body is not JSON (an outage page, a truncated body) is fetched again with the same
        backoff and ``max_retries`` as a 5xx: a GET can be repeated safely.
        """
        return self._get_with_retry(path, dict(params) if params else None)

    def _get_with_retry(self, path: str, params: dict[str, Any] | None) -> Any:
        @self.retry.on_exception(DineroMalformedResponse, logger=logger)
        def fetch() -> Any:
            return self.decode(self.request("GET", path, params=params))

        return fetch()

    def post_json(
        self,
        path: str,
        json: Any = None,
        *,
        retry_safe: bool = False,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """POST a JSON body and decode the answer (None when empty). Not retried unless ``retry_safe``.

        A 2xx whose body is not JSON raises :class:`DineroUnreadableWriteAnswer` (outcome unknown).
        """
        return self.decode_write(self.request("POST", path, json=json, params=params, retry_safe=retry_safe))

    def post_file(self, path: str, *, files: Any, params: Mapping[str, Any] | None = None) -> Any:
        """POST a multipart body (an upload) and decode the answer; unreadable 2xx = outcome unknown."""
        return self.decode_write(self.request("POST", path, params=params, files=files))

    def put_json(
        self,
        path: str,
        json: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        replayable: bool = True,
    ) -> Any:
        """PUT a JSON body (full replacement in Dinero) and decode the answer.

        ``replayable=False`` (a body with a Timestamp): a 5xx/timeout/reset raises DineroUnknownOutcome.
        """
        return self.decode_write(self.request("PUT", path, json=json, params=params, replayable=replayable))

    def delete(self, path: str, json: Any = None, *, params: Mapping[str, Any] | None = None) -> Any:
        """DELETE (with an optional JSON body such as ``{"Timestamp": ...}``) and decode the answer."""
        return self.decode_write(self.request("DELETE", path, json=json, params=params))
