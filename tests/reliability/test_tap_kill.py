"""A tap process killed with SIGKILL at random points (seeded) and re-run from its last emitted STATE
ends, together with the earlier runs' output, with every record the sandbox holds -- including rows
changed between the runs.

Guarantee: at-least-once extraction (docs/GUARANTEES.md).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from dinero_sandbox.constants import DEMO_API_KEY_2
from tests.harness import TapRun, run_tap_process, write_json

from .helpers import DOCUMENT_STREAMS, LINE_STREAMS, ORG_SECOND, copy_problems

SEED = 20261125
CHAINS = 2
KILLS_PER_CHAIN = 3
ALL_CHECKED = (*DOCUMENT_STREAMS, *LINE_STREAMS, "entries", "manual_vouchers", "purchase_vouchers")


def _config(fast_settings: dict[str, Any]) -> dict[str, Any]:
    # the smaller demo organization, small pages (many requests and STATE points to die between)
    return {**fast_settings, "api_key": DEMO_API_KEY_2, "organization_id": ORG_SECOND, "page_size": 10}


def test_killed_tap_resumes_from_its_last_state_with_nothing_missing(
    sandbox, fast_settings: dict[str, Any], tmp_path: Path
) -> None:
    config_path = write_json(tmp_path / "config.json", _config(fast_settings))
    baseline = run_tap_process(config_path, None, tmp_path, name="baseline")
    assert baseline.returncode == 0, baseline.stderr[-2000:]
    assert copy_problems(sandbox, ORG_SECOND, [baseline], ALL_CHECKED) == {}
    total_lines = len(baseline.messages)
    rng = random.Random(SEED)
    kill_points: list[int] = []

    for chain in range(CHAINS):
        sandbox.reset()
        runs: list[TapRun] = []
        state: dict[str, Any] | None = None
        kills_in_chain = 0
        # A resumed run is shorter, and a run whose last lines are already written when its kill point is
        # read has ended by then: some points fall past its end, so more runs than kills are allowed.
        for step in range(4 * KILLS_PER_CHAIN):
            if kills_in_chain == KILLS_PER_CHAIN:
                break
            point = rng.randint(1, total_lines * 2 // 3)
            run = run_tap_process(
                config_path, state, tmp_path, kill_after_lines=point, name=f"chain{chain}-run{step}"
            )
            runs.append(run)
            if run.returncode == -9:
                kills_in_chain += 1
                kill_points.append(point)
            else:
                assert run.returncode == 0, run.stderr[-2000:]
            state = run.last_state or state  # what the pipeline would have stored
            _change_something(sandbox, rng)
        final = run_tap_process(config_path, state, tmp_path, name=f"chain{chain}-final")
        assert final.returncode == 0, final.stderr[-2000:]
        runs.append(final)

        assert copy_problems(sandbox, ORG_SECOND, runs, ALL_CHECKED) == {}, f"chain {chain}"

    assert len(kill_points) == CHAINS * KILLS_PER_CHAIN, kill_points


def _change_something(sandbox, rng: random.Random) -> None:
    """Between runs Dinero's data moves on: a contact is renamed, an invoice deleted."""
    contacts = [c for c in sandbox.dump(ORG_SECOND, "contacts") if not c["DeletedAt"]]
    contact = rng.choice(contacts)
    sandbox.mutate(ORG_SECOND, "contacts", "update", contact["ContactGuid"], {"Name": contact["Name"] + " *"})
    drafts = [
        i for i in sandbox.dump(ORG_SECOND, "invoices") if not i["DeletedAt"] and i["Status"] == "Draft"
    ]
    if drafts:
        sandbox.mutate(ORG_SECOND, "invoices", "delete", rng.choice(drafts)["Guid"])
