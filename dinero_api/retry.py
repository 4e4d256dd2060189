"""The one retry policy of the Dinero wire: how often and how long to wait before trying again.

Every retry of the project -- the session's 5xx/timeout/reset retries, a 2xx whose body is not JSON, the
token grants -- is built here from one :class:`RetryPolicy`: ``max_retries`` retries after the first try,
exponential backoff from ``retry_backoff_seconds`` (doubling), full jitter, each wait capped at 60 s. The
policy only says *when* to wait; *which* requests may be retried stays with the caller's ``giveup`` (a POST
is never replayed blindly: :mod:`dinero_api.session`). python-backoff (``import backoff``) is imported in this
module only (``tests/dinero_api/test_api_retry.py``), so the timing rules cannot drift apart again.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import backoff

if TYPE_CHECKING:
    from dinero_api.settings import DineroSettings

__all__ = ["RETRY_CAP_SECONDS", "RetryPolicy"]

F = TypeVar("F", bound=Callable[..., Any])
#: ``details`` dict python-backoff hands to an ``on_backoff`` hook (tries, wait, args, exception, ...).
Details = dict[str, Any]

#: No single wait is longer than this (seconds).
RETRY_CAP_SECONDS = 60.0


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Retry timing: ``max_retries`` retries, waits of ``base_seconds * 2**n`` with full jitter, capped.

    ``on_retry`` is called before every wait (e.g. to count retries in
    :class:`~dinero_api.stats.RequestStats`); a decorator may add its own hook (a log line), run after it.
    """

    max_retries: int
    base_seconds: float
    cap_seconds: float = RETRY_CAP_SECONDS
    on_retry: Callable[[Details], None] | None = None

    @classmethod
    def from_settings(
        cls, settings: DineroSettings, *, on_retry: Callable[[Details], None] | None = None
    ) -> RetryPolicy:
        """The policy of ``max_retries`` / ``retry_backoff_seconds``."""
        return cls(settings.max_retries, settings.retry_backoff_seconds, on_retry=on_retry)

    @property
    def max_tries(self) -> int:
        """Tries in all: the first one plus the retries."""
        return self.max_retries + 1

    def _hooks(self, on_retry: Callable[[Details], None] | None) -> list[Callable[[Details], None]]:
        return [hook for hook in (self.on_retry, on_retry) if hook is not None]

    def _wait_kwargs(self) -> dict[str, Any]:
        return {
            "max_tries": self.max_tries,
            "factor": max(self.base_seconds, 0.0),
            "max_value": self.cap_seconds,
            "jitter": backoff.full_jitter,
        }

    def on_exception(
        self,
        exceptions: type[BaseException] | tuple[type[BaseException], ...],
        *,
        giveup: Callable[[Any], bool] | None = None,
        on_retry: Callable[[Details], None] | None = None,
        logger: logging.Logger | None = None,
    ) -> Callable[[F], F]:
        """Decorator: call again after ``exceptions`` (unless ``giveup(exc)``); the last one is raised.

        ``logger``: where python-backoff logs each retry and the giving up (None: the hooks log).
        """
        return backoff.on_exception(  # type: ignore[return-value]
            backoff.expo,
            exceptions,
            giveup=giveup or (lambda _exc: False),
            on_backoff=self._hooks(on_retry),
            logger=logger,
            **self._wait_kwargs(),
        )

    def on_predicate(
        self,
        predicate: Callable[[Any], bool],
        *,
        on_retry: Callable[[Details], None] | None = None,
        logger: logging.Logger | None = None,
    ) -> Callable[[F], F]:
        """Decorator: call again while ``predicate(result)`` holds; the last result is returned."""
        return backoff.on_predicate(  # type: ignore[return-value]
            backoff.expo,
            predicate,
            on_backoff=self._hooks(on_retry),
            logger=logger,
            **self._wait_kwargs(),
        )
