"""The command-line entry of tap-dinero and target-dinero: every known failure ends in one line.

singer-sdk prints a failure as the message followed by its traceback (60 lines for a wrong API key,
129 lines with five chained tracebacks for a closed port, issue 16). :func:`run_plugin` runs the
plugin's click command and turns what comes out of it into **one ERROR line** that names the cause and
the fix, and a documented exit code (:class:`ExitCode`, also the README's table). The traceback is
logged only at DEBUG (``TAP_DINERO_LOGLEVEL=DEBUG`` / ``TARGET_DINERO_LOGLEVEL=DEBUG``, or ``LOGLEVEL``).
A failure this module does not know keeps its traceback: that is a bug to report.

The console scripts point here through ``tap_dinero.cli:main`` and ``target_dinero.cli:main``.
"""

from __future__ import annotations

import enum
import logging
import sys
import typing as t
import warnings

import click
import requests
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.plugin_base import SingerCommand

from dinero_api.errors import (
    DineroAPIError,
    DineroAuthError,
    DineroConfigError,
    DineroConnectionError,
    DineroMalformedResponse,
    DineroRateLimited,
    DineroServerError,
    DineroUnknownOutcome,
)
from dinero_api.logs import install_sdk_noise_filters, last_failed_stream

if t.TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["EXIT_CODE_TABLE", "ExitCode", "classify", "run_plugin"]


class ExitCode(enum.IntEnum):
    """Exit codes of tap-dinero and target-dinero (README "Exit codes")."""

    OK = 0
    UNEXPECTED = 1
    CONFIG = 2
    CREDENTIALS = 3
    NO_ACCESS = 4
    UNREACHABLE = 5
    QUOTA = 6
    REFUSED = 7
    REJECTS = 8
    INPUT = 9
    PARTIAL = 10


#: (code, what it means, what to do) -- rendered into the README by scripts/render_readme.py.
EXIT_CODE_TABLE: tuple[tuple[ExitCode, str, str], ...] = (
    (ExitCode.OK, "the run completed", ""),
    (ExitCode.UNEXPECTED, "an unexpected error (a bug): the traceback is printed", "report it with the log"),
    (
        ExitCode.CONFIG,
        "a setting is missing or invalid (credentials, `organization_id`, `start_date`, numbers, "
        "`metrics_log_level`, target `streams`), or a stream reached the target without a `streams` mapping",
        "fix the setting the line names; nothing was sent or written",
    ),
    (
        ExitCode.CREDENTIALS,
        "Dinero refused the credentials (`invalid_client`, `invalid_grant`, HTTP 401)",
        "check `client_id`, `client_secret` and `api_key` / `refresh_token` (with Visma Connect keep "
        "`token_file`)",
    ),
    (
        ExitCode.NO_ACCESS,
        "HTTP 403: the credentials do not give access to the organization, or it has no Pro subscription",
        "check `organization_id` (the API key belongs to one organization) and the subscription",
    ),
    (
        ExitCode.UNREACHABLE,
        "Dinero's API or token host could not be reached, timed out or kept answering 5xx",
        "check `api_url` / `token_url` and the network; run again later (state is kept)",
    ),
    (
        ExitCode.QUOTA,
        "Dinero kept answering 429 for longer than `max_rate_limit_wait_seconds`",
        "another integration shares the quota: lower `quota_requests` or run later",
    ),
    (
        ExitCode.REFUSED,
        "Dinero refused a request (HTTP 400/404/409/422), refused `max_consecutive_refusals` requests "
        "in a row (the run stopped instead of sending more), or a write's outcome is unknown",
        "read Dinero's code and message in the line, fix it (in Dinero or in the records) and run again: "
        "what was not written is loaded then, once",
    ),
    (
        ExitCode.REJECTS,
        "target: more records were rejected than `max_rejects` allows",
        "each record and its reason is in `rejects_file`",
    ),
    (
        ExitCode.INPUT,
        "target: a line of the Singer input names no record and is not a valid message (not JSON, cut "
        "short, an unknown type, a BATCH outside `batch_config.storage.root`); the line number is given",
        "fix the upstream tap or stream maps; everything before that line was loaded and its STATE emitted",
    ),
    (
        ExitCode.PARTIAL,
        "tap with `organization_ids`: some organizations failed (each named with its cause), the others "
        "were synced and their state advanced",
        "fix or remove the named organizations; the next run starts them after the healthy ones",
    ),
)

_REMEDY = {code: fix for code, _, fix in EXIT_CODE_TABLE}
_LEVEL_NAMES = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or during, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _classify_api_error(exc: DineroAPIError) -> ExitCode:
    if isinstance(exc, DineroRateLimited):
        return ExitCode.QUOTA
    if isinstance(exc, (DineroConnectionError, DineroServerError, DineroMalformedResponse)):
        return ExitCode.UNREACHABLE
    if isinstance(exc, DineroAuthError):
        if exc.status_code == 403:
            return ExitCode.NO_ACCESS
        if exc.status_code is None and exc.oauth_error is None and "failed:" in str(exc):
            # "Token request to <url> failed: ConnectionError": the token host was not reached.
            return ExitCode.UNREACHABLE
        return ExitCode.CREDENTIALS
    if isinstance(exc, DineroUnknownOutcome):
        return ExitCode.REFUSED
    if exc.status_code is not None and (exc.status_code >= 500 or exc.status_code == 429):
        return ExitCode.UNREACHABLE if exc.status_code >= 500 else ExitCode.QUOTA
    return ExitCode.REFUSED


def classify(exc: BaseException) -> tuple[ExitCode, str] | None:
    """The exit code and one-line message of a known failure, or None for an unexpected one."""
    stopped: BaseException | None = None
    for item in _chain(exc):
        name = type(item).__name__
        kinds = {klass.__name__ for klass in type(item).__mro__}
        if isinstance(item, ConfigValidationError):
            problems = "; ".join(_one_line(e) for e in item.errors) or _one_line(str(item))
            return ExitCode.CONFIG, f"invalid configuration: {problems}"
        if isinstance(item, DineroConfigError):
            return ExitCode.CONFIG, f"invalid configuration: {_one_line(str(item))}"
        if "UnmappedStreamError" in kinds:
            return ExitCode.CONFIG, _one_line(str(item))
        if "BadInputLine" in kinds:  # target: a Singer input line that names no record
            return ExitCode.INPUT, _one_line(str(item))
        if name == "RunStopped":  # target: a refusal stopped the run; the error it keeps says which
            inner = getattr(item, "error", None)
            if isinstance(inner, DineroAPIError):
                code = _classify_api_error(inner)
                # the stop's own words: why the run stopped, with Dinero's last answer in them
                return code, _one_line(str(item))
            stopped = stopped or item
            continue
        if name == "RejectsExceeded":
            return ExitCode.REJECTS, _one_line(str(item))
        if isinstance(item, DineroAPIError):
            return _classify_api_error(item), _one_line(str(item))
        if isinstance(item, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
            return ExitCode.UNREACHABLE, f"could not reach Dinero: {type(item).__name__}"
    if stopped is not None:
        return ExitCode.CREDENTIALS, _one_line(str(stopped))
    return None


def report_failure(plugin_name: str, exc: BaseException) -> int:
    """Log ``exc`` as one ERROR line (traceback at DEBUG) and return the exit code."""
    logger = logging.getLogger(plugin_name)
    known = classify(exc)
    if known is None:
        logger.error(
            "%s: unexpected error %s: %s", plugin_name, type(exc).__name__, _one_line(str(exc)),
            exc_info=exc,
        )
        return int(ExitCode.UNEXPECTED)
    code, message = known
    stream = last_failed_stream()
    where = f" (stream {stream})" if stream else ""
    fix = _REMEDY.get(code)
    logger.error(
        "%s failed%s: %s%s [exit code %d]",
        plugin_name,
        where,
        message,
        f" -- {fix[0].upper()}{fix[1:]}." if fix and fix.lower()[:20] not in message.lower() else "",
        int(code),
    )
    logger.debug("Traceback of the failure above", exc_info=exc)
    return int(code)


class OneLineCommand(SingerCommand):
    """singer-sdk's command without its own handling of config errors (they reach :func:`run_plugin`)."""

    def invoke(self, ctx: click.Context) -> t.Any:
        """Run the command, capturing warnings into the log like singer-sdk does."""
        logging.captureWarnings(capture=True)
        warnings.filterwarnings("once", category=DeprecationWarning)
        return click.Command.invoke(self, ctx)


def run_plugin(plugin_cls: t.Any, args: list[str] | None = None) -> t.NoReturn:
    """Run ``plugin_cls``'s CLI; exit with 0 or the :class:`ExitCode` of the failure."""
    command = plugin_cls.cli  # sets up console logging like ``TapDinero.cli()`` does
    one_line = OneLineCommand(
        name=command.name,
        callback=command.callback,
        params=command.params,
        context_settings=command.context_settings,
        logger=command.logger,
    )
    install_sdk_noise_filters()
    try:
        one_line.main(args=args, prog_name=plugin_cls.name, standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        sys.stdout.flush()
        sys.exit(report_failure(plugin_cls.name, exc))
    sys.exit(0)
