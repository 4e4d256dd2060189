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

import atexit
import sys
import threading
import typing as t
import weakref

from singer_sdk.singerlib.encoding import SimpleSingerWriter

__all__ = ["DineroMessageWriter", "flush_output"]

try:
    from singer_sdk.contrib.msgspec import MsgSpecWriter as _EncodingWriter
except ImportError:  # pragma: no cover - msgspec is a dependency; only stale environments lack it
    _EncodingWriter = SimpleSingerWriter  # type: ignore[assignment,misc]


class DineroMessageWriter(_EncodingWriter):  # type: ignore[misc,valid-type]
    """One JSON line per message on stdout, RECORD lines written out in blocks.

    RECORD lines collect in the writer's own block (up to :data:`BLOCK_BYTES`) and go out when it fills,
    before each request the tap sends (:func:`flush_output`, called by ``DineroStream``), and with every
    other message -- SCHEMA, STATE, ACTIVATE_VERSION -- so a STATE line never reaches the target before
    the records it covers, and never waits either. The block is the writer's own, not stdout's buffer:
    under ``PYTHONUNBUFFERED=1`` (set in many containers, and here) stdout has none, and the SDK's
    writers flush after every message anyway -- one ``write`` system call per row, 8-13 % of the tap's
    CPU on a large list. A tap killed with rows still in the block loses only rows that no STATE covers,
    which the next run reads again; on a normal exit the block is written out.
    """

    def __init__(self, *args: t.Any, out: t.Any = None, **kwargs: t.Any) -> None:
        """Start with an empty block; write it out at interpreter exit whatever happens.

        ``out``: the stream to write to (default: ``sys.stdout`` as it is when the block goes out).
        """
        super().__init__(*args, **kwargs)
        self._out = out
        self._block = bytearray()
        self._lock = threading.Lock()  # organizations synced side by side share one writer
        #: the thread inside the lock (only that thread's own signal handler can find itself there)
        self._owner: int | None = None
        _WRITERS.add(self)

    def write_message(self, message: t.Any) -> None:
        """Add the message's line to the block; write the block out unless it is a RECORD's.

        A message written from inside this writer's own write -- singer-sdk's SIGTERM/SIGINT handler,
        which writes the tap's STATE in whatever frame the signal interrupted -- is dropped: waiting for
        the lock would hang the tap for good, and writing would put the line inside the interrupted one.
        Only a STATE is written that way; without it the next run reads again what it would have covered.
        """
        if self._owner == threading.get_ident():
            return
        line = self.format_message(message)
        if isinstance(line, str):  # the SDK's default encoding: a str without the newline
            line = (line + "\n").encode("utf-8")
        with self._lock:
            self._block += line
            full = len(self._block) >= BLOCK_BYTES
        if full or getattr(message, "type", None) != "RECORD":
            self.flush()

    def flush(self) -> None:
        """Write the block to stdout (its binary buffer, or as text where stdout has none) and flush."""
        if self._owner == threading.get_ident():
            return  # called from a signal handler inside this writer's own write (see write_message)
        with self._lock:
            if not self._block:
                return
            self._owner = threading.get_ident()
            try:
                data = bytes(self._block)
                self._block.clear()
                self._write(data)
            finally:
                self._owner = None

    def _write(self, data: bytes) -> None:
        out = self._out if self._out is not None else sys.stdout
        buffer = getattr(out, "buffer", None)
        if buffer is not None:
            buffer.write(data)
        else:
            out.write(data.decode("utf-8"))
        out.flush()


#: Bytes of RECORD lines collected before they are written out.
BLOCK_BYTES = 256 * 1024
_WRITERS: weakref.WeakSet[DineroMessageWriter] = weakref.WeakSet()


def flush_output() -> None:
    """Write out every writer's block (before a request, and at exit)."""
    for writer in list(_WRITERS):
        writer.flush()


atexit.register(flush_output)
