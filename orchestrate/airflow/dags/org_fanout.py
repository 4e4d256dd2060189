"""The organization list of the multi-organization DAG, and each organization's Meltano invocation.

Pure standard library (no Airflow import), so the project's own test suite checks it directly; the DAG
file ``dinero_multi_org.py`` imports it. ``.airflowignore`` keeps Airflow from parsing it as a DAG file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from meltano_project import PROJECT_ROOT, meltano_executable

ORGANIZATIONS_VARIABLE = "dinero_organizations"
ORGANIZATIONS_FILE = Path(
    os.environ.get("DINERO_ORGANIZATIONS_FILE")
    or PROJECT_ROOT / "orchestrate" / "airflow" / "dinero_organizations.json"
)
MAX_PARALLEL_ORGS = int(os.environ.get("DINERO_MAX_PARALLEL_ORGS", "4"))
POOL = os.environ.get("DINERO_AIRFLOW_POOL", "default_pool")
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
        if org_id in seen:
            raise ValueError(f"organization {org_id} is listed twice (two tasks would share its quota)")
        seen.add(org_id)
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
