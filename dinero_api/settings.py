"""Settings shared by tap-dinero and target-dinero: JSON schema and validated dataclass.

``SHARED_SETTINGS_SCHEMA`` is a singer-sdk ``PropertiesList`` that the tap and the target splice into
their own ``config_jsonschema``; :meth:`DineroSettings.from_config` validates a config dict before any
request is made and names every missing or invalid setting together with how to fix it. Secret values
never appear in the dataclass repr or in error messages.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from singer_sdk import typing as th
from singer_sdk.typing import DEFAULT_JSONSCHEMA_VALIDATOR

from dinero_api.errors import DineroConfigError, register_secret

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_QUOTA_DIR",
    "DEFAULT_TOKEN_URL_API_KEY",
    "DEFAULT_TOKEN_URL_REFRESH_TOKEN",
    "MAX_PAGE_SIZE",
    "PAGE_SIZE_SETTING",
    "SETTINGS_SCHEMA",
    "SHARED_SETTINGS_SCHEMA",
    "DineroConfigError",
    "DineroSettings",
    "schema_problems",
    "setting",
]

DEFAULT_API_URL = "https://api.dinero.dk"
DEFAULT_TOKEN_URL_API_KEY = "https://authz.dinero.dk/dineroapi/oauth/token"
DEFAULT_TOKEN_URL_REFRESH_TOKEN = "https://connect.visma.com/connect/token"
DEFAULT_QUOTA_DIR = "~/.cache/dinero-singer"
#: Dinero refuses pageSize above 1000 with error code 43 (REFERENCE §3.2).
MAX_PAGE_SIZE = 1000
#: The most refusals in a row ``max_consecutive_refusals`` may allow: more would be the hammering
#: Dinero revokes integrations for.
MAX_CONSECUTIVE_REFUSALS = 100

AuthFlow = Literal["api_key", "refresh_token"]

SECRET_SETTINGS = ("client_secret", "api_key", "refresh_token")


# No schema default for quota_backend / token_url: singer-sdk fills schema defaults into the config,
# which would hide quota_cache_dir and the flow-dependent token URL default.
SHARED_SETTINGS_SCHEMA = th.PropertiesList(
    th.Property(
        "client_id",
        th.StringType,
        required=True,
        description="Dinero API client id (personal integration) or Visma Connect client id (isv_...).",
    ),
    th.Property(
        "client_secret",
        th.StringType,
        required=True,
        secret=True,
        description="Client secret belonging to client_id (a string: quote an all-digit secret in YAML).",
    ),
    th.Property(
        "api_key",
        th.StringType,
        secret=True,
        description="Organization API key (personal-integration flow). Set exactly one of api_key or "
        "refresh_token.",
    ),
    th.Property(
        "refresh_token",
        th.StringType,
        secret=True,
        description="Visma Connect refresh token (offline_access). Refresh tokens rotate: set token_file so "
        "the newest one is kept between runs. Set exactly one of api_key or refresh_token.",
    ),
    th.Property(
        "token_file",
        th.StringType,
        description="Path of a JSON file (written with mode 0600) where the rotated Visma Connect refresh "
        "token and the current access token are kept; when it exists its refresh token wins over "
        "refresh_token.",
    ),
    th.Property(
        "organization_id",
        th.StringType,
        description="Dinero organization id (digits), as shown in Dinero or by GET /v1/organizations.",
        examples=["100000"],
    ),
    th.Property(
        "api_url",
        th.StringType,
        default=DEFAULT_API_URL,
        description="Base URL of the Dinero API (set to the sandbox URL for offline use).",
    ),
    th.Property(
        "token_url",
        th.StringType,
        description=f"OAuth token endpoint. Default with api_url at Dinero: {DEFAULT_TOKEN_URL_API_KEY} "
        f"with api_key, {DEFAULT_TOKEN_URL_REFRESH_TOKEN} with refresh_token. With any other api_url the "
        "default follows it (<api_url>/dineroapi/oauth/token or <api_url>/connect/token), so credentials "
        "only go to the host you named.",
    ),
    th.Property(
        "quota_requests",
        th.IntegerType(minimum=1),
        default=100,
        description="Requests allowed per quota window per (API host, client_id, organization_id). Dinero "
        "documents 100/min; some integrations get 60/min: a 429 that shows a lower real limit makes every "
        "process on the key use it (logged once).",
    ),
    th.Property(
        "quota_window_seconds",
        th.NumberType(exclusive_minimum=0),
        default=60,
        description="Length of the quota window in seconds.",
    ),
    th.Property(
        "quota_backend",
        th.StringType,
        description="Where the quota shared by all processes is kept: a directory for a SQLite file "
        f"(default {DEFAULT_QUOTA_DIR}, or quota_cache_dir), a redis:// URL to share it between "
        "machines, or 'memory' for a per-process quota.",
    ),
    th.Property(
        "quota_backend_outage_seconds",
        th.NumberType(minimum=0),
        default=60,
        description="How long an unreachable quota backend (Redis restarting) is waited out, reconnecting, "
        "before the run stops with one line naming it. No request is sent meanwhile.",
    ),
    th.Property(
        "quota_cache_dir",
        th.StringType,
        description="Directory of the SQLite quota file (used when quota_backend is not set).",
    ),
    th.Property(
        "request_timeout",
        th.NumberType(exclusive_minimum=0),
        default=30,
        description="Timeout in seconds for each HTTP request (connect and read).",
    ),
    th.Property(
        "max_retries",
        th.IntegerType(minimum=0),
        default=5,
        description="Retries (after the first try) of a GET/PUT/DELETE that failed with 5xx, a timeout or a "
        "connection reset. 429 answers are waited out and do not count.",
    ),
    th.Property(
        "retry_backoff_seconds",
        th.NumberType(minimum=0),
        default=1,
        description="Base of the exponential backoff (full jitter) between retries, in seconds.",
    ),
    th.Property(
        "max_rate_limit_wait_seconds",
        th.NumberType(exclusive_minimum=0),
        default=900,
        description="Give up (error) when 429 answers keep a request waiting longer than this in total.",
    ),
    th.Property(
        "max_consecutive_refusals",
        th.IntegerType(minimum=1, maximum=MAX_CONSECUTIVE_REFUSALS),
        default=10,
        description="Stop the run (exit code 7, one line naming Dinero's last answer) after Dinero refused "
        "this many requests to one endpoint in a row (HTTP 400/405/409/422..., not 404 look-ups or 429) "
        "with no success there in between (or this many in a row across endpoints with no write "
        "accepted), instead of sending more: Dinero revokes integrations that provoke many refusals. A "
        "multi-organization tap run also stops once this many organizations answered 403 before any was "
        "read. Nothing unwritten is lost; a re-run after the fix loads it.",
    ),
)

#: ``page_size`` is a tap setting (the target pages with fixed sizes) but a wire rule: Dinero refuses a
#: larger ``pageSize`` with error code 43 'Limit Exceeded' (REFERENCE §3.2). The tap splices this property
#: into its schema; :meth:`DineroSettings.from_config` validates it with the shared ones.
PAGE_SIZE_SETTING = th.Property(
    "page_size",
    th.IntegerType(minimum=1, maximum=MAX_PAGE_SIZE),
    default=MAX_PAGE_SIZE,
    description=f"Rows per list request (Dinero's maximum, {MAX_PAGE_SIZE}, spends the least quota).",
)

#: The JSON schema every Dinero setting is validated against (bounds and defaults are written here only).
SETTINGS_SCHEMA: dict[str, Any] = th.PropertiesList(*SHARED_SETTINGS_SCHEMA, PAGE_SIZE_SETTING).to_dict()

#: Why a bound exists, said after the setting's problem (the bound itself is read from the schema).
_BOUND_REASONS = {
    ("page_size", "maximum"): "Dinero refuses a larger page with error code 43 'Limit Exceeded'",
    ("max_consecutive_refusals", "maximum"): "Dinero revokes integrations that provoke many refusals",
}
#: Missing settings :meth:`DineroSettings.from_config` words itself (with where to find the value).
_OWN_REQUIRED_MESSAGES = frozenset({"client_id", "client_secret"})
_KINDS = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
}

_DIGITS = re.compile(r"^[0-9]+$")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def setting(config: Mapping[str, Any], schema: Mapping[str, Any], name: str) -> Any:
    """``config[name]``, else (absent, null or blank) the schema's default for it (None without one)."""
    value = config.get(name)
    if _blank(value):
        return (schema.get("properties") or {}).get(name, {}).get("default")
    return value


def _types(prop: Mapping[str, Any]) -> list[str]:
    kind = prop.get("type") or []
    return [kind] if isinstance(kind, str) else list(kind)


def _coerce_numbers(config: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` without blank values, numeric strings of number settings as numbers.

    ``--config=ENV`` and Meltano's environment variables give every value as a string: ``"30"`` for
    ``request_timeout`` is a number here, ``"soon"`` stays a string (and the schema refuses it).
    """
    properties = schema.get("properties") or {}
    result: dict[str, Any] = {}
    for name, value in config.items():
        if _blank(value):
            continue
        kinds = _types(properties.get(name) or {})
        if isinstance(value, str) and ("integer" in kinds or "number" in kinds):
            parsed = _to_number(value, integer="number" not in kinds)
            value = parsed if parsed is not None else value
        result[name] = value
    return result


def _bounds(prop: Mapping[str, Any]) -> str:
    words = [
        f"{symbol} {prop[key]:g}"
        for key, symbol in (
            ("minimum", ">="),
            ("exclusiveMinimum", ">"),
            ("maximum", "<="),
            ("exclusiveMaximum", "<"),
        )
        if isinstance(prop.get(key), (int, float))
    ]
    return " and ".join(words)


def _problem(error: Any, config: Mapping[str, Any]) -> str | None:
    """One line for one jsonschema error: the setting, what it must be, the value unless a secret."""
    path = [str(part) for part in error.absolute_path]
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in (error.instance or {})]
        if not path and all(name in _OWN_REQUIRED_MESSAGES for name in missing):
            return None
        return "; ".join(f"`{'.'.join([*path, name])}` is missing: set it." for name in missing)
    name = ".".join(path) or "config"
    secret = bool(path) and path[0] in SECRET_SETTINGS
    prop = error.schema if isinstance(error.schema, Mapping) else {}
    shown = config.get(path[0]) if len(path) == 1 and path[0] in config else error.instance
    got = f"got {_json_type(error.instance)}; the value is not shown" if secret else f"got {shown!r}"
    if error.validator == "type" and secret:
        return (
            f"`{name}` must be a string, got {_json_type(error.instance)} (quote it in YAML/JSON; the value "
            "is not shown)."
        )
    if error.validator in ("type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        kinds = [kind for kind in _types(prop) if kind != "null"]
        kind = " or ".join(_KINDS.get(k, k) for k in kinds) or "a valid value"
        bounds = _bounds(prop) if set(kinds) & {"integer", "number"} else ""
        reason = _BOUND_REASONS.get((name, error.validator))
        return f"`{name}` must be {kind}{' ' + bounds if bounds else ''} ({got})" + (
            f": {reason}." if reason else "."
        )
    if error.validator == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value if v is not None)
        return f"`{name}` must be one of {allowed} ({got})."
    if secret:
        return f"`{name}` is not valid ({error.validator}; the value is not shown)."
    return f"`{name}`: {error.message}."


def schema_problems(config: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Every problem of ``config`` against the settings ``schema``, one line each, naming the setting.

    jsonschema (singer-sdk's validator class) does the checking, so a bound written in the schema is the
    bound enforced; this only words the result, and never quotes a secret setting's value.
    """
    validator = DEFAULT_JSONSCHEMA_VALIDATOR(schema)
    errors = sorted(
        validator.iter_errors(_coerce_numbers(config, schema)),
        key=lambda error: [str(part) for part in error.absolute_path],
    )
    problems: list[str] = []
    for error in errors:
        line = _problem(error, config)
        if line and line not in problems:
            problems.append(line)
    return problems


def _schema_default(name: str) -> Any:
    """A dataclass field's default: the settings schema's."""
    return SETTINGS_SCHEMA["properties"][name].get("default")


@dataclasses.dataclass(frozen=True)
class DineroSettings:
    """Validated settings of the shared Dinero client. Build it with :meth:`from_config`.

    Defaults come from :data:`SETTINGS_SCHEMA` (``token_url`` and ``quota_backend`` depend on other
    settings and are filled in by :meth:`from_config`).
    """

    client_id: str
    client_secret: str = dataclasses.field(repr=False)
    api_key: str | None = dataclasses.field(default=None, repr=False)
    refresh_token: str | None = dataclasses.field(default=None, repr=False)
    token_file: Path | None = None
    organization_id: str | None = None
    api_url: str = _schema_default("api_url")
    token_url: str = DEFAULT_TOKEN_URL_API_KEY
    quota_requests: int = _schema_default("quota_requests")
    quota_window_seconds: float = _schema_default("quota_window_seconds")
    quota_backend: str = DEFAULT_QUOTA_DIR
    request_timeout: float = _schema_default("request_timeout")
    max_retries: int = _schema_default("max_retries")
    retry_backoff_seconds: float = _schema_default("retry_backoff_seconds")
    max_rate_limit_wait_seconds: float = _schema_default("max_rate_limit_wait_seconds")
    page_size: int = _schema_default("page_size")
    quota_backend_outage_seconds: float = _schema_default("quota_backend_outage_seconds")
    max_consecutive_refusals: int = _schema_default("max_consecutive_refusals")

    @property
    def auth_flow(self) -> AuthFlow:
        """``"api_key"`` (password grant) or ``"refresh_token"`` (Visma Connect)."""
        return "api_key" if self.api_key else "refresh_token"

    @property
    def api_host(self) -> str:
        """``host[:port]`` of ``api_url`` (part of the quota key)."""
        return urlsplit(self.api_url).netloc.lower()

    @property
    def quota_is_redis(self) -> bool:
        """True when the quota is kept in Redis."""
        return self.quota_backend.startswith(("redis://", "rediss://", "unix://"))

    def __str__(self) -> str:
        return (
            f"DineroSettings(flow={self.auth_flow}, client_id={self.client_id!r}, "
            f"organization_id={self.organization_id!r}, api_url={self.api_url!r})"
        )

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, Any],
        *,
        require_organization: bool = True,
        schema: Mapping[str, Any] | None = None,
    ) -> DineroSettings:
        """Validate a tap/target config and return settings, or raise :class:`DineroConfigError`.

        All problems are reported at once, each naming the setting and the fix. Types and bounds are
        checked against ``schema`` (default :data:`SETTINGS_SCHEMA`; a plugin passes its whole schema,
        which contains it, so its own settings are checked in the same pass), then what a schema cannot
        say: exactly one credential, digits-only organization, URLs.
        """
        raw_org = config.get("organization_id")
        if isinstance(raw_org, int) and not isinstance(raw_org, bool):  # an unquoted id in YAML
            config = {**config, "organization_id": str(raw_org)}
        problems = schema_problems(config, schema if schema is not None else SETTINGS_SCHEMA)
        checked = _coerce_numbers(config, SETTINGS_SCHEMA)

        def text(name: str) -> str | None:
            value = checked.get(name)
            return value.strip() if isinstance(value, str) else None

        def value(name: str) -> Any:
            """The validated value, else the schema default (a refused value was named in ``problems``)."""
            given = checked.get(name)
            if given is None or isinstance(given, (str, bool)):
                return _schema_default(name)
            return given

        client_id = text("client_id")
        client_secret = text("client_secret")
        api_key = text("api_key")
        refresh_token = text("refresh_token")
        if _blank(config.get("client_id")):
            problems.append(
                "`client_id` is missing: set it to the client id Dinero gave you (or `dinero-sandbox` for "
                "the offline sandbox)."
            )
        if _blank(config.get("client_secret")):
            problems.append("`client_secret` is missing: set it to the secret belonging to `client_id`.")
        if api_key and refresh_token:
            problems.append(
                "both `api_key` and `refresh_token` are set: keep exactly one (`api_key` for a personal "
                "integration, `refresh_token` for Visma Connect)."
            )
        elif _blank(config.get("api_key")) and _blank(config.get("refresh_token")):
            problems.append(
                "no credentials: set `api_key` (personal integration, API key of the organization) or "
                "`refresh_token` (Visma Connect)."
            )

        organization_id: str | None = None
        raw_org = config.get("organization_id")
        if _blank(raw_org):
            if require_organization:
                problems.append(
                    "`organization_id` is missing: set it to the numeric id of the Dinero organization "
                    "(list them with GET /v1/organizations)."
                )
        elif not isinstance(raw_org, str) or not _DIGITS.match(raw_org.strip()):
            problems.append(f'`organization_id` must be digits only, e.g. "100000" (got {raw_org!r}).')
        else:
            organization_id = raw_org.strip()

        api_url = text("api_url") or _schema_default("api_url")
        if not api_url.startswith(("http://", "https://")) or not urlsplit(api_url).hostname:
            problems.append(f"`api_url` must be an http:// or https:// URL (got {_safe_url(api_url)!r}).")
        token_url = text("token_url") or default_token_url(
            api_url, refresh=bool(refresh_token and not api_key)
        )
        if not token_url.startswith(("http://", "https://")) or not urlsplit(token_url).hostname:
            problems.append(f"`token_url` must be an http:// or https:// URL (got {_safe_url(token_url)!r}).")

        token_file_raw = text("token_file")
        token_file = Path(token_file_raw).expanduser() if token_file_raw else None
        if token_file is not None and token_file.is_dir():
            problems.append(f"`token_file` must be a file path, not a directory ({token_file}).")

        quota_backend = text("quota_backend") or text("quota_cache_dir") or _default_quota_dir()

        if problems:
            raise DineroConfigError(
                "Invalid Dinero configuration:\n" + "\n".join(f"  - {p}" for p in problems)
            )

        assert client_id is not None and client_secret is not None  # for type checkers
        for secret in (client_secret, api_key, refresh_token):
            register_secret(secret)
        return cls(
            client_id=client_id,
            client_secret=client_secret,
            api_key=api_key,
            refresh_token=refresh_token,
            token_file=token_file,
            organization_id=organization_id,
            api_url=api_url.rstrip("/"),
            token_url=token_url,
            quota_requests=int(value("quota_requests")),
            quota_window_seconds=float(value("quota_window_seconds")),
            quota_backend=quota_backend,
            request_timeout=float(value("request_timeout")),
            max_retries=int(value("max_retries")),
            retry_backoff_seconds=float(value("retry_backoff_seconds")),
            max_rate_limit_wait_seconds=float(value("max_rate_limit_wait_seconds")),
            page_size=int(value("page_size")),
            quota_backend_outage_seconds=float(value("quota_backend_outage_seconds")),
            max_consecutive_refusals=int(value("max_consecutive_refusals")),
        )


def is_dinero_api(api_url: str) -> bool:
    """Whether ``api_url`` is Dinero's own API host (then Dinero's token hosts are the defaults)."""
    return urlsplit(api_url).netloc.lower() == urlsplit(DEFAULT_API_URL).netloc


def default_token_url(api_url: str, *, refresh: bool) -> str:
    """The token URL used when ``token_url`` is not set.

    Dinero's API -> Dinero's token hosts (authz.dinero.dk / connect.visma.com). Any other ``api_url``
    (the sandbox, a proxy) -> the same paths on that URL: the credentials never go to a host the user did
    not name.
    """
    if is_dinero_api(api_url):
        return DEFAULT_TOKEN_URL_REFRESH_TOKEN if refresh else DEFAULT_TOKEN_URL_API_KEY
    base = api_url.strip().rstrip("/")
    return base + ("/connect/token" if refresh else "/dineroapi/oauth/token")


def _json_type(value: Any) -> str:
    """JSON name of a value's type (for messages that must not quote the value)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"


def _safe_url(url: str) -> str:
    """``url`` without user:password (a URL setting may carry credentials)."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, "***@" + host, parts.path, parts.query, parts.fragment))


def _to_number(value: Any, *, integer: bool) -> float | int | None:
    """Parse a config number (JSON number or numeric string); None when it is not one."""
    if isinstance(value, bool):
        return None
    try:
        parsed = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(parsed):
        return None
    if integer:
        return int(parsed) if parsed.is_integer() else None
    return parsed


def _default_quota_dir() -> str:
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return str(Path(xdg) / "dinero-singer")
    return DEFAULT_QUOTA_DIR

