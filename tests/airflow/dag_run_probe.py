"""Runs INSIDE the Airflow virtualenv: execute one DAG of the project's DAG folder with ``dag.test()``.

Called by test_dag_run.py. ``dag.test()`` runs every task in this process, in dependency order,
against the Airflow metadata DB in AIRFLOW_HOME (migrated by the caller). Prints one JSON line: the
run's state and, per task instance, its map index, rendered label and state.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    """argv: DAG folder, DAG id."""
    from airflow.dag_processing.dagbag import BundleDagBag

    dag_folder = Path(sys.argv[1]).resolve()
    bag = BundleDagBag(dag_folder=dag_folder, bundle_path=dag_folder, bundle_name="dags-folder")
    if bag.import_errors:
        print(
            "DAGRUN-REPORT "
            + json.dumps({"import_errors": {k: str(v) for k, v in bag.import_errors.items()}})
        )
        return 1
    dag = bag.dags[sys.argv[2]]
    run = dag.test()
    instances = [
        {
            "task_id": ti.task_id,
            "map_index": ti.map_index,
            "label": getattr(ti, "rendered_map_index", None),
            "state": str(ti.state),
        }
        for ti in run.get_task_instances()
    ]
    print("DAGRUN-REPORT " + json.dumps({"state": str(run.state), "task_instances": instances}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
