"""What tap-dinero and target-dinero log, and how loud: the ``metrics_log_level`` setting, the SDK
lines that a normal run should not show, and a line while the quota holds a request back.

Why these exist (issue 16): on a medium-seed run 98.6 % of stderr lines were singer-sdk ``METRIC`` lines,
every incremental stream warned "Stream is assumed to be unsorted" although nothing was wrong, and a
request could wait a whole quota window (60 s) with nothing in the log.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from singer_sdk import typing as th

__all__ = [
    "LOG_SETTINGS",
    "METRICS_LEVELS",
    "QUOTA_WAIT_ANNOUNCE_SECONDS",
    "AnnouncedThrottle",
    "apply_log_settings",
    "install_sdk_noise_filters",
]

#: Values of ``metrics_log_level``. singer-sdk writes its METRIC lines at INFO, so INFO and DEBUG show
#: them and WARNING (the default) and above hide them.
METRICS_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_METRICS_LEVEL = "WARNING"
#: A request held back by the quota longer than this gets a log line while it waits.
QUOTA_WAIT_ANNOUNCE_SECONDS = 5.0

LOG_SETTINGS = th.PropertiesList(
    th.Property(
        "metrics_log_level",
        th.StringType(allowed_values=list(METRICS_LEVELS)),
        default=DEFAULT_METRICS_LEVEL,
        description="Level of singer-sdk's METRIC log lines (request counts and durations, record counts; "
        "written at INFO). The default, WARNING, hides them; INFO or DEBUG shows them.",
    ),
)

_METRICS_LOGGER = "singer_sdk.metrics"
_UNSORTED = "Stream is assumed to be unsorted"
_UNHANDLED = "An unhandled error occurred while syncing"
#: ERROR lines written on the way to a failure that the final one-line error states anyway; they stay,
#: as WARNING, so that exactly one ERROR line ends a failed run.
_ON_THE_WAY = ("Giving up ", "Dinero API %s still failing after")


def apply_log_settings(config: dict[str, Any]) -> None:
    """Set the METRIC logger's level from ``metrics_log_level`` (validated before this is called)."""
    level = str(config.get("metrics_log_level") or DEFAULT_METRICS_LEVEL).upper()
    logging.getLogger(_METRICS_LOGGER).setLevel(level if level in METRICS_LEVELS else DEFAULT_METRICS_LEVEL)


class _SdkNoiseFilter(logging.Filter):
    """Moves two SDK lines to DEBUG, and retry give-ups from ERROR to WARNING.

    * "Stream is assumed to be unsorted, progress is not resumable if interrupted": tap-dinero's
      incremental streams are unsorted by nature (Dinero cannot sort invoices or entries by their update
      time), and that is already handled: the bookmark is the request clock taken before the first page,
      and a run that is interrupted leaves the previous bookmark in place, so the next run reads the same
      window again and nothing is lost (see ``tap_dinero/incremental.py``). The warning told an operator
      about a problem that does not exist.
    * "An unhandled error occurred while syncing 'x'": the run ends with one line naming the failure
      (``dinero_api.cli``), which names the stream too; this line would only precede it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        if record.levelno == logging.ERROR and message.startswith(_ON_THE_WAY):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            return True
        if message.startswith((_UNSORTED, _UNHANDLED)):
            if message.startswith(_UNHANDLED) and record.args:
                _LAST_FAILED_STREAM.name = str(record.args[0] if isinstance(record.args, tuple) else "")
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


class _LastFailedStream:
    name: str = ""


#: The stream whose sync failed last (read by dinero_api.cli for the one-line error).
_LAST_FAILED_STREAM = _LastFailedStream()


def last_failed_stream() -> str:
    """Name of the stream singer-sdk reported as failing, or ''."""
    return _LAST_FAILED_STREAM.name


_FILTER = _SdkNoiseFilter()


def install_sdk_noise_filters() -> None:
    """Attach the filter where those lines pass (idempotent).

    A logger's filters do not apply to records of its children (``tap-dinero.invoices``), so the filter
    goes on the ``singer_sdk`` logger and on every handler of the root logger.
    """
    sdk = logging.getLogger("singer_sdk")
    if _FILTER not in sdk.filters:
        sdk.addFilter(_FILTER)
    for handler in logging.getLogger().handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)


class AnnouncedThrottle:
    """A quota throttle (``dinero_api.quota.QuotaThrottle``) that says so when it holds a request back.

    ``acquire`` blocks until the shared quota has room. When that takes longer than
    ``QUOTA_WAIT_ANNOUNCE_SECONDS`` one INFO line says how long it has waited, why (the window is full,
    or Dinero answered 429 and every process on the key pauses) and the quota; when the wait ends a second
    line says how long it took. Everything else is delegated unchanged.
    """

    def __init__(self, throttle: Any, announce_after: float | None = None) -> None:
        self._throttle = throttle
        self._announce_after = announce_after
        self._logger = logging.getLogger("dinero_api.quota")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._throttle, name)

    def _why(self) -> str:
        throttle = self._throttle
        org = throttle.key[1] if isinstance(getattr(throttle, "key", None), tuple) else "?"
        limit = getattr(throttle, "limit", throttle.requests)
        quota = f"{limit} requests per {throttle.window_seconds:g} s for organization {org}"
        if limit < throttle.requests:
            quota += f" (Dinero's real limit, learnt from a 429; configured {throttle.requests})"
        try:
            paused = throttle.paused_for() > 0
        except Exception:  # diagnostics only
            paused = False
        if paused:
            return f"Dinero answered 429 (quota exceeded), so every process on this key pauses ({quota})"
        return f"the quota window is full: {quota}, shared by every process using this client id"

    def acquire(self) -> float:
        """Wait for a slot like the wrapped throttle, logging a wait longer than the threshold."""
        started = time.monotonic()
        announced = threading.Event()

        def announce() -> None:
            announced.set()
            self._logger.info(
                "Waiting for the Dinero request quota (%.0f s so far): %s.",
                time.monotonic() - started,
                self._why(),
            )

        after = QUOTA_WAIT_ANNOUNCE_SECONDS if self._announce_after is None else self._announce_after
        timer = threading.Timer(after, announce)
        timer.daemon = True
        timer.start()
        try:
            return self._throttle.acquire()
        finally:
            timer.cancel()
            if announced.is_set():
                self._logger.info(
                    "Quota wait over after %.1f s; requests continue.", time.monotonic() - started
                )
