"""The deployment across machines, as far as one machine can show it: two Meltano workers, one Postgres
system database.

Each worker has a Meltano system directory of its own (``MELTANO_SYS_DIR_ROOT``: its own ``run`` and
``logs``, the installed plugins linked -- what a second machine with the same project checkout has) and
both use one Postgres database as Meltano's system database (``MELTANO_DATABASE_URI``), where Meltano
keeps each pipeline's state. Worker A makes the first run of an organization; worker B's run of the same
organization must start from A's bookmarks: incremental, only what changed in between.

Postgres is started by the test (``initdb`` + ``pg_ctl`` in a temporary folder, loopback only) and
stopped after. ``bash scripts/test.sh`` installs it (apt, as root) like redis-server; where it is missing
the test is skipped and says so.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow_helpers import meltano_env

from dinero_sandbox.constants import DEMO_API_KEY_2, ORG_SECOND
from dinero_sandbox.testing import SandboxServer

pytestmark = pytest.mark.airflow

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "orchestrate" / "airflow" / "dags"))
import org_fanout  # noqa: E402


def _pg_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def postgres() -> Iterator[str]:
    """A Postgres server of this test's own on loopback; its SQLAlchemy URI for Meltano."""
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("Postgres is not installed (bash scripts/test.sh installs it as root with apt)")
    # not under pytest's tmp_path: its folders are private to the user running pytest
    data = Path(tempfile.mkdtemp(prefix="dinero-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # Postgres refuses to run as root
        shutil.chown(data, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()

    def pg(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, timeout=120)

    pg(str(bindir / "initdb"), "-D", str(data), "--auth=trust", "-U", "meltano", "--no-sync")
    pg(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(data / "server.log"),
        "-w",
        "-o",
        f"-p {port} -c listen_addresses=127.0.0.1 -k {data} -c fsync=off",
        "start",
    )
    try:
        pg(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "meltano", "meltano")
        yield f"postgresql+psycopg://meltano@127.0.0.1:{port}/meltano"
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            pg(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(data, ignore_errors=True)


def test_two_workers_share_state_through_one_postgres_system_database(
    postgres: str,
    meltano_bin: Path,
    sandbox: SandboxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subprocess.run(
        [str(meltano_bin / "meltano"), "install", "tap-dinero", "target-jsonl"],
        cwd=ROOT,
        env=meltano_env(),
        capture_output=True,
        check=True,
        timeout=1200,
    )
    monkeypatch.setattr(org_fanout, "TASK_DIRS", tmp_path / "workers")
    workers = {name: org_fanout.isolated_sys_dir(ORG_SECOND, index + 1) for index, name in enumerate("AB")}
    base = meltano_env() | {
        "MELTANO_DATABASE_URI": postgres,
        "MELTANO_ENVIRONMENT": "dev",
        "TAP_DINERO_API_URL": sandbox.url,
        "TAP_DINERO_TOKEN_URL": sandbox.token_url,
        "TAP_DINERO_API_KEY": DEMO_API_KEY_2,
        "TAP_DINERO_ORGANIZATION_ID": ORG_SECOND,
        "TAP_DINERO_QUOTA_BACKEND": str(tmp_path / "quota"),
    }

    def run_on(worker: str) -> tuple[list[dict], list[dict]]:
        out = tmp_path / f"out-{worker}"
        env = base | {"MELTANO_SYS_DIR_ROOT": str(workers[worker]), "TARGET_JSONL_DESTINATION_PATH": str(out)}
        mark = max((e["id"] for e in sandbox.requests()), default=0)
        result = subprocess.run(
            [
                str(meltano_bin / "meltano"),
                "run",
                "--state-id-suffix",
                f"org-{ORG_SECOND}",
                "dinero-to-local",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-4000:]
        contacts = out / "contacts.jsonl"
        assert not (workers[worker] / "meltano.db").exists()  # the state went to Postgres
        return [
            json.loads(line) for line in contacts.read_text().splitlines()
        ] if contacts.exists() else [], [
            e for e in sandbox.requests(mark) if not e["path"].endswith("/token")
        ]

    first_contacts, first_requests = run_on("A")
    assert {c["ContactGuid"] for c in first_contacts} == {
        c["ContactGuid"] for c in sandbox.dump(ORG_SECOND, "contacts")
    }
    changed = sandbox.dump(ORG_SECOND, "contacts")[0]["ContactGuid"]
    sandbox.mutate(ORG_SECOND, "contacts", "update", changed, {"Name": "Flyttet ApS"})

    second_contacts, second_requests = run_on("B")
    assert [c["ContactGuid"] for c in second_contacts] == [changed]
    lists = [e for e in second_requests if e["path"] == f"/v1/{ORG_SECOND}/contacts"]
    assert lists and all("changesSince" in (e.get("query") or "") for e in lists)
    assert not [e for e in second_requests if e["path"].startswith(f"/v1/{ORG_SECOND}/invoices/")]
    assert len(second_requests) < len(first_requests) / 2

    states = subprocess.run(
        [str(meltano_bin / "meltano"), "state", "list"],
        cwd=ROOT,
        env=base | {"MELTANO_SYS_DIR_ROOT": str(workers["B"])},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert states == [f"dev:tap-dinero-to-target-jsonl:org-{ORG_SECOND}"]
