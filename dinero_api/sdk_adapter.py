"""Every use of singer-sdk's private names shared by tap-dinero and target-dinero, in one place.

singer-sdk offers no public hook for these. Each plugin keeps its own in its ``sdk_adapter`` module
(``tap_dinero/sdk_adapter.py``, ``target_dinero/sdk_adapter.py``); no other module of the project names a
private SDK name, and ``tests/test_sdk_adapters.py`` checks both that (an AST scan) and that every private
name used here still exists in the installed SDK with the signature it is called or overridden with, so an
SDK upgrade fails loudly instead of silently changing what the plugins do.

* ``datetime_fromisoformat`` (``singer_sdk.helpers._compat``): the SDK's ISO parser (the Python 3.11 one,
  backported on 3.10); start-up validation parses date settings exactly as the plugins will.
* ``PluginBase._validate_config``: the SDK validates the config against the JSON schema while the plugin is
  built and offers no hook to add checks there. :class:`SdkConfigValidation` routes it to the public
  :meth:`~SdkConfigValidation.validate_plugin_config`, which the plugins override
  (``dinero_api.plugin.DineroPluginMixin``) and which gets the SDK's own result from
  :meth:`~SdkConfigValidation.sdk_schema_errors`.
"""

from __future__ import annotations

from importlib.metadata import version

from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._compat import datetime_fromisoformat

__all__ = ["SDK_SERIES", "SdkConfigValidation", "datetime_fromisoformat", "sdk_version"]

#: The singer-sdk minor series the adapters were written against (pyproject pins the same).
SDK_SERIES = "0.54"


def sdk_version() -> str:
    """The installed singer-sdk version."""
    return version("singer-sdk")


class SdkConfigValidation:
    """Mixin, placed before singer-sdk's plugin class: the SDK's config validation, made overridable."""

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK calls this while building the plugin: hand it to :meth:`validate_plugin_config`."""
        return self.validate_plugin_config(raise_errors=raise_errors)

    def validate_plugin_config(self, *, raise_errors: bool = True) -> list[str]:
        """Validate the config; override to add checks (the default is the SDK's schema validation)."""
        errors = self.sdk_schema_errors()
        if errors and raise_errors:
            raise ConfigValidationError("Config validation failed", errors=errors)
        return errors

    def sdk_schema_errors(self) -> list[str]:
        """The SDK's JSON-schema problems with the config (raised quietly: no WARNING of the SDK's own)."""
        try:
            return list(super()._validate_config(raise_errors=True))  # type: ignore[misc]
        except ConfigValidationError as exc:
            return list(exc.errors)
