"""Re-record the tap's VCR cassette from a fresh offline sandbox.

    .venv/bin/python scripts/record_cassettes.py [--output PATH]

Starts the sandbox in-process (demo seed, generous quota), runs tap-dinero on organization 100001
(API-key flow, every stream) through VCR in record mode, scrubs the credentials (Authorization headers,
token request bodies, issued tokens), checks that none is left, and writes the cassette -- by default
``tests/cassettes/tap_dinero_org_100001.yaml``, which ``tests/tap/test_cassettes.py`` replays without a
server. Re-record after changing which requests the tap makes, run ``pytest tests/tap/test_cassettes.py``
and commit the cassette with the change. No network access beyond 127.0.0.1 is needed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the recording code lives in tests/tap/cassettes.py

from dinero_sandbox.testing import SandboxServer  # noqa: E402
from tests.tap.cassettes import CASSETTE, assert_no_secrets, record_cassette  # noqa: E402

GENEROUS_QUOTA = 100_000


def main(argv: list[str] | None = None) -> int:
    """Record the cassette; 0 on success, 1 when the sync failed or a secret would be committed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=CASSETTE, help=f"cassette path (default {CASSETTE})")
    args = parser.parse_args(argv)
    output: Path = args.output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as quota_dir,
        SandboxServer(seed_size="demo", quota_requests=GENEROUS_QUOTA, quota_window=60.0) as sandbox,
    ):
        result = record_cassette(sandbox.url, output, Path(quota_dir))
    if result.error is not None:
        print(f"The tap failed while recording: {result.error}", file=sys.stderr)
        return 1
    try:
        assert_no_secrets(output)
    except AssertionError as exc:
        output.unlink(missing_ok=True)
        print(f"Not written: {exc}", file=sys.stderr)
        return 1
    counts = {name: len(rows) for name, rows in sorted(result.records.items())}
    print(f"Recorded {output} ({sum(counts.values())} records: {counts})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
