"""One measured run in a fresh process: the tap (in-process ``sync_all``) or the bare baseline.

``python -m benchmarks.tap_worker spec.json`` where the spec holds ``mode`` ("tap" or "baseline") and:

* tap: ``config``, ``catalog``, optional ``state``, optional ``profile`` (path for cProfile stats);
* baseline: ``config`` and ``urls`` -- the exact [stream, path, query] list the tap requested, fetched
  with a bare ``requests`` loop that writes the same RECORD lines to /dev/null.

Singer messages go to /dev/null. The result (``result`` path) holds the measured seconds (imports and
interpreter start-up excluded), CPU seconds, records, peak RSS and, for the tap, its final state.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from typing import Any


def _usage() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def run_tap(spec: dict[str, Any]) -> dict[str, Any]:
    """Sync the selected streams with TapDinero; stdout is /dev/null."""
    import logging

    from tap_dinero.tap import TapDinero

    logging.disable(logging.INFO)  # progress logs are not part of the measured work
    profiler = None
    if spec.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
    real_stdout = sys.stdout
    cpu0, _ = _usage()
    started = time.perf_counter()
    with open(os.devnull, "w", encoding="utf-8") as sink:
        sys.stdout = sink
        try:
            if profiler:
                profiler.enable()
            tap = TapDinero(config=spec["config"], catalog=spec["catalog"], state=spec.get("state"))
            tap.sync_all()
            if profiler:
                profiler.disable()
        finally:
            sys.stdout = real_stdout
    seconds = time.perf_counter() - started
    cpu1, maxrss = _usage()
    records = {s.name: s.progress.records for s in tap.streams.values() if s.selected}
    requests = {s.name: s.progress.requests for s in tap.streams.values() if s.selected}
    if profiler:
        profiler.dump_stats(spec["profile"])
    return {
        "seconds": seconds,
        "cpu": cpu1 - cpu0,
        "maxrss_mib": maxrss,
        "records": sum(records.values()),
        "records_by_stream": records,
        "requests_by_stream": requests,
        "state": json.loads(json.dumps(tap.state, default=str)),
    }


def run_baseline(spec: dict[str, Any]) -> dict[str, Any]:
    """GET the same pages as the tap with plain ``requests`` and write RECORD lines to /dev/null."""
    import requests

    config = spec["config"]
    cpu0, _ = _usage()
    started = time.perf_counter()
    session = requests.Session()
    token = session.post(
        config["token_url"],
        auth=(config["client_id"], config["client_secret"]),
        data={
            "grant_type": "password",
            "scope": "read write",
            "username": config["api_key"],
            "password": config["api_key"],
        },
        timeout=30,
    ).json()["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    records = 0
    base = config["api_url"].rstrip("/")
    with open(os.devnull, "w", encoding="utf-8") as sink:
        for stream, path, query in spec["urls"]:
            response = session.get(f"{base}{path}?{query}" if query else f"{base}{path}", timeout=60)
            response.raise_for_status()
            body = response.json()
            # a list envelope, a bare array, or one detail object
            rows = body.get("Collection", [body]) if isinstance(body, dict) else body
            for row in rows:
                sink.write(json.dumps({"type": "RECORD", "stream": stream, "record": row}) + "\n")
            records += len(rows)
    seconds = time.perf_counter() - started
    cpu1, maxrss = _usage()
    return {"seconds": seconds, "cpu": cpu1 - cpu0, "maxrss_mib": maxrss, "records": records}


def main(argv: list[str]) -> int:
    """Read the spec, run, write the result."""
    with open(argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    result = run_tap(spec) if spec["mode"] == "tap" else run_baseline(spec)
    with open(spec["result"], "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
