"""Derive the list of Dinero's API operations (method, path, tag) from Dinero's OpenAPI spec and write it to
``dinero_sandbox/resources/spec_operations.json``, so that the coverage check and the tests never read
``../shared`` (which a fresh clone lacks).

    python scripts/spec_operations.py [../shared/dinero-api/openapi.json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "dinero_sandbox" / "resources" / "spec_operations.json"
METHODS = ("get", "post", "put", "delete", "patch")


def main(argv: list[str]) -> int:
    """Write the derived operation list."""
    spec_path = Path(argv[1]) if len(argv) > 1 else ROOT.parent / "shared" / "dinero-api" / "openapi.json"
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    ops = [
        {"method": method.upper(), "path": path, "tag": (op.get("tags") or ["?"])[0]}
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]
    OUT.write_text(json.dumps(ops, indent=1) + "\n", encoding="utf-8")
    print(f"{len(ops)} operations -> {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
