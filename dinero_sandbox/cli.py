"""``dinero-sandbox``: serve the offline Dinero API.

dinero-sandbox --port 8765 [--host 127.0.0.1] [--seed-size demo|medium|large|invoices=N]
               [--orgs 200 --org-size tiny|small|demo|invoices=K] [--quota 100 --window 60]
               [--behaviour updated_at=local ...]
"""

from __future__ import annotations

import argparse
import sys
import time

try:
    from werkzeug.serving import make_server

    from .app import create_app
    from .behaviours import CHOICES, Behaviours, parse_assignment
except ModuleNotFoundError as exc:  # the plugins' own install does not pull the sandbox's web framework
    if exc.name not in ("flask", "werkzeug"):
        raise
    raise SystemExit(
        "dinero-sandbox needs Flask, which the plugins do not install: pip install 'dinero-singer[sandbox]' "
        "(from a checkout: pip install '.[sandbox]')."
    ) from None
from .constants import (
    DEFAULT_QUOTA_REQUESTS,
    DEFAULT_QUOTA_WINDOW,
    DEMO_API_KEY,
    DEMO_API_KEY_2,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_REFRESH_TOKEN,
    ORG_MAIN,
    ORG_SECOND,
)
from .seed import parse_seed_size
from .seed_orgs import API_KEY_PREFIX
from .state import SandboxState


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="dinero-sandbox", description="Offline stand-in for the Dinero API."
    )
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--seed-size", default="demo", help="demo, medium, large or invoices=N")
    parser.add_argument(
        "--orgs", type=int, default=None, help="how many organizations (default 2: 100000 and 100001)"
    )
    parser.add_argument(
        "--org-size",
        default="small",
        help="seed size of organizations 100002 ...: tiny, small, demo or invoices=K (default small)",
    )
    parser.add_argument("--quota", type=int, default=DEFAULT_QUOTA_REQUESTS, help="requests per window")
    parser.add_argument("--window", type=float, default=DEFAULT_QUOTA_WINDOW, help="quota window in seconds")
    parser.add_argument(
        "--behaviour",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="play one uncertain fact another way (repeatable): "
        + "; ".join(f"{k}: {'|'.join(v)}" for k, v in CHOICES.items()),
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dinero-sandbox`` console script."""
    args = build_parser().parse_args(argv)
    if args.orgs is not None:
        args.seed_size = f"{args.seed_size},orgs={args.orgs}:{args.org_size}"
    try:
        parse_seed_size(args.seed_size)
    except ValueError as exc:
        print(f"dinero-sandbox: {exc}", file=sys.stderr)
        return 2
    try:
        behaviours = Behaviours().update(**dict(parse_assignment(a) for a in args.behaviour))
    except ValueError as exc:
        print(f"dinero-sandbox: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    state = SandboxState(args.seed_size, args.quota, args.window, behaviours)
    app = create_app(state)
    server = make_server(args.host, args.port, app, threaded=True)
    url = f"http://{args.host}:{server.server_port}"
    print(
        f"Dinero sandbox listening on {url} (seed {args.seed_size}, built in "
        f"{time.perf_counter() - started:.2f} s; quota {args.quota} per {args.window:g} s)"
    )
    print(f"  api_url         {url}")
    print(f"  token_url       {url}/dineroapi/oauth/token   (API-key flow)")
    print(f"                  {url}/connect/token           (Visma Connect refresh-token flow)")
    print(f"  client_id       {DEMO_CLIENT_ID}")
    print(f"  client_secret   {DEMO_CLIENT_SECRET}")
    print(f"  api_key         {DEMO_API_KEY} (organization {ORG_MAIN}), {DEMO_API_KEY_2} ({ORG_SECOND})")
    print(f"                  {API_KEY_PREFIX}<org id> for any of the {len(state.orgs)} organizations")
    print(f"  refresh_token   {DEMO_REFRESH_TOKEN} (all organizations; rotates)")
    print(f"  inspection      {url}/_sandbox/stats")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
