"""The singer-sdk standard target tests that apply to a target whose streams must be mapped.

Most of the SDK's standard target tests (array_data, camelcase, duplicate_records, schema_updates, ...)
send generic streams (``test_array_data`` with ``{"id", "fruits"}`` ...) and expect them to be stored.
target-dinero refuses unmapped streams on purpose, and mapping those generic records to a Dinero load
type would only turn every record into a reject (they are not invoices or vouchers), proving nothing.
So only the tests that do not depend on storing generic records run here: CLI/about output, an
invalid schema, a record before its schema and a record missing its key property (mapped, in dry run,
so no request is needed). Our own suites (test_target_*.py) cover loading against the sandbox.
"""

from __future__ import annotations

from singer_sdk.testing import get_target_test_class
from singer_sdk.testing.suites import SingerTestSuite
from singer_sdk.testing.target_tests import (
    TargetCliPrintsTest,
    TargetInvalidSchemaTest,
    TargetRecordBeforeSchemaTest,
    TargetRecordMissingKeyProperty,
)

from target_dinero.target import TargetDinero

CONFIG = {
    "client_id": "dinero-sandbox",
    "client_secret": "sandbox-secret",
    "api_key": "sandbox-api-key",
    "organization_id": "100000",
    "api_url": "http://127.0.0.1:9",  # never contacted: these tests stop before any request
    "dry_run": True,
    "rejects_file": "",
    "streams": {
        "test_invalid_schema": {"load_as": "contact"},
        "test_record_before_schema": {"load_as": "contact"},
        "test_record_missing_key_property": {"load_as": "contact"},
    },
}

APPLICABLE = SingerTestSuite(
    kind="target",
    tests=[
        TargetCliPrintsTest,
        TargetInvalidSchemaTest,
        TargetRecordBeforeSchemaTest,
        TargetRecordMissingKeyProperty,
    ],
)

TestTargetDineroStandard = get_target_test_class(
    TargetDinero,
    config=CONFIG,
    custom_suites=[APPLICABLE],
    include_target_tests=False,
)
