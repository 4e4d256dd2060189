"""One Airflow DAG per Meltano schedule of this project (what Meltano's airflow utility does).

At parse time the DAG file asks Meltano for the project's schedules (``meltano schedule list
--format=json``) and builds, for every schedule that runs a job, a DAG ``meltano_<schedule>`` with the
schedule's cron interval and one task per task of the job, each ``meltano run <extractor> <loader>``,
chained in the job's order. Runs of one schedule never overlap (``max_active_runs=1``), there is no
catch-up (the taps are incremental: one run picks up everything since the last), and failed tasks are
retried with exponential back-off.

Which Meltano environment runs is Meltano's own choice: ``MELTANO_ENVIRONMENT`` in the scheduler's
environment (e.g. ``prod``), else the project's ``default_environment``.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, chain
from meltano_project import PROJECT_ROOT, meltano_base_env, meltano_executable

logger = logging.getLogger(__name__)

DEFAULT_START = datetime(2024, 1, 1, tzinfo=timezone.utc)
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "meltano",
    "depends_on_past": False,
    "retries": 3,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(hours=1),
}


def list_schedules() -> list[dict[str, Any]]:
    """The project's job schedules, as ``meltano schedule list --format=json`` reports them."""
    result = subprocess.run(
        [meltano_executable(), "schedule", "list", "--format=json"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **meltano_base_env()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"`meltano schedule list` failed ({result.returncode}): {result.stderr[-2000:]}")
    exported = json.loads(result.stdout)
    schedules = exported.get("schedules", {}) if isinstance(exported, dict) else {}
    for legacy in schedules.get("elt", []):
        logger.warning("Schedule %r uses the legacy elt form and gets no DAG; give it a job", legacy["name"])
    return list(schedules.get("job", []))


def _start_date(value: str | None) -> datetime:
    """A schedule's ``start_date`` (Meltano keeps it as text), UTC when it names no zone."""
    if not value:
        return DEFAULT_START
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def task_id_for(task: str | list[str]) -> str:
    """A readable task id for one job task: ``tap-dinero target-jsonl`` -> ``tap-dinero__target-jsonl``."""
    blocks = task if isinstance(task, list) else task.split()
    return "__".join(block.replace(":", "-") for block in blocks)


def build_schedule_dag(schedule: dict[str, Any]) -> DAG | None:
    """The DAG of one Meltano job schedule, or None for a schedule that never runs by itself."""
    name = schedule["name"]
    if not schedule.get("cron_interval"):  # @once: nothing to schedule
        logger.info("Schedule %r has no cron interval; no DAG", name)
        return None
    job = schedule["job"]
    dag = DAG(
        dag_id=f"meltano_{name}",
        description=f"Meltano job {job['name']!r} on schedule {schedule['interval']!r}",
        schedule=schedule["cron_interval"],
        start_date=_start_date(schedule.get("start_date")),
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["meltano", f"schedule:{name}", f"job:{job['name']}"],
    )
    meltano = shlex.quote(meltano_executable())
    env = {**meltano_base_env(), **{k: str(v) for k, v in (schedule.get("env") or {}).items()}}
    tasks = []
    for task in job["tasks"]:
        blocks = task if isinstance(task, list) else task.split()
        tasks.append(
            BashOperator(
                task_id=task_id_for(task),
                bash_command=f"{meltano} run {' '.join(shlex.quote(b) for b in blocks)}",
                cwd=str(PROJECT_ROOT),
                env=env,
                append_env=True,
                dag=dag,
            )
        )
    chain(*tasks)
    return dag


for _schedule in list_schedules():
    _dag = build_schedule_dag(_schedule)
    if _dag is not None:
        globals()[_dag.dag_id] = _dag
