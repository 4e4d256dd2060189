"""Fault matrix: every write operation of the target x every fault mode of the sandbox that can hit it.

Each cell arms one fault on the first matching write, runs the target over the load types that make that
write, asserts the fault fired (the sandbox's fault counter), re-runs to completion and checks that Dinero
holds every object of the input exactly once with the right content and status (``workload.problems``),
or that the record is in the rejects as "check by hand" (never seen in this matrix: every object is
findable). Update cells load version 1 first, then version 2 under the fault.

Fault modes (``dinero_sandbox/faults.py``): ``5xx`` (refused before acting), ``reset`` (acted, connection
dropped mid-answer), ``slow`` (acted *after* the client's 0.5 s timeout: commit after the client gave up),
``slow_answer`` (acted, answer held past the timeout), ``truncated`` and ``non_json`` (acted, 2xx whose
body is not JSON), ``commit_then_500``, ``429``, ``expire_tokens`` (401 then a fresh token),
``stale_timestamp`` (book/update with a Timestamp only) -- plus a slow token endpoint.

Guarantee: exactly-once loading, whatever answer a write gets (README, Guarantees).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.harness import run_target

from .workload import check_by_hand, messages, problems, target_config

#: (operation, streams loaded, method, path fragment, is an update of version 1 by version 2)
OPERATIONS = [
    ("invoice.create", ("orders",), "POST", "/invoices", False),
    ("invoice.book", ("orders",), "POST", "/book", False),
    ("invoice.update", ("orders",), "PUT", "/invoices/", True),
    ("contact.create", ("customers",), "POST", "/contacts", False),
    ("contact.update", ("customers",), "PUT", "/contacts/", True),
    ("product.create", ("catalog",), "POST", "/products", False),
    ("product.update", ("catalog",), "PUT", "/products/", True),
    ("file.upload", ("journal",), "POST", "/files", False),
    ("voucher.create", ("journal",), "POST", "/vouchers/manuel", False),
    ("voucher.book", ("journal",), "POST", "/book", False),
    ("voucher.update", ("journal",), "PUT", "/vouchers/manuel/", True),
    ("daily_sales.upload", ("sales",), "POST", "/files", False),
    ("daily_sales.create", ("sales",), "POST", "/vouchers/manuel", False),
    ("daily_sales.book", ("sales",), "POST", "/book", False),
]
MODES = {
    "5xx": {},
    "reset": {},
    "slow": {"seconds": 1.0},
    "slow_answer": {"seconds": 1.0},
    "truncated": {},
    "non_json": {},
    "commit_then_500": {},
    "429": {"retry_after": 0},
    "expire_tokens": {},
    "stale_timestamp": {},
}
#: operations that send a Timestamp (the only ones a stale Timestamp can hit)
TIMESTAMPED = {"invoice.book", "invoice.update", "voucher.book", "voucher.update", "daily_sales.book"}

CELLS = [
    pytest.param(op, streams, method, path, update, mode, id=f"{op}-{mode}")
    for op, streams, method, path, update in OPERATIONS
    for mode in MODES
    if mode != "stale_timestamp" or op in TIMESTAMPED
]


@pytest.mark.parametrize(("op", "streams", "method", "path", "update", "mode"), CELLS)
def test_fault_matrix_cell(
    sandbox: Any,
    sandbox_settings: dict[str, Any],
    tmp_path: Path,
    op: str,
    streams: tuple[str, ...],
    method: str,
    path: str,
    update: bool,
    mode: str,
) -> None:
    prefix = "FM-"
    config = target_config(sandbox_settings, tmp_path, prefix)
    version = 1
    if update:
        warm = run_target(sandbox, config, messages(prefix, streams, version=1))
        assert warm.error is None, warm.stderr[-3000:]
        version = 2
    sandbox.set_fault(mode, count=1, path_contains=path, method=method, **MODES[mode])

    first = run_target(sandbox, config, messages(prefix, streams, version=version))
    [fault] = sandbox.faults()
    assert fault["fired"] == 1, f"{mode} on {method} {path} did not fire: {fault}"
    rerun = run_target(sandbox, config, messages(prefix, streams, version=version))

    assert rerun.error is None, rerun.stderr[-3000:]
    by_hand = check_by_hand([Path(config["rejects_file"])])
    assert problems(sandbox, prefix, streams=streams, version=version, by_hand=by_hand) == [], first.stderr[
        -2000:
    ]
    assert by_hand == set(), "every object of the matrix is findable: nothing is left to check by hand"
    # Dinero counts a refused request against the integration: no fault may cost a refused write (4xx:
    # "Guid taken" for a second POST of one Guid, a stale Timestamp for a second book or PUT), however late
    # the first one commits. Each run's log holds every request it sent, late answers too. The injected
    # stale-Timestamp refusal is the fault itself, not one the target caused.
    refused = [
        (w["method"], w["path"], w["status"])
        for w in first.writes + rerun.writes
        if 400 <= int(w["status"]) < 500 and int(w["status"]) not in (401, 429)
    ]
    if mode == "stale_timestamp":
        # the injected refusal comes first; no other may follow it
        assert refused and refused[0][0] == method and refused[0][2] == 400, refused
        refused = refused[1:]
    assert refused == [], refused
    if first.error is None:
        assert rerun.writes == [] or update, [(w["method"], w["path"]) for w in rerun.writes]


def test_slow_token_endpoint_delays_but_never_duplicates(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    """A token endpoint answering slowly (but inside the timeout): the writes wait, nothing doubles."""
    config = target_config(sandbox_settings, tmp_path, "FMT-")
    sandbox.expire_tokens()
    sandbox.set_fault("slow", count=1, path_contains="token", seconds=0.3)

    run = run_target(sandbox, config, messages("FMT-"))
    rerun = run_target(sandbox, config, messages("FMT-"))

    assert sandbox.faults()[0]["fired"] == 1
    assert run.error is None and rerun.error is None, run.stderr[-3000:]
    assert problems(sandbox, "FMT-") == []
    assert rerun.writes == []
