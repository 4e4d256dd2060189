"""Runs INSIDE the Airflow virtualenv: load the project's DAG folder and print what Airflow sees as JSON.

Called by test_dags.py (which runs in the project's venv, where Airflow is not installed). Prints one JSON
object: import errors per file, and per DAG its schedule, run limits, tags and tasks (dependencies,
mapping, pool, retry settings). Airflow's home (config, SQLite DB, logs) is whatever AIRFLOW_HOME says.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def describe_task(task: Any) -> dict[str, Any]:
    """What the test checks of one task."""
    return {
        "operator": type(task).__name__,
        "upstream": sorted(task.upstream_task_ids),
        "downstream": sorted(task.downstream_task_ids),
        "is_mapped": bool(getattr(task, "is_mapped", False)),
        "pool": getattr(task, "pool", None),
        "retries": getattr(task, "retries", None),
        "retry_exponential_backoff": float(getattr(task, "retry_exponential_backoff", 0) or 0),
        "retry_delay_seconds": task.retry_delay.total_seconds()
        if getattr(task, "retry_delay", None)
        else None,
        "max_active_tis_per_dagrun": getattr(task, "max_active_tis_per_dagrun", None),
        "bash_command": getattr(task, "bash_command", None)
        if not getattr(task, "is_mapped", False)
        else None,
        "map_index_template": getattr(task, "map_index_template", None),
    }


def main() -> int:
    """Load the DAG folder given as argv[1] and print the report."""
    from pathlib import Path

    from airflow.dag_processing.dagbag import BundleDagBag

    # The DAG processor parses a local DAG bundle this way: the bundle root is put on sys.path, so DAG
    # files can import helper modules that sit beside them.
    dag_folder = Path(sys.argv[1]).resolve()
    bag = BundleDagBag(dag_folder=dag_folder, bundle_path=dag_folder, bundle_name="dags-folder")
    report: dict[str, Any] = {
        "airflow_home": os.environ.get("AIRFLOW_HOME"),
        "import_errors": {path: str(error) for path, error in bag.import_errors.items()},
        "dags": {},
    }
    for dag_id, dag in bag.dags.items():
        report["dags"][dag_id] = {
            "fileloc": dag.fileloc,
            "schedule": str(dag.schedule),
            "timetable": type(dag.timetable).__name__,
            "max_active_runs": dag.max_active_runs,
            "max_active_tasks": dag.max_active_tasks,
            "catchup": dag.catchup,
            "tags": sorted(dag.tags),
            "tasks": {task.task_id: describe_task(task) for task in dag.tasks},
        }
    print("DAGBAG-REPORT " + json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
