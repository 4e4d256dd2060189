"""Print how many of Dinero's API operations the sandbox routes, and list the missing ones by tag.

    python scripts/sandbox_coverage.py [-v]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dinero_sandbox.app import create_app
from dinero_sandbox.resources.coverage import coverage
from dinero_sandbox.state import SandboxState


def main(argv: list[str]) -> int:
    """Print ``N/136`` and the missing operations (``-v``: the covered ones too)."""
    app = create_app(SandboxState("demo"))
    result = coverage(app.url_map)
    print(f"sandbox routes {len(result['covered'])}/{result['total']} operations of Dinero's spec")
    for op in result["missing"]:
        print(f"  missing  {op['tag']:<32} {op['method']:<6} {op['path']}")
    if "-v" in argv:
        for op in result["covered"]:
            print(f"  covered  {op['tag']:<32} {op['method']:<6} {op['path']}  -> {op['endpoint']}")
    return 0 if not result["missing"] else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
