"""README.md stays true: its two commands, its generated tables and CI's use of the test command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_opens_with_quickstart_and_test_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    commands = [line.split("#")[0].strip() for line in first_block if line.strip()]
    assert commands == ["bash scripts/quickstart.sh", "bash scripts/test.sh"]
    assert (ROOT / "scripts/quickstart.sh").exists()
    assert "bash scripts/test.sh" in (ROOT / ".ci/run").read_text()


def test_readme_generated_sections_match_the_code() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts/render_readme.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr + "\n(run `python scripts/render_readme.py` to refresh)"
