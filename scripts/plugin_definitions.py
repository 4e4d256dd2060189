"""Keep the Meltano plugin definitions of tap-dinero and target-dinero in sync with the plugins themselves.

The plugins describe their settings in ``--about --format=json`` (names, JSON types, secrets, defaults,
descriptions). From that one source this script renders:

* the ``capabilities:`` and ``settings:`` of both plugins in ``meltano.yml`` (between ``# BEGIN generated`` /
  ``# END generated`` marker comments),
* the Meltano Hub plugin definitions ``hub/extractors/tap-dinero/<variant>.yml`` and
  ``hub/loaders/target-dinero/<variant>.yml``.

(The README's settings tables come from ``--about --format=markdown`` through scripts/render_readme.py.)

Usage::

    python scripts/plugin_definitions.py --check   # exit 1 and name what is out of date
    python scripts/plugin_definitions.py --write   # rewrite what is out of date

The plugins run with the running interpreter (the project's venv), importing this checkout's packages.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
VARIANT = "dinero-singer"
REPO_URL = "https://github.com/dinero-singer/dinero-singer"
PIP_URL = "git+https://github.com/dinero-singer/dinero-singer.git"
DOMAIN_URL = "https://api.dinero.dk/docs"
LABEL_WORDS = {"id": "ID", "ids": "IDs", "url": "URL", "api": "API", "vat": "VAT", "sql": "SQL"}


@dataclass(frozen=True)
class PluginSpec:
    """What the Hub needs beyond ``--about``: the plugin's type, namespace and presentation."""

    name: str
    plugin_type: str  # "extractors" | "loaders"
    namespace: str
    label: str
    description: str
    keywords: tuple[str, ...]

    @property
    def hub_path(self) -> Path:
        """Where the Hub definition lives in this repository (the Hub's own layout)."""
        return ROOT / "hub" / self.plugin_type / self.name / f"{VARIANT}.yml"


PLUGINS = (
    PluginSpec(
        name="tap-dinero",
        plugin_type="extractors",
        namespace="tap_dinero",
        label="Dinero",
        description="Danish online accounting (Visma Dinero): contacts, invoices, vouchers, ledger entries",
        keywords=("api", "accounting", "meltano_sdk"),
    ),
    PluginSpec(
        name="target-dinero",
        plugin_type="loaders",
        namespace="target_dinero",
        label="Dinero",
        description="Danish online accounting (Visma Dinero): load invoices, vouchers, daily sales, contacts",
        keywords=("api", "accounting", "meltano_sdk"),
    ),
)


#: The console scripts' entry points, run from this checkout's packages: the venv's scripts may import an
#: editable install of another checkout, whose settings are not the ones being rendered here.
ENTRY_POINTS = {
    "tap-dinero": "from tap_dinero.tap import TapDinero; TapDinero.cli()",
    "target-dinero": "from target_dinero.target import TargetDinero; TargetDinero.cli()",
}


def run_about(plugin: str, fmt: str) -> str:
    """``<plugin> --about --format=<fmt>`` with the running interpreter, from this checkout."""
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", ENTRY_POINTS[plugin], "--about", f"--format={fmt}"],
        capture_output=True,
        text=True,
        check=False,
        cwd=root,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{plugin} --about failed: {result.stderr[-2000:]}")
    return result.stdout


def label_for(name: str) -> str:
    """``organization_ids`` -> ``Organization IDs``."""
    return " ".join(LABEL_WORDS.get(word, word.capitalize()) for word in name.split("_"))


def _main_type(prop: dict[str, Any]) -> str:
    types = prop.get("type", "string")
    types = [types] if isinstance(types, str) else list(types)
    if not types and "anyOf" in prop:
        types = [t.get("type") for t in prop["anyOf"] if isinstance(t, dict) and t.get("type")]
    return next((t for t in types if t != "null"), "string")


def kind_for(prop: dict[str, Any]) -> str:
    """The Meltano setting kind for one JSON-schema property of the plugin's config."""
    if prop.get("secret"):
        return "password"
    json_type = _main_type(prop)
    if json_type == "string" and prop.get("format") in ("date-time", "date"):
        return "date_iso8601"
    # JSON "number" maps to Meltano's integer kind: Meltano 4.4 turns a `decimal` setting given through an
    # environment variable into a Decimal that it then cannot serialize into the plugin's config file
    # ("Object of type Decimal is not JSON serializable"). Fractions still work from meltano.yml.
    return {
        "integer": "integer",
        "number": "integer",
        "boolean": "boolean",
        "array": "array",
        "object": "object",
    }.get(json_type, "string")


def setting_definitions(about: dict[str, Any]) -> list[dict[str, Any]]:
    """Meltano setting definitions (name, kind, label, description, default, sensitive) from ``--about``."""
    definitions = []
    for name, prop in about["settings"]["properties"].items():
        definition: dict[str, Any] = {"name": name, "kind": kind_for(prop), "label": label_for(name)}
        if prop.get("secret"):
            definition["sensitive"] = True
        if prop.get("default") is not None:
            definition["value"] = prop["default"]
        definition["description"] = " ".join((prop.get("description") or label_for(name)).split())
        definitions.append(definition)
    return definitions


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def settings_block(about: dict[str, Any], indent: str) -> str:
    """A plugin's ``capabilities`` and ``settings``, indented for its entry in meltano.yml."""
    capabilities = sorted(about.get("capabilities", []))
    text = _dump({"capabilities": capabilities, "settings": setting_definitions(about)})
    return "".join(f"{indent}{line}\n" if line else "\n" for line in text.splitlines())


def hub_definition(spec: PluginSpec, about: dict[str, Any]) -> str:
    """The Meltano Hub plugin definition YAML of one plugin."""
    required = about["settings"].get("required") or []
    definition: dict[str, Any] = {
        "name": spec.name,
        "variant": VARIANT,
        "namespace": spec.namespace,
        "label": spec.label,
        "description": spec.description,
        "docs": f"{REPO_URL}#readme",
        "repo": REPO_URL,
        "pip_url": PIP_URL,
        "executable": spec.name,
        "capabilities": sorted(about.get("capabilities", [])),
        "keywords": list(spec.keywords),
        "domain_url": DOMAIN_URL,
        "maintenance_status": "development",
        "settings_group_validation": [
            [*required, "api_key", "organization_id"],
            [*required, "refresh_token", "organization_id"],
        ],
        "settings": setting_definitions(about),
    }
    header = (
        f"# Meltano Hub plugin definition for {spec.name} (variant {VARIANT}).\n"
        "# Generated from `--about --format=json` by scripts/plugin_definitions.py --write; do not edit.\n"
    )
    return header + _dump(definition)


def replace_between(text: str, begin: str, end: str, body: str) -> str | None:
    """``text`` with the lines between the ``begin`` and ``end`` marker lines replaced by ``body``."""
    pattern = re.compile(rf"(^[^\n]*{re.escape(begin)}[^\n]*\n)(.*?)(^[^\n]*{re.escape(end)})", re.S | re.M)
    match = pattern.search(text)
    if not match:
        return None
    return text[: match.start(2)] + body + text[match.end(2) :]


def rendered_files() -> dict[Path, str]:
    """Every file this script manages, with the content it should have now."""
    files: dict[Path, str] = {}
    meltano_yml = ROOT / "meltano.yml"
    meltano_text = meltano_yml.read_text()
    for spec in PLUGINS:
        about = json.loads(run_about(spec.name, "json"))
        files[spec.hub_path] = hub_definition(spec, about)
        updated = replace_between(
            meltano_text,
            f"# BEGIN generated settings: {spec.name}",
            f"# END generated settings: {spec.name}",
            settings_block(about, "    "),
        )
        if updated is None:
            raise RuntimeError(f"meltano.yml has no generated-settings markers for {spec.name}")
        meltano_text = updated
    files[meltano_yml] = meltano_text
    return files


def main(argv: list[str] | None = None) -> int:
    """Check or rewrite the generated plugin definitions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="exit 1 when a file is out of date")
    mode.add_argument("--write", action="store_true", help="rewrite out-of-date files")
    args = parser.parse_args(argv)
    stale = []
    for path, content in rendered_files().items():
        current = path.read_text() if path.exists() else None
        if current == content:
            continue
        stale.append(path.relative_to(ROOT))
        if args.write:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    verb = "updated" if args.write else "out of date"
    for path in stale:
        print(f"{verb}: {path}")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
