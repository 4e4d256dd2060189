"""Kill points across every load type, alternating between two workers that share only the journal store.

Worker A is SIGKILLed after k requests (k sampled with a recorded seed, ``DINERO_KILL_SEED`` overrides it;
0 = before its first request), worker B -- its own local files, the same ``journal_store`` -- runs to
completion, then A runs again and writes nothing. Dinero holds every invoice, voucher (with and without
file), daily-sales day, product and contact once with its content and status.
``scripts/kill_matrix.py`` runs every kill point of the same scenario.

Guarantee: exactly-once across kills and workers (README, Guarantees).
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from tests.harness import run_target_process, singer_lines, write_json

from .workload import kill_scenario, messages, target_config

SEED = int(os.environ.get("DINERO_KILL_SEED", "1111"))
SAMPLES = 4


def test_sampled_kill_points_leave_every_object_once(
    sandbox, sandbox_settings: dict[str, Any], tmp_path: Path
):
    # how many requests a whole run makes (kill points range over them)
    workdir = tmp_path / "baseline"
    workdir.mkdir()
    config = write_json(workdir / "config.json", target_config(sandbox_settings, workdir, "KB-"))
    input_path = workdir / "input.jsonl"
    input_path.write_text(singer_lines(messages("KB-")), encoding="utf-8")
    baseline = run_target_process(sandbox, config, input_path, workdir)
    assert baseline.returncode == 0, baseline.stderr[-3000:]
    total = len(baseline.requests)

    points = sorted(random.Random(SEED).sample(range(total + 1), SAMPLES))
    print(f"kill points (seed {SEED}, {total} requests per run): {points}")
    for point in points:
        outcome = kill_scenario(sandbox, sandbox_settings, tmp_path / "kills", point)
        assert outcome["final_rc"] == 0 and outcome["again_rc"] == 0, outcome["stderr"]
        assert outcome["problems"] == [], outcome
        assert outcome["check_by_hand"] == [], outcome
        assert outcome["again_writes"] == [], outcome
