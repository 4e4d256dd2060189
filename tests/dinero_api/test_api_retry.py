"""The one retry policy: every retry of the project is timed by dinero_api.retry, and only there.

The session's 5xx retries, the 2xx-not-JSON re-fetch of client and tap, and the token grants used to
build their own python-backoff decorators, each with its own cap and base; they drifted (30 s against
60 s, ``or 0.001`` against ``max(0)``). These tests fail when ``backoff`` is imported again outside
``dinero_api/retry.py``, and pin what the policy does: how many tries, the hook per retry, the cap.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from dinero_api.retry import RETRY_CAP_SECONDS, RetryPolicy
from dinero_api.settings import DineroSettings

REPO = Path(__file__).resolve().parents[2]
PRODUCTION_PACKAGES = ("dinero_api", "tap_dinero", "target_dinero", "dinero_sandbox")
RETRY_MODULE = REPO / "dinero_api" / "retry.py"


def backoff_imports(source: str) -> list[int]:
    """Lines of ``source`` that import python-backoff (``import backoff``, ``from backoff... import``)."""
    lines: list[int] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        else:
            continue
        if any(module.split(".")[0] == "backoff" for module in modules):
            lines.append(node.lineno)
    return lines


def test_the_scan_finds_both_forms_of_import() -> None:
    assert backoff_imports("import backoff\nfrom backoff import expo\nimport requests\n") == [1, 2]


def test_backoff_is_imported_only_by_the_retry_module() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{line}"
        for package in PRODUCTION_PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        if path.resolve() != RETRY_MODULE.resolve()
        for line in backoff_imports(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], (
        "python-backoff imported outside dinero_api/retry.py; build the decorator with "
        "dinero_api.retry.RetryPolicy instead:\n" + "\n".join(offenders)
    )
    assert backoff_imports(RETRY_MODULE.read_text(encoding="utf-8"))


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits python-backoff would sleep (nothing is slept)."""
    slept: list[float] = []
    import backoff._sync as backoff_sync

    monkeypatch.setattr(backoff_sync.time, "sleep", slept.append)
    return slept


def test_an_exception_is_retried_max_retries_times_with_the_hooks_and_then_raised(waits: list[float]) -> None:
    counted: list[int] = []
    logged: list[int] = []
    policy = RetryPolicy(3, 0.5, on_retry=lambda details: counted.append(details["tries"]))
    calls = 0

    @policy.on_exception(ValueError, on_retry=lambda details: logged.append(details["tries"]))
    def always_fails() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("boom")

    with pytest.raises(ValueError):
        always_fails()
    assert calls == 4 and counted == logged == [1, 2, 3]
    assert len(waits) == 3 and all(0 <= wait <= 0.5 * 2**n for n, wait in enumerate(waits))


def test_giveup_stops_at_the_first_try(waits: list[float]) -> None:
    calls = 0

    @RetryPolicy(5, 1.0).on_exception(KeyError, giveup=lambda exc: True)
    def refused() -> None:
        nonlocal calls
        calls += 1
        raise KeyError("not replayable")

    with pytest.raises(KeyError):
        refused()
    assert calls == 1 and waits == []


def test_a_predicate_is_retried_until_it_no_longer_holds(waits: list[float]) -> None:
    answers = iter([503, 502, 200])

    @RetryPolicy(5, 1.0).on_predicate(lambda status: status >= 500)
    def status() -> Any:
        return next(answers)

    assert status() == 200 and len(waits) == 2


def test_no_wait_is_longer_than_the_cap(waits: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    import backoff._jitter as jitter

    monkeypatch.setattr(jitter.random, "uniform", lambda low, high: high)  # full jitter's largest draw

    @RetryPolicy(8, 1000.0).on_predicate(lambda result: True)
    def never_good() -> bool:
        return False

    never_good()
    assert waits and max(waits) == RETRY_CAP_SECONDS


def test_the_policy_of_the_settings(sandbox_like_config: dict[str, Any]) -> None:
    config = {**sandbox_like_config, "max_retries": 2, "retry_backoff_seconds": 0}
    policy = RetryPolicy.from_settings(DineroSettings.from_config(config))
    assert (policy.max_tries, policy.base_seconds, policy.cap_seconds) == (3, 0.0, 60.0)


@pytest.fixture
def sandbox_like_config() -> dict[str, Any]:
    return {"client_id": "c", "client_secret": "s", "api_key": "k", "organization_id": "1"}
