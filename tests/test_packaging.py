"""What ``pip install`` brings: the plugins' run-time closure holds no web framework; versions are pinned.

Checked offline against the installed distributions' metadata (no index is asked): the requirements of
``pyproject.toml``'s ``dependencies`` are walked through what they require in turn.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
WEB_FRAMEWORKS = {"flask", "werkzeug", "django", "fastapi", "starlette", "aiohttp", "tornado", "bottle"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def base_dependencies() -> list[Requirement]:
    """``[project].dependencies`` of pyproject.toml (read without tomllib, which 3.10 lacks)."""
    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"^dependencies = \[\n(.*?)^\]", text, re.S | re.M)
    assert block, "no dependencies list in pyproject.toml"
    return [Requirement(item) for item in re.findall(r'^\s*"([^"]+)"', block.group(1), re.M)]


def closure(requirements: list[Requirement]) -> set[str]:
    """Names of every installed distribution the requirements pull in (markers evaluated here)."""
    seen: set[str] = set()
    queue = list(requirements)
    while queue:
        req = queue.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = _norm(req.name)
        key = name + "[" + ",".join(sorted(req.extras)) + "]"
        if key in seen:
            continue
        seen.add(key)
        for text in metadata.distribution(name).requires or []:
            sub = Requirement(text)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in req.extras or {""}):
                queue.append(Requirement(str(sub).split(";")[0]) if sub.marker else sub)
    return {key.split("[")[0] for key in seen}


def test_plain_install_pulls_no_web_framework():
    names = closure(base_dependencies())
    assert "singer-sdk" in names and "requests" in names
    assert names & WEB_FRAMEWORKS == set(), sorted(names & WEB_FRAMEWORKS)


def test_the_sandbox_framework_is_an_extra_that_the_scripts_install():
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^sandbox = \["flask', text, re.M)
    assert 'license = "Apache-2.0"' in text  # an SPDX string: a table makes setuptools warn on install
    assert "-e '.[sandbox]'" in (ROOT / "scripts/quickstart.sh").read_text()


def test_ci_installs_the_pinned_versions_it_was_tested_with():
    for script in ("scripts/test.sh", "scripts/quickstart.sh"):
        assert "-c constraints.txt" in (ROOT / script).read_text(), script
    pins = dict(
        line.split("==", 1) for line in (ROOT / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert {"flask", "singer-sdk", "requests", "pytest"} <= set(pins)
    for name in closure(base_dependencies()):  # every run-time dependency is pinned to what is installed
        assert pins.get(name) == metadata.version(name), name


def test_freeze_script_reproduces_the_file_from_this_environment():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/freeze_constraints.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_the_quickstart_duckdb_loader_installs_the_versions_it_was_tested_with():
    """target-duckdb's whole dependency closure is pinned, not only target-duckdb and duckdb themselves."""
    import yaml

    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    loader = next(p for p in project["plugins"]["loaders"] if p["name"] == "target-duckdb")
    words = loader["pip_url"].split()
    assert words[words.index("--constraint") + 1] == "${MELTANO_PROJECT_ROOT}/constraints-target-duckdb.txt"
    pins = dict(
        line.split("==", 1) for line in (ROOT / "constraints-target-duckdb.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    wanted = dict(word.split("==", 1) for word in words if "==" in word)
    assert wanted.items() <= pins.items()
    assert {"target-duckdb", "duckdb", "jsonschema"} <= set(pins)  # the loader, its engine, a dependency
