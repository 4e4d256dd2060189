"""Where a profiled tap run spends its time, by category (cProfile cumulative times)."""

from __future__ import annotations

import pstats
from typing import Any

__all__ = ["CATEGORIES", "summarize"]

#: category -> (file suffix, function name) whose cumulative time is the category's. The entry points
#: do not nest inside each other, so their shares add up (the rest is "other": the SDK's record loop,
#: the tap's own per-record code, tap set-up).
CATEGORIES: dict[str, list[tuple[str, str]]] = {
    "http_and_server_wait": [("requests/adapters.py", "send")],
    "quota_throttle": [("dinero_api/quota.py", "acquire")],
    "json_decoding": [("requests/models.py", "json")],
    "typing_conformance": [("singer_sdk/helpers/_typing.py", "conform_record_data_types")],
    "schema_validation": [
        ("singer_sdk/helpers/_validation.py", "validate"),
        ("jsonschema/validators.py", "iter_errors"),
    ],
    "json_encoding": [("singer_sdk/singerlib/json.py", "serialize_json")],
    "writing_stdout": [("singer_sdk/singerlib/encoding/simple.py", "write_message")],
    "property_selection": [("singer_sdk/helpers/_catalog.py", "pop_deselected_record_properties")],
    "state_bookkeeping": [("singer_sdk/streams/core.py", "_increment_stream_state")],
}


def _cumulative(stats: dict[Any, Any], suffix: str, name: str) -> float:
    return sum(
        value[3]
        for (filename, _line, func), value in stats.items()
        if func == name and filename.endswith(suffix)
    )


def summarize(profile_path: str) -> dict[str, float]:
    """Seconds per category plus ``total`` (the profiled ``sync_all``) and ``other``."""
    stats = pstats.Stats(profile_path).stats  # type: ignore[attr-defined]
    total = _cumulative(stats, "singer_sdk/tap_base.py", "sync_all")
    out: dict[str, float] = {}
    for category, entries in CATEGORIES.items():
        out[category] = sum(_cumulative(stats, suffix, name) for suffix, name in entries)
    # write_message includes the encoding: keep only the writing itself.
    out["writing_stdout"] = max(0.0, out["writing_stdout"] - out["json_encoding"])
    out["other"] = max(0.0, total - sum(out.values()))
    out["total"] = total
    return out
