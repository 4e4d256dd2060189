"""Every use of singer-sdk's private names by target-dinero, in one place.

The SDK reads Singer messages, feeds sinks and drains them through private methods with no public hook,
and the target changes what happens at each of them, so they are gathered here; no other module of the
target names a private SDK name. ``tests/test_sdk_adapters.py`` checks that (an AST scan) and that every
private name used here still exists in the installed SDK with the signature it is overridden or called
with: an SDK upgrade that renames or reshapes one fails there, loudly. What tap and target share is in
:mod:`dinero_api.sdk_adapter`.

:class:`SdkAdapterTarget` (``TargetDinero`` derives from it):

* ``Target._process_{record,schema,state,activate_version,batch}_message``: routed to the public
  ``process_*_message`` hooks, so a malformed message stops the run at its line (``target_dinero.target``).
  The SDK's own handling stays callable as ``sdk_process_*_message``.
* :meth:`SdkAdapterTarget.sdk_record_to_sink`: the SDK's per-record flow (sink context, ``_sdc_`` metadata,
  parsing, preprocessing, ``process_record``, counters) for one mapped record, without the SDK's
  run-stopping key check (``Sink._singer_validate_message``, see :class:`SdkAdapterSink`);
  ``Target._assert_sink_exists``, ``Sink._get_context``, ``Sink._add_sdc_metadata_to_record``,
  ``Sink._remove_sdc_metadata_from_record``, ``Sink._validate_and_parse``, ``Sink._after_process_record``.
* ``Target._drain_all``: routed to the public :meth:`SdkAdapterTarget.drain_sinks` (the target drains the
  sinks that write documents before those acting on documents); ``Target._sinks_active`` read through
  :meth:`SdkAdapterTarget.active_sinks`; ``Target._handle_max_record_age`` through
  :meth:`SdkAdapterTarget.sdk_handle_max_record_age`.

:class:`SdkAdapterSink` (``target_dinero.sinks.base.DineroSink`` derives from it) overrides three per-record
steps of ``Sink`` whose SDK behaviour would stop the whole run on one bad record (see each method).
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Iterable

from singer_sdk.sinks import BatchSink, Sink
from singer_sdk.target_base import Target

from dinero_api.sdk_adapter import SDK_SERIES, sdk_version

__all__ = ["SDK_SERIES", "SdkAdapterSink", "SdkAdapterTarget", "sdk_version"]


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
