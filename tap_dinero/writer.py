"""How tap-dinero writes its Singer messages: with msgspec, singer-sdk's faster JSON encoder.

singer-sdk ships ``singer_sdk.contrib.msgspec.MsgSpecWriter`` behind its ``msgspec`` extra
(``singer-sdk[msgspec]``, a dependency of this package). Against the SDK's default writer (``simplejson``)
it took the tap's CPU for a 30 750-row list sync from 1.33 s to 0.91 s (benchmarks/run.py, group 1). The
lines mean the same: numbers (``Decimal``) are still written as JSON numbers with their digits; only
``time_extracted`` ends in ``Z`` instead of ``+00:00``, and text outside ASCII is written as UTF-8 instead
of ``\\u`` escapes.

:class:`DineroMessageWriter` also writes to a ``sys.stdout`` that has no binary buffer (an ``io.StringIO``
put there by ``contextlib.redirect_stdout``), which the SDK's writer does not. In an environment installed
before msgspec became a dependency (an old Meltano plugin virtualenv), the SDK's default writer is used.
"""

from __future__ import annotations

import sys
import typing as t

from singer_sdk.singerlib.encoding import SimpleSingerWriter

__all__ = ["DineroMessageWriter"]

try:
    from singer_sdk.contrib.msgspec import MsgSpecWriter as _EncodingWriter
except ImportError:  # pragma: no cover - msgspec is a dependency; only stale environments lack it
    _EncodingWriter = SimpleSingerWriter  # type: ignore[assignment,misc]


class DineroMessageWriter(_EncodingWriter):  # type: ignore[misc,valid-type]
    """One JSON line per message on stdout.

    RECORD lines are left in stdout's buffer (it is written out whenever it fills, and before each
    request the tap sends, see ``DineroStream.request_decorator``); every other message -- SCHEMA,
    STATE, ACTIVATE_VERSION -- flushes it, so a STATE line never reaches the target before the records
    it covers, and never waits in the buffer either. The SDK flushes after every message:
    one ``write`` system call per row, 8 % of the tap's CPU on a large list. A tap killed with rows
    still in the buffer loses only rows that no STATE covers, which the next run reads again.
    """

    def write_message(self, message: t.Any) -> None:
        """Write the message's line to stdout's binary buffer, or as text where stdout has none."""
        line = self.format_message(message)
        if isinstance(line, str):  # the SDK's default encoding: a str without the newline
            line = (line + "\n").encode("utf-8")
        out = sys.stdout
        buffer = getattr(out, "buffer", None)
        if buffer is not None:
            buffer.write(line)
        else:
            out.write(bytes(line).decode("utf-8"))
        if getattr(message, "type", None) != "RECORD":
            out.flush()
