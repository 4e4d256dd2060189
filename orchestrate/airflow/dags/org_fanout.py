"""The organization list of the multi-organization DAG, and each organization's Meltano invocation.

Pure standard library (no Airflow import), so the project's own test suite checks it directly; the DAG
file ``dinero_multi_org.py`` imports it. ``.airflowignore`` keeps Airflow from parsing it as a DAG file.

Parallel ``meltano run``s in one project: Meltano 4 writes each plugin's config, catalog, catalog cache
key and state file into one fixed folder, ``.meltano/run/<plugin>/``, so two runs of the same plugin at
once delete each other's files (``No such file or directory: .meltano/run/tap-dinero/tap.properties.json``,
``Invalid catalog``). Every task therefore runs Meltano with a system directory of its own
(``MELTANO_SYS_DIR_ROOT``, Meltano's documented variable for where ``.meltano`` lives):
:func:`isolated_sys_dir` makes ``.meltano/tasks/org-<id>-try-<n>/`` whose plugin folders
(``extractors``, ``loaders``, ``utilities``, ...) are links to the project's installed plugins and whose
``run`` and ``logs`` folders are its own. Meltano's system database (state, job history) stays the shared
one: :func:`meltano_database_env` points ``MELTANO_DATABASE_URI`` at the project's ``.meltano/meltano.db``
unless it is already set (Postgres in a deployment across machines).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import Any

from meltano_project import PROJECT_ROOT, meltano_executable

ORGANIZATIONS_VARIABLE = "dinero_organizations"
ORGANIZATIONS_FILE = Path(
    os.environ.get("DINERO_ORGANIZATIONS_FILE")
    or PROJECT_ROOT / "orchestrate" / "airflow" / "dinero_organizations.json"
)
#: Organizations (tasks) run at once per DAG run. Each task is one ``meltano run`` (Meltano, tap and
#: target processes): measured ~150 MiB peak RSS and ~5 s of CPU to start (README, "Many organizations");
#: a task then waits on its organization's quota. Size it as min(free memory / 200 MiB, 4 x cores) and
#: raise ``parallelism`` of the executor to match.
MAX_PARALLEL_ORGS = int(os.environ.get("DINERO_MAX_PARALLEL_ORGS", "8"))
#: Retries wait Airflow's exponential back-off plus this much jitter (seconds, spread per organization and
#: try), so organizations that failed together do not all come back at the same instant.
RETRY_JITTER_SECONDS = float(os.environ.get("DINERO_RETRY_JITTER_SECONDS", "30"))
#: Where the per-task Meltano system directories are made.
TASK_DIRS = Path(os.environ.get("DINERO_MELTANO_TASK_DIRS") or PROJECT_ROOT / ".meltano" / "tasks")
#: Entries of the project's ``.meltano`` that stay per task (everything else is linked).
_PER_TASK = frozenset(
    {"run", "logs", "tasks", "meltano.db", "meltano.db-journal", ".gitignore", "CACHEDIR.TAG"}
)
POOL = os.environ.get("DINERO_AIRFLOW_POOL", "default_pool")
#: The DAG's schedule (cron or preset); ``none`` for runs triggered only by hand or by the API.
SCHEDULE: str | None = os.environ.get("DINERO_MULTI_ORG_SCHEDULE", "@daily")
if SCHEDULE is not None and SCHEDULE.strip().lower() in ("", "none"):
    SCHEDULE = None
DEFAULT_JOB = "dinero-to-local"
PLUGIN_ENV_PREFIXES = ("TAP_DINERO_", "TARGET_DINERO_")
_SETTING_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ORG_ID = re.compile(r"^[0-9]+$")


def parse_organizations(raw: Any) -> list[dict[str, Any]]:
    """Validate the organization list (a dict with ``organizations`` or a bare list) into task inputs.

    Every entry gets ``organization_id``, ``name``, ``job``, ``meltano_environment``, ``settings`` and
    ``secret_variables``. Raises ValueError naming the entry for anything malformed or duplicated.
    """
    defaults: dict[str, Any] = raw if isinstance(raw, dict) else {}
    entries = defaults.get("organizations") if isinstance(raw, dict) else raw
    if not isinstance(entries, list) or not entries:
        raise ValueError("the organization list is empty or not a list")
    seen: set[str] = set()
    parsed = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ValueError(f"organization #{index} is not an object")
        org_id = str(entry.get("organization_id", "")).strip()
        if not _ORG_ID.match(org_id):
            raise ValueError(f"organization #{index} has no numeric organization_id")
        # Dinero's organization id is a number: 0100000 names 100000, so a second spelling is a second
        # task on the same organization (and its quota), at the same time.
        number = str(int(org_id))
        if number in seen:
            raise ValueError(f"organization {org_id} is listed twice (two tasks would share its quota)")
        seen.add(number)
        settings = dict(entry.get("settings") or {})
        secrets = dict(entry.get("secret_variables") or {})
        for setting in [*settings, *secrets]:
            if not _SETTING_NAME.match(setting) or setting == "organization_id":
                raise ValueError(f"organization {org_id}: invalid setting name {setting!r}")
        parsed.append(
            {
                "organization_id": org_id,
                "name": str(entry.get("name") or org_id),
                "job": str(entry.get("job") or defaults.get("job") or ""),
                "meltano_environment": str(
                    entry.get("meltano_environment") or defaults.get("meltano_environment") or ""
                ),
                "settings": {k: str(v) for k, v in settings.items()},
                "secret_variables": {k: str(v) for k, v in secrets.items()},
            }
        )
    return parsed


def organization_env(organization: dict[str, Any], secrets: dict[str, str]) -> dict[str, str]:
    """Meltano's environment for one organization: its settings as TAP_/TARGET_DINERO_* variables."""
    org_id = organization["organization_id"]
    values = {**organization["settings"], **secrets, "organization_id": org_id}
    env = {
        f"{prefix}{name.upper()}": value for name, value in values.items() for prefix in PLUGIN_ENV_PREFIXES
    }
    environment = organization["meltano_environment"] or os.environ.get("MELTANO_ENVIRONMENT", "")
    if environment:
        env["MELTANO_ENVIRONMENT"] = environment
    output = Path(os.environ.get("DINERO_OUTPUT_DIR") or PROJECT_ROOT / "output") / (environment or "default")
    env["TARGET_JSONL_DESTINATION_PATH"] = str(output / f"org-{org_id}")
    env["TARGET_DINERO_REJECTS_FILE"] = str(output / "rejects" / f"org-{org_id}.jsonl")
    return env


def meltano_command(organization: dict[str, Any], job: str) -> list[str]:
    """The ``meltano run`` invocation of one organization (state kept apart by the suffix)."""
    return [meltano_executable(), "run", "--state-id-suffix", f"org-{organization['organization_id']}", job]


#: Exit codes of tap-dinero / target-dinero (README, "Logs and exit codes") after which a retry would
#: only repeat the failure: bad config (2), refused credentials (3), no access (4), Dinero refused our
#: requests (7), too many rejects (8), bad input (9). A retry of those costs Dinero refusals (Dinero
#: revokes integrations that provoke many) and changes nothing until someone fixes the cause.
NO_RETRY_EXIT_CODES = frozenset({2, 3, 4, 7, 8, 9})
_PLUGIN_EXIT = re.compile(r"\b(tap-dinero|target-dinero) failed\b.*\[exit code (\d+)\]")


def plugin_exit_code(line: str) -> int | None:
    """The exit code a tap-dinero/target-dinero failure line names (Meltano itself exits 1 for any)."""
    found = _PLUGIN_EXIT.search(line)
    return int(found.group(2)) if found else None


def retry_is_useless(exit_codes: list[int]) -> bool:
    """Whether the plugins' failure lines say a retry would fail again the same way."""
    return any(code in NO_RETRY_EXIT_CODES for code in exit_codes)


def retry_jitter_seconds(
    organization_id: str, try_number: int, spread: float = RETRY_JITTER_SECONDS
) -> float:
    """Seconds a retry waits before starting Meltano: 0 on the first try, else spread evenly (by a hash of
    the organization and the try) over ``[0, spread)``, so retries of different organizations are
    staggered even when Airflow schedules them for the same moment."""
    if try_number <= 1 or spread <= 0:
        return 0.0
    digest = hashlib.sha256(f"{organization_id}:{try_number}".encode()).digest()
    return spread * int.from_bytes(digest[:8], "big") / 2**64


def isolated_sys_dir(organization_id: str, try_number: int, project_root: Path = PROJECT_ROOT) -> Path:
    """A Meltano system directory of this task's own (see the module doc), made fresh.

    The project's installed plugins are linked, not copied; ``run`` and ``logs`` are the task's own, so
    no other task's ``meltano run`` can touch its config, catalog or state files.
    """
    shared = project_root / ".meltano"
    task_dir = TASK_DIRS / f"org-{organization_id}-try-{try_number}"
    if task_dir.exists():
        shutil.rmtree(task_dir)
    task_dir.mkdir(parents=True, mode=0o700)
    if shared.is_dir():
        for entry in shared.iterdir():
            if entry.name in _PER_TASK or entry.resolve() == TASK_DIRS.resolve():
                continue
            (task_dir / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    return task_dir


def remove_sys_dir(task_dir: Path) -> None:
    """Remove a task's system directory (its run folder held the plugins' config files, secrets too)."""
    shutil.rmtree(task_dir, ignore_errors=True)


def meltano_database_env(project_root: Path = PROJECT_ROOT) -> dict[str, str]:
    """``MELTANO_DATABASE_URI`` of the shared system database, unless the environment already sets one.

    Without it, a task's own system directory would also give it a database of its own (Meltano's default
    is ``$MELTANO_SYS_DIR_ROOT/meltano.db``) and every run would start without state.
    """
    if os.environ.get("MELTANO_DATABASE_URI"):
        return {}
    return {"MELTANO_DATABASE_URI": f"sqlite:///{project_root / '.meltano' / 'meltano.db'}"}


def tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB (Linux ``/proc``; 0 elsewhere).

    The DAG samples it while ``meltano run`` works, to report each task's peak memory (Meltano, tap and
    target together), the figure the parallel cap is sized from.
    """
    total_kib = 0
    pending = [pid]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            with open(f"/proc/{current}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total_kib += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending.extend(int(child) for child in children.read().split())
        except (OSError, ValueError):
            continue
    return total_kib / 1024
