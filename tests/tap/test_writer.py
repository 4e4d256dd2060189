"""The tap's message writer: RECORD lines go out in blocks, never after the STATE that covers them."""

from __future__ import annotations

import io
import json

import pytest
from singer_sdk.singerlib import RecordMessage, StateMessage

from tap_dinero.writer import DineroMessageWriter, flush_output


class CountingStdout(io.TextIOWrapper):
    """A stdout whose binary side counts the writes that reach it (what the OS would see)."""

    def __init__(self) -> None:
        self.raw_writes = 0
        self.sink = io.BytesIO()
        outer = self

        class Raw(io.RawIOBase):
            def writable(self) -> bool:
                return True

            def write(self, data: bytes) -> int:  # type: ignore[override]
                outer.raw_writes += 1
                return outer.sink.write(data)

        # write_through: like PYTHONUNBUFFERED=1, every write of the text layer reaches the raw one
        super().__init__(io.BufferedWriter(Raw(), buffer_size=1), write_through=True)


@pytest.fixture
def stdout() -> CountingStdout:
    return CountingStdout()


def test_records_are_written_in_blocks_even_when_stdout_is_unbuffered(stdout: CountingStdout) -> None:
    writer = DineroMessageWriter(out=stdout)
    for i in range(2000):
        writer.write_message(RecordMessage(stream="invoices", record={"Guid": f"g{i}", "Amount": i}))
    assert stdout.raw_writes < 20  # not one write per row
    writer.write_message(StateMessage(value={"bookmarks": {}}))
    lines = [json.loads(line) for line in stdout.sink.getvalue().decode().splitlines()]
    assert [m["type"] for m in lines] == ["RECORD"] * 2000 + ["STATE"]  # nothing held back, in order
    assert [m["record"]["Guid"] for m in lines[:3]] == ["g0", "g1", "g2"]


def test_rows_written_before_a_request_are_out_before_it_is_sent(stdout: CountingStdout) -> None:
    writer = DineroMessageWriter(out=stdout)
    writer.write_message(RecordMessage(stream="invoices", record={"Guid": "g1"}))
    assert stdout.sink.getvalue() == b""
    flush_output()  # what DineroStream.request_decorator calls before every request
    assert json.loads(stdout.sink.getvalue())["record"] == {"Guid": "g1"}


def test_a_state_written_by_a_signal_handler_inside_a_write_neither_hangs_nor_splits_a_line() -> None:
    """SIGTERM arrives while the main thread writes a block to a slow pipe (the usual place for it: the
    target reads slowly). singer-sdk's handler then writes the tap's STATE through the same writer, in the
    same thread, inside the interrupted write: with the writer's lock held that hung the tap for good
    (found with a real tap process: 10 minutes, SIGTERM ignored). The STATE is dropped instead -- a later
    run reads again what it would have covered -- and every line written is whole."""
    import threading

    lines: list[str] = []
    writer: DineroMessageWriter

    class SlowPipe:
        interrupted = False

        def write(self, text: str) -> None:
            if not self.interrupted:  # the signal handler runs here, inside the write
                self.interrupted = True
                state = {"bookmarks": {"invoices": {"replication_key_value": "2026-12-01"}}}
                writer.write_message(StateMessage(value=state))  # what the SDK's StateWriter sends
            lines.append(text)

        def flush(self) -> None:
            pass

    writer = DineroMessageWriter(out=SlowPipe())
    for n in range(3):
        writer.write_message(RecordMessage(stream="invoices", record={"Guid": str(n)}))
    done = threading.Event()

    def flush() -> None:
        writer.flush()
        done.set()

    threading.Thread(target=flush, daemon=True).start()
    assert done.wait(timeout=10), "the writer deadlocked on its own lock"
    text = "".join(lines)
    assert [json.loads(line)["type"] for line in text.splitlines()] == ["RECORD", "RECORD", "RECORD"]
    writer.write_message(StateMessage(value={"later": True}))  # the writer still works afterwards
    assert json.loads("".join(lines).splitlines()[-1])["type"] == "STATE"
