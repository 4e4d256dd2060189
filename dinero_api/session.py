"""``DineroSession``: a ``requests.Session`` whose every ``send()`` obeys Dinero's rules.

Per attempt: get the bearer token -> wait for a quota slot -> send (the slot as late as possible).
Then, by answer:

* 401: forget the token, fetch a new one, retry once; a second 401 raises :class:`DineroAuthError`.
* 403: :class:`DineroAuthError` at once (no access / no Pro subscription, code 90).
* 429: tell the throttle (all processes on the key pause for ``Retry-After``, else a window) and retry;
  not a failure, bounded only by ``max_rate_limit_wait`` seconds of total waiting.
* 5xx, timeouts, connection resets: the client's :class:`~dinero_api.retry.RetryPolicy` (exponential
  backoff, full jitter, ``max_retries`` retries), for GET/HEAD/OPTIONS/PUT/DELETE and for requests marked
  retry-safe. A POST is not replayed: it raises :class:`DineroUnknownOutcome` (Dinero may have created
  the object), except when the request provably never left (connect timeout / refused).
* everything else is returned; callers use :func:`dinero_api.errors.raise_for_response`. Refusals
  (400/405/409/422 ..., see :mod:`dinero_api.refusals`) are counted per endpoint: after
  ``max_consecutive_refusals`` in a row the next request raises
  :class:`~dinero_api.refusals.DineroRefusalsExceeded` instead of being sent.

The session is thread-safe in the way ``requests`` sessions are used by singer-sdk sinks: the
throttle, the token provider and the stats are all locked, and ``send()`` keeps per-call state on
the stack. The throttle sits *inside* every attempt, so retries wait for a quota slot too.
"""

from __future__ import annotations

import email.utils
import logging
import math
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict

from dinero_api.auth import TokenProvider, _never_sent
from dinero_api.errors import (
    DineroAuthError,
    DineroConnectionError,
    DineroRateLimited,
    DineroUnknownOutcome,
    error_for_response,
)
from dinero_api.quota import QuotaThrottle
from dinero_api.refusals import RefusalBreaker
from dinero_api.retry import RetryPolicy
from dinero_api.stats import RequestStats

__all__ = ["IDEMPOTENT_METHODS", "NOT_REPLAYABLE_HEADER", "RETRY_SAFE_HEADER", "DineroSession"]

logger = logging.getLogger(__name__)

#: Set this header (any value) on a request to allow retrying it like a GET even though it is a POST,
#: e.g. a create that carries a client-chosen Guid. The session removes it before sending.
RETRY_SAFE_HEADER = "X-Dinero-Retry-Safe"
#: Set this header (any value) on a PUT or DELETE that must never be replayed: one carrying a Timestamp.
#: A replay after a late commit would send a stale Timestamp, which Dinero refuses (400, code 58) -- and
#: Dinero counts every refused request against the integration. Such a request raises
#: :class:`DineroUnknownOutcome` after a 5xx/timeout/reset instead; the caller re-reads the object.
NOT_REPLAYABLE_HEADER = "X-Dinero-Not-Replayable"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_TRANSPORT_ERRORS = (
    requests.exceptions.ConnectionError,  # includes resets and connect timeouts
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,  # body cut off mid-way (reset while reading)
    requests.exceptions.ContentDecodingError,
    ConnectionResetError,
)


class _Transient(Exception):
    """One attempt failed in a way that may succeed on retry (5xx or transport error)."""

    def __init__(
        self,
        *,
        replayable: bool,
        response: requests.Response | None = None,
        error: BaseException | None = None,
    ) -> None:
        super().__init__(f"HTTP {response.status_code}" if response is not None else type(error).__name__)
        self.replayable = replayable
        self.response = response
        self.error = error


def _path(url: str | None) -> str:
    return urlsplit(url or "").path or "/"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, OverflowError):
            return None
    if math.isnan(seconds):  # no reading at all: the caller waits one window
        return None
    return max(0.0, seconds)  # "inf" stays: the caller bounds every pause (DineroSession.send)


def _still_current(provider: TokenProvider, token: str) -> bool:
    """Whether ``token`` is still the provider's usable token (providers without the check: yes)."""
    check = getattr(provider, "is_current", None)
    return True if check is None else bool(check(token))


def _repeat_429_floor(count: int, throttle: Any) -> float:
    """Least pause after the ``count``-th 429 answered to one request: none after the first (Dinero's
    ``Retry-After`` is honoured), then 1, 2, 4 ... seconds, at most one quota window (plus margin).

    Without this floor a ``Retry-After: 0`` that Dinero (or a proxy) kept sending made the session resend
    the request at once, again and again: ``max_rate_limit_wait`` never filled up, and Dinero saw a 429
    loop as fast as the quota let it -- the hammering that gets an integration revoked.
    """
    if count < 2:
        return 0.0
    window = float(getattr(throttle, "window_seconds", 60.0)) + float(getattr(throttle, "safety_margin", 0.0))
    return min(2.0 ** (count - 2), window)


def _short_text(response: requests.Response) -> str | None:
    """The start of a (small) answer body, for reading Dinero's quota message; never fails."""
    try:
        return response.text[:500]
    except Exception:  # undecodable body: nothing to read
        return None


class DineroSession(requests.Session):
    """requests.Session that throttles, authenticates and retries every request to Dinero.

    Args:
        token_provider: source of bearer tokens (see :mod:`dinero_api.auth`).
        throttle: the shared quota throttle of the organization.
        api_url: base URL; the bearer token is only ever sent to this host.
        stats: counters to update (a new :class:`RequestStats` by default).
        timeout: default timeout (seconds) when the caller gives none.
        retry: when to retry after 5xx/timeouts/resets on replayable requests (its ``on_retry`` hook
            counts them; default: 5 retries from 1 s, counted in ``stats``).
        max_rate_limit_wait: total seconds of 429 pauses tolerated for one request.
        refusals: the refusal breaker (default: trips after 10 refusals of one endpoint in a row).
    """

    def __init__(
        self,
        *,
        token_provider: TokenProvider,
        throttle: QuotaThrottle,
        api_url: str,
        stats: RequestStats | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        max_rate_limit_wait: float = 900.0,
        refusals: RefusalBreaker | None = None,
    ) -> None:
        super().__init__()
        #: Stops the run once Dinero refused one endpoint too often in a row (one per client: process+org).
        self.refusals = refusals or RefusalBreaker(10)
        self.token_provider = token_provider
        self.throttle = throttle
        self.stats = stats or RequestStats()
        self.timeout = timeout
        self.retry = retry or RetryPolicy(5, 1.0, on_retry=lambda _details: self.stats.record_retry())
        self.max_retries = self.retry.max_retries
        self.max_rate_limit_wait = max_rate_limit_wait
        self._api_netloc = urlsplit(api_url).netloc.lower()
        self.headers["User-Agent"] = "dinero-singer (tap-dinero/target-dinero)"
        self.headers["Accept"] = "application/json"
        # Which attempts may be replayed is the session's rule (``replayable``), the timing the policy's.
        self._send_with_backoff = self.retry.on_exception(
            _Transient, giveup=lambda exc: not exc.replayable, on_retry=self._on_backoff
        )(self._attempt)

    # ------------------------------------------------------------------------------------------
    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Send with quota, bearer token and Dinero's retry rules (see module docstring)."""
        method = (request.method or "GET").upper()
        headers = CaseInsensitiveDict(request.headers)
        retry_safe = headers.pop(RETRY_SAFE_HEADER, None) is not None
        not_replayable = headers.pop(NOT_REPLAYABLE_HEADER, None) is not None
        if retry_safe or not_replayable:
            request = request.copy()
            request.headers = headers
        idempotent = (method in IDEMPOTENT_METHODS and not not_replayable) or retry_safe
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        state = {"rate_limit_wait": 0.0, "rate_limited": 0.0}
        if self._is_api_host(request.url):
            self.refusals.check()  # tripped: not one more request to an organization that refuses us
        try:
            return self._send_with_backoff(request, kwargs, idempotent, state)
        except _Transient as failure:
            where = f"{method} {_path(request.url)}"
            if not idempotent and not failure.replayable:
                what = (
                    f"HTTP {failure.response.status_code}"
                    if failure.response is not None
                    else type(failure.error).__name__
                )
                raise DineroUnknownOutcome(
                    f"Dinero API {where}: {what}; the outcome is unknown (Dinero may have stored the "
                    "object). Not retried: look the object up (e.g. by ExternalReference or Guid) before "
                    "sending again.",
                    status_code=failure.response.status_code if failure.response is not None else None,
                    method=method,
                    path=_path(request.url),
                    response=failure.response,
                ) from failure.error
            if failure.response is not None:
                # Retries exhausted on a 5xx: hand back the last answer; raise_for_response quotes it.
                logger.error("Dinero API %s still failing after %d tries", where, self.max_retries + 1)
                return failure.response
            raise DineroConnectionError(
                f"Dinero API {where} failed after {self.max_retries + 1} tries: "
                f"{type(failure.error).__name__} (timeout or connection failure).",
                method=method,
                path=_path(request.url),
            ) from failure.error

    # ------------------------------------------------------------------------------------------
    def _is_api_host(self, url: str | None) -> bool:
        return urlsplit(url or "").netloc.lower() == self._api_netloc

    def _on_backoff(self, details: Any) -> None:
        request = details["args"][0]
        exc = details.get("exception")
        if isinstance(exc, _Transient) and exc.response is not None:
            exc.response.close()
        logger.warning(
            "Dinero API %s %s: %s, retry %d/%d in %.2f s",
            request.method,
            _path(request.url),
            exc,
            details["tries"],
            self.max_retries,
            details["wait"],
        )

    def _attempt(
        self,
        request: requests.PreparedRequest,
        kwargs: dict[str, Any],
        idempotent: bool,
        state: dict[str, float],
    ) -> requests.Response:
        """One logical attempt: token -> quota slot -> send, absorbing 429s and one 401 refresh.

        The slot is taken after the token is in hand, right before sending: a slow token endpoint must not
        hold a counted slot while the request has not left (Dinero would count it late, in the next
        window). If the token went stale while waiting for the slot, the slot is given up unused (never a
        late send) and the token is fetched again first.
        """
        method = (request.method or "GET").upper()
        authenticate = self._is_api_host(request.url)
        refreshed = False
        while True:
            token = self.token_provider.get_token() if authenticate else None
            self.stats.add_quota_wait(self.throttle.acquire())
            if token and not _still_current(self.token_provider, token):
                continue  # the token expired during the quota wait: the slot stays unused
            slot_taken = time.monotonic()
            prepared = request.copy()
            if token:
                prepared.headers["Authorization"] = f"Bearer {token}"
            send_started = time.monotonic()
            try:
                response = super().send(prepared, **kwargs)
            except _TRANSPORT_ERRORS as exc:
                # Lost or cut off: Dinero may have counted the request at any moment until now.
                unanswered = getattr(self.throttle, "record_unanswered", None)
                if unanswered is not None:
                    unanswered(time.monotonic() - slot_taken)
                self.stats.record_response(method, "error")
                raise _Transient(replayable=idempotent or _never_sent(exc), error=exc) from exc
            # From slot to answer headers (``elapsed`` starts at the send): an upper bound of the delay
            # before Dinero counted the request; the throttle widens its window to cover it.
            self.throttle.record_send_delay(send_started - slot_taken + response.elapsed.total_seconds())
            status = response.status_code
            self.stats.record_response(method, status)

            if status == 401 and token:
                if refreshed:
                    raise error_for_response(
                        response,
                        cls=DineroAuthError,
                        hint="Dinero refused a freshly issued token: check that the credentials belong to "
                        "this organization and that its subscription allows API access",
                    )
                response.close()
                self.token_provider.invalidate(token)
                self.stats.record_token_refresh()
                refreshed = True
                continue
            if status == 403:
                raise error_for_response(
                    response,
                    cls=DineroAuthError,
                    hint="Access denied: the organization may lack a Pro subscription (code 90) or the "
                    "credentials may not grant it",
                )
            if status == 429:
                state["rate_limited"] += 1
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if retry_after is not None:
                    # A Retry-After that did not work (a second 429 for the same request) is not trusted
                    # again: each further 429 pauses at least twice as long, up to one window, so a
                    # "Retry-After: 0" (or 1) that keeps coming is never a 429 loop at full speed.
                    floor = _repeat_429_floor(int(state["rate_limited"]), self.throttle)
                    retry_after = max(retry_after, floor)
                    # The pause is shared by every process and later run on the quota key (its store):
                    # a Retry-After of hours or years (a proxy's) would block them all long after this
                    # request gave up. Never longer than one request may wait in total.
                    retry_after = min(retry_after, self.max_rate_limit_wait)
                pause = self.throttle.report_rate_limited(retry_after, _short_text(response))
                state["rate_limit_wait"] += pause
                if state["rate_limit_wait"] > self.max_rate_limit_wait:
                    raise error_for_response(
                        response,
                        cls=DineroRateLimited,
                        hint=f"Gave up after waiting {state['rate_limit_wait']:.0f} s for the quota "
                        "(max_rate_limit_wait_seconds); lower quota_requests if other clients share it",
                    )
                response.close()
                continue
            if status >= 500:
                raise _Transient(replayable=idempotent, response=response)
            if authenticate:
                self.refusals.record(response, method, _path(request.url))
            return response
