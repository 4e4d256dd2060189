"""Dinero's error codes are named in dinero_api/errors.py only; everyone else uses the exception types.

``getattr(exc, "code", None) in (63, 65)`` in one sink meant "gone" while dinero_api.errors.DineroGone
meant the same: two definitions of the same wire fact, free to drift (a third "deleted" code added to one
only). This scan fails when a module of the production packages other than the errors module compares an
error's ``code`` with an integer literal.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("dinero_api", "tap_dinero", "target_dinero")
ERRORS_MODULE = REPO / "dinero_api" / "errors.py"


def _is_code(node: ast.expr) -> bool:
    """``x.code`` or ``getattr(x, "code", ...)`` (an error's Dinero code, not ``status_code``)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "code"
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and node.args[1].value == "code"
    )


def _has_int(node: ast.expr) -> bool:
    return any(
        isinstance(sub, ast.Constant) and isinstance(sub.value, int) and not isinstance(sub.value, bool)
        for sub in ast.walk(node)
    )


def code_literals(source: str) -> list[str]:
    """Each comparison of an error ``code`` with an integer literal in ``source``, as ``line: text``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_code(side) for side in sides) and any(_has_int(s) for s in sides if not _is_code(s)):
                found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_the_scan_finds_code_literals_but_not_status_codes() -> None:
    source = (
        'a = getattr(exc, "code", None) in (63, 65)\n'
        "b = exc.code == 58\n"
        "c = exc.status_code == 404\n"
        "d = exc.code in GONE_CODES\n"
    )
    assert [hit.split(":")[0] for hit in code_literals(source)] == ["1", "2"]


def test_dinero_error_codes_appear_only_in_the_errors_module() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{hit}"
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        if path.resolve() != ERRORS_MODULE.resolve()
        for hit in code_literals(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], (
        "Dinero error codes compared outside dinero_api/errors.py; catch the exception type instead "
        "(DineroGone, DineroTimestampConflict, ...) or name the code there:\n" + "\n".join(offenders)
    )
