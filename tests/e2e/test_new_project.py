"""A Meltano user's first day: a brand-new Meltano project outside this repository, the two plugins added
from this checkout's Hub definitions (hub/), installed, configured, discovered, selected and run against
the sandbox -- twice, the second run incremental.

It follows README "Install" word for word: ``meltano add --from-ref`` with ``DINERO_SINGER_PIP_SOURCE``
pointing at the checkout (no git remote, nothing published needed). The pipeline copies organization
100000's contacts into organization 100000's sister organization 100001 (tap-dinero -> target-dinero);
the second run reads only what changed since the first and creates nothing.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from meltano_runner import ROOT, base_env, ensure_tool

from dinero_sandbox.constants import DEMO_API_KEY_2, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, ORG_MAIN, ORG_SECOND
from dinero_sandbox.testing import SandboxServer

pytestmark = pytest.mark.e2e


def _meltano(executable: Path, project: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(executable), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"meltano {' '.join(args)} failed:\n{result.stderr[-5000:]}"
    return result.stdout + result.stderr


def test_new_meltano_project_adds_installs_and_runs_both_plugins_from_this_checkout(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    meltano = ensure_tool("meltano") / "meltano"
    assert ROOT not in tmp_path.parents  # a project of the user's own, not this repository
    env = base_env()
    env["DINERO_SINGER_PIP_SOURCE"] = f"@{ROOT.as_uri()}"
    _meltano(meltano, tmp_path, env, "init", "warehouse", "--no-usage-stats")
    project = tmp_path / "warehouse"

    # Add: one command per plugin, installing from the checkout.
    for plugin_type, name in (("extractor", "tap-dinero"), ("loader", "target-dinero")):
        ref = ROOT / "hub" / f"{plugin_type}s" / name / "dinero-singer.yml"
        _meltano(meltano, project, env, "add", "--plugin-type", plugin_type, name, "--from-ref", str(ref))
        executable = project / ".meltano" / f"{plugin_type}s" / name / "venv" / "bin" / name
        assert executable.exists(), f"{name} was not installed"
        venv = project / ".meltano" / f"{plugin_type}s" / name / "venv"
        site = next((venv / "lib").glob("python*/site-packages"))
        assert not (site / "flask").exists(), "the plugin's install pulled the sandbox's web framework"

    # Config: the way a user does it (secrets land in .env, not meltano.yml).
    common = {
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "api_url": sandbox.url,
        "token_url": sandbox.token_url,
        "quota_backend": str(tmp_path / "quota"),
        "quota_requests": 100_000,  # the test sandbox's quota is generous too
    }
    tap_config = {**common, "api_key": "sandbox-api-key", "organization_id": ORG_MAIN}
    target_config = {
        **common,
        "api_key": DEMO_API_KEY_2,
        "organization_id": ORG_SECOND,
        "streams": {"contacts": {"load_as": "contact"}},
        "rejects_file": str(tmp_path / "rejects.jsonl"),
    }
    # The credentials with `meltano config set` (secrets go to .env), the rest straight into .env: both
    # are ordinary ways to configure a Meltano project (and one `config set` costs ~2 s).
    dotenv = []
    for name, config in (("tap-dinero", tap_config), ("target-dinero", target_config)):
        for key, value in config.items():
            text = value if isinstance(value, str) else json.dumps(value)
            if key in ("api_key", "organization_id"):
                _meltano(meltano, project, env, "config", "set", name, key, text)
            else:
                dotenv.append(f"{name.upper().replace('-', '_')}_{key.upper()}='{text}'")
    with (project / ".env").open("a") as handle:
        handle.write("\n".join(dotenv) + "\n")
    assert "sandbox-api-key" not in (project / "meltano.yml").read_text()

    # Discover and select.
    listed = _meltano(meltano, project, env, "select", "tap-dinero", "--list", "--all")
    assert "invoices" in listed and "contacts" in listed
    _meltano(meltano, project, env, "select", "tap-dinero", "contacts", "*")

    before = {c["ContactGuid"] for c in sandbox.dump(ORG_SECOND, "contacts")}
    source = [c for c in sandbox.dump(ORG_MAIN, "contacts") if not c.get("DeletedAt")]
    first = _meltano(meltano, project, env, "run", "tap-dinero", "target-dinero")
    after_first = sandbox.dump(ORG_SECOND, "contacts")
    created = [c for c in after_first if c["ContactGuid"] not in before]
    assert created, first[-3000:]
    names = {c["Name"] for c in after_first}
    assert all(c["Name"] in names for c in source), first[-3000:]  # created, or matched by VAT no./email
    assert "METRIC" not in first  # quiet by default

    # Second run: incremental from the first run's bookmark, nothing created twice.
    log = sandbox.requests()
    mark = log[-1]["id"] if log else 0
    _meltano(meltano, project, env, "run", "tap-dinero", "target-dinero")
    assert len(sandbox.dump(ORG_SECOND, "contacts")) == len(after_first)
    lists = [r for r in sandbox.requests(mark) if r["path"] == f"/v1/{ORG_MAIN}/contacts"]
    assert lists and all("changesSince=" in (r.get("query") or "") for r in lists), lists
