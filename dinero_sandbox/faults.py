"""Fault injection for the reliability tests (``POST /_sandbox/faults``).

A fault is ``{"mode": ..., "count": n, "path_contains": "...", "method": "GET", ...options}`` and fires on
the next ``count`` matching API requests (token endpoints included unless ``path_contains`` excludes them):

=====================  ======================================================================================
mode                   effect
=====================  ======================================================================================
``5xx``                answer ``status`` (default 500) with Dinero's code-50 body instead of handling
``reset``              handle the request, send part of the body, then drop the connection
``slow``               sleep ``seconds`` (default 5) before handling (past a client's timeout); on a write
                       this is a *commit after the client's timeout*; on a token path, a slow token
                       endpoint
``slow_answer``        handle (commit), then hold the answer ``seconds`` (default 5) before sending it
``truncated``          handle, then send only the first half of the body (Content-Length of the half)
``non_json``           handle, then answer an HTML outage page with ``status`` (default 200): a write
                       committed but answered with a body that is not JSON
``429``                answer 429 with the quota body and ``Retry-After: retry_after`` (default 1)
``expire_tokens``      invalidate every access token, then handle (so the request answers 401)
``stale_timestamp``    the next book/PUT/DELETE that takes a Timestamp answers 400 code 58 without acting
``commit_then_500``    perform the write, then answer 500 (the response is lost, the change is not)
``insert_while_paging`` after a list request for page 0, insert ``inserts`` (default 1) new records and
                       update ``updates`` (default 1) existing ones of that collection
=====================  ======================================================================================

Where an ``insert_while_paging`` row lands depends on the list's order, as in Dinero: contacts and products
are ordered by ``UpdatedAt``, so new and touched rows go to the end (read on a later page); invoices,
credit notes and trade offers sort by number descending and a new document has the highest number (a
draft invoice's is Int64.MaxValue), so it sorts onto page 0, which was already served: the same read
shows the last row of page 0 again on page 1 and the new document only in the next read (list results
are cached per table version, which every write bumps, so that read has it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

MODES = (
    "5xx",
    "reset",
    "slow",
    "slow_answer",
    "truncated",
    "non_json",
    "429",
    "expire_tokens",
    "stale_timestamp",
    "commit_then_500",
    "insert_while_paging",
)
BEFORE = ("5xx", "slow", "429", "expire_tokens")
AFTER = ("reset", "truncated", "non_json", "commit_then_500", "slow_answer")


@dataclass
class Fault:
    """One armed fault."""

    mode: str
    count: int = 1
    path_contains: str | None = None
    method: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether the fault applies to a request."""
        if self.count <= 0:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return not (self.path_contains and self.path_contains.lower() not in path.lower())

    def describe(self) -> dict[str, Any]:
        """JSON view."""
        return {
            "mode": self.mode,
            "count": self.count,
            "path_contains": self.path_contains,
            "method": self.method,
            "fired": self.fired,
            **self.options,
        }


class FaultSet:
    """The armed faults; thread-safe."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, spec: dict[str, Any]) -> Fault:
        """Arm a fault from its JSON spec (ValueError when invalid)."""
        mode = str(spec.get("mode", ""))
        if mode not in MODES:
            raise ValueError(f"unknown fault mode {mode!r}; modes: {', '.join(MODES)}")
        count = int(spec.get("count", 1))
        options = {k: v for k, v in spec.items() if k not in ("mode", "count", "path_contains", "method")}
        fault = Fault(mode, count, spec.get("path_contains"), spec.get("method"), options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, modes: tuple[str, ...], method: str, path: str) -> Fault | None:
        """The first armed fault of one of ``modes`` matching the request (its count is used up)."""
        with self._lock:
            for fault in self._faults:
                if fault.mode in modes and fault.matches(method, path):
                    fault.count -= 1
                    fault.fired += 1
                    return fault
        return None

    def clear(self) -> None:
        """Disarm everything."""
        with self._lock:
            self._faults.clear()

    def describe(self) -> list[dict[str, Any]]:
        """JSON view of every fault (spent ones included, with ``fired``)."""
        with self._lock:
            return [f.describe() for f in self._faults]
