"""The singer-sdk standard target tests that apply to a target whose streams must be mapped.

Most of the SDK's standard target tests (array_data, camelcase, duplicate_records, schema_updates, ...)
send generic streams (``test_array_data`` with ``{"id", "fruits"}`` ...) and expect them to be stored.
target-dinero refuses unmapped streams on purpose, and mapping those generic records to a Dinero load
type would only turn every record into a reject (they are not invoices or vouchers), proving nothing.
So only the tests that do not depend on storing generic records run here: CLI/about output and an
invalid schema (mapped, in dry run, so no request is needed). Our own suites (test_target_*.py) cover
loading against the sandbox.

The SDK's ``TargetRecordBeforeSchemaTest`` and ``TargetRecordMissingKeyProperty`` expect the whole run to
stop (``RecordsWithoutSchemaException``, ``MissingKeyPropertiesError``). target-dinero rejects such a
record instead, with its reason, and loads the rest, so that one bad record does not stop every re-run
at the same line: see ``tests/reliability/test_bad_input.py::test_record_before_schema_is_rejected`` and
``::test_record_without_its_key_property_is_rejected_and_the_rest_loads``.
"""

from __future__ import annotations

from singer_sdk.testing import get_target_test_class
from singer_sdk.testing.suites import SingerTestSuite
from singer_sdk.testing.target_tests import (
    TargetCliPrintsTest,
    TargetInvalidSchemaTest,
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
    },
}

APPLICABLE = SingerTestSuite(
    kind="target",
    tests=[
        TargetCliPrintsTest,
        TargetInvalidSchemaTest,
    ],
)

TestTargetDineroStandard = get_target_test_class(
    TargetDinero,
    config=CONFIG,
    custom_suites=[APPLICABLE],
    include_target_tests=False,
)
