"""A sandbox serving many organizations, for the multi-organization benchmark and the Airflow test.

The sandbox seeds two organizations (100000 and 100001). Platforms run hundreds, so this module adds
``count`` more (ids 200000, 200001, ...), each generated like the second demo organization (or bigger,
``invoices=N``), and serves them with the sandbox's own app. The Visma Connect demo refresh token
(``sandbox-refresh-token``) reaches every organization; Dinero's quota is per (client id, organization),
so each added organization has a quota of its own.

    python -m benchmarks.many_orgs --orgs 20 --quota 100 --window 6 --port 0   # prints its URL

(``dinero_sandbox`` itself is not changed: the organizations are added to a running ``SandboxState``.)
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import time

from dinero_sandbox import seed
from dinero_sandbox.state import SandboxState

__all__ = ["EXTRA_ORG_BASE", "add_organizations", "extra_org_ids", "main"]

EXTRA_ORG_BASE = 200_000


def extra_org_ids(count: int) -> list[str]:
    """The ids of ``count`` added organizations."""
    return [str(EXTRA_ORG_BASE + i) for i in range(count)]


def add_organizations(state: SandboxState, count: int, invoices: int | None = None) -> list[str]:
    """Generate ``count`` organizations into ``state`` (kept until the sandbox is reset); their ids."""
    size = seed.DEMO_SECOND if invoices is None else dataclasses.replace(seed.DEMO_SECOND, invoices=invoices)
    anchor = seed.default_anchor()
    ids = extra_org_ids(count)
    for index, org in enumerate(ids):
        seed.ORG_INFO.setdefault(
            org,
            {
                **seed.ORG_INFO[seed.ORG_SECOND],
                "Name": f"Demo {index + 3} ApS",
                "Email": f"org{org}@example.dk",
            },
        )
        state.orgs[org] = seed.build_org(org, size, seed=index + 3, anchor=anchor)
    return ids


def main(argv: list[str] | None = None) -> int:
    """Serve the sandbox with ``--orgs`` added organizations; prints one line with the URL."""
    from werkzeug.serving import make_server

    from dinero_sandbox.app import create_app

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=8)
    parser.add_argument("--invoices", type=int, default=None, help="invoices per added organization")
    parser.add_argument("--quota", type=int, default=100)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    state = SandboxState("demo", args.quota, args.window)
    ids = add_organizations(state, args.orgs, args.invoices)
    server = make_server("127.0.0.1", args.port, create_app(state), threaded=True)
    print(
        f"Dinero sandbox listening on http://127.0.0.1:{server.server_port} with organizations "
        f"{','.join(ids)} (built in {time.perf_counter() - started:.2f} s)",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
