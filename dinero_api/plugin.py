"""``DineroPluginMixin``: what tap-dinero and target-dinero do at start-up, before any output.

singer-sdk validates the config against the JSON schema when the plugin is built, but the schema check
does not look at formats: ``start_date: yesterday`` passed, records were emitted, and the sync then
failed with ``Invalid isoformat string`` without naming the setting (issue 16). Missing credentials
were found only when the first request was about to be sent. This mixin adds to the SDK's validation,
in the same place and before anything is written:

* every setting checked once against the plugin's JSON schema (types, bounds: written in the schema only)
  and the shared client's own checks (``DineroSettings.from_config``: credentials, organization, URLs),
  each naming the setting and the fix, in words of ours (the SDK's quote the value, a secret's too);
* every ``date-time`` / ``date`` setting parsed the way the plugins will parse it;
* ``metrics_log_level`` applied (see :mod:`dinero_api.logs`).

All problems come back together in one ``ConfigValidationError`` (``dinero_api.cli`` prints them on one
line, exit code 2).
"""

from __future__ import annotations

import datetime as dt
import typing as t

from singer_sdk.exceptions import ConfigValidationError

from dinero_api.errors import DineroConfigError
from dinero_api.logs import apply_log_settings, install_sdk_noise_filters
from dinero_api.sdk_adapter import SdkConfigValidation, datetime_fromisoformat
from dinero_api.settings import DineroSettings, setting

__all__ = ["DineroPluginMixin", "format_problems"]


def format_problems(config: t.Mapping[str, t.Any], schema: t.Mapping[str, t.Any]) -> list[str]:
    """Problems with the values of ``date-time`` and ``date`` settings (top level), one per setting."""
    problems: list[str] = []
    for name, prop in (schema.get("properties") or {}).items():
        fmt = prop.get("format")
        value = config.get(name)
        if fmt not in ("date-time", "date") or value is None or value == "":
            continue
        if not isinstance(value, str):
            problems.append(f"`{name}` must be a text date, e.g. \"2024-01-31\" (got {value!r}).")
            continue
        try:
            if fmt == "date":
                dt.date.fromisoformat(value.strip()[:10])
                if len(value.strip()) > 10:
                    datetime_fromisoformat(value.strip())
            else:
                datetime_fromisoformat(value.strip())
        except ValueError:
            example = "2024-01-31" if fmt == "date" else "2024-01-31 or 2024-01-31T00:00:00Z"
            problems.append(f"`{name}` must be an ISO 8601 date{'' if fmt == 'date' else '/time'}, "
                            f"e.g. {example} (got {value!r}).")
    return problems


class DineroPluginMixin(SdkConfigValidation):
    """Start-up validation and log settings shared by ``TapDinero`` and ``TargetDinero``.

    Put it before singer-sdk's base class: ``class TapDinero(DineroPluginMixin, Tap)``. The SDK calls
    :meth:`validate_plugin_config` while building the plugin (see :mod:`dinero_api.sdk_adapter`).
    """

    config: t.Mapping[str, t.Any]
    config_jsonschema: t.ClassVar[dict]

    def dinero_settings_config(self) -> dict[str, t.Any]:
        """The config ``DineroSettings`` is built from (the tap maps ``organization_ids`` here)."""
        config = dict(self.config)
        ids = config.get("organization_ids")
        if not config.get("organization_id") and isinstance(ids, list) and ids:
            config["organization_id"] = str(ids[0])
        return config

    def setting(self, name: str) -> t.Any:
        """The value of setting ``name``, else its default from the plugin's schema (written there only)."""
        return setting(self.config, self.config_jsonschema, name)

    def validate_plugin_config(self, *, raise_errors: bool = True) -> list[str]:
        """The config checked once against the plugin's JSON schema plus the Dinero checks, worded by
        :func:`dinero_api.settings.schema_problems` (one line per setting, never a secret's value)."""
        self.sdk_schema_errors()  # the SDK fills the schema's defaults into the config; its words are unused
        errors = format_problems(self.config, self.config_jsonschema)
        try:
            DineroSettings.from_config(self.dinero_settings_config(), schema=self.config_jsonschema)
        except DineroConfigError as exc:
            lines = str(exc).splitlines()
            errors += [line.strip().removeprefix("- ") for line in lines[1:]] or lines
        install_sdk_noise_filters()
        apply_log_settings(dict(self.config))
        if errors and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=errors)
        return errors
