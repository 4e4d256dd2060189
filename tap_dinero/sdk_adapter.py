"""Every use of singer-sdk's private names by tap-dinero, in one place.

The SDK offers no public hook for these, and each one is load-bearing, so they are gathered here and
``tests/tap/test_sdk_adapter.py`` pins them to the SDK version they were written against: an SDK
upgrade that renames or reshapes one fails that test instead of silently changing what the tap emits.
What both plugins share is in :mod:`dinero_api.sdk_adapter`; ``tests/test_sdk_adapters.py`` fails when a
private SDK name is used anywhere but in these adapter modules.

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
"""

from __future__ import annotations

import typing as t

from singer_sdk import Tap
from singer_sdk import singerlib as singer
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._state import PROGRESS_MARKER_NOTE, PROGRESS_MARKERS
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams import RESTStream

from dinero_api.sdk_adapter import SDK_SERIES, sdk_version

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
    "SdkAdapterStream",
    "SdkAdapterTap",
    "sdk_version",
    "share_run_version",
]


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

    def sync(self, context: Context | None = None) -> None:
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
