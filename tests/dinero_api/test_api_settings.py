"""Config validation: what a user sees before any request is made."""

from __future__ import annotations

from typing import Any

import pytest
from singer_sdk import typing as th

from dinero_api.settings import (
    DEFAULT_TOKEN_URL_API_KEY,
    DEFAULT_TOKEN_URL_REFRESH_TOKEN,
    SETTINGS_SCHEMA,
    SHARED_SETTINGS_SCHEMA,
    DineroConfigError,
    DineroSettings,
)

BASE = {"client_id": "dinero-sandbox", "client_secret": "sandbox-secret", "organization_id": "100000"}


def _error(config: dict[str, Any], **kwargs: Any) -> str:
    with pytest.raises(DineroConfigError) as info:
        DineroSettings.from_config(config, **kwargs)
    return str(info.value)


def test_api_key_config_gets_dinero_defaults() -> None:
    settings = DineroSettings.from_config({**BASE, "api_key": "sandbox-api-key"})
    assert settings.auth_flow == "api_key"
    assert settings.api_url == "https://api.dinero.dk"
    assert settings.token_url == DEFAULT_TOKEN_URL_API_KEY
    assert (settings.quota_requests, settings.quota_window_seconds) == (100, 60.0)
    assert settings.request_timeout == 30.0 and settings.max_retries == 5


def test_refresh_token_config_defaults_to_visma_connect() -> None:
    settings = DineroSettings.from_config({**BASE, "refresh_token": "sandbox-refresh-token"})
    assert settings.auth_flow == "refresh_token"
    assert settings.token_url == DEFAULT_TOKEN_URL_REFRESH_TOKEN


def test_missing_settings_are_all_named_with_a_fix() -> None:
    message = _error({})
    for name in ("client_id", "client_secret", "api_key", "refresh_token", "organization_id"):
        assert f"`{name}`" in message
    assert "GET /v1/organizations" in message  # says where to find the organization id


def test_both_credentials_together_are_refused() -> None:
    message = _error({**BASE, "api_key": "k-123456", "refresh_token": "r-123456"})
    assert "exactly one" in message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("organization_id", "org-1", "digits only"),
        ("page_size", 1001, "error code 43"),
        ("quota_requests", 0, "`quota_requests`"),
        ("quota_window_seconds", -1, "`quota_window_seconds`"),
        ("request_timeout", "soon", "`request_timeout`"),
        ("max_retries", 1.5, "`max_retries`"),
        ("api_url", "api.dinero.dk", "http://"),
    ],
)
def test_invalid_values_are_refused(key: str, value: Any, expected: str) -> None:
    assert expected in _error({**BASE, "api_key": "sandbox-api-key", key: value})


def test_page_size_up_to_1000_is_accepted() -> None:
    assert DineroSettings.from_config({**BASE, "api_key": "k", "page_size": 1000}).page_size == 1000


def test_numeric_organization_id_and_optional_organization() -> None:
    assert (
        DineroSettings.from_config({**BASE, "api_key": "k", "organization_id": 100001}).organization_id
        == "100001"
    )
    settings = DineroSettings.from_config(
        {k: v for k, v in BASE.items() if k != "organization_id"} | {"api_key": "k"},
        require_organization=False,
    )
    assert settings.organization_id is None


def test_secrets_never_in_repr_str_or_errors() -> None:
    secret, key = "very-secret-value-1", "very-secret-api-key-2"
    settings = DineroSettings.from_config({**BASE, "client_secret": secret, "api_key": key})
    for text in (repr(settings), str(settings)):
        assert secret not in text and key not in text
    message = _error(
        {**BASE, "client_secret": secret, "api_key": key, "refresh_token": "other-refresh-token"}
    )
    assert secret not in message and key not in message and "other-refresh-token" not in message


def test_quota_cache_dir_is_used_when_no_backend(tmp_path: Any) -> None:
    settings = DineroSettings.from_config({**BASE, "api_key": "k", "quota_cache_dir": str(tmp_path)})
    assert settings.quota_backend == str(tmp_path)
    settings = DineroSettings.from_config(
        {**BASE, "api_key": "k", "quota_backend": "redis://localhost:6379/0"}
    )
    assert settings.quota_is_redis


def test_schema_marks_secrets_and_merges_into_plugin_schema() -> None:
    merged = th.PropertiesList(*SHARED_SETTINGS_SCHEMA, th.Property("start_date", th.DateTimeType)).to_dict()
    props = merged["properties"]
    for name in ("client_secret", "api_key", "refresh_token"):
        assert props[name].get("secret") is True, name
    for name in (
        "client_id",
        "organization_id",
        "api_url",
        "token_url",
        "token_file",
        "quota_requests",
        "quota_window_seconds",
        "quota_backend",
        "request_timeout",
        "max_retries",
        "start_date",
    ):
        assert name in props
        assert props[name].get("description") or name == "start_date"
    assert props["quota_requests"]["default"] == 100
    assert "default" not in props["quota_backend"]  # a default would hide quota_cache_dir


# -- credentials go only where the user pointed -------------------------------------------------------------
@pytest.mark.parametrize(
    ("credential", "path"),
    [
        ({"api_key": "sandbox-api-key"}, "/dineroapi/oauth/token"),
        ({"refresh_token": "rt-123456"}, "/connect/token"),
    ],
)
def test_the_default_token_url_follows_a_non_dinero_api_url(credential: dict[str, str], path: str) -> None:
    settings = DineroSettings.from_config({**BASE, **credential, "api_url": "http://127.0.0.1:8765/"})
    assert settings.token_url == "http://127.0.0.1:8765" + path
    assert settings.api_host == "127.0.0.1:8765"
    explicit = DineroSettings.from_config(
        {**BASE, **credential, "api_url": "http://127.0.0.1:8765", "token_url": "https://idp.example/token"}
    )
    assert explicit.token_url == "https://idp.example/token"  # a URL the user named wins


# -- a secret of the wrong type is refused without being quoted ----------------------------------------------
SECRET_VALUES = {
    "int": 98765432123,
    "float": 1234567.891,
    "bool": True,
    "list": ["ListSecret-abcdef", 424242424242],
    "object": {"ObjKey-123456": "ObjSecret-654321"},
}


def _secret_strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *_secret_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _secret_strings(v)]
    return [str(value), repr(value), str(value).lower()] if not isinstance(value, bool) else []


@pytest.mark.parametrize("kind", list(SECRET_VALUES))
@pytest.mark.parametrize("name", ["client_secret", "api_key", "refresh_token"])
def test_a_secret_of_the_wrong_json_type_is_refused_without_being_quoted(name: str, kind: str) -> None:
    value = SECRET_VALUES[kind]
    config = {**BASE, "api_key": "sandbox-api-key", name: value}
    if name == "refresh_token":
        config.pop("api_key")
    message = _error(config)
    assert f"`{name}` must be a string" in message
    for text in _secret_strings(value):
        assert text not in message
    # the plugins' start-up validation (their whole schema, one pass) names the setting, not the value
    from singer_sdk.exceptions import ConfigValidationError

    from tap_dinero.tap import TapDinero

    with pytest.raises(ConfigValidationError) as info:
        TapDinero(config=config, setup_mapper=False)
    errors = list(info.value.errors)
    assert [e for e in errors if f"`{name}` must be a string" in e], errors
    for text in _secret_strings(value):
        assert not [e for e in errors if text in e]


# -- one schema: bounds and defaults are written there only, and jsonschema enforces them --------------------
def test_a_bound_written_in_the_schema_is_the_bound_enforced(monkeypatch: pytest.MonkeyPatch) -> None:
    config = {**BASE, "api_key": "k", "page_size": 600}
    assert DineroSettings.from_config(config).page_size == 600
    monkeypatch.setitem(SETTINGS_SCHEMA["properties"]["page_size"], "maximum", 500)
    message = _error(config)
    assert "`page_size` must be an integer >= 1 and <= 500 (got 600)" in message
    assert "error code 43" in message  # why the bound exists


@pytest.mark.parametrize(
    ("name", "keyword"),
    [
        (name, keyword)
        for name, prop in SETTINGS_SCHEMA["properties"].items()
        for keyword in ("minimum", "exclusiveMinimum", "maximum")
        if keyword in prop
    ],
)
def test_every_bound_of_the_schema_refuses_the_first_value_beyond_it(name: str, keyword: str) -> None:
    prop = SETTINGS_SCHEMA["properties"][name]
    bound = prop[keyword]
    beyond = {"minimum": bound - 1, "exclusiveMinimum": bound, "maximum": bound + 1}[keyword]
    message = _error({**BASE, "api_key": "k", name: beyond})
    assert f"`{name}` must be" in message and f"(got {beyond!r})" in message
    assert len(message.splitlines()) == 2  # one line for the one problem


def test_numeric_strings_from_environment_variables_are_numbers() -> None:
    settings = DineroSettings.from_config(
        {**BASE, "api_key": "k", "request_timeout": "2.5", "max_retries": "3", "page_size": "250"}
    )
    assert (settings.request_timeout, settings.max_retries, settings.page_size) == (2.5, 3, 250)
    message = _error({**BASE, "api_key": "k", "max_retries": "-1"})
    assert "`max_retries` must be an integer >= 0 (got '-1')" in message


def test_every_default_is_the_schema_default() -> None:
    settings = DineroSettings.from_config({**BASE, "api_key": "k"})
    defaults = {name: p["default"] for name, p in SETTINGS_SCHEMA["properties"].items() if "default" in p}
    assert defaults and all(getattr(settings, name) == value for name, value in defaults.items())
    assert "quota_backend" not in defaults  # a default would hide quota_cache_dir
