"""Configuration: stream mapping errors name the stream and the options; bad options fail early."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from singer_sdk.exceptions import ConfigValidationError

from target_dinero.config import UnmappedStreamError
from target_dinero.target import TargetDinero
from tests.harness import make_target_config, run_target
from tests.harness import record_message as record
from tests.harness import schema_message as schema


def test_unmapped_stream_is_an_error_naming_stream_and_options(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    config = make_target_config(sandbox_settings, tmp_path, {"orders": {"load_as": "invoice"}})
    result = run_target(sandbox, config, [schema("customers"), record("customers", {"id": 1, "Name": "A"})])

    assert isinstance(result.error, UnmappedStreamError)
    message = str(result.error)
    assert "'customers'" in message
    assert "orders -> invoice" in message
    for load_type in ("invoice", "manual_voucher", "daily_sales", "contact", "product"):
        assert load_type in message
    assert result.api_requests == []


@pytest.mark.parametrize(
    ("streams", "expected"),
    [
        ({"s": {"load_as": "bank_transfer"}}, "load_as"),
        ({"s": {"load_as": "daily_sales"}}, "payment_accounts"),
        (
            {"s": {"load_as": "daily_sales", "payment_accounts": {"card": 55030}, "revenue_account": 1000}},
            "vat_code",
        ),
    ],
)
def test_invalid_stream_options_fail_before_reading_input(
    sandbox_settings: dict[str, Any], tmp_path: Path, streams: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigValidationError) as info:
        TargetDinero(config=make_target_config(sandbox_settings, tmp_path, streams))
    assert any(expected in error for error in info.value.errors)


def test_about_lists_the_target_settings() -> None:
    properties = TargetDinero.config_jsonschema["properties"]
    for name in (
        "streams",
        "rejects_file",
        "max_rejects",
        "dry_run",
        "external_reference_prefix",
        "client_id",
    ):
        assert name in properties


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("max_rejects", -1, "`max_rejects` must be an integer >= 0 (got -1)."),
        ("commit_horizon_seconds", -5, "`commit_horizon_seconds` must be a number >= 0 (got -5)."),
        ("max_retries", "many", "`max_retries` must be an integer >= 0 (got 'many')."),
    ],
)
def test_a_value_beyond_the_schema_is_refused_once_in_words_of_ours(
    sandbox_settings: dict[str, Any], tmp_path: Path, name: str, value: Any, expected: str
) -> None:
    """A negative tolerance or horizon used to be accepted; a bad shared setting was reported twice."""
    config = {**make_target_config(sandbox_settings, tmp_path, {"s": {"load_as": "contact"}}), name: value}
    with pytest.raises(ConfigValidationError) as info:
        TargetDinero(config=config)
    assert [error for error in info.value.errors if name in error] == [expected]


def test_the_run_reads_its_defaults_from_the_schema(
    sandbox_settings: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A default changed in the schema is the default the run uses (it is written nowhere else)."""
    config = make_target_config(sandbox_settings, tmp_path, {"s": {"load_as": "contact"}})
    for name in ("max_rejects", "commit_horizon_seconds", "voucher_receipts", "dry_run"):
        config.pop(name, None)
    properties = TargetDinero.config_jsonschema["properties"]
    monkeypatch.setitem(properties["commit_horizon_seconds"], "default", 7)
    monkeypatch.setitem(properties["max_rejects"], "default", 3)
    run = TargetDinero(config=config, validate_config=False).run
    assert (run.commit_horizon, run.max_rejects) == (7, 3)
    assert run.voucher_receipts is properties["voucher_receipts"]["default"] is True
    assert run.dry_run is properties["dry_run"]["default"] is False
