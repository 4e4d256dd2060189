"""The quota of an API-key integration: 100 requests a minute per Dinero's pages, 60 per two public clients
(REFERENCE.md §5.3). Played on a 2-second window (10 or 6 requests): the tap completes under either with
the default setting (429 answers are waited out), and with ``quota_requests`` set to Dinero's figure it
never draws a 429 -- whether Dinero's 429 carries a ``Retry-After`` header and the limit in its text, or
neither (no Dinero source documents them)."""

from __future__ import annotations

from typing import Any

import pytest

from dinero_sandbox.behaviours import CHOICES
from dinero_sandbox.testing import SandboxServer
from tests.harness import run_tap

ORG = "100000"
WINDOW = 2.0
DEFAULT_SHARE = 10  # the plugins' default, 100 a minute, on the short window


@pytest.mark.parametrize("answer", CHOICES["rate_limit_answer"])
@pytest.mark.parametrize("dinero_allows", [10, 6], ids=["100-per-minute", "60-per-minute"])
@pytest.mark.parametrize("configured", ["default", "dinero's figure"])
def test_tap_completes_under_either_quota(
    dinero_allows: int,
    configured: str,
    answer: str,
    play: Any,
    sandbox: SandboxServer,
    tap_config: dict[str, Any],
) -> None:
    play(rate_limit_answer=answer)
    sandbox.set_quota(dinero_allows, WINDOW)
    share = DEFAULT_SHARE if configured == "default" else dinero_allows
    config = {**tap_config, "quota_requests": share, "quota_window_seconds": WINDOW, "page_size": 8}
    live = {c["ContactGuid"] for c in sandbox.dump(ORG, "contacts") if not c["DeletedAt"]}

    result = run_tap(config, streams=["contacts"])

    assert result.error is None
    assert {r["ContactGuid"] for r in result.stream("contacts") if not r["_sdc_deleted_at"]} == live
    refused = sandbox.stats()["by_status"].get("429", 0)
    if share <= dinero_allows:
        assert refused == 0
