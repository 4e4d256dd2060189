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

The plugin executables are taken from the directory of the running interpreter (the project's venv).
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
#: The package index name once published; from a checkout, DINERO_SINGER_PIP_SOURCE="@file:///path/to/checkout"
#: turns it into the direct reference ``dinero-singer@file:///path/to/checkout`` (Meltano expands the variable
#: when it installs; unset, it expands to nothing). README "Install" explains both.
PIP_URL = "dinero-singer${DINERO_SINGER_PIP_SOURCE}"
#: Capabilities the plugins have that singer-sdk does not list in --about (tap-dinero --test).
EXTRA_CAPABILITIES = {"tap-dinero": ("test",), "target-dinero": ()}
#: The credentials a run needs, for Meltano's settings_group_validation (one group per alternative).
ORGANIZATION_SETTINGS = {
    "tap-dinero": ("organization_id", "organization_ids"),
    "target-dinero": ("organization_id",),
}
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


def run_about(plugin: str, fmt: str) -> str:
    """``<plugin> --about --format=<fmt>`` of this checkout (``python -m``, whichever copy is installed)."""
    module = plugin.replace("-", "_") + ".cli"
    result = subprocess.run(
        [sys.executable, "-m", module, "--about", f"--format={fmt}"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
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


def _definition(name: str, prop: dict[str, Any]) -> dict[str, Any]:
    label = label_for(name.split(".")[-1])
    definition: dict[str, Any] = {"name": name, "kind": kind_for(prop), "label": label}
    enum = [value for value in prop.get("enum") or [] if value is not None]
    if enum and definition["kind"] == "string":
        definition["kind"] = "options"
        definition["options"] = [{"label": str(value), "value": value} for value in enum]
    if prop.get("secret"):
        definition["sensitive"] = True
    if prop.get("default") is not None:
        definition["value"] = prop["default"]
    definition["description"] = " ".join((prop.get("description") or label_for(name)).split())
    return definition


def _leaves(name: str, prop: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """An object setting with declared properties becomes dotted sub-settings
    (``batch_config.encoding.format``), the way Meltano Hub lists them; free-form objects (``stream_maps``,
    ``streams``) stay one setting."""
    children = prop.get("properties") or {}
    if _main_type(prop) != "object" or not children or name.split(".")[-1] == "stream_maps":
        return [(name, prop)]
    out: list[tuple[str, dict[str, Any]]] = []
    for child, child_prop in children.items():
        out += _leaves(f"{name}.{child}", child_prop)
    return out


def setting_definitions(about: dict[str, Any], *, dotted: bool = False) -> list[dict[str, Any]]:
    """Meltano setting definitions (name, kind, label, description, default, sensitive, options) from
    ``--about``; with ``dotted``, object settings are split into their sub-settings."""
    definitions = []
    for name, prop in about["settings"]["properties"].items():
        for leaf, leaf_prop in _leaves(name, prop) if dotted else [(name, prop)]:
            definitions.append(_definition(leaf, leaf_prop))
    return definitions


def capabilities_of(name: str, about: dict[str, Any]) -> list[str]:
    """``--about``'s capabilities plus those singer-sdk does not report."""
    return sorted({*about.get("capabilities", []), *EXTRA_CAPABILITIES.get(name, ())})


def group_validation(name: str, about: dict[str, Any]) -> list[list[str]]:
    """Every way to configure a run: each credential flow with each way of naming the organization."""
    required = list(about["settings"].get("required") or [])
    return [
        [*required, credential, organization]
        for credential in ("api_key", "refresh_token")
        for organization in ORGANIZATION_SETTINGS[name]
    ]


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def settings_block(name: str, about: dict[str, Any], indent: str) -> str:
    """A plugin's ``capabilities`` and ``settings``, indented for its entry in meltano.yml."""
    text = _dump({"capabilities": capabilities_of(name, about), "settings": setting_definitions(about)})
    return "".join(f"{indent}{line}\n" if line else "\n" for line in text.splitlines())


def hub_definition(spec: PluginSpec, about: dict[str, Any]) -> str:
    """The Meltano Hub plugin definition YAML of one plugin."""
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
        "capabilities": capabilities_of(spec.name, about),
        "keywords": list(spec.keywords),
        "domain_url": DOMAIN_URL,
        "maintenance_status": "development",
        "settings_group_validation": group_validation(spec.name, about),
        "settings": setting_definitions(about, dotted=True),
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
            settings_block(spec.name, about, "    "),
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
