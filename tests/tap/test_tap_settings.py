"""tap-dinero's settings: checked once against its JSON schema, defaults read from that schema.

``page_size`` used to be checked by the SDK's schema pass, by ``DineroSettings.from_config`` and clamped
by the tap (a 1001 gave two differently worded lines); each default was written in the schema and again
where the tap read the setting. These tests fail when a problem is reported twice, worded by the SDK
(which quotes values), or when a default read by the tap differs from the schema's.
"""

from __future__ import annotations

from typing import Any

import pytest
from singer_sdk.exceptions import ConfigValidationError

from tap_dinero.tap import TapDinero

CONFIG = {"client_id": "c", "client_secret": "s", "api_key": "k", "organization_id": "100000"}


def _errors(**settings: Any) -> list[str]:
    with pytest.raises(ConfigValidationError) as info:
        TapDinero(config={**CONFIG, **settings}, setup_mapper=False)
    return list(info.value.errors)


@pytest.mark.parametrize("page_size", [1001, "1001", 0])
def test_page_size_is_refused_in_one_line_naming_the_bound(page_size: Any) -> None:
    errors = _errors(page_size=page_size)
    why = ": Dinero refuses a larger page with error code 43 'Limit Exceeded'." if page_size else "."
    assert [e for e in errors if "page_size" in e] == [
        f"`page_size` must be an integer >= 1 and <= 1000 (got {page_size!r}){why}"
    ]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("max_parallel_organizations", 0, "`max_parallel_organizations` must be an integer >= 1 (got 0)."),
        ("reports_open_years", 0, "`reports_open_years` must be an integer >= 1 (got 0)."),
        ("entries_window_days", 32, "`entries_window_days` must be an integer >= 1 and <= 31 (got 32)."),
        ("lookback_seconds", "soon", "`lookback_seconds` must be an integer >= 0 (got 'soon')."),
    ],
)
def test_a_value_beyond_the_schema_is_one_line_of_ours(name: str, value: Any, expected: str) -> None:
    assert _errors(**{name: value}) == [expected]


def test_the_defaults_the_tap_reads_are_the_schema_defaults() -> None:
    tap = TapDinero(config=CONFIG, setup_mapper=False)
    properties = TapDinero.config_jsonschema["properties"]
    for name in (
        "page_size",
        "max_parallel_organizations",
        "lookback_seconds",
        "include_deleted",
        "include_lines",
        "include_payments",
        "reports_open_years",
        "entries_window_days",
    ):
        assert getattr(tap, name) == properties[name]["default"], name


def test_numeric_strings_are_read_as_numbers() -> None:
    tap = TapDinero(config={**CONFIG, "page_size": "250", "entries_window_days": "7"}, setup_mapper=False)
    assert (tap.page_size, tap.entries_window_days) == (250, 7)
