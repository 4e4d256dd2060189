"""Airflow, in its own virtualenv, loads both DAG files without errors and with the expected structure.

Airflow is Meltano's ``airflow`` utility (apache-airflow 3.3.2 in its own venv). The DAG folder is parsed
the way Airflow's DAG processor parses a local bundle (tests/airflow/dagbag_probe.py runs inside the
Airflow venv and reports what Airflow sees); the schedule DAGs are compared with the schedules and jobs
that meltano.yml declares. One test goes through ``meltano invoke airflow`` to show the utility's
settings point Airflow at this project's DAGs.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from airflow_helpers import meltano_env

pytestmark = pytest.mark.airflow

ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = ROOT / "orchestrate" / "airflow" / "dags"

CRON_PRESETS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0"}


@pytest.fixture(scope="module")
def dagbag(airflow_bin: Path, meltano_bin: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What Airflow 3 reports after parsing orchestrate/airflow/dags."""
    home = tmp_path_factory.mktemp("airflow-home")
    env = {
        **meltano_env(),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "MELTANO_PROJECT_ROOT": str(ROOT),
        "MELTANO_BIN": str(meltano_bin / "meltano"),
    }
    result = subprocess.run(
        [str(airflow_bin / "python"), str(Path(__file__).with_name("dagbag_probe.py")), str(DAGS_FOLDER)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("DAGBAG-REPORT "))
    return json.loads(line.removeprefix("DAGBAG-REPORT "))


@pytest.fixture(scope="module")
def meltano_project() -> dict[str, Any]:
    """meltano.yml as data."""
    return yaml.safe_load((ROOT / "meltano.yml").read_text())


def test_both_dag_files_load_without_import_errors(dagbag: dict[str, Any]) -> None:
    assert dagbag["import_errors"] == {}
    files = {Path(dag["fileloc"]).name for dag in dagbag["dags"].values()}
    assert files == {"meltano.py", "dinero_multi_org.py"}


def test_one_dag_per_meltano_schedule_running_its_job(
    dagbag: dict[str, Any], meltano_project: dict[str, Any]
) -> None:
    jobs = {job["name"]: job["tasks"] for job in meltano_project["jobs"]}
    schedules = meltano_project["schedules"]
    assert schedules, "meltano.yml declares no schedule"
    schedule_dags = {k for k in dagbag["dags"] if k.startswith("meltano_")}
    assert schedule_dags == {f"meltano_{s['name']}" for s in schedules}
    for schedule in schedules:
        dag = dagbag["dags"][f"meltano_{schedule['name']}"]
        assert dag["schedule"] == CRON_PRESETS.get(schedule["interval"], schedule["interval"])
        assert dag["max_active_runs"] == 1, "runs of one schedule must never overlap"
        assert dag["catchup"] is False
        tasks = list(dag["tasks"].values())
        commands = [task["bash_command"] for task in tasks]
        assert [c.split(" run ", 1)[1] for c in commands] == jobs[schedule["job"]]
        for task in tasks:
            assert task["retries"] >= 1 and task["retry_exponential_backoff"] >= 2.0
        # tasks of one job run in the job's order
        for previous, current in itertools.pairwise(tasks):
            assert current["upstream"] == [next(k for k, v in dag["tasks"].items() if v is previous)]


def test_multi_org_dag_maps_one_task_per_organization(dagbag: dict[str, Any]) -> None:
    dag = dagbag["dags"]["dinero_multi_org"]
    assert dag["max_active_runs"] == 1, "two runs would put one organization in two tasks at once"
    assert dag["catchup"] is False
    assert set(dag["tasks"]) == {"list_organizations", "run_organization"}
    lister, runner = dag["tasks"]["list_organizations"], dag["tasks"]["run_organization"]
    assert lister["is_mapped"] is False
    assert runner["is_mapped"] is True
    assert runner["upstream"] == ["list_organizations"]
    assert runner["max_active_tis_per_dagrun"] >= 1
    assert runner["pool"]
    assert runner["retries"] >= 3
    assert runner["retry_exponential_backoff"] >= 2.0
    assert runner["map_index_template"], "each mapped task should be labelled with its organization"


def test_meltano_invoke_airflow_finds_the_projects_dags(
    meltano_bin: Path, airflow_bin: Path, tmp_path: Path
) -> None:
    """`meltano invoke airflow ...` (the utility's settings from meltano.yml) sees all three DAGs."""
    # Meltano reads an override of the utility setting database.sql_alchemy_conn from this variable
    env = {**meltano_env(), "AIRFLOW_DATABASE_SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}"}

    def invoke(*args: str) -> str:
        result = subprocess.run(
            [str(meltano_bin / "meltano"), "invoke", "airflow", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-4000:]
        return result.stdout

    invoke("db", "migrate")
    invoke("dags", "reserialize")  # parses the DAGs folder the utility's settings name, into the DB
    with sqlite3.connect(tmp_path / "airflow.db") as db:
        parsed = dict(db.execute("SELECT dag_id, fileloc FROM dag"))
        errors = db.execute("SELECT filename, stacktrace FROM import_error").fetchall()
    assert errors == []
    assert set(parsed) == {
        "dinero_multi_org",
        "meltano_daily-dinero-to-local",
        "meltano_hourly-sales-to-dinero",
    }
    assert {Path(fileloc).parent for fileloc in parsed.values()} == {DAGS_FOLDER}
