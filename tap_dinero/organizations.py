"""Several organizations in one tap run: side by side, each on its own quota, isolated from each other.

With ``organization_ids`` the tap syncs every organization-scoped stream once per organization. Dinero's
quota is per (client id, organization), so N organizations allow N x 100 requests a minute -- but only
if they are read at the same time. :class:`OrganizationRun` does that inside one tap process:

* **One worker per organization**, at most ``max_parallel_organizations`` at once (threads: the tap
  spends its time waiting for the quota and the network, not on the CPU). A worker is a
  :class:`~tap_dinero.tap.TapDinero` of its own for that one organization -- its own stream objects,
  client, quota key and state slice -- running the SDK's ordinary single-organization ``sync_all``. No
  stream object is ever shared between threads.
* **One writer.** Every Singer message of every worker goes through :meth:`OrganizationRun.emit`, under one
  lock, to the tap's message writer, so lines never interleave. SCHEMA messages are written once per
  stream; ACTIVATE_VERSION messages carry one version for every organization (the parent tap's) and are
  written once, at the end of the run and only if every organization was synced: it tells a target that
  rows of older versions are gone, and the rows of an organization that failed were not re-read.
* **One consistent STATE.** A worker's STATE message is its own state, a dict only its own thread
  changes; it is copied in that thread and the STATE written is the tap's input state with each running
  organization's partitions replaced by that organization's latest copy. Partitions of organizations
  not in this run are kept as they were. That merged STATE is written at most every
  ``STATE_MESSAGE_INTERVAL_SECONDS`` (5 s) while workers run, and always at the end: each STATE holds
  every organization's state, so writing one per worker STATE made the output grow with the square of
  the organizations (300 organizations: ~6 000 STATE lines, ~10 GB). A STATE held back only comes later,
  after the records it covers, never before them.
* **Isolation.** An organization that fails -- 403 (no Pro subscription, a key for another organization, a
  deleted organization), an outage that outlasts the retries, anything else raised while reading it --
  stops only that organization: its other streams are skipped in this run and its bookmarks stay where
  the last finished stream left them (a stream that failed half-way keeps its previous bookmark, so the
  next run reads it again). The other organizations finish and their state advances. At the end the tap
  logs each failed organization by id and cause and exits with :data:`EXIT_PARTIAL` (10); when every
  organization failed it fails as a single-organization run does (the first error, exit 1). But when
  ``max_consecutive_refusals`` organizations answered 403 and none has been read yet, the login reaches
  none of them: the run stops before asking the rest (one 403 each), keeping their health.
* **No starvation.** The state keeps a small health record per organization
  (``organization_runs``: consecutive failures, last success, last failure and its cause); organizations
  that failed last time are started after the healthy ones (fewest consecutive failures first), so a
  lapsed organization never holds a worker a healthy one is waiting for.

Errors of the message writer itself (stdout closed because the target died) and refused credentials
(401, the token endpoint's refusal: the same login serves every organization) are not an organization's
failure: they stop every worker and end the run with that error, as a single-organization run ends.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import threading
import time
import typing as t
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from singer_sdk.singerlib import ActivateVersionMessage, RecordMessage, SchemaMessage, StateMessage

from dinero_api.errors import DineroAuthError, DineroConfigError, redact
from dinero_api.sdk_adapter import STATE_MESSAGE_INTERVAL_SECONDS

if t.TYPE_CHECKING:
    from tap_dinero.tap import TapDinero

from dinero_api.cli import ExitCode

__all__ = [
    "EXIT_PARTIAL",
    "HEALTH_KEY",
    "OrganizationFailure",
    "OrganizationRun",
    "OrganizationsFailed",
    "order_organizations",
    "split_state",
]

#: Exit code of a run in which some organizations failed and the others were synced (README "Exit codes").
EXIT_PARTIAL = int(ExitCode.PARTIAL)
#: Top-level state key of the per-organization health record.
HEALTH_KEY = "organization_runs"
MAX_CAUSE_CHARS = 400


@dataclass
class OrganizationFailure:
    """One organization that could not be synced in this run."""

    organization_id: str
    cause: str
    error: BaseException


class OrganizationsFailed(Exception):
    """Some organizations failed, the others were synced (the CLI exits with :data:`EXIT_PARTIAL`)."""

    exit_code = EXIT_PARTIAL

    def __init__(self, failures: list[OrganizationFailure], synced: list[str]) -> None:
        """Keep the failures and the organizations that were synced."""
        self.failures = failures
        self.synced = synced
        listed = "; ".join(f"{f.organization_id}: {f.cause}" for f in failures)
        super().__init__(
            f"Run partly failed (exit {EXIT_PARTIAL}): {len(failures)} of {len(failures) + len(synced)} "
            f"organizations failed ({listed}); the other {len(synced)} were synced and their state advanced."
        )


class _RunAborted(Exception):
    """Raised in a worker when the run is stopping (writer error or termination signal)."""


def cause_of(exc: BaseException) -> str:
    """A one-line cause for logs and the health record (secrets redacted)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = redact(text)
    return text if len(text) <= MAX_CAUSE_CHARS else text[: MAX_CAUSE_CHARS - 1] + "…"


def is_run_fatal(exc: BaseException) -> bool:
    """Whether an error concerns every organization, not one: refused credentials (401, the token
    endpoint's refusal, an unreadable token file) or a configuration error. Those stop the whole run at
    once, as in a single-organization run, so Dinero does not see one refused login per organization.
    A 403 belongs to one organization (no Pro subscription, deleted, not granted) and is isolated."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DineroConfigError):
            return True
        if isinstance(current, DineroAuthError) and current.status_code != 403:
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_403(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it was raised from) is Dinero's 403 for an organization."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DineroAuthError) and current.status_code == 403:
            return True
        current = current.__cause__ or current.__context__
    return False


def organization_of(partition: t.Mapping[str, t.Any]) -> str | None:
    """The organization id of a state partition (None for a partition without one)."""
    context = partition.get("context")
    if isinstance(context, dict) and context.get("organization_id") is not None:
        return str(context["organization_id"])
    return None


def split_state(state: t.Mapping[str, t.Any], organization_id: str) -> dict[str, t.Any]:
    """The part of ``state`` that belongs to one organization: its partitions of every stream."""
    bookmarks: dict[str, t.Any] = {}
    for stream, stream_state in (state.get("bookmarks") or {}).items():
        partitions = [
            copy.deepcopy(p)
            for p in stream_state.get("partitions") or []
            if organization_of(p) == organization_id
        ]
        if partitions:
            bookmarks[stream] = {"partitions": partitions}
    return {"bookmarks": bookmarks}


def order_organizations(organization_ids: list[str], health: t.Mapping[str, t.Any]) -> list[str]:
    """Healthy organizations first (in configured order), then those that failed last time, fewest
    consecutive failures first -- so a lapsed organization never delays a healthy one."""

    def failures(org: str) -> int:
        record = health.get(org)
        return int(record.get("consecutive_failures") or 0) if isinstance(record, dict) else 0

    position = {org: index for index, org in enumerate(organization_ids)}
    return sorted(organization_ids, key=lambda org: (failures(org), position[org]))


class _OrganizationWriter:
    """The message writer of one organization's worker: hands every message to the run."""

    def __init__(self, run: OrganizationRun, organization_id: str) -> None:
        self._run = run
        self._org = organization_id

    def write_message(self, message: t.Any) -> None:
        """Pass the message on (raises :class:`_RunAborted` once the run is stopping)."""
        self._run.emit(self._org, message)


class OrganizationRun:
    """Syncs the organization-scoped streams of several organizations side by side (see module doc)."""

    def __init__(self, tap: TapDinero, max_parallel: int) -> None:
        """Prepare the run from the tap's state (after its organization-free streams were synced)."""
        self.tap = tap
        self.max_parallel = max(1, int(max_parallel))
        self.organizations = list(tap.organization_ids)
        self.lock = threading.RLock()
        self._base = tap.state
        previous = tap.input_organization_health
        self.health: dict[str, dict[str, t.Any]] = {
            org: dict(previous.get(org) or {}) for org in self.organizations
        }
        self._snapshots = {org: split_state(self._base, org) for org in self.organizations}
        self._schemas: dict[str, str] = {}
        self._versions: set[tuple[str, int | None]] = set()
        self._held_versions: list[ActivateVersionMessage] = []
        self._stopping = False
        #: Whether any organization has been read in this run (a record, a STATE, or one synced).
        self._progress = False
        #: Organizations answered 403 so far, and how many with no progress anywhere stop the run.
        self._refused: list[str] = []
        self._refusal_limit = int(getattr(tap.dinero_settings, "max_consecutive_refusals", 10))
        self._keep_health_on_fatal = False
        #: When the merged STATE was last written (monotonic), see the module docstring.
        self._state_written_at: float | None = None
        self.fatal: BaseException | None = None
        self.failures: list[OrganizationFailure] = []
        self.synced: list[str] = []
        self.org_scoped = {
            name for name, stream in tap.streams.items() if getattr(stream, "org_scoped", False)
        }

    # ------------------------------------------------------------------------------------------ output
    def emit(self, organization_id: str, message: t.Any) -> None:
        """Write one worker's message (called in that worker's thread)."""
        if isinstance(message, StateMessage):
            snapshot = copy.deepcopy(message.value)  # in the worker's thread: its state is not moving
        with self.lock:
            if self._stopping:
                raise _RunAborted
            if isinstance(message, (RecordMessage, StateMessage)):
                self._progress = True  # Dinero answered this organization: the credentials work
            if isinstance(message, StateMessage):
                self._snapshots[organization_id] = snapshot
                written = self._state_written_at
                if written is None or time.monotonic() - written >= STATE_MESSAGE_INTERVAL_SECONDS:
                    self._write_state()
                return
            if isinstance(message, SchemaMessage):
                text = json.dumps(message.to_dict(), sort_keys=True, default=str)
                if self._schemas.get(message.stream) == text:
                    return
                self._schemas[message.stream] = text
            elif isinstance(message, ActivateVersionMessage):
                key = (message.stream, message.version)
                if key not in self._versions:
                    self._versions.add(key)
                    self._held_versions.append(message)  # written by run() once every organization is done
                return
            self._write(message)

    def _write(self, message: t.Any) -> None:
        try:
            self.tap.message_writer.write_message(message)
        except BaseException as exc:  # stdout gone, a test's simulated kill: the whole run stops
            if self.fatal is None:
                self.fatal = exc
            self._stopping = True
            raise _RunAborted from exc

    def _write_versions(self) -> None:
        """The held ACTIVATE_VERSION messages, when every organization was synced; otherwise none (the
        rows of a failed organization were not re-read, so a target must not drop them)."""
        held, self._held_versions = self._held_versions, []
        if not held:
            return
        if self.failures:
            self.tap.logger.warning(
                "ACTIVATE_VERSION not sent for %s: %d organization(s) failed, and a target would remove "
                "their rows; the next complete run sends it.",
                ", ".join(sorted({m.stream for m in held})),
                len(self.failures),
            )
            return
        for message in held:
            self._write(message)

    def merged_state(self) -> dict[str, t.Any]:
        """The tap's input state with each running organization's partitions replaced by its latest."""
        running = set(self.organizations)
        merged: dict[str, t.Any] = {k: v for k, v in self._base.items() if k not in ("bookmarks", HEALTH_KEY)}
        bookmarks: dict[str, t.Any] = {}
        for stream, stream_state in (self._base.get("bookmarks") or {}).items():
            kept = {k: v for k, v in stream_state.items() if k != "partitions"}
            partitions = [
                p for p in stream_state.get("partitions") or [] if organization_of(p) not in running
            ]
            if partitions or "partitions" in stream_state:
                kept["partitions"] = partitions
            bookmarks[stream] = kept
        for org in self.organizations:
            for stream, stream_state in (self._snapshots[org].get("bookmarks") or {}).items():
                if stream not in self.org_scoped:
                    continue  # organization-free streams are synced (and kept) by the parent tap
                target = bookmarks.setdefault(stream, {})
                for key, value in stream_state.items():
                    if key != "partitions":
                        target.setdefault(key, value)
                mine = [p for p in stream_state.get("partitions") or [] if organization_of(p) == org]
                if mine:
                    target.setdefault("partitions", []).extend(mine)
        merged["bookmarks"] = bookmarks
        merged[HEALTH_KEY] = {**(self._base.get(HEALTH_KEY) or {}), **self.health}
        return merged

    def _write_state(self) -> None:
        self._state_written_at = time.monotonic()
        merged = self.merged_state()
        self.tap.replace_state(merged)  # what a termination signal writes, too
        try:
            # Written as is: each worker already writes a STATE only when its own state changed, and the
            # SDK's StateWriter would deep-copy and compare the whole merged state on every write.
            self.tap.message_writer.write_message(StateMessage(value=merged))
        except BaseException as exc:
            if self.fatal is None:
                self.fatal = exc
            self._stopping = True
            raise _RunAborted from exc

    # ------------------------------------------------------------------------------------------ sync
    def stop(self) -> None:
        """Make every worker stop at its next message (termination signal)."""
        with self.lock:
            self._stopping = True

    def run(self) -> None:
        """Sync every organization, at most ``max_parallel`` at once; write the final STATE.

        Raises the writer's error if output failed, the first organization's error if every
        organization failed, and :class:`OrganizationsFailed` if some did.
        """
        order = order_organizations(self.organizations, self.health)
        if order != self.organizations:
            self.tap.logger.info(
                "Organizations that failed in earlier runs go last: %s",
                ", ".join(org for org in order if self.health[org].get("consecutive_failures")),
            )
        workers = min(self.max_parallel, len(order))
        self.tap.logger.info(
            "Syncing %d organizations, up to %d at a time (max_parallel_organizations).", len(order), workers
        )
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dinero-org")
        try:
            futures = [executor.submit(self._sync_one, org) for org in order]
            for future in futures:
                future.result()
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
        if self.fatal is not None:
            if self._keep_health_on_fatal:
                with self.lock:
                    self._write_state()  # the refused organizations go last next time
            raise self.fatal
        with self.lock:
            self._write_versions()
            self._write_state()
        for failure in self.failures:
            self.tap.logger.error("Organization %s failed: %s", failure.organization_id, failure.cause)
        if self.failures and not self.synced:
            raise self.failures[0].error
        if self.failures:
            raise OrganizationsFailed(self.failures, self.synced)

    def _stop_if_refused_everywhere(self, exc: BaseException) -> None:
        """Under the lock: ``max_consecutive_refusals`` organizations answered 403 and none has been read
        in this run -- the credentials reach none of them (access withdrawn, a client or key for other
        organizations). Stop before asking the rest: each would cost one more 403, and Dinero revokes
        integrations that provoke many. Their health is kept, so the next run starts with the others."""
        if self._progress or self.fatal is not None or len(self._refused) < self._refusal_limit:
            return
        untried = len(self.organizations) - len(self.failures) - len(self.synced)
        stopped = DineroAuthError(
            f"Dinero answered 403 for {len(self._refused)} organizations ({', '.join(self._refused[:5])}"
            f"{', ...' if len(self._refused) > 5 else ''}) and no organization has been read in this run: "
            f"the credentials reach none of them. Stopped before asking the other {max(untried, 0)} "
            "(max_consecutive_refusals; Dinero revokes integrations that provoke many 403s). Check that "
            "the client still has access to these organizations; the next run starts with the others.",
            status_code=403,
            method=getattr(exc, "method", None),
            path=getattr(exc, "path", None),
            code=getattr(exc, "code", None),
        )
        self.fatal = stopped
        self._keep_health_on_fatal = True
        self._stopping = True

    def _sync_one(self, organization_id: str) -> None:
        """One organization's worker: a tap of its own for that organization, its errors kept here."""
        if self._stopping:
            return
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        record = self.health[organization_id]
        try:
            worker = self.tap.organization_worker(
                organization_id,
                state=split_state(self._base, organization_id),
                writer=_OrganizationWriter(self, organization_id),
            )
            try:
                worker.sync_all()
            finally:
                worker.release_clients()  # its quota store and connections: one org fewer held open
            snapshot = copy.deepcopy(worker.state)  # with the SDK's last finalization, in this thread
        except _RunAborted:
            return
        except Exception as exc:
            if self.fatal is not None:
                return
            if is_run_fatal(exc):
                with self.lock:
                    if self.fatal is None:
                        self.fatal = exc
                    self._stopping = True
                return
            cause = cause_of(exc)
            self.tap.logger.error(
                "Organization %s failed: %s. Its remaining streams are skipped in this run; the other "
                "organizations go on.",
                organization_id,
                cause,
            )
            with self.lock:
                self.failures.append(OrganizationFailure(organization_id, cause, exc))
                record.update(
                    consecutive_failures=int(record.get("consecutive_failures") or 0) + 1,
                    last_failure=now,
                    last_cause=cause,
                )
                if _is_403(exc):
                    self._refused.append(organization_id)
                    self._stop_if_refused_everywhere(exc)
            return
        with self.lock:
            self._progress = True
            self._snapshots[organization_id] = snapshot
            self.synced.append(organization_id)
            record.update(consecutive_failures=0, last_success=now, last_cause=None)
