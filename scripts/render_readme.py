"""Keep README.md's generated sections in sync with the code.

README.md holds blocks between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` markers:

- ``tap-settings`` / ``target-settings``: the settings tables of ``--about --format=markdown``;
- ``streams``: one row per stream of the tap's catalog (key, replication method, bookmark);
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


#: The console scripts, run from this checkout's packages (the venv's scripts may point at another one).
ENTRY_POINTS = {
    "tap-dinero": "from tap_dinero.tap import TapDinero; TapDinero.cli()",
    "target-dinero": "from target_dinero.target import TargetDinero; TargetDinero.cli()",
}


def _run(args: list[str]) -> str:
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-c", ENTRY_POINTS[args[0]], *args[1:]]
    result = subprocess.run(command, check=True, capture_output=True, text=True, cwd=root)
    return result.stdout


def settings_table(executable: str) -> str:
    """The ``## Settings`` table of ``<executable> --about --format=markdown``."""
    about = _run([executable, "--about", "--format=markdown"])
    match = re.search(r"## Settings\n\n(.*?)\n\n", about, re.S)
    if not match:
        raise SystemExit(f"{executable} --about printed no settings table")
    return match.group(1).strip() + "\n"


def _stream_parents() -> dict[str, str]:
    """Child stream -> parent stream, from the stream classes (the SDK's catalog does not say)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tap_dinero import streams

    types = streams.STREAM_TYPES + streams.LINE_STREAM_TYPES + streams.PAYMENT_STREAM_TYPES
    return {cls.name: f"`{cls.parent_stream_type.name}`" for cls in types if cls.parent_stream_type}


def streams_table() -> str:
    """One row per stream of the tap's discovered catalog."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as config:
        json.dump(DISCOVERY_CONFIG, config)
        config.flush()
        catalog = json.loads(_run(["tap-dinero", "--config", config.name, "--discover"]))
    rows = ["| Stream | Primary key | Replication | Bookmark | Parent |", "|:--|:--|:--|:--|:--|"]
    parents = _stream_parents()
    for stream in sorted(catalog["streams"], key=lambda s: s["tap_stream_id"]):
        top = next(m["metadata"] for m in stream["metadata"] if m["breadcrumb"] == [])
        rows.append(
            "| `{}` | {} | {} | {} | {} |".format(
                stream["tap_stream_id"],
                ", ".join(f"`{k}`" for k in stream.get("key_properties") or []),
                stream.get("replication_method") or top.get("forced-replication-method") or "FULL_TABLE",
                f"`{stream['replication_key']}`" if stream.get("replication_key") else "",
                top.get("parent-tap-stream-id") or parents.get(stream["tap_stream_id"], ""),
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
        if name == "streams":
            return streams_table()
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
