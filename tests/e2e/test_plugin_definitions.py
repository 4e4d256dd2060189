"""meltano.yml and the Meltano Hub definitions agree with the plugins (settings, kinds, capabilities).

The plugins' own ``--about`` output is the source; scripts/plugin_definitions.py renders the rest from
it. Fast (two ``--about`` calls), so not marked e2e.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {"client_secret", "api_key", "refresh_token"}


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "plugin_definitions", ROOT / "scripts" / "plugin_definitions.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


generator = _load_generator()


@pytest.fixture(scope="module")
def meltano_project() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "meltano.yml").read_text())


@pytest.fixture(scope="module")
def rendered() -> dict[Path, str]:
    return generator.rendered_files()


def _plugin(project: dict[str, Any], plugin_type: str, name: str) -> dict[str, Any]:
    return next(p for p in project["plugins"][plugin_type] if p["name"] == name)


def test_meltano_yml_and_hub_definitions_are_in_sync_with_about(rendered: dict[Path, str]) -> None:
    stale = [
        str(p.relative_to(ROOT)) for p, text in rendered.items() if not p.exists() or p.read_text() != text
    ]
    assert not stale, f"out of date, run `python scripts/plugin_definitions.py --write`: {stale}"


@pytest.mark.parametrize(
    ("plugin_type", "name"), [("extractors", "tap-dinero"), ("loaders", "target-dinero")]
)
def test_every_setting_has_kind_and_description_and_secrets_are_sensitive(
    meltano_project: dict[str, Any], plugin_type: str, name: str
) -> None:
    plugin = _plugin(meltano_project, plugin_type, name)
    about = json.loads(generator.run_about(name, "json"))
    settings = {s["name"]: s for s in plugin["settings"]}
    assert set(settings) == set(about["settings"]["properties"])
    for setting in settings.values():
        assert setting.get("kind") and setting.get("description"), setting["name"]
    for secret in SECRETS:
        assert settings[secret]["sensitive"] is True and settings[secret]["kind"] == "password"
    # this checkout, with the versions the test suite passed with (not whatever is newest that day)
    assert plugin["pip_url"] == "-e . --constraint ${MELTANO_PROJECT_ROOT}/constraints.txt"
    assert plugin["namespace"] == name.replace("-", "_")
    assert set(plugin["capabilities"]) >= set(about["capabilities"])


@pytest.mark.parametrize(
    ("plugin_type", "name"), [("extractors", "tap-dinero"), ("loaders", "target-dinero")]
)
def test_hub_definitions_use_options_dotted_settings_and_every_credential_group(
    plugin_type: str, name: str
) -> None:
    hub = yaml.safe_load((ROOT / "hub" / plugin_type / name / "dinero-singer.yml").read_text())
    settings = {s["name"]: s for s in hub["settings"]}
    level = settings["metrics_log_level"]
    assert level["kind"] == "options" and {o["value"] for o in level["options"]} >= {"WARNING", "INFO"}
    assert "faker_config.seed" in settings and "faker_config" not in settings  # objects split up
    assert "stream_maps" in settings  # a free-form object stays one setting
    assert all(s["kind"] != "string" or "options" not in s for s in settings.values())
    groups = [set(group) for group in hub["settings_group_validation"]]
    assert {"client_id", "client_secret", "api_key", "organization_id"} in groups
    assert {"client_id", "client_secret", "refresh_token", "organization_id"} in groups
    if name == "tap-dinero":
        assert {"client_id", "client_secret", "api_key", "organization_ids"} in groups
        assert "test" in hub["capabilities"]
        assert "batch_config.encoding.format" in settings
    else:
        assert settings["load_method"]["kind"] == "options"
    # Installs from the package index, or from a checkout with one variable (no git remote needed).
    assert hub["pip_url"] == "dinero-singer${DINERO_SINGER_PIP_SOURCE}"


def test_jobs_schedules_and_environments_are_consistent(meltano_project: dict[str, Any]) -> None:
    plugins = {p["name"] for kind in meltano_project["plugins"].values() for p in kind}
    jobs = {job["name"]: job["tasks"] for job in meltano_project["jobs"]}
    assert set(jobs) >= {"dinero-to-local", "dinero-roundtrip", "sales-to-dinero"}
    for tasks in jobs.values():
        for task in tasks:
            assert set(task.split()) <= plugins, task
    intervals = {s["job"]: s["interval"] for s in meltano_project["schedules"]}
    assert intervals["dinero-to-local"] == "@daily"
    assert intervals["sales-to-dinero"] == "@hourly"
    environments = {e["name"]: e for e in meltano_project["environments"]}
    assert set(environments) >= {"dev", "prod"}
    prod = yaml.safe_dump(environments["prod"])
    assert "api.dinero.dk" in prod
    assert not re.search(r"(secret|api_key|refresh_token)\s*:", prod), "prod must take secrets from env vars"
    dev_tap = next(
        p for p in environments["dev"]["config"]["plugins"]["extractors"] if p["name"] == "tap-dinero"
    )
    assert dev_tap["config"]["api_key"] == "sandbox-api-key"
    assert dev_tap["config"]["api_url"].startswith("http://127.0.0.1:")
