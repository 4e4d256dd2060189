"""The multi-organization DAG's organization list and per-organization Meltano invocation.

org_fanout.py is plain Python (no Airflow), so these run in the project's own venv in milliseconds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "orchestrate" / "airflow" / "dags"))
import org_fanout  # noqa: E402


def test_repository_organization_list_names_both_demo_organizations() -> None:
    raw = json.loads((ROOT / "orchestrate" / "airflow" / "dinero_organizations.json").read_text())
    organizations = org_fanout.parse_organizations(raw)
    assert [o["organization_id"] for o in organizations] == ["100000", "100001"]
    assert all(o["meltano_environment"] == "dev" and o["job"] == "dinero-to-local" for o in organizations)
    assert organizations[1]["secret_variables"] == {"api_key": "dinero_api_key_100001"}


def test_an_organization_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="100000 is listed twice"):
        org_fanout.parse_organizations([{"organization_id": "100000"}, {"organization_id": 100000}])


def test_an_organization_listed_twice_with_a_leading_zero_is_refused() -> None:
    """``0100000`` is organization 100000 to Dinero: two tasks would sync it at once (the old check
    compared the spelling and let both through)."""
    with pytest.raises(ValueError, match="0100000 is listed twice"):
        org_fanout.parse_organizations([{"organization_id": "100000"}, {"organization_id": "0100000"}])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "empty"),
        ({"organizations": "100000"}, "not a list"),
        ([{"name": "no id"}], "numeric organization_id"),
        ([{"organization_id": "10; rm -rf /"}], "numeric organization_id"),
        ([{"organization_id": "1", "settings": {"API-URL": "x"}}], "invalid setting name"),
        ([{"organization_id": "1", "settings": {"organization_id": "2"}}], "invalid setting name"),
    ],
)
def test_malformed_lists_are_refused_with_a_reason(raw: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        org_fanout.parse_organizations(raw)


def test_each_organization_runs_with_its_own_settings_state_and_output() -> None:
    [organization] = org_fanout.parse_organizations(
        {
            "meltano_environment": "prod",
            "organizations": [
                {
                    "organization_id": "123456",
                    "settings": {"start_date": "2024-01-01"},
                    "secret_variables": {"api_key": "dinero_api_key_123456"},
                }
            ],
        }
    )
    env = org_fanout.organization_env(organization, {"api_key": "the-key"})
    for prefix in ("TAP_DINERO_", "TARGET_DINERO_"):
        assert env[f"{prefix}ORGANIZATION_ID"] == "123456"
        assert env[f"{prefix}API_KEY"] == "the-key"
        assert env[f"{prefix}START_DATE"] == "2024-01-01"
    assert env["MELTANO_ENVIRONMENT"] == "prod"
    assert env["TARGET_JSONL_DESTINATION_PATH"].endswith("output/prod/org-123456")
    command = org_fanout.meltano_command(organization, "dinero-to-local")
    assert command[1:] == ["run", "--state-id-suffix", "org-123456", "dinero-to-local"]
    # the secret's Variable name travels through XCom, never the secret itself
    assert "the-key" not in json.dumps(organization)


def test_each_task_gets_its_own_meltano_run_folder_and_shares_plugins_and_state(
    tmp_path, monkeypatch
) -> None:
    """Parallel `meltano run`s must not share `.meltano/run/<plugin>/` (they delete each other's catalog
    and config files): every task has a system directory of its own, plugins linked, database shared."""
    project = tmp_path / "project"
    for folder in ("extractors/tap-dinero/venv", "loaders/target-jsonl/venv", "run/tap-dinero", "logs"):
        (project / ".meltano" / folder).mkdir(parents=True)
    (project / ".meltano" / "meltano.db").write_text("")
    monkeypatch.setattr(org_fanout, "TASK_DIRS", project / ".meltano" / "tasks")
    monkeypatch.delenv("MELTANO_DATABASE_URI", raising=False)

    first = org_fanout.isolated_sys_dir("100000", 1, project)
    second = org_fanout.isolated_sys_dir("100001", 1, project)
    retry = org_fanout.isolated_sys_dir("100000", 2, project)
    assert len({first, second, retry}) == 3
    for task_dir in (first, second, retry):
        assert (task_dir / "extractors").resolve() == (project / ".meltano" / "extractors").resolve()
        assert (task_dir / "loaders" / "target-jsonl" / "venv").is_dir()
        assert not (task_dir / "run").exists() and not (task_dir / "logs").exists()
        assert not (task_dir / "meltano.db").exists()
    (first / "run" / "tap-dinero").mkdir(parents=True)
    assert not (second / "run").exists()
    assert org_fanout.meltano_database_env(project) == {
        "MELTANO_DATABASE_URI": f"sqlite:///{project / '.meltano' / 'meltano.db'}"
    }
    monkeypatch.setenv("MELTANO_DATABASE_URI", "postgresql://meltano@db/meltano")
    assert org_fanout.meltano_database_env(project) == {}
    org_fanout.remove_sys_dir(first)
    assert not first.exists() and (project / ".meltano" / "extractors" / "tap-dinero" / "venv").is_dir()


def test_retries_are_staggered_per_organization() -> None:
    assert org_fanout.retry_jitter_seconds("100000", 1) == 0.0
    delays = [org_fanout.retry_jitter_seconds(str(100000 + i), 2, spread=30) for i in range(50)]
    assert all(0 <= d < 30 for d in delays)
    assert len({round(d, 3) for d in delays}) == 50  # no two organizations come back at the same moment
    assert max(delays) - min(delays) > 20
    assert org_fanout.retry_jitter_seconds("100000", 2) != org_fanout.retry_jitter_seconds("100000", 3)


@pytest.mark.parametrize(
    ("lines", "useless"),
    [
        (["2026-12-02 | ERROR | tap-dinero | tap-dinero failed: refused credentials [exit code 3]"], True),
        (["... | target-dinero failed (stream s): Dinero refused 10 requests ... [exit code 7]"], True),
        (["... | tap-dinero failed: could not reach Dinero: ConnectionError [exit code 5]"], False),
        (["... | tap-dinero failed: quota [exit code 6]", "meltano: run failed"], False),
        (["Traceback (most recent call last):", "RuntimeError: boom"], False),
    ],
)
def test_a_failure_a_retry_cannot_fix_is_not_retried(lines: list[str], useless: bool) -> None:
    """Dinero revokes integrations that provoke many refusals: refused credentials, no access or requests
    Dinero refuses fail the organization's task without the 4 retries (Meltano exits 1 for any failure, so
    the plugins' own exit code is read from their one failure line)."""
    codes = [c for c in map(org_fanout.plugin_exit_code, lines) if c is not None]
    assert org_fanout.retry_is_useless(codes) is useless
