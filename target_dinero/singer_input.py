"""Reading Singer input: every malformed line becomes a reject or one clear error, never a traceback.

The rule (README "Bad Singer input"):

* **A record that can be named is rejected, and the rest loads.** A RECORD message that names a stream
  configured in ``streams`` but whose record cannot be loaded -- ``"record"`` missing, ``null``, not an
  object, nested deeper than :data:`MAX_RECORD_DEPTH` levels, a record the stream map cannot transform,
  a RECORD before its stream's SCHEMA, a record without its key properties -- goes to the rejects file
  with its reason and its input line number, exactly like a record that fails validation.
* **A line that names no record stops the run with one error line** giving the input line number: a
  line that is not JSON, a truncated last line (the tap died while writing it), JSON that is not an
  object, a message without a ``type`` or of an unknown type, a malformed SCHEMA, STATE or BATCH
  message, a BATCH manifest outside the configured storage root. Everything read before that line is
  loaded and its STATE emitted; nothing after it is read, so no STATE can cover a message the target
  never understood. Exit code 1, no traceback.

Blank lines are skipped. This module is a small adapter over singer-sdk's own reader
(:class:`SimpleSingerReader`): it counts lines and turns parse failures into :class:`BadInputLine`; the
message handlers of :class:`~target_dinero.target.TargetDinero` check each message's shape.
"""

from __future__ import annotations

import json
import typing as t
from collections.abc import Iterator
from typing import Any

from singer_sdk.io_base import SingerReader
from singer_sdk.singerlib.json import deserialize_json

__all__ = [
    "MAX_RECORD_DEPTH",
    "BadInputLine",
    "InputReader",
    "TargetStop",
    "depth_defect",
    "excerpt",
]

#: Deepest nesting (objects and arrays) a record may have. Dinero's create models are at most four
#: levels deep (invoice -> ProductLines -> line -> field); anything far deeper is not accounting data,
#: and Python's recursive JSON tools (parsing, schema validation, the rejects file) would fail on it.
MAX_RECORD_DEPTH = 32
#: Marker set on a message whose record had to be cut at MAX_RECORD_DEPTH to be parsed at all.
TOO_DEEP = "_target_dinero_too_deep"
KNOWN_TYPES = ("SCHEMA", "RECORD", "STATE", "ACTIVATE_VERSION", "BATCH")


class TargetStop(RuntimeError):
    """An expected, explained end of the run: the CLI prints the message as one line, no traceback."""


class BadInputLine(TargetStop):
    """A line of the Singer input that names no loadable record: the run stops at it."""

    def __init__(self, line_number: int, reason: str) -> None:
        self.line_number = line_number
        self.reason = reason
        super().__init__(
            f"Singer input line {line_number}: {reason}. The target stopped here: what came before was "
            "loaded (and its STATE emitted), nothing after this line was read. Fix the input and re-run; "
            "nothing is loaded twice."
        )


def excerpt(text: str, limit: int = 80) -> str:
    """A short printable excerpt of an input line for error messages."""
    text = text.rstrip("\r\n")
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _depth(value: Any) -> int:
    """Nesting depth of a JSON-like value (iterative: safe on any depth Python could parse)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_RECORD_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def depth_defect(record: Any) -> str | None:
    """The reason a record is too deeply nested, or None."""
    if _depth(record) > MAX_RECORD_DEPTH:
        return (
            f"record is nested more than {MAX_RECORD_DEPTH} levels deep (objects/arrays): no Dinero load "
            "type has such fields"
        )
    return None


def _cut_deep(line: str, limit: int) -> str:
    """``line`` with every JSON value nested deeper than ``limit`` replaced by ``"..."``.

    Used only when the JSON parser itself gave up (RecursionError): the cut line parses, so the message's
    stream is known and its record can be rejected by name instead of stopping the run.
    """
    out: list[str] = []
    depth = 0
    in_string = escaped = False
    cut_from: int | None = None
    for index, char in enumerate(line):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            if cut_from is None:
                out.append(char)
            continue
        if char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth == limit + 1 and cut_from is None:
                cut_from = index
                out.append('"..."')
                continue
        elif char in "]}":
            depth -= 1
            if depth == limit and cut_from is not None:
                cut_from = None
                continue
        if cut_from is None:
            out.append(char)
    return "".join(out)


def _decoded(buffer: t.IO[bytes]) -> Iterator[str]:
    """Lines of a binary stream as UTF-8 text, an invalid byte kept as a lone surrogate.

    Decoding line by line (not the text layer's chunks) keeps the line count exact and lets every line
    before a bad byte load. A bad byte inside a JSON string becomes a lone surrogate, which rejects that
    record naming the field (text Dinero cannot store); outside a string the line is not JSON.
    """
    for raw in buffer:
        yield raw.decode("utf-8", "surrogateescape")


class _Lines:
    """The input's lines, counted; blank lines skipped; undecodable bytes reported with their line."""

    def __init__(self, reader: InputReader, source: t.IO[str]) -> None:
        self._reader = reader
        self._source = source

    def __iter__(self) -> Iterator[str]:
        buffer = getattr(self._source, "buffer", None)
        if buffer is not None:  # stdin or a file: decode each line ourselves (see _decoded)
            yield from self._numbered(_decoded(buffer))
            return
        yield from self._numbered(self._source)

    def _numbered(self, source: t.Iterable[str]) -> Iterator[str]:
        iterator = iter(source)
        while True:
            try:
                line = next(iterator)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                raise BadInputLine(
                    self._reader.line_number + 1, f"the input is not UTF-8 text ({exc.reason})"
                ) from None
            self._reader.line_number += 1
            if line.strip():
                yield line


class InputReader(SingerReader):
    """singer-sdk's line reader, plus line numbers and clear errors for lines that are not messages."""

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0
        #: Called when a bad line stops the run, before the error propagates: the target drains what it
        #: read before that line (loads it, emits its STATE).
        self.before_stop: t.Callable[[], None] | None = None

    def process_lines(
        self, file_input: t.IO[str] | None, callbacks: dict[str, t.Callable[[dict], None]]
    ) -> t.Counter[str]:
        """The SDK's loop over the lines, fed through :class:`_Lines` (numbering, blank lines)."""
        lines = _Lines(self, file_input or self.default_input)
        try:
            return super().process_lines(lines, callbacks)  # type: ignore[arg-type]
        except BadInputLine:
            if self.before_stop is not None:
                self.before_stop()
            raise

    def deserialize_json(self, line: str) -> dict:
        """Parse one line into a message object, or raise :class:`BadInputLine` saying why it is none."""
        number = self.line_number
        try:
            message = deserialize_json(line)
        except RecursionError:
            message = self._salvage_deep(line)
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            if not line.endswith("\n"):
                raise BadInputLine(
                    number,
                    "the input ends in the middle of a message (truncated last line: the tap was probably "
                    f"stopped while writing it): {excerpt(line)}",
                ) from None
            raise BadInputLine(number, f"not a JSON message ({exc}): {excerpt(line)}") from None
        if not isinstance(message, dict):
            raise BadInputLine(
                number, f"a JSON {type(message).__name__}, not a Singer message object: {excerpt(line)}"
            )
        kind = message.get("type")
        if not isinstance(kind, str) or not kind:
            raise BadInputLine(number, f'a message without a "type": {excerpt(line)}')
        return message

    def _salvage_deep(self, line: str) -> dict:
        """Parse a line too deeply nested for the JSON parser by cutting it (the record is then rejected)."""
        try:
            message = json.loads(_cut_deep(line, MAX_RECORD_DEPTH + 2))
        except (ValueError, RecursionError):
            raise BadInputLine(
                self.line_number, f"a message nested too deeply to parse: {excerpt(line)}"
            ) from None
        if isinstance(message, dict):
            message[TOO_DEEP] = True
        return message

    def _process_unknown_message(self, message_dict: dict) -> None:
        """An unknown message type stops the run (its meaning, and whether it carries data, is unknown)."""
        raise BadInputLine(
            self.line_number,
            f"unknown message type {message_dict.get('type')!r} (known: {', '.join(KNOWN_TYPES)})",
        )
