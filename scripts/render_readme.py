"""Keep README.md's generated sections in sync with the code.

README.md holds blocks between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` markers:

- ``tap-settings`` / ``target-settings``: the plugin's own settings from ``--about --format=markdown``;
- ``tap-sdk-settings`` / ``target-sdk-settings``: the singer-sdk built-in settings, apart;
- ``streams``: one row per stream of the tap's catalog (key, replication method, bookmark, parent);
- ``exit-codes``: the exit codes of both plugins (``dinero_api.cli.EXIT_CODE_TABLE``);
- ``include:docs/X.md``: the text of that document (Guarantees, Performance).

``python scripts/render_readme.py`` rewrites README.md; ``--check`` exits 1 when it is out of date
(``tests/test_readme.py`` runs the same check).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- BEGIN (?P<name>[^>]+?) -->\n)(?P<body>.*?)(<!-- END (?P=name) -->)", re.S)
# A config that only satisfies validation: discovery reads no API (schemas are static).
DISCOVERY_CONFIG = {"client_id": "x", "client_secret": "x", "api_key": "x", "organization_id": "1"}


#: Settings singer-sdk adds to every plugin (stream maps, flattening, batch files, target options).
SDK_SETTINGS = frozenset(
    {
        "stream_maps",
        "stream_map_config",
        "faker_config",
        "flattening_enabled",
        "flattening_max_depth",
        "flattening_max_key_length",
        "flattening_separator",
        "batch_config",
        "add_record_metadata",
        "load_method",
        "batch_size_rows",
        "validate_records",
    }
)
MODULES = {"tap-dinero": "tap_dinero.cli", "target-dinero": "target_dinero.cli"}


def _run(args: list[str]) -> str:
    """Run a plugin from this checkout (``python -m``), whichever copy the environment has installed."""
    cmd = [sys.executable, "-m", MODULES[args[0]], *args[1:]]
    result = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    return result.stdout


def settings_table(executable: str, *, sdk: bool = False) -> str:
    """The plugin's own rows (or, with ``sdk``, singer-sdk's built-in rows) of ``--about`` markdown."""
    about = _run([executable, "--about", "--format=markdown"])
    match = re.search(r"## Settings\n\n(.*?)\n\n", about, re.S)
    if not match:
        raise SystemExit(f"{executable} --about printed no settings table")
    header, rule, *rows = match.group(1).strip().splitlines()
    kept = [row for row in rows if (row.split("|")[1].strip().split(".")[0] in SDK_SETTINGS) == sdk]
    return "\n".join([header, rule, *kept]) + "\n"


def exit_codes_table() -> str:
    """README table of ``dinero_api.cli.EXIT_CODE_TABLE``."""
    sys.path.insert(0, str(ROOT))
    from dinero_api.cli import EXIT_CODE_TABLE

    rows = ["| exit code | meaning | what to do |", "|:--:|:--|:--|"]
    rows += [f"| {int(code)} | {meaning} | {fix} |" for code, meaning, fix in EXIT_CODE_TABLE]
    return "\n".join(rows) + "\n"


def stream_parents() -> dict[str, str]:
    """Parent stream of each child stream (the catalog does not carry it)."""
    sys.path.insert(0, str(ROOT))
    from tap_dinero.tap import TapDinero

    tap = TapDinero(config=dict(DISCOVERY_CONFIG), validate_config=False)
    return {
        name: stream.parent_stream_type.name
        for name, stream in tap.streams.items()
        if stream.parent_stream_type is not None
    }


def streams_table() -> str:
    """One row per stream of the tap's discovered catalog."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as config:
        json.dump(DISCOVERY_CONFIG, config)
        config.flush()
        catalog = json.loads(_run(["tap-dinero", "--config", config.name, "--discover"]))
    parents = stream_parents()
    rows = ["| Stream | Primary key | Replication | Bookmark | Parent |", "|:--|:--|:--|:--|:--|"]
    for stream in sorted(catalog["streams"], key=lambda s: s["tap_stream_id"]):
        top = next(m["metadata"] for m in stream["metadata"] if m["breadcrumb"] == [])
        rows.append(
            "| `{}` | {} | {} | {} | {} |".format(
                stream["tap_stream_id"],
                ", ".join(f"`{k}`" for k in stream.get("key_properties") or []),
                stream.get("replication_method") or top.get("forced-replication-method") or "FULL_TABLE",
                f"`{stream['replication_key']}`" if stream.get("replication_key") else "",
                f"`{parents[stream['tap_stream_id']]}`" if stream["tap_stream_id"] in parents else "",
            )
        )
    return "\n".join(rows) + "\n"


def render(text: str) -> str:
    """README text with every generated block refreshed."""

    def body_for(name: str) -> str:
        if name == "tap-settings":
            return settings_table("tap-dinero")
        if name == "target-settings":
            return settings_table("target-dinero")
        if name == "tap-sdk-settings":
            return settings_table("tap-dinero", sdk=True)
        if name == "target-sdk-settings":
            return settings_table("target-dinero", sdk=True)
        if name == "streams":
            return streams_table()
        if name == "exit-codes":
            return exit_codes_table()
        if name.startswith("include:"):
            return (ROOT / name.removeprefix("include:")).read_text().rstrip() + "\n"
        raise SystemExit(f"unknown README block {name!r}")

    return BLOCK.sub(lambda m: m.group(1) + body_for(m.group("name")) + m.group(4), text)


def main() -> int:
    current = README.read_text()
    fresh = render(current)
    if "--check" in sys.argv[1:]:
        if fresh != current:
            print("README.md is out of date: run `python scripts/render_readme.py`", file=sys.stderr)
            return 1
        return 0
    README.write_text(fresh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
