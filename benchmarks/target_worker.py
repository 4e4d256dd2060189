"""target-dinero in a fresh process with the network stubbed out: records per CPU-second through
validation and mapping (the sinks' real code, the SDK's reading and batching, the journal).

``python -m benchmarks.target_worker spec.json``: ``config``, ``input`` (Singer messages file),
``reference`` (answers of the reference-data GETs, fetched beforehand from the sandbox), optional
``profile`` path. Every other GET answers "nothing exists"; writes answer like Dinero would.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from typing import Any

EMPTY_PAGE = {
    "Collection": [],
    "Pagination": {
        "MaxPageSizeAllowed": 1000,
        "PageSize": 1000,
        "Result": 0,
        "ResultWithoutFilter": 0,
        "Page": 0,
    },
}


def install_stub(reference: dict[str, Any], counter: dict[str, int]) -> None:
    """Replace the gateway's network calls (the target's only door to Dinero) with canned answers."""
    from target_dinero.gateway import DineroGateway

    def get(self: Any, path: str, params: Any = None) -> Any:
        counter["get"] += 1
        for suffix, answer in reference.items():
            if path.endswith(suffix):
                return json.loads(json.dumps(answer))
        return EMPTY_PAGE

    def write(self: Any, path: str, payload: Any, **_: Any) -> Any:
        counter["write"] += 1
        guid = payload.get("Guid") or payload.get("ContactGuid") or str(uuid.uuid4())
        return {"Guid": guid, "ContactGuid": guid, "TimeStamp": "0000000A", "Timestamp": "0000000A"}

    def upload_file(self: Any, file_name: str, content: bytes, content_type: str) -> dict[str, str]:
        counter["write"] += 1
        return {"FileGuid": str(uuid.uuid4())}

    DineroGateway.get = get  # type: ignore[method-assign]
    DineroGateway.post = write  # type: ignore[method-assign]
    DineroGateway.put = write  # type: ignore[method-assign]
    DineroGateway.upload_file = upload_file  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    """Run the target over the input with the stub; write records, CPU seconds and the profile."""
    with open(argv[1], encoding="utf-8") as handle:
        spec = json.load(handle)
    counter = {"get": 0, "write": 0}
    install_stub(spec["reference"], counter)
    from target_dinero.target import TargetDinero

    logging.disable(logging.WARNING)
    profiler = None
    if spec.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
    real_stdout = sys.stdout
    with open(spec["input"], encoding="utf-8") as stdin, open("/dev/null", "w", encoding="utf-8") as sink:
        sys.stdout = sink
        try:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()
            target = TargetDinero(config=spec["config"])
            target.listen(stdin)
            if profiler:
                profiler.disable()
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        finally:
            sys.stdout = real_stdout
    if profiler:
        profiler.dump_stats(spec["profile"])
    summary = target.run.summary()
    with open(spec["result"], "w", encoding="utf-8") as handle:
        json.dump({"cpu": cpu, "seconds": wall, "calls": counter, "summary": summary}, handle, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
