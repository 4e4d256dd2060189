"""One end-to-end scenario per tag of Dinero's spec (see ``scenarios``): the business effects hang
together (bookings write entries, payments move statuses and write entries, reports add up, sends are
recorded as mailouts, ledger items book asynchronously, many organizations with their own quota)."""

from __future__ import annotations

import pytest

from dinero_sandbox.resources.coverage import spec_operations
from dinero_sandbox.testing import SandboxServer

from .conftest import Api
from .scenarios import SCENARIOS


def test_there_is_a_scenario_for_every_tag_of_the_spec() -> None:
    assert set(SCENARIOS) == {op["tag"] for op in spec_operations()}


@pytest.mark.parametrize("tag", sorted(SCENARIOS))
def test_business_effects_of_each_spec_tag_hang_together(tag: str, sandbox: SandboxServer, api: Api) -> None:
    SCENARIOS[tag](sandbox, api)
