"""The Singer SDK's standard tap test suite, run against the in-process sandbox (demo seed)."""

from __future__ import annotations

import tempfile
from typing import Any

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

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
