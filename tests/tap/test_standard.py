"""The Singer SDK's standard tap test suite, run against the in-process sandbox (demo seed)."""

from __future__ import annotations

import tempfile
import uuid
from datetime import date
from typing import Any

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from dinero_api.client import DineroClient
from dinero_api.settings import DineroSettings
from dinero_sandbox.constants import DEMO_API_KEY, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, ORG_MAIN
from tap_dinero.tap import TapDinero
from tests.tap.conftest import FAST_QUOTA

# The suite is built at import time from this dict; the fixture below points it at the sandbox before
# the suite's class-scoped sync runs (the placeholder URL is never contacted).
SUITE_CONFIG: dict[str, Any] = {
    "client_id": DEMO_CLIENT_ID,
    "client_secret": DEMO_CLIENT_SECRET,
    "api_key": DEMO_API_KEY,
    "organization_id": ORG_MAIN,
    "api_url": "http://127.0.0.1:9",
    "token_url": "http://127.0.0.1:9/dineroapi/oauth/token",
    "quota_cache_dir": tempfile.gettempdir(),
    **FAST_QUOTA,
}

StandardTests = get_tap_test_class(
    TapDinero,
    config=SUITE_CONFIG,
    parse_env_config=False,
    suite_config=SuiteConfig(max_records_limit=60),
)


class TestTapDineroStandard(StandardTests):  # type: ignore[misc, valid-type]
    """singer_sdk.testing's tap, stream and attribute tests."""

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _point_at_sandbox(cls, sandbox_server, tmp_path_factory):
        sandbox_server.reset("demo")
        sandbox_server.set_quota(100_000, 60.0)
        SUITE_CONFIG.update(
            api_url=sandbox_server.url,
            token_url=sandbox_server.token_url,
            quota_cache_dir=str(tmp_path_factory.mktemp("quota")),
        )
        SUITE_CONFIG["ledger_item_ids"] = _write_ledger_items(SUITE_CONFIG)


def _write_ledger_items(config: dict[str, Any]) -> list[str]:
    """Two unbooked ledger items (the demo seed has none, and Dinero cannot list them: the tap reads the
    ids it is given), so the ledger_items stream has records for the suite."""
    client = DineroClient(DineroSettings.from_config(config), organization_id=ORG_MAIN)
    ids = [str(uuid.uuid4()) for _ in range(2)]
    line = {
        "Description": "Dagens salg",
        "Amount": 250,
        "AccountNumber": 58000,
        "BalancingAccountNumber": 1010,
    }
    client.post_json(
        f"/v1.2/{ORG_MAIN}/ledgeritems",
        [{"Id": item, "VoucherDate": date.today().isoformat(), "Lines": [line]} for item in ids],
    )
    return ids
