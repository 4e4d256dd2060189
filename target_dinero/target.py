"""TargetDinero: Singer records -> Dinero invoices, manual vouchers, daily sales, contacts, products."""

from __future__ import annotations

import copy
import gzip
import json
import sys
import typing as t
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError, StreamMapConfigError
from singer_sdk.helpers.capabilities import PluginCapabilities
from singer_sdk.singerlib.json import deserialize_json
from singer_sdk.target_base import Target

from dinero_api.logs import LOG_SETTINGS
from dinero_api.plugin import DineroPluginMixin
from dinero_api.sdk_adapter import SdkAdapterTarget
from dinero_api.settings import SHARED_SETTINGS_SCHEMA
from target_dinero.config import UnmappedStreamError, target_settings
from target_dinero.run import RunContext
from target_dinero.singer_input import (
    MAX_RECORD_DEPTH,
    TOO_DEEP,
    BadInputLine,
    InputReader,
    TargetStop,
    depth_defect,
)
from target_dinero.sinks import SINKS
from target_dinero.sinks.base import DELETION_MARKERS, DineroSink

__all__ = ["RejectsExceeded", "TargetDinero"]


class RejectsExceeded(TargetStop):
    """More records were rejected than ``max_rejects`` allows: the run ends non-zero."""


class UnmappedStreamLine(BadInputLine, UnmappedStreamError):
    """A SCHEMA for a stream the ``streams`` setting does not map: the run stops at that line."""


def _shallow(value: Any, depth: int = 0) -> Any:
    """``value`` cut at MAX_RECORD_DEPTH levels (what the rejects file keeps of a too-deep record)."""
    if isinstance(value, dict | list) and depth >= MAX_RECORD_DEPTH:
        return "..."
    if isinstance(value, dict):
        return {k: _shallow(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_shallow(v, depth + 1) for v in value]
    return value


def _kind(value: Any) -> str:
    return (
        "null"
        if value is None
        else {dict: "an object", list: "an array", str: "a string"}.get(
            type(value), f"a {type(value).__name__}"
        )
    )


def _phase(sink: Any) -> int:
    return int(getattr(sink, "drain_phase", 0))


class TargetDinero(DineroPluginMixin, SdkAdapterTarget):
    """Singer target for the Dinero accounting API: invoices, vouchers, daily sales, contacts, products."""

    # The docstring is what ``--about`` prints, so it stays one plain line (a multi-line docstring
    # indents the markdown heading, and Sphinx roles would show as text). Each stream is loaded as the
    # type its ``streams`` entry names (``load_as``): one sink class per load type in
    # ``target_dinero.sinks``. What the sinks share for the run (client, reference data, contact cache,
    # indexes, journal, rejects) lives in ``target_dinero.run.RunContext``.

    name = "target-dinero"
    package_name = "dinero-singer"  # the distribution whose version ``--version`` prints
    message_reader_class = InputReader
    capabilities: t.ClassVar[list] = [*Target.capabilities, PluginCapabilities.BATCH]
    config_jsonschema = th.PropertiesList(
        *SHARED_SETTINGS_SCHEMA, *target_settings(), *LOG_SETTINGS
    ).to_dict()
    default_sink_class = DineroSink

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.run = RunContext(self.config, self.logger, self.config_jsonschema)
        if self.run.config_errors:
            raise ConfigValidationError(
                "Invalid target-dinero streams configuration",
                errors=self.run.config_errors,
            )
        self.message_reader.before_stop = self._drain_before_stop

    # -- Singer messages (see target_dinero.singer_input for the rule) -------------------------------
    @property
    def _line(self) -> int:
        return int(getattr(self.message_reader, "line_number", 0))

    def _drain_before_stop(self) -> None:
        """A bad line stops the run: load what was read before it and emit its STATE first."""
        Target.process_endofpipe(self)
        self.logger.info("target-dinero summary: %s", json.dumps(self.run.summary(), ensure_ascii=False))

    def _reject_message(self, stream: str, record: Any, reason: str, where: str) -> None:
        self.run.reject(stream, record, f"{reason} ({where})", None)

    def process_record_message(self, message_dict: dict) -> None:
        """A RECORD: reject what cannot be loaded (naming the line), hand the rest to the SDK's flow."""
        stream = message_dict.get("stream")
        if not isinstance(stream, str) or not stream:
            raise BadInputLine(self._line, "a RECORD message without a stream name")
        self._record(stream, message_dict, f"input line {self._line}")

    def _record(self, stream: str, message_dict: dict, where: str) -> None:
        if "record" not in message_dict:
            self._reject_message(stream, None, 'RECORD message without a "record"', where)
            return
        record = message_dict["record"]
        if not isinstance(record, dict):
            self._reject_message(stream, record, f"the record is {_kind(record)}, not an object", where)
            return
        too_deep = depth_defect(record) or (
            "record is nested too deeply to parse" if message_dict.get(TOO_DEEP) else None
        )
        if too_deep:
            self._reject_message(stream, _shallow(record), too_deep, where)
            return
        if stream not in self.mapper.stream_maps:
            self._reject_message(
                stream,
                record,
                f"RECORD of stream {stream!r} before its SCHEMA message (no key properties)",
                where,
            )
            return
        deletion = {name: record[name] for name in DELETION_MARKERS if record.get(name)}
        for stream_map in self.mapper.stream_maps[stream]:
            try:
                transformed = stream_map.transform(copy.copy(record))
            except Exception as exc:  # a map expression failing on this record: the record is the problem
                if not deletion:
                    reason = f"the stream map could not transform it: {exc}"
                    self._reject_message(stream, record, reason, where)
                    continue
                # A deleted row carries little (tap-dinero's deleted payment: keys only), so a map that
                # reads its amounts fails; the deletion needs no map: the sink counts, removes or rejects it.
                transformed = dict(record)
            if transformed is None:  # filtered out by the map
                continue
            if deletion:
                # A map that keeps only named fields (``__else__: __NULL__``) drops the marker too: the row
                # would load as a live one (a deleted sale counted again, a deleted draft created).
                transformed = {**transformed, **deletion}
            sink = self.sdk_record_to_sink(
                stream_map.stream_alias,
                transformed,
                message_dict,
                # where the record came from, for the reason of a later reject
                lambda context: context.setdefault("origins", []).append(where),
            )
            if sink.is_full:
                self.logger.info("Target sink for '%s' is full. Draining...", sink.stream_name)
                earlier = [s for s in self.active_sinks() if _phase(s) < _phase(sink)]
                if earlier:  # what the sink's records act on is written first
                    self.drain_sinks(earlier, self.max_parallelism)
                self.drain_one(sink)
        self.sdk_handle_max_record_age()

    def process_schema_message(self, message_dict: dict) -> None:
        """A SCHEMA whose stream, schema or key properties are malformed stops the run at its line."""
        stream = message_dict.get("stream")
        schema = message_dict.get("schema")
        keys = message_dict.get("key_properties")
        if not isinstance(stream, str) or not stream:
            raise BadInputLine(self._line, "a SCHEMA message without a stream name")
        if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
            raise BadInputLine(
                self._line, f"the SCHEMA of stream {stream!r} has no schema object with properties"
            )
        if keys is not None and (
            not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys)
        ):
            raise BadInputLine(
                self._line, f"key_properties of stream {stream!r} must be a list of field names, got {keys!r}"
            )
        try:
            self.sdk_process_schema_message(message_dict)
        except UnmappedStreamError as exc:  # stop at this line, after loading what came before it
            raise UnmappedStreamLine(self._line, str(exc).rstrip(".")) from None
        except StreamMapConfigError as exc:  # the schema does not fit the stream maps (or vice versa)
            raise BadInputLine(self._line, f"stream {stream!r}: {exc}".rstrip(".")) from None

    _state_withheld_said = False

    def emits_state(self) -> bool:
        """No STATE in a dry run: Meltano would save it, and the real run's tap would start after records
        that were never written to Dinero. Said once on stderr. Nor after a record whose write is in doubt
        (``RunContext.reject(in_doubt=True)``), for the same reason."""
        if self.run.state_held:
            if not self._state_withheld_said:
                self._state_withheld_said = True
                self.logger.warning(
                    "No further STATE is emitted in this run: %d record(s) could not be confirmed written "
                    "(see the rejects file); the next run gets them again from the last STATE and looks each "
                    "up in Dinero before writing anything",
                    self.run.state_held,
                )
            return False
        if not self.run.dry_run:
            return True
        if not self._state_withheld_said:
            self._state_withheld_said = True
            # stderr like the dry run's plan lines (stdout is the orchestrator's, see RunContext.plan)
            sys.stderr.write(
                "target-dinero dry run: no STATE is emitted (an orchestrator would save it, and the real "
                "run would then skip the records this run did not write)\n"
            )
            sys.stderr.flush()
        return False

    def process_state_message(self, message_dict: dict) -> None:
        """A STATE without a value stops the run (what it should have said is unknown)."""
        if "value" not in message_dict:
            raise BadInputLine(self._line, 'a STATE message without a "value"')
        self.sdk_process_state_message(message_dict)

    def process_activate_version_message(self, message_dict: dict) -> None:
        """ACTIVATE_VERSION carries no data; a malformed one stops the run, one for an unknown stream is
        ignored with a warning."""
        stream, version = message_dict.get("stream"), message_dict.get("version")
        if not isinstance(stream, str) or not isinstance(version, int) or isinstance(version, bool):
            raise BadInputLine(
                self._line, "an ACTIVATE_VERSION message needs a stream name and an integer version"
            )
        if stream not in self.mapper.stream_maps:
            self.logger.warning(
                "Input line %d: ACTIVATE_VERSION for stream %r before its SCHEMA; ignored.",
                self._line,
                stream,
            )
            return
        self.sdk_process_activate_version_message(message_dict)

    def process_batch_message(self, message_dict: dict) -> None:
        """BATCH: JSONL files from the configured local storage root only; each record goes the RECORD way.

        Every manifest entry is checked before any file is read: a file outside
        ``batch_config.storage.root`` (or with no root configured, any file) stops the run at this line,
        so the target never opens a path a message chose.
        """
        line = self._line
        stream = message_dict.get("stream")
        encoding = message_dict.get("encoding")
        manifest = message_dict.get("manifest")
        if not isinstance(stream, str) or not stream:
            raise BadInputLine(line, "a BATCH message without a stream name")
        if not isinstance(encoding, dict) or not isinstance(manifest, list) or not manifest:
            raise BadInputLine(
                line, f"the BATCH message of stream {stream!r} needs an encoding and a manifest"
            )
        if encoding.get("format") != "jsonl" or encoding.get("compression") not in (None, "none", "gzip"):
            raise BadInputLine(
                line, f"BATCH encoding {encoding!r} is not supported (format jsonl, compression none or gzip)"
            )
        if stream not in self.mapper.stream_maps:
            raise BadInputLine(line, f"BATCH of stream {stream!r} before its SCHEMA message")
        root = self._batch_root(line)
        paths = [self._batch_file(root, entry, line) for entry in manifest]
        for path in paths:
            opener = gzip.open if encoding.get("compression") == "gzip" else open
            with opener(path, "rt", encoding="utf-8") as handle:  # type: ignore[operator]
                for number, text in enumerate(handle, 1):
                    if not text.strip():
                        continue
                    where = f"input line {line}, batch file {path.name} line {number}"
                    try:
                        record = deserialize_json(text)
                    except (ValueError, RecursionError):
                        raise BadInputLine(line, f"{where} is not a JSON record") from None
                    self._record(stream, {"type": "RECORD", "stream": stream, "record": record}, where)

    def _batch_root(self, line: int) -> Path:
        storage = (self.config.get("batch_config") or {}).get("storage") or {}
        root = storage.get("root")
        if not root:
            raise BadInputLine(
                line,
                "a BATCH message, but batch_config.storage.root is not set: the target reads BATCH files "
                "only from the storage its configuration names",
            )
        parts = urlsplit(str(root))
        if parts.scheme not in ("", "file"):
            raise BadInputLine(
                line, f"batch_config.storage.root {root!r}: only local (file://) storage is supported"
            )
        return Path(unquote(parts.path) if parts.scheme else str(root)).expanduser().resolve()

    @staticmethod
    def _batch_file(root: Path, entry: Any, line: int) -> Path:
        parts = urlsplit(str(entry))
        if (
            not isinstance(entry, str)
            or parts.scheme not in ("", "file")
            or (parts.scheme and parts.netloc not in ("", "localhost"))
        ):
            raise BadInputLine(
                line, f"BATCH manifest entry {entry!r} is not a local file of the batch storage root"
            )
        raw = Path(unquote(parts.path) if parts.scheme else entry).expanduser()
        path = (raw if raw.is_absolute() else root / raw).resolve()
        if root not in path.parents:
            raise BadInputLine(
                line,
                f"BATCH manifest entry {entry!r} is outside the configured batch storage root {str(root)!r}; "
                "the target reads BATCH files only from there",
            )
        if not path.is_file():
            raise BadInputLine(line, f"BATCH manifest entry {entry!r} does not exist")
        return path

    def drain_sinks(self, sink_list: Any, parallelism: int) -> None:
        """Drain the sinks phase by phase (``DineroSink.drain_phase``): documents, invoice payments,
        credit notes, credit-note payments. A payment of an invoice in the same input finds the invoice
        written and booked; a credit-note payment finds its credit note."""
        sinks = list(sink_list)
        for phase in sorted({_phase(s) for s in sinks}):
            self.sdk_drain_all([s for s in sinks if _phase(s) == phase], parallelism)

    def get_sink_class(self, stream_name: str) -> type[DineroSink]:
        """The sink of the stream's load type; an unmapped stream stops the run with a clear error."""
        return SINKS[self.run.options_for(stream_name).load_as]

    def process_endofpipe(self) -> None:
        """Drain and book (SDK), then print the summary; fail when rejects exceed ``max_rejects``."""
        super().process_endofpipe()
        summary = self.run.summary()
        self.logger.info("target-dinero summary: %s", json.dumps(summary, ensure_ascii=False))
        sys.stderr.flush()
        rejected = self.run.rejects.count
        if rejected > self.run.max_rejects:
            raise RejectsExceeded(
                f"{rejected} record(s) rejected (max_rejects is {self.run.max_rejects}); see "
                f"{self.run.rejects.path or 'the log'} for each record and the reason."
            )


if __name__ == "__main__":
    TargetDinero.cli()
