"""The refusal breaker: stop a run that Dinero refuses request after request, instead of hammering it.

Dinero revokes integrations that provoke many 4xx answers. A 401 (after one token refresh) and a 403
already stop a run in :mod:`dinero_api.session`; this module stops the other kind of refusal when it
repeats: 400/405/409/422 and every other 4xx that says "Dinero will not do this" -- e.g. 500 records
that all pass local validation but all name an account deleted in Dinero since, a field Dinero
checks and we do not, or a rule Dinero changed. Each would otherwise cost one 400.

What counts (:func:`is_refusal`): any 4xx answer except

* 401 and 403 (they stop the run on their own),
* 404 and Dinero's "item is deleted" codes 63/65 (:data:`~dinero_api.errors.GONE_CODES`): a look-up's
  answer ("not there"), not a refused request,
* 429 (the quota, waited out by the session).

Refusals are counted per client -- one process and one organization -- and per *endpoint* (method and
path with the ids masked, e.g. ``POST /v1/*/vouchers/manuel``): a success on an endpoint resets its
count. Per endpoint, because a run that reads a contact (200) before each refused invoice create, or
uploads a file before each refused voucher, must still be seen refusing. When one endpoint has been
refused ``limit`` times in a row (``max_consecutive_refusals``), the breaker trips and the client sends
**no further request**: the next one raises :class:`DineroRefusalsExceeded` (one line naming the last
refusal and the count; the CLI adds the fix of exit code 7) without leaving the process. The request
that made the count is answered normally (its caller rejects its record with Dinero's reason), so
exactly ``limit`` refusals reach Dinero.

Refusals spread over *several* endpoints are counted as well: ``limit`` refusals in a row, whatever their
endpoints, with no write (POST/PUT/DELETE) accepted in between also trip the breaker. Per endpoint only,
a run whose every write Dinero refused -- contacts, products, invoices, vouchers, each refused for the same
reason (an organization that lost its chart of accounts, a rule Dinero changed) -- could send ``limit``
refusals to each of a dozen endpoints before stopping. A read's success does not reset this count (a
target looks objects up before each write); an accepted write does (Dinero takes our writes, so the
refusals are about records, which the per-endpoint count still watches).

A caller that learns a refusal was an expected answer -- the exactly-once protocol's "Guid taken",
followed by a look-up that finds the object -- calls :meth:`RefusalBreaker.excuse`, so a journal-less
re-run of objects Dinero already holds never trips the breaker.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import requests

from dinero_api.errors import GONE_CODES, DineroAPIError, parse_error_body

__all__ = ["DineroRefusalsExceeded", "RefusalBreaker", "endpoint_of", "is_refusal"]

#: 4xx answers that are not refusals of the request (see the module docstring).
NOT_REFUSALS = frozenset({401, 403, 404, 429})
#: Methods whose success does not reset the count across endpoints (see the module docstring).
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
#: ``_tripped`` value when refusals spread over several endpoints tripped the breaker.
_SPREAD = "\0spread"
_ID_SEGMENT = re.compile(r"^(?:[0-9]+|[0-9a-fA-F]{8}-[0-9a-fA-F-]{27,}|[0-9a-fA-F]{32})$")


class DineroRefusalsExceeded(DineroAPIError):
    """Dinero refused ``max_consecutive_refusals`` requests in a row: the run stops before sending more.

    ``status_code`` is None (no request was sent for it), so a target never takes it for a refusal of the
    record at hand; ``count`` and the last refusal's ``code``/``method``/``path`` are kept.
    """

    count: int = 0


def is_refusal(status: int, code: int | None) -> bool:
    """Whether an answer is a refusal the breaker counts (any 4xx but 401/403/404/429 and "deleted")."""
    return 400 <= status < 500 and status not in NOT_REFUSALS and code not in GONE_CODES


def endpoint_of(method: str, path: str) -> str:
    """``METHOD /path`` with numeric and Guid segments masked (``POST /v1/*/invoices/*/book``)."""
    parts = ["*" if _ID_SEGMENT.match(part) else part for part in path.split("/")]
    return f"{method.upper()} {'/'.join(parts)}"


@dataclass
class _Last:
    """The last refusal of an endpoint, as quoted in the stop line."""

    status: int
    code: int | None
    method: str
    path: str
    said: str


class RefusalBreaker:
    """Counts Dinero's refusals per endpoint; trips at ``limit`` in a row (thread-safe).

    Args:
        limit: refusals of one endpoint in a row, with no success there in between, that stop the run
            (``max_consecutive_refusals``).
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(1, int(limit))
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._last: dict[str, _Last] = {}
        self._tripped: str | None = None
        #: Refusals in a row across every endpoint with no accepted write in between.
        self._spread = 0
        self._spread_endpoints: list[str] = []

    @property
    def tripped(self) -> bool:
        """Whether no further request may be sent."""
        return self._tripped is not None

    def check(self) -> None:
        """Raise :class:`DineroRefusalsExceeded` when the breaker has tripped (called before each send)."""
        with self._lock:
            endpoint = self._tripped
            if endpoint is None:
                return
            if endpoint == _SPREAD:
                count, last = self._spread, self._last[self._spread_endpoints[-1]]
                where = f"{len(self._spread_endpoints)} endpoints ({', '.join(self._spread_endpoints[:4])}"
                where += ", ...)" if len(self._spread_endpoints) > 4 else ")"
                success = "with no write accepted in between"
            else:
                count, last = self._counts.get(endpoint, self.limit), self._last[endpoint]
                where, success = endpoint, "with no success in between"
        code = f"Dinero error code {last.code}: " if last.code is not None else ""
        error = DineroRefusalsExceeded(
            f"Dinero refused {count} requests in a row to {where} {success} "
            f"(max_consecutive_refusals is {self.limit}); the last: {last.method} {last.path} answered "
            f"HTTP {last.status}: {code}{last.said}. Stopped before sending more (Dinero revokes "
            "integrations that provoke many refusals)",
            method=last.method,
            path=last.path,
            code=last.code,
        )
        error.count = count
        raise error

    def record(self, response: requests.Response, method: str, path: str) -> None:
        """Note one answer: a refusal counts against its endpoint, a 2xx resets the endpoint's count."""
        status = response.status_code
        endpoint = endpoint_of(method, path)
        if 200 <= status < 300:
            with self._lock:
                self._counts.pop(endpoint, None)
                if method.upper() not in _READS:
                    self._spread = 0
                    self._spread_endpoints = []
            return
        if not 400 <= status < 500 or status in NOT_REFUSALS:
            return
        details = parse_error_body(response)
        if not is_refusal(status, details.code):
            return
        said = details.describe()
        if details.code is not None and said.startswith(f"Dinero error code {details.code}"):
            said = said[len(f"Dinero error code {details.code}") :].lstrip()
        with self._lock:
            self._counts[endpoint] = self._counts.get(endpoint, 0) + 1
            self._last[endpoint] = _Last(status, details.code, method.upper(), path, said or "no error body")
            self._spread += 1
            if endpoint in self._spread_endpoints:
                self._spread_endpoints.remove(endpoint)
            self._spread_endpoints.append(endpoint)  # the last refused endpoint last
            if self._counts[endpoint] >= self.limit and self._tripped is None:
                self._tripped = endpoint
            elif self._spread >= self.limit and self._tripped is None:
                self._tripped = _SPREAD

    def excuse(self, method: str | None, path: str | None) -> None:
        """Un-count the last refusal of ``METHOD path``: it turned out to be an expected answer (e.g.
        "Guid taken", and a look-up found the object). Un-trips the breaker when that was its cause."""
        if not method or not path:
            return
        endpoint = endpoint_of(method, path)
        with self._lock:
            count = self._counts.get(endpoint, 0)
            if count <= 0:
                return
            self._counts[endpoint] = count - 1
            self._spread = max(0, self._spread - 1)
            if self._tripped == endpoint and count - 1 < self.limit:
                self._tripped = None
            if self._tripped == _SPREAD and self._spread < self.limit:
                self._tripped = None
