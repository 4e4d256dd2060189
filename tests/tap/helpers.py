"""Run TapDinero in-process and collect its Singer messages (faster than a subprocess)."""

from __future__ import annotations

import copy
import json
import typing as t
from collections import defaultdict
from dataclasses import dataclass, field

from singer_sdk.singerlib.encoding.simple import SimpleSingerWriter

from tap_dinero.tap import TapDinero


class Killed(Exception):
    """Raised by :class:`CollectingWriter` to simulate a tap killed mid-stream."""


class CollectingWriter(SimpleSingerWriter):
    """Keeps every message as the dict a target would read (serialized then parsed back)."""

    def __init__(self, kill_after: tuple[str, int] | None = None) -> None:
        self.messages: list[dict[str, t.Any]] = []
        self._kill_after = kill_after
        self._seen: dict[str, int] = defaultdict(int)

    def write_message(self, message: t.Any) -> None:
        parsed = json.loads(self.format_message(message))
        self.messages.append(parsed)
        if self._kill_after and parsed["type"] == "RECORD":
            stream, limit = self._kill_after
            if parsed["stream"] == stream:
                self._seen[stream] += 1
                if self._seen[stream] >= limit:
                    raise Killed(f"killed after {limit} {stream} records")


@dataclass
class SyncResult:
    """What one tap run emitted."""

    messages: list[dict[str, t.Any]]
    tap: TapDinero
    error: BaseException | None = None
    records: dict[str, list[dict[str, t.Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        grouped: dict[str, list[dict[str, t.Any]]] = defaultdict(list)
        for message in self.messages:
            if message["type"] == "RECORD":
                grouped[message["stream"]].append(message["record"])
        self.records = dict(grouped)

    @property
    def states(self) -> list[dict[str, t.Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def final_state(self) -> dict[str, t.Any]:
        return copy.deepcopy(self.states[-1]) if self.states else {}

    def stream(self, name: str) -> list[dict[str, t.Any]]:
        return self.records.get(name, [])

    def keys(self, name: str, key: str) -> set[t.Any]:
        return {record[key] for record in self.stream(name)}

    def partition_state(self, stream: str, org: str) -> dict[str, t.Any]:
        for partition in self.final_state["bookmarks"][stream].get("partitions", []):
            if partition["context"] == {"organization_id": org}:
                return partition
        raise KeyError(f"no state partition for {stream} / {org}")


def run_tap(
    config: dict[str, t.Any],
    *,
    streams: t.Iterable[str] | None = None,
    state: dict[str, t.Any] | None = None,
    kill_after: tuple[str, int] | None = None,
    reraise: bool = False,
) -> SyncResult:
    """Sync the tap in-process; ``streams`` limits the selection (children need their parent listed).

    Any exception of the run -- a simulated kill or a real failure -- is returned in ``result.error``, so
    an ``assert result.error is None`` after the call decides whether the run succeeded (every call site
    asserts it, or expects an error). ``reraise=True`` raises a real failure instead (for
    ``pytest.raises``).
    """
    writer = CollectingWriter(kill_after=kill_after)
    tap = TapDinero(config=config, state=copy.deepcopy(state) if state else None, message_writer=writer)
    if streams is not None:
        wanted = set(streams)
        unknown = wanted - set(tap.streams)
        assert not unknown, f"unknown streams {unknown}"
        for name, stream in tap.streams.items():
            stream.selected = name in wanted
    error: BaseException | None = None
    try:
        tap.sync_all()
    except Killed as exc:
        error = exc
    except Exception as exc:
        if reraise:
            raise
        error = exc
    return SyncResult(messages=writer.messages, tap=tap, error=error)
