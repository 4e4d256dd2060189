"""TargetDinero: Singer records -> Dinero invoices, manual vouchers, daily sales, contacts, products."""

from __future__ import annotations

import json
import sys
from typing import Any

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.target_base import Target

from dinero_api.logs import LOG_SETTINGS
from dinero_api.plugin import DineroPluginMixin
from dinero_api.settings import SHARED_SETTINGS_SCHEMA
from target_dinero.config import target_settings
from target_dinero.run import RunContext
from target_dinero.sinks import SINKS
from target_dinero.sinks.base import DineroSink

__all__ = ["RejectsExceeded", "TargetDinero"]


class RejectsExceeded(RuntimeError):
    """More records were rejected than ``max_rejects`` allows: the run ends non-zero."""


class TargetDinero(DineroPluginMixin, Target):
    """Singer target for the Dinero accounting API: invoices, vouchers, daily sales, contacts, products."""

    # The docstring is what ``--about`` prints, so it stays one plain line (a multi-line docstring
    # indents the markdown heading, and Sphinx roles would show as text). Each stream is loaded as the
    # type its ``streams`` entry names (``load_as``): one sink class per load type in
    # ``target_dinero.sinks``. What the sinks share for the run (client, reference data, contact cache,
    # indexes, journal, rejects) lives in ``target_dinero.run.RunContext``.

    name = "target-dinero"
    package_name = "dinero-singer"  # the distribution whose version ``--version`` prints
    config_jsonschema = th.PropertiesList(
        *SHARED_SETTINGS_SCHEMA, *target_settings(), *LOG_SETTINGS
    ).to_dict()
    default_sink_class = DineroSink

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.run = RunContext(self.config, self.logger)
        if self.run.config_errors:
            raise ConfigValidationError(
                "Invalid target-dinero streams configuration",
                errors=self.run.config_errors,
            )

    def get_sink_class(self, stream_name: str) -> type[DineroSink]:
        """The sink of the stream's load type; an unmapped stream stops the run with a clear error."""
        return SINKS[self.run.options_for(stream_name).load_as]

    def process_endofpipe(self) -> None:
        """Drain and book (SDK), then print the summary; fail when rejects exceed ``max_rejects``."""
        super().process_endofpipe()
        summary = self.run.summary()
        self.logger.info("target-dinero summary: %s", json.dumps(summary, ensure_ascii=False))
        sys.stderr.flush()
        rejected = self.run.rejects.count
        if rejected > self.run.max_rejects:
            raise RejectsExceeded(
                f"{rejected} record(s) rejected (max_rejects is {self.run.max_rejects}); see "
                f"{self.run.rejects.path or 'the log'} for each record and the reason."
            )


if __name__ == "__main__":
    TargetDinero.cli()
