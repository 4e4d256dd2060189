"""Every operation of Dinero's spec (136, derived into ``dinero_sandbox/resources/spec_operations.json``) is
routed by the sandbox and answers 2xx at least once when the per-tag scenarios run."""

from __future__ import annotations

import re

from dinero_sandbox.resources.coverage import coverage, spec_operations
from dinero_sandbox.testing import SandboxServer

from .conftest import Api, api_key_token
from .scenarios import SCENARIOS


def _pattern(path: str) -> re.Pattern[str]:
    parts = [("[^/]+" if re.fullmatch(r"\{[^}]+\}", seg) else re.escape(seg)) for seg in path.split("/")]
    return re.compile("/".join(parts) + r"/?", re.IGNORECASE)


def _operation_of(method: str, path: str, ops: list[dict[str, str]]) -> str | None:
    """The spec operation a logged request was (the one with most literal segments wins)."""
    best, score = None, -1
    for op in ops:
        if op["method"] == method and _pattern(op["path"]).fullmatch(path):
            literal = sum(1 for seg in op["path"].split("/") if not seg.startswith("{"))
            if literal > score:
                best, score = f"{op['method']} {op['path']}", literal
    return best


def test_every_spec_operation_is_routed(sandbox: SandboxServer) -> None:
    result = coverage(sandbox.app.url_map)
    assert [f"{op['method']} {op['path']}" for op in result["missing"]] == []
    assert result["total"] == len(spec_operations()) == 136


def test_every_spec_operation_answers_2xx_in_the_scenarios(sandbox: SandboxServer) -> None:
    ops = spec_operations()
    answered: set[str] = set()
    for tag, scenario in SCENARIOS.items():
        sandbox.reset("demo")
        sandbox.set_quota(100_000, 60.0)
        scenario(sandbox, Api(sandbox, api_key_token(sandbox)))
        for entry in sandbox.requests():
            if 200 <= entry["status"] < 300:
                op = _operation_of(entry["method"], entry["path"], ops)
                if op:
                    answered.add(op)
        assert tag
    sandbox.reset("demo")
    missing = sorted({f"{op['method']} {op['path']}" for op in ops} - answered)
    assert missing == [], "\n".join(missing)
