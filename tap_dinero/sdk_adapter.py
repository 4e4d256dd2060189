"""Every use of singer-sdk's private names by tap-dinero, in one place.

The SDK offers no public hook for these, and each one is load-bearing, so they are gathered here and
``tests/tap/test_sdk_adapter.py`` pins them to the SDK version they were written against: an SDK
upgrade that renames or reshapes one fails that test instead of silently changing what the tap emits.

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
"""

from __future__ import annotations

import typing as t

import singer_sdk
from singer_sdk import singerlib as singer
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.helpers._state import PROGRESS_MARKER_NOTE, PROGRESS_MARKERS
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.streams import RESTStream

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

__all__ = ["PROGRESS_MARKERS", "PROGRESS_MARKER_NOTE", "SDK_SERIES", "SdkAdapterStream"]

#: The singer-sdk minor series these overrides were written against (pyproject pins the same).
SDK_SERIES = "0.54"


class SdkAdapterStream(RESTStream):
    """A RESTStream with tap-dinero's overrides of SDK internals (see the module docstring)."""

    #: True when the stream writes its own bookmark (request clock): the SDK's per-record
    #: ``max(replication key)`` bookkeeping is skipped.
    owns_bookmark: t.ClassVar[bool] = False

    _schema_written = False
    _nothing_deselected: bool | None = None

    def send_prepared(self, prepared: requests.PreparedRequest, context: Context | None) -> requests.Response:
        """Send an extra request the way the SDK sends a page (through ``request_decorator``)."""
        return self.request_decorator(self._request)(prepared, context)

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


def sdk_version() -> str:
    """The installed singer-sdk version."""
    return str(getattr(singer_sdk, "__version__", "") or _dist_version())


def _dist_version() -> str:
    from importlib.metadata import version

    return version("singer-sdk")
