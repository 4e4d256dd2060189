"""The multi-organization DAG under a real Airflow: api-server, scheduler and dag-processor as separate
processes, LocalExecutor with parallelism 8, eight organizations at once.

``dag.test()`` (test_dag_run.py) runs mapped tasks one at a time, so it cannot show what the issue was
about: parallel ``meltano run``s of one project deleting each other's ``.meltano/run/<plugin>/`` files.
Here the scheduler hands the eight mapped tasks to LocalExecutor's workers, which run them side by side;
the test reads the task instances' start and end times from Airflow's database to prove they overlapped,
checks every organization's output against the sandbox, each organization's own Meltano state, and
that a second DAG run is incremental (list requests carry ``changesSince``, no document is read again).

The sandbox serves eight organizations: the two demo ones and six added by ``benchmarks/many_orgs.py``;
all are reached with one Visma Connect login (the demo refresh token, one shared ``token_file``), as a
partner reaches its clients. Every process the test starts is stopped at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from airflow_helpers import meltano_env

from benchmarks.many_orgs import add_organizations
from dinero_sandbox.constants import DEMO_REFRESH_TOKEN, ORG_MAIN, ORG_SECOND
from dinero_sandbox.testing import SandboxServer

pytestmark = pytest.mark.airflow

ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = ROOT / "orchestrate" / "airflow" / "dags"
DAG_ID = "dinero_multi_org"
PARALLELISM = 8
#: Per DAG run. About 1.5 minutes on an idle 2-core machine; 6.5 minutes were measured at load average 25.
RUN_TIMEOUT = 900


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AirflowServices:
    """api-server, scheduler and dag-processor started as the README starts them; stopped on exit."""

    def __init__(self, airflow: Path, env: dict[str, str], logs: Path) -> None:
        self.airflow = airflow
        self.env = env
        self.logs = logs
        self.procs: list[subprocess.Popen[bytes]] = []

    def cli(self, *args: str, timeout: float = 300) -> str:
        """One ``airflow`` CLI call (must succeed)."""
        result = subprocess.run(
            [str(self.airflow), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, (
            f"airflow {' '.join(args)}: {result.stdout[-2000:]}{result.stderr[-3000:]}"
        )
        return result.stdout

    def start(self, *commands: tuple[str, ...]) -> None:
        for command in commands:
            log = open(self.logs / f"{command[0]}.log", "wb")  # noqa: SIM115 - the process owns it
            self.procs.append(
                subprocess.Popen(
                    [str(self.airflow), *command],
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: stopped with everything it started
                )
            )

    def alive(self) -> None:
        for proc in self.procs:
            assert proc.poll() is None, f"{proc.args[1]} exited: {self.tail(proc.args[1])}"

    def tail(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def left_running(self) -> list[int]:
        """Process groups of the services that still have a process."""
        alive = []
        for proc in self.procs:
            try:
                os.killpg(proc.pid, 0)
                alive.append(proc.pid)
            except ProcessLookupError:
                pass
        return alive

    def stop(self) -> None:
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of its group (task workers)
            proc.wait(timeout=10)


@pytest.fixture
def organizations(sandbox: SandboxServer) -> list[str]:
    """Eight organizations in the sandbox (reset afterwards by the next test's sandbox fixture)."""
    sandbox.set_quota(100, 2.0)
    return [ORG_MAIN, ORG_SECOND, *add_organizations(sandbox.state, 6)]


@pytest.fixture
def airflow(
    airflow_bin: Path, meltano_bin: Path, sandbox: SandboxServer, organizations: list[str], tmp_path: Path
) -> Iterator[AirflowServices]:
    """A migrated Airflow home and the three services, aimed at this test's sandbox and organizations."""
    subprocess.run(
        [str(meltano_bin / "meltano"), "install", "tap-dinero", "target-jsonl"],
        cwd=ROOT,
        env=meltano_env(),
        capture_output=True,
        check=True,
        timeout=1200,
    )
    org_list = tmp_path / "organizations.json"
    org_list.write_text(
        json.dumps(
            {
                "meltano_environment": "dev",
                "job": "dinero-to-local",
                "organizations": [{"organization_id": org, "name": f"Org {org}"} for org in organizations],
            }
        )
    )
    port = _free_port()
    home = tmp_path / "airflow"
    home.mkdir()
    env = meltano_env() | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": "dinero-test-jwt-secret-0123456789abcdef",
        "AIRFLOW__API__SECRET_KEY": "dinero-test-secret-key",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "600",
        "MELTANO_BIN": str(meltano_bin / "meltano"),
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "DINERO_OUTPUT_DIR": str(tmp_path / "out"),
        "DINERO_ORGANIZATIONS_FILE": str(org_list),
        "DINERO_MULTI_ORG_SCHEDULE": "none",
        "DINERO_MAX_PARALLEL_ORGS": str(PARALLELISM),
        "DINERO_MELTANO_TASK_DIRS": str(tmp_path / "tasks"),
        # one Visma Connect login for every organization (the dev environment's API key is unset)
        "TAP_DINERO_API_KEY": "",
        "TAP_DINERO_REFRESH_TOKEN": DEMO_REFRESH_TOKEN,
        "TAP_DINERO_TOKEN_FILE": str(tmp_path / "tokens.json"),
        "TAP_DINERO_API_URL": sandbox.url,
        "TAP_DINERO_TOKEN_URL": sandbox.connect_token_url,
        "TAP_DINERO_QUOTA_BACKEND": str(tmp_path / "quota"),
        "TAP_DINERO_QUOTA_REQUESTS": "100",
        "TAP_DINERO_QUOTA_WINDOW_SECONDS": "2",
    }
    services = AirflowServices(airflow_bin / "airflow", env, tmp_path)
    services.cli("db", "migrate")

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # a SIGTERM (e.g. `timeout`) still stops the services below

    previous = signal.signal(signal.SIGTERM, interrupted)
    services.start(("api-server",), ("scheduler",), ("dag-processor",))
    try:
        yield services
    finally:
        services.stop()
        signal.signal(signal.SIGTERM, previous)
        assert not services.left_running(), "a process of the Airflow services outlived the test"


def _query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        return conn.execute(sql, params).fetchall()


def _wait_for(what: str, check, timeout: float, services: AirflowServices) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        services.alive()
        value = check()
        if value:
            return value
        time.sleep(2)
    raise AssertionError(
        f"timed out waiting for {what}\n--- scheduler\n{services.tail('scheduler')}\n--- dag-processor\n"
        f"{services.tail('dag-processor')}"
    )


def _parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _run_dag(services: AirflowServices, db: Path, run_id: str) -> list[dict[str, Any]]:
    """Trigger one DAG run, wait for it to end; its mapped task instances (times, state, XCom)."""
    services.cli("dags", "trigger", DAG_ID, "--run-id", run_id)
    state = _wait_for(
        f"DAG run {run_id}",
        lambda: next(
            (
                s
                for (s,) in _query(db, "SELECT state FROM dag_run WHERE run_id = ?", run_id)
                if s in ("success", "failed")
            ),
            None,
        ),
        RUN_TIMEOUT,
        services,
    )
    rows = _query(
        db,
        "SELECT map_index, state, start_date, end_date, try_number FROM task_instance "
        "WHERE dag_id = ? AND run_id = ? AND task_id = 'run_organization' ORDER BY map_index",
        DAG_ID,
        run_id,
    )
    xcoms = dict(
        _query(
            db,
            "SELECT map_index, value FROM xcom WHERE dag_id = ? AND run_id = ? "
            "AND task_id = 'run_organization' AND key = 'return_value'",
            DAG_ID,
            run_id,
        )
    )
    tasks = []
    for map_index, ti_state, start, end, tries in rows:
        raw = xcoms.get(map_index)
        value = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
        tasks.append(
            {
                "map_index": map_index,
                "state": ti_state,
                "start": _parse_time(start),
                "end": _parse_time(end),
                "tries": tries,
                "report": value if isinstance(value, dict) else {},
            }
        )
    assert state == "success", (state, tasks, services.tail("scheduler"))
    return tasks


def _max_overlap(tasks: list[dict[str, Any]]) -> int:
    events = sorted([(t["start"], 1) for t in tasks] + [(t["end"], -1) for t in tasks])
    running = best = 0
    for _, step in events:
        running += step
        best = max(best, running)
    return best


def test_eight_organizations_run_side_by_side_under_the_scheduler(
    airflow: AirflowServices,
    sandbox: SandboxServer,
    organizations: list[str],
    meltano_bin: Path,
    tmp_path: Path,
) -> None:
    db = tmp_path / "airflow" / "airflow.db"
    _wait_for(
        "the DAG processor to parse the DAG",
        lambda: _query(db, "SELECT dag_id FROM dag WHERE dag_id = ?", DAG_ID) if db.exists() else None,
        180,
        airflow,
    )
    airflow.cli("dags", "unpause", DAG_ID)

    mark = max((e["id"] for e in sandbox.requests()), default=0)
    first = _run_dag(airflow, db, "first")
    assert [t["state"] for t in first] == ["success"] * len(organizations)
    assert all(t["tries"] == 1 for t in first)  # no task needed a retry: none lost its files to another
    overlap = _max_overlap(first)
    assert overlap >= 4, f"at most {overlap} tasks ran at once: {first}"
    print(
        f"first run: {overlap} of {len(organizations)} tasks at once; reports: {[t['report'] for t in first]}"
    )

    first_requests = [e for e in sandbox.requests(mark) if not e["path"].endswith("/token")]
    for org in organizations:
        out = tmp_path / "out" / "dev" / f"org-{org}"
        contacts = {
            json.loads(line)["ContactGuid"] for line in (out / "contacts.jsonl").read_text().splitlines()
        }
        assert contacts == {c["ContactGuid"] for c in sandbox.dump(org, "contacts")}, org
        invoices = {json.loads(line)["Guid"] for line in (out / "invoices.jsonl").read_text().splitlines()}
        assert invoices == {i["Guid"] for i in sandbox.dump(org, "invoices")}, org
        assert all(json.loads(line)["organization_id"] == org for line in (out / "contacts.jsonl").open())
    assert not [e for e in first_requests if e["status"] == 429]
    assert not list((tmp_path / "tasks").iterdir())  # each task's Meltano folder (configs) is removed

    states = subprocess.run(
        [str(meltano_bin / "meltano"), "state", "list"],
        cwd=ROOT,
        env=airflow.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sorted(states) == sorted(f"dev:tap-dinero-to-target-jsonl:org-{org}" for org in organizations)

    mark = max(e["id"] for e in sandbox.requests())
    second = _run_dag(airflow, db, "second")
    assert [t["state"] for t in second] == ["success"] * len(organizations)
    second_requests = [e for e in sandbox.requests(mark) if not e["path"].endswith("/token")]
    for org in organizations:
        mine = [e for e in second_requests if e["org"] == org]
        lists = [e for e in mine if e["path"] == f"/v1/{org}/contacts"]
        assert lists and all("changesSince" in (e.get("query") or "") for e in lists), org
        assert not [e for e in mine if e["path"].startswith(f"/v1/{org}/invoices/")], org  # no detail re-read
        assert len(mine) < len([e for e in first_requests if e["org"] == org]) / 2, org
    print(
        "second run requests per organization:",
        {org: sum(1 for e in second_requests if e["org"] == org) for org in organizations},
    )
