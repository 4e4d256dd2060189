"""The rejects file: one JSON line per record the target refused or Dinero refused (4xx)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from target_dinero.records import plain

__all__ = ["RejectsFile"]


class RejectsFile:
    """Thread-safe JSONL writer and counter of rejected records.

    Each line is ``{"stream", "record", "reason", "field"}``. The file is opened lazily (a clean run
    leaves no file behind) and appended to, so the rejects of several runs accumulate.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path).expanduser() if path else None
        self.count = 0
        self._lock = threading.Lock()

    def write(self, stream: str, record: Any, reason: str, field: str | None = None) -> None:
        """Append one rejected record and count it."""
        line = json.dumps(
            {"stream": stream, "record": plain(record), "reason": reason, "field": field},
            default=str,
            ensure_ascii=False,
        )
        with self._lock:
            self.count += 1
            if self.path is None:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # backslashreplace: a lone surrogate (a record rejected for it) is written as its JSON escape
            with self.path.open("a", encoding="utf-8", errors="backslashreplace") as handle:
                handle.write(line + "\n")
