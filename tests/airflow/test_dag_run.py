"""The multi-organization DAG really runs: Airflow 3 (its own venv) executes it with ``dag.test()``.

The organization list is the repository's (orchestrate/airflow/dinero_organizations.json: the two
sandbox organizations, dev environment); organization 100001's API key comes from the Airflow Variable
the list names. Each mapped task runs ``meltano run --state-id-suffix org-<id> dinero-to-local``
against the test's sandbox, so each organization ends with its own Meltano state and its own output.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from airflow_helpers import meltano_env

from dinero_sandbox.testing import SandboxServer

pytestmark = pytest.mark.airflow

ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = ROOT / "orchestrate" / "airflow" / "dags"
ORG2_KEY = "sandbox-api-key-2"


@pytest.fixture
def dag_env(airflow_bin: Path, meltano_bin: Path, sandbox: SandboxServer, tmp_path: Path) -> dict[str, str]:
    """Environment for Airflow + Meltano aimed at this test's sandbox; Airflow DB migrated."""
    subprocess.run(
        [str(meltano_bin / "meltano"), "install", "tap-dinero", "target-jsonl"],
        cwd=ROOT,
        env=meltano_env(),
        capture_output=True,
        check=True,
        timeout=1200,
    )
    sandbox.set_quota(100, 2.0)
    env = meltano_env() | {
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW_VAR_DINERO_API_KEY_100001": ORG2_KEY,
        "MELTANO_BIN": str(meltano_bin / "meltano"),
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "DINERO_OUTPUT_DIR": str(tmp_path / "out"),
    }
    for prefix in ("TAP_DINERO_", "TARGET_DINERO_"):
        env |= {
            f"{prefix}API_URL": sandbox.url,
            f"{prefix}TOKEN_URL": sandbox.token_url,
            f"{prefix}QUOTA_BACKEND": str(tmp_path / "quota"),
            f"{prefix}QUOTA_REQUESTS": "100",
            f"{prefix}QUOTA_WINDOW_SECONDS": "2",
        }
    (tmp_path / "airflow").mkdir()
    subprocess.run(
        [str(airflow_bin / "airflow"), "db", "migrate"], env=env, capture_output=True, check=True, timeout=300
    )
    return env


def run_dag(airflow_bin: Path, env: dict[str, str], dag_id: str) -> tuple[dict[str, Any], str]:
    """``dag.test()`` in the Airflow venv; returns the probe's report and the full log."""
    result = subprocess.run(
        [
            str(airflow_bin / "python"),
            str(Path(__file__).with_name("dag_run_probe.py")),
            str(DAGS_FOLDER),
            dag_id,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-6000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("DAGRUN-REPORT "))
    return json.loads(line.removeprefix("DAGRUN-REPORT ")), log


def test_multi_org_dag_runs_one_meltano_job_per_organization(
    airflow_bin: Path, meltano_bin: Path, dag_env: dict[str, str], sandbox: SandboxServer, tmp_path: Path
) -> None:
    report, log = run_dag(airflow_bin, dag_env, "dinero_multi_org")

    assert report["state"] == "success"
    mapped = sorted(
        (ti["map_index"], ti["label"], ti["state"])
        for ti in report["task_instances"]
        if ti["task_id"] == "run_organization"
    )
    assert mapped == [(0, "100000 Dinero Demo ApS", "success"), (1, "100001 Anden Demo ApS", "success")]

    # each organization's own copy, from its own organization
    for org in ("100000", "100001"):
        contacts = tmp_path / "out" / "dev" / f"org-{org}" / "contacts.jsonl"
        copied = {json.loads(line)["ContactGuid"] for line in contacts.read_text().splitlines()}
        assert copied == {c["ContactGuid"] for c in sandbox.dump(org, "contacts")}, org
    # each organization's own Meltano state
    states = subprocess.run(
        [str(meltano_bin / "meltano"), "state", "list"],
        cwd=ROOT,
        env=dag_env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sorted(states) == [f"dev:tap-dinero-to-target-jsonl:org-{org}" for org in ("100000", "100001")]
    # the API key read from the Airflow Variable never shows in the task logs
    assert ORG2_KEY not in log
