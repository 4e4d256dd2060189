"""Run a Meltano job once per Dinero organization: one mapped task per organization.

For partners (bookkeepers, platforms) who run many Dinero organizations. Meltano's stock schedule DAG
runs one ``meltano run`` per schedule; this DAG fans out: a first task reads the organization list, then
``run_organization`` is mapped over it (dynamic task mapping), one task instance per organization, each
running ``meltano run --state-id-suffix org-<id> <job>`` with that organization's settings in the
environment, so every organization keeps its own Meltano state (state ID
``<env>:<tap>-to-<target>:org-<id>``) and its own output directory.

Parallel tasks never share Meltano's files: each runs ``meltano run`` with a Meltano system directory of
its own (``MELTANO_SYS_DIR_ROOT``; plugins linked from the project, ``run``/``logs`` its own, removed
after the task) and the project's shared system database, so state stays in one place (see
``org_fanout``).

Quota safety: Dinero's quota is per (client id, organization). Within a run each organization appears
exactly once (duplicates are refused), runs never overlap (``max_active_runs=1``), and Meltano itself
refuses a second concurrent run of the same state ID, so no two tasks ever share an organization's quota.
How many organizations run side by side is bounded by ``max_active_tis_per_dagrun`` and an Airflow pool
(``DINERO_MAX_PARALLEL_ORGS``, default 8; ``DINERO_AIRFLOW_POOL``, default ``default_pool``); the
executor's ``parallelism`` must be at least as large. Failed tasks retry with exponential back-off
(1, 2, 4, 8 minutes) plus a jitter of up to ``DINERO_RETRY_JITTER_SECONDS`` (30) spread per organization
and try, so organizations that failed together come back at different moments. Each mapped task is
independent: one organization failing (403, an outage) fails only its own task; the others run on. A
failure the plugins name as one a retry cannot fix (refused credentials, no access, Dinero refusing our
requests, bad config or input: ``org_fanout.NO_RETRY_EXIT_CODES``) fails the task without retries.

The organization list: the Airflow Variable ``dinero_organizations`` (JSON) if set, else the file
``orchestrate/airflow/dinero_organizations.json`` (or ``DINERO_ORGANIZATIONS_FILE``). Format::

    {"meltano_environment": "prod", "job": "dinero-to-local",
     "organizations": [
       {"organization_id": "123456", "name": "Shop ApS",
        "settings": {"start_date": "2024-01-01"},
        "secret_variables": {"api_key": "dinero_api_key_123456"}}]}

``settings`` are plain Dinero plugin settings; ``secret_variables`` name the Airflow Variables that hold
secret settings (API key, refresh token), read only inside the running task and masked in its log, never
passed through XCom. Each setting ``s`` is exported to Meltano as ``TAP_DINERO_<S>`` and
``TARGET_DINERO_<S>`` (Meltano's own setting variables), so it serves any job's Dinero plugins. Local
output goes to ``<DINERO_OUTPUT_DIR or output>/<env>/org-<id>/``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import Param, Variable, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.log import mask_secret
from meltano_project import PROJECT_ROOT, meltano_base_env
from org_fanout import (
    DEFAULT_JOB,
    MAX_PARALLEL_ORGS,
    ORGANIZATIONS_FILE,
    ORGANIZATIONS_VARIABLE,
    POOL,
    SCHEDULE,
    isolated_sys_dir,
    meltano_command,
    meltano_database_env,
    organization_env,
    parse_organizations,
    plugin_exit_code,
    remove_sys_dir,
    retry_is_useless,
    retry_jitter_seconds,
    tree_rss_mib,
)


@dag(
    dag_id="dinero_multi_org",
    description="One `meltano run` per Dinero organization (dynamic task mapping), each with its own state",
    schedule=SCHEDULE,
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=MAX_PARALLEL_ORGS + 1,
    default_args={"owner": "meltano", "depends_on_past": False},
    params={"job": Param("", type="string", description="Meltano job to run instead of the list's")},
    tags=["meltano", "dinero", "multi-organization"],
)
def dinero_multi_org() -> None:
    """Read the organization list, then run the Meltano job once per organization."""

    @task(retries=2, retry_delay=timedelta(seconds=30))
    def list_organizations() -> list[dict[str, Any]]:
        """The organizations to run (Airflow Variable, else the JSON file in the repository)."""
        raw = Variable.get(ORGANIZATIONS_VARIABLE, default=None, deserialize_json=True)
        if raw is None:
            raw = json.loads(ORGANIZATIONS_FILE.read_text())
        return parse_organizations(raw)

    @task(
        pool=POOL,
        max_active_tis_per_dagrun=MAX_PARALLEL_ORGS,
        retries=4,
        retry_delay=timedelta(minutes=1),
        retry_exponential_backoff=2.0,
        max_retry_delay=timedelta(minutes=30),
        execution_timeout=timedelta(hours=6),
        map_index_template="{{ organization_label }}",
    )
    def run_organization(organization: dict[str, Any]) -> dict[str, Any]:
        """``meltano run --state-id-suffix org-<id> <job>`` with this organization's settings."""
        context = get_current_context()
        context["organization_label"] = f"{organization['organization_id']} {organization['name']}"  # type: ignore[typeddict-unknown-key]
        secrets = {}
        for setting, variable in organization["secret_variables"].items():
            value = Variable.get(variable, default=None)
            if value is None:
                raise RuntimeError(
                    f"Airflow Variable {variable!r} ({setting} of organization "
                    f"{organization['organization_id']}) is not set"
                )
            mask_secret(value, name=variable)
            secrets[setting] = value
        job = context["params"].get("job") or organization["job"] or DEFAULT_JOB
        org_id = organization["organization_id"]
        try_number = int(getattr(context["ti"], "try_number", 1) or 1)
        jitter = retry_jitter_seconds(org_id, try_number)
        if jitter:
            print(f"Retry {try_number} of organization {org_id}: starting in {jitter:.1f} s", flush=True)
            time.sleep(jitter)
        command = meltano_command(organization, job)
        sys_dir = isolated_sys_dir(org_id, try_number)
        env = {
            **os.environ,
            **meltano_base_env(),
            **meltano_database_env(),
            "MELTANO_SYS_DIR_ROOT": str(sys_dir),
            **organization_env(organization, secrets),
        }
        print(f"Running {' '.join(command)} for organization {org_id} in {sys_dir}", flush=True)
        started = time.monotonic()
        try:
            with subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ) as process:
                assert process.stdout is not None
                peak = [0.0]
                plugin_exits: list[int] = []
                done = threading.Event()

                def sample() -> None:
                    while not done.wait(0.5):
                        peak[0] = max(peak[0], tree_rss_mib(process.pid))

                threading.Thread(target=sample, daemon=True).start()
                try:
                    for line in process.stdout:
                        print(line, end="", flush=True)
                        code = plugin_exit_code(line)
                        if code is not None:
                            plugin_exits.append(code)
                except BaseException:  # timeout, task killed: never leave Meltano running behind
                    process.terminate()
                    try:
                        process.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        process.kill()
                    raise
                finally:
                    done.set()
        finally:
            remove_sys_dir(sys_dir)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        report = {
            "organization_id": org_id,
            "job": job,
            "wall_seconds": round(time.monotonic() - started, 2),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            "largest_process_mib": round(usage.ru_maxrss / 1024, 1),
            "peak_task_rss_mib": round(peak[0], 1),
        }
        print("DINERO-TASK-USAGE " + json.dumps(report), flush=True)
        if process.returncode != 0:
            message = f"meltano run {job} failed for organization {org_id} (exit {process.returncode})"
            if retry_is_useless(plugin_exits):
                # no retry: it would provoke the same refusals again (see org_fanout.NO_RETRY_EXIT_CODES)
                raise AirflowFailException(f"{message}; plugin exit codes {plugin_exits}: not retried")
            raise RuntimeError(message)
        return report

    run_organization.expand(organization=list_organizations())


dinero_multi_org()
