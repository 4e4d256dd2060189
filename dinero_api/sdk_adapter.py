"""Every use of singer-sdk's private names by tap-dinero and target-dinero, in this one module.

singer-sdk offers no public hook for these, and each one is load-bearing, so they are gathered here behind
small public methods and mixins that the plugins call or override; no other module of the project names a
private SDK name. ``tests/test_sdk_adapters.py`` checks that (an AST scan that allows this module only) and
that every private name used here still exists in the installed SDK with the signature it is called or
overridden with, and that the installed SDK is the series below: an SDK upgrade fails loudly instead of
silently changing what the plugins do.

Both plugins
------------
* ``datetime_fromisoformat`` (``singer_sdk.helpers._compat``): the SDK's ISO parser (the Python 3.11 one,
  backported on 3.10); start-up validation parses date settings exactly as the plugins will.
* ``PluginBase._validate_config``: the SDK validates the config against the JSON schema while the plugin is
  built and offers no hook to add checks there. :class:`SdkConfigValidation` routes it to the public
  :meth:`~SdkConfigValidation.validate_plugin_config`, which the plugins override
  (``dinero_api.plugin.DineroPluginMixin``). :meth:`~SdkConfigValidation.sdk_schema_errors` runs the SDK's
  own pass, which fills the schema's defaults into the config (the mixin words the problems itself:
  the SDK's messages quote values, a secret's too).

tap-dinero
----------
* ``PROGRESS_MARKERS`` / ``PROGRESS_MARKER_NOTE`` (``singer_sdk.helpers._state``): the incremental streams
  commit their request-clock bookmark through the SDK's own progress markers, so the SDK promotes it
  when it finalizes the partition (and drops it when a run dies).
* ``Stream._request``: extra GETs of a stream (detail reads, accounting years) go through the same
  prepared-request path as pages (quota, retries, request counting).
* ``Stream._write_schema_message``: a child stream is synced once per parent record; its SCHEMA message
  is written once per run.
* ``Stream._generate_record_messages`` and ``Stream._increment_stream_state``: the per-record path. The
  SDK pops deselected properties by walking every field of every record, and advances a
  ``max(replication key)`` bookmark per record; the first is skipped when nothing is deselected (the
  result is the same), the second for streams that set their own bookmark (``owns_bookmark``), whose
  SDK bookmark would be overwritten anyway. Together they were a quarter of the tap's CPU per row.
* ``Stream._write_state_message``: the SDK writes the whole tap state after every child context (one per
  parent record) once anything in it changed. The payment streams keep a memory per document in their
  state, so that was one STATE line per paid invoice, each as large as the state: 8 873 lines and 3 GB on
  the medium seed. Inside a stream a STATE is written at most every
  :data:`STATE_MESSAGE_INTERVAL_SECONDS`; a skipped one stays pending and the next write (or the stream's
  ``finalize_state_progress_markers``, which always writes) carries it. A STATE only ever comes later than
  the SDK would write it, never before the records it covers.
* ``Stream._tap``: a stream's tap (the SDK keeps no public reference), for the per-organization clients.
* :class:`SdkAdapterTap`, for the multi-organization run (``tap_dinero.tap`` / ``tap_dinero.organizations``),
  which does by hand what ``Tap.sync_all`` does before syncing: ``Tap._reset_state_progress_markers`` and
  ``Tap._set_compatible_replication_methods``; ``Tap._singer_catalog`` (the selection as it stands, set in
  code or not) copied to each organization's worker; ``Tap._state`` replaced by the merged state; and
  ``Tap._handle_termination`` (SIGINT/SIGTERM) routed to the public :meth:`SdkAdapterTap.handle_termination`.
* ``Stream._write_activate_version_message`` and ``Stream.sync``: with ``emit_activate_version_messages``
  the SDK writes ACTIVATE_VERSION *before* a FULL_TABLE stream's records, for child streams too. A target
  that honours it removes every row of an older version, so the message is held until the stream's
  records are all written (a stream that fails sends none), and streams that emit only part of their
  table in a run (``whole_table_each_run = False``: child streams read for changed parents, ``reports``)
  send none at all.
* :func:`share_run_version` sets ``Stream._initialized_at`` of a worker's stream to the parent tap's: one
  table version (ACTIVATE_VERSION) for every organization of the run.

target-dinero
-------------
:class:`SdkAdapterTarget` (``TargetDinero`` derives from it):

* ``Target._process_{record,schema,state,activate_version,batch}_message``: routed to the public
  ``process_*_message`` hooks, so a malformed message stops the run at its line (``target_dinero.target``).
  The SDK's own handling stays callable as ``sdk_process_*_message``.
* :meth:`SdkAdapterTarget.sdk_record_to_sink`: the SDK's per-record flow (sink context, ``_sdc_`` metadata,
  parsing, preprocessing, ``process_record``, counters) for one mapped record, without the SDK's
  run-stopping key check (``Sink._singer_validate_message``, see :class:`SdkAdapterSink`);
  ``Target._assert_sink_exists``, ``Sink._get_context``, ``Sink._add_sdc_metadata_to_record``,
  ``Sink._remove_sdc_metadata_from_record``, ``Sink._validate_and_parse``, ``Sink._after_process_record``.
* ``Target._write_state_message``: skipped when :meth:`SdkAdapterTarget.emits_state` says no (a dry run
  must not hand the orchestrator a STATE for records it never wrote).
* ``Target._drain_all``: routed to the public :meth:`SdkAdapterTarget.drain_sinks` (the target drains the
  sinks that write documents before those acting on documents); ``Target._sinks_active`` read through
  :meth:`SdkAdapterTarget.active_sinks`; ``Target._handle_max_record_age`` through
  :meth:`SdkAdapterTarget.sdk_handle_max_record_age`.

:class:`SdkAdapterSink` (``target_dinero.sinks.base.DineroSink`` derives from it) overrides three per-record
steps of ``Sink`` whose SDK behaviour would stop the whole run on one bad record (see each method).
"""

from __future__ import annotations

import dataclasses
import time
import typing as t
import weakref
from collections.abc import Callable, Iterable
from importlib.metadata import version

from singer_sdk import Tap
from singer_sdk import singerlib as singer
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._compat import datetime_fromisoformat
from singer_sdk.helpers._state import PROGRESS_MARKER_NOTE, PROGRESS_MARKERS
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.sinks import BatchSink, Sink
from singer_sdk.streams import RESTStream
from singer_sdk.target_base import Target

if t.TYPE_CHECKING:
    from types import FrameType

    import requests
    from singer_sdk.helpers.types import Context
    from singer_sdk.singerlib import Catalog
    from singer_sdk.streams import Stream

__all__ = [
    "PROGRESS_MARKERS",
    "PROGRESS_MARKER_NOTE",
    "SDK_SERIES",
    "SdkAdapterSink",
    "SdkAdapterStream",
    "SdkAdapterTap",
    "SdkAdapterTarget",
    "SdkConfigValidation",
    "datetime_fromisoformat",
    "sdk_version",
    "share_run_version",
]


#: The singer-sdk minor series the adapters were written against (pyproject pins the same).
SDK_SERIES = "0.54"

#: Least time between two STATE messages written while a stream syncs (see the module docstring): a
#: killed run re-reads at most this much.
STATE_MESSAGE_INTERVAL_SECONDS = 5.0


def sdk_version() -> str:
    """The installed singer-sdk version."""
    return version("singer-sdk")


class SdkConfigValidation:
    """Mixin, placed before singer-sdk's plugin class: the SDK's config validation, made overridable."""

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK calls this while building the plugin: hand it to :meth:`validate_plugin_config`."""
        return self.validate_plugin_config(raise_errors=raise_errors)

    def validate_plugin_config(self, *, raise_errors: bool = True) -> list[str]:
        """Validate the config; override to add checks (the default is the SDK's schema validation)."""
        errors = self.sdk_schema_errors()
        if errors and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=errors)
        return errors

    def sdk_schema_errors(self) -> list[str]:
        """The SDK's JSON-schema problems with the config (raised quietly: no WARNING of the SDK's own)."""
        try:
            return list(super()._validate_config(raise_errors=True))  # type: ignore[misc]
        except ConfigValidationError as exc:
            return list(exc.errors)


# -- tap-dinero ---------------------------------------------------------------------------------------
@dataclasses.dataclass
class StateClock:
    """When a tap last wrote a STATE, and whether a newer one is pending (see ``_write_state_message``)."""

    written_at: float | None = None
    pending: bool = False


_STATE_CLOCKS: weakref.WeakKeyDictionary[Tap, StateClock] = weakref.WeakKeyDictionary()


class SdkAdapterStream(RESTStream):
    """A RESTStream with tap-dinero's overrides of SDK internals (see the module docstring)."""

    #: True when the stream writes its own bookmark (request clock): the SDK's per-record
    #: ``max(replication key)`` bookkeeping is skipped.
    owns_bookmark: t.ClassVar[bool] = False

    #: False for a stream that does not emit its whole table in every run (``reports`` skips closed
    #: years). Child streams never do (they are read for the parents emitted in the run).
    whole_table_each_run: t.ClassVar[bool] = True

    _schema_written = False
    _nothing_deselected: bool | None = None
    _held_version: int | None = None

    @property
    def owning_tap(self) -> Tap:
        """The tap this stream belongs to."""
        return self._tap

    def send_prepared(self, prepared: requests.PreparedRequest, context: Context | None) -> requests.Response:
        """Send an extra request the way the SDK sends a page (through ``request_decorator``)."""
        return self.request_decorator(self._request)(prepared, context)

    @property
    def emit_activate_version_messages(self) -> bool:
        """ACTIVATE_VERSION only for a top-level stream that emits its whole table in every run: for any
        other one a target would delete every row the run did not re-read (lines of unchanged invoices,
        reports of closed years)."""
        if self.parent_stream_type is not None or not self.whole_table_each_run:
            return False
        return bool(super().emit_activate_version_messages)

    def _write_activate_version_message(self, full_table_version: int) -> None:
        """Held until the stream's records are written (see :meth:`sync`)."""
        self._held_version = full_table_version

    def sync(self, context: Context | None = None) -> None:  # type: ignore[misc]
        """The SDK's sync; the held ACTIVATE_VERSION is written after the records, and only when the
        stream completed (a stream that fails half-way must not make a target delete the rest)."""
        self._held_version = None
        super().sync(context)
        version, self._held_version = self._held_version, None
        if version is not None:
            super()._write_activate_version_message(version)

    def _write_schema_message(self) -> None:
        """Write the SCHEMA message once per run (child streams are synced once per parent record)."""
        if self._schema_written:
            return
        self._schema_written = True
        super()._write_schema_message()

    _force_state_message = False

    def _write_state_message(self) -> None:
        """Write the tap's STATE; a child stream's at most every :data:`STATE_MESSAGE_INTERVAL_SECONDS`.

        The pending flag and the time of the last STATE are the tap's (one state for all its streams): a
        child's skipped STATE is written by whichever stream writes next -- at the latest its parent, at
        the end of the parent's records (the SDK's own write there, also in a dry run)."""
        clock = _STATE_CLOCKS.setdefault(self._tap, StateClock())
        if self.state_manager.is_flushed and not clock.pending:
            return
        now = time.monotonic()
        if (
            self.parent_stream_type is not None
            and not self._force_state_message
            and clock.written_at is not None
            and now - clock.written_at < STATE_MESSAGE_INTERVAL_SECONDS
        ):
            clock.pending = True
            return
        self.state_manager.is_flushed = False
        super()._write_state_message()
        clock.pending = False
        clock.written_at = now

    def finalize_state_progress_markers(self, state: dict | None = None) -> None:
        """The SDK's finalize, whose STATE is always written (it ends the stream's part of the run)."""
        self._force_state_message = True
        try:
            super().finalize_state_progress_markers(state)
        finally:
            self._force_state_message = False

    def _increment_stream_state(self, latest_record: dict, *, context: Context | None = None) -> None:
        if self.owns_bookmark:
            return
        super()._increment_stream_state(latest_record, context=context)

    def _generate_record_messages(self, record: dict) -> t.Generator[singer.RecordMessage, None, None]:
        """The SDK's record path, without the per-field selection walk when nothing is deselected."""
        if self._nothing_deselected is None:
            self._nothing_deselected = all(self.mask.values())
        if not self._nothing_deselected:
            pop_deselected_record_properties(record, self.schema, self.mask)
        if self.TYPE_CONFORMANCE_LEVEL != TypeConformanceLevel.NONE:
            record = conform_record_data_types(
                stream_name=self.name,
                record=record,
                schema=self.effective_schema,
                level=self.TYPE_CONFORMANCE_LEVEL,
                logger=self.logger,
            )
        for stream_map in self.stream_maps:
            mapped_record = stream_map.transform(record)
            if mapped_record is not None:
                yield singer.RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped_record,
                    version=self._stream_version,
                    time_extracted=utc_now(),
                )


class SdkAdapterTap(Tap):
    """A Tap with the SDK internals the multi-organization run needs (see the module docstring)."""

    def prepare_sync_state(self) -> None:
        """What ``Tap.sync_all`` does before the first stream: drop old progress markers, settle the
        replication methods of child streams."""
        self._reset_state_progress_markers()
        self._set_compatible_replication_methods()

    @property
    def current_catalog(self) -> Catalog:
        """The catalog with the selection as it stands (set in code or from the input catalog)."""
        return self._singer_catalog

    def replace_state(self, state: dict[str, t.Any]) -> None:
        """Make ``state`` the tap's state (the merged state of a multi-organization run)."""
        self._state = state

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:  # pragma: no cover
        """The SDK's SIGINT/SIGTERM handler: routed to :meth:`handle_termination`."""
        self.handle_termination(signum, frame)

    def handle_termination(self, signum: int, frame: FrameType | None) -> None:  # pragma: no cover
        """SIGINT/SIGTERM; override to act first, then call :meth:`sdk_handle_termination`."""
        self.sdk_handle_termination(signum, frame)

    def sdk_handle_termination(self, signum: int, frame: FrameType | None) -> None:  # pragma: no cover
        """The SDK's handling: write the latest state, then exit."""
        super()._handle_termination(signum, frame)


def share_run_version(stream: Stream, initialized_at: int) -> None:
    """Give ``stream`` the table version of a run that started at ``initialized_at`` (ms)."""
    stream._initialized_at = initialized_at


# -- target-dinero ------------------------------------------------------------------------------------
class SdkAdapterTarget(Target):
    """A Target whose message handling and draining go through public, overridable hooks."""

    # -- Singer messages: the SDK's private handlers, routed to public hooks -------------------------
    def _process_record_message(self, message_dict: dict) -> None:
        self.process_record_message(message_dict)

    def _process_schema_message(self, message_dict: dict) -> None:
        self.process_schema_message(message_dict)

    def _process_state_message(self, message_dict: dict) -> None:
        self.process_state_message(message_dict)

    def _process_activate_version_message(self, message_dict: dict) -> None:
        self.process_activate_version_message(message_dict)

    def _process_batch_message(self, message_dict: dict) -> None:
        self.process_batch_message(message_dict)

    def process_record_message(self, message_dict: dict) -> None:
        """A RECORD message (default: the SDK's handling)."""
        super()._process_record_message(message_dict)

    def process_schema_message(self, message_dict: dict) -> None:
        """A SCHEMA message (default: the SDK's handling)."""
        self.sdk_process_schema_message(message_dict)

    def process_state_message(self, message_dict: dict) -> None:
        """A STATE message (default: the SDK's handling)."""
        self.sdk_process_state_message(message_dict)

    def process_activate_version_message(self, message_dict: dict) -> None:
        """An ACTIVATE_VERSION message (default: the SDK's handling)."""
        self.sdk_process_activate_version_message(message_dict)

    def process_batch_message(self, message_dict: dict) -> None:
        """A BATCH message (default: the SDK's handling)."""
        super()._process_batch_message(message_dict)

    def sdk_process_schema_message(self, message_dict: dict) -> None:
        """The SDK's SCHEMA handling (stream maps, sink creation)."""
        super()._process_schema_message(message_dict)

    def _write_state_message(self, state: dict) -> None:
        if self.emits_state():
            super()._write_state_message(state)

    def emits_state(self) -> bool:
        """Whether the target writes the STATE it has reached to stdout (default: yes). What a target
        writes there is what an orchestrator saves for the tap's next run."""
        return True

    def sdk_process_state_message(self, message_dict: dict) -> None:
        """The SDK's STATE handling (held until the sinks before it are drained)."""
        super()._process_state_message(message_dict)

    def sdk_process_activate_version_message(self, message_dict: dict) -> None:
        """The SDK's ACTIVATE_VERSION handling."""
        super()._process_activate_version_message(message_dict)

    # -- records -------------------------------------------------------------------------------------
    def sdk_record_to_sink(
        self,
        stream_alias: str,
        record: dict,
        message_dict: dict,
        note: Callable[[dict], None],
    ) -> Sink:
        """Hand one mapped record to its sink the way ``Target._process_record_message`` does, minus the
        SDK's key check; ``note(context)`` runs right after ``process_record`` (the target notes where the
        record came from). Returns the sink (the caller decides when it is drained)."""
        self._assert_sink_exists(stream_alias)
        sink = self.get_sink(stream_alias, record=record)
        context = sink._get_context(record)
        if sink.include_sdc_metadata_properties:
            sink._add_sdc_metadata_to_record(record, message_dict, context)
        else:
            sink._remove_sdc_metadata_from_record(record)
        sink._validate_and_parse(record)
        record = sink.preprocess_record(record, context)
        sink.tally_record_read()
        sink.process_record(record, context)
        note(context)
        sink.record_counter_metric.increment()
        sink._after_process_record(context)
        return sink

    def sdk_handle_max_record_age(self) -> None:
        """Drain everything when the oldest held record is older than the SDK's limit."""
        self._handle_max_record_age()

    # -- draining ------------------------------------------------------------------------------------
    def active_sinks(self) -> list[Sink]:
        """The sinks of the streams currently loaded."""
        return list(self._sinks_active.values())

    def _drain_all(self, sink_list: Iterable[Sink], parallelism: int) -> None:
        self.drain_sinks(sink_list, parallelism)

    def drain_sinks(self, sink_list: Iterable[Sink], parallelism: int) -> None:
        """Drain ``sink_list`` (default: the SDK's, ``parallelism`` at a time); every drain goes here."""
        self.sdk_drain_all(sink_list, parallelism)

    def sdk_drain_all(self, sink_list: Iterable[Sink], parallelism: int) -> None:
        """The SDK's drain of ``sink_list``."""
        super()._drain_all(sink_list, parallelism)


class SdkAdapterSink(BatchSink):
    """A BatchSink whose per-record SDK steps never stop the run over one record."""

    def _parse_timestamps_in_record(self, record: dict, schema: dict, treatment: t.Any) -> None:
        """Keep date strings as sent: the load types parse dates themselves and reject bad ones
        (the SDK would abort the whole run on one unparsable date)."""
        return

    def _singer_validate_message(self, record: dict) -> None:
        """No run-stopping key check (the SDK raises MissingKeyPropertiesError and the whole run fails at
        that line, on every re-run): ``DineroSink.reference_for`` rejects a record without its key
        properties, naming them, unless it carries its own ExternalReference."""
        return

    def _remove_sdc_metadata_from_record(self, record: dict) -> None:
        """Drop the SDK's metadata columns but keep ``_sdc_deleted_at``: it says the row was deleted
        upstream, which every load type acts on (the SDK would strip it before the sink sees it)."""
        deleted_at = record.get("_sdc_deleted_at")
        super()._remove_sdc_metadata_from_record(record)
        if deleted_at:
            record["_sdc_deleted_at"] = deleted_at
