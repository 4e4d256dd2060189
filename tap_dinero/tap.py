"""TapDinero: the tap class, its settings and the per-organization shared clients."""

from __future__ import annotations

import threading
import typing as t
from functools import cached_property

import click
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from dinero_api.client import DineroClient
from dinero_api.errors import DineroConfigError
from dinero_api.settings import MAX_PAGE_SIZE, SHARED_SETTINGS_SCHEMA, DineroSettings
from tap_dinero.streams import LINE_STREAM_TYPES, PAYMENT_STREAM_TYPES, STREAM_TYPES
from tap_dinero.writer import DineroMessageWriter

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream

__all__ = ["TapDinero"]

DEFAULT_LOOKBACK_SECONDS = 300
MAX_ENTRY_WINDOW_DAYS = 31
#: The current accounting year and the previous one, which stays open until its annual accounts are done.
DEFAULT_OPEN_YEARS = 2

TAP_SETTINGS = th.PropertiesList(
    th.Property(
        "organization_ids",
        th.ArrayType(th.StringType),
        description="Several Dinero organization ids (partners): every stream syncs each organization as "
        "its own partition with its own bookmark and quota. Replaces organization_id when set.",
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        description="First run only: read rows changed at or after this time (and entries dated from this "
        "day, unless entries_start_date is set). Omit to read everything.",
    ),
    th.Property(
        "page_size",
        th.IntegerType(minimum=1, maximum=MAX_PAGE_SIZE),
        default=MAX_PAGE_SIZE,
        description="Rows per list request (Dinero's maximum, 1000, spends the least quota).",
    ),
    th.Property(
        "lookback_seconds",
        th.IntegerType(minimum=0),
        default=DEFAULT_LOOKBACK_SECONDS,
        description="Overlap subtracted from each bookmark before asking changesSince, so a change in the "
        "same second or a clock/time-zone skew is never missed. Rows re-read in the overlap are not "
        "emitted twice.",
    ),
    th.Property(
        "include_deleted",
        th.BooleanType,
        default=True,
        description="Make a second deletedOnly=true pass per incremental stream and emit deleted rows with "
        "DeletedAt and _sdc_deleted_at set.",
    ),
    th.Property(
        "include_lines",
        th.BooleanType,
        default=True,
        description="Read one detail per changed invoice/credit note/trade offer: its ProductLines, "
        "TotalLines and ShowLinesInclVat go into the document record and feed the line streams. False: no "
        "detail requests, no ProductLines, no line streams.",
    ),
    th.Property(
        "include_payments",
        th.BooleanType,
        default=True,
        description="Read the payments of every changed booked invoice and sales credit note (one GET per "
        "document, only while invoice_payments / sales_credit_note_payments is selected). False: no "
        "payment requests and no payment streams.",
    ),
    th.Property(
        "reports_open_years",
        th.IntegerType(minimum=1),
        default=DEFAULT_OPEN_YEARS,
        description="How many of the latest begun accounting years (plus any not yet begun) the reports "
        "stream re-reads on every run; older years are read once more, then kept as closed in the state "
        "and never read again.",
    ),
    th.Property(
        "ledger_item_ids",
        th.ArrayType(th.StringType),
        description="Ids of ledger items (kassekladde lines) to read: Dinero cannot list them. Each is read "
        "with its status; unbooked ones with their lines.",
    ),
    th.Property(
        "entries_start_date",
        th.DateType,
        description="First run only: read ledger entries dated from this day (default: start_date, else "
        "every accounting year).",
    ),
    th.Property(
        "entries_window_days",
        th.IntegerType(minimum=1, maximum=MAX_ENTRY_WINDOW_DAYS),
        default=MAX_ENTRY_WINDOW_DAYS,
        description="Length of each /entries/changes window (Dinero allows at most 31 days).",
    ),
)


class TapDinero(Tap):
    """Singer tap for the Dinero accounting API (one partition per organization)."""

    name = "tap-dinero"
    package_name = "dinero-singer"
    config_jsonschema = th.PropertiesList(*SHARED_SETTINGS_SCHEMA, *TAP_SETTINGS).to_dict()
    #: msgspec JSON encoding (singer-sdk's ``msgspec`` extra): a third less CPU per record than the
    #: default writer, same messages (see tap_dinero.writer).
    message_writer_class = DineroMessageWriter

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """Set up the lazily created per-organization clients."""
        self._clients: dict[str, DineroClient] = {}
        self._clients_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------------------------ settings
    @cached_property
    def dinero_settings(self) -> DineroSettings:
        """The shared client's validated settings (raises ConfigValidationError naming the problems)."""
        config = dict(self.config)
        if not config.get("organization_id") and self.organization_ids:
            config["organization_id"] = self.organization_ids[0]
        try:
            return DineroSettings.from_config(config)
        except DineroConfigError as exc:
            raise ConfigValidationError(str(exc), errors=[str(exc)]) from exc

    @cached_property
    def organization_ids(self) -> list[str]:
        """``organization_ids`` if set, else ``[organization_id]``."""
        raw = self.config.get("organization_ids") or (
            [self.config["organization_id"]] if self.config.get("organization_id") else []
        )
        ids: list[str] = []
        for value in raw:
            org = str(value).strip()
            if org and org not in ids:
                ids.append(org)
        if not ids:
            msg = "Set organization_id (or organization_ids, a list) to the Dinero organization(s) to sync."
            raise ConfigValidationError(msg, errors=[msg])
        return ids

    @property
    def page_size(self) -> int:
        """Rows per list page (at most 1000)."""
        return min(int(self.config.get("page_size") or MAX_PAGE_SIZE), MAX_PAGE_SIZE)

    @property
    def lookback_seconds(self) -> int:
        """Overlap subtracted from bookmarks."""
        value = self.config.get("lookback_seconds")
        return DEFAULT_LOOKBACK_SECONDS if value is None else int(value)

    @cached_property
    def include_deleted(self) -> bool:
        """Whether incremental streams make a deletedOnly pass."""
        return bool(self.config.get("include_deleted", True))

    @cached_property
    def include_lines(self) -> bool:
        """Whether the document line streams exist."""
        return bool(self.config.get("include_lines", True))

    @cached_property
    def include_payments(self) -> bool:
        """Whether the payment streams exist."""
        return bool(self.config.get("include_payments", True))

    @property
    def reports_open_years(self) -> int:
        """How many of the latest accounting years count as open (re-read every run)."""
        value = self.config.get("reports_open_years")
        return DEFAULT_OPEN_YEARS if value is None else max(1, int(value))

    @property
    def ledger_item_ids(self) -> list[str]:
        """The configured ledger item ids, deduplicated, in order."""
        ids: list[str] = []
        for value in self.config.get("ledger_item_ids") or []:
            item = str(value).strip().lower()
            if item and item not in ids:
                ids.append(item)
        return ids

    @property
    def entries_window_days(self) -> int:
        """Days per /entries/changes window."""
        value = int(self.config.get("entries_window_days") or MAX_ENTRY_WINDOW_DAYS)
        return max(1, min(value, MAX_ENTRY_WINDOW_DAYS))

    # ------------------------------------------------------------------------------ clients
    def client_for(self, organization_id: str) -> DineroClient:
        """The shared client of one organization (its own quota key), created on first use."""
        with self._clients_lock:
            client = self._clients.get(organization_id)
            if client is None:
                client = DineroClient(self.dinero_settings, organization_id=organization_id)
                self._clients[organization_id] = client
            return client

    def check_connection(self) -> dict[str, int]:
        """One cheap request per organization (its accounting years); returns the count per org."""
        counts: dict[str, int] = {}
        for org in self.organization_ids:
            years = self.client_for(org).get_json("/v1/{org}/accountingyears")
            counts[org] = len(years or [])
            self.logger.info("Connected to Dinero organization %s (%d accounting years).", org, counts[org])
        return counts

    # ------------------------------------------------------------------------------ streams
    def discover_streams(self) -> list[Stream]:
        """Every stream (line streams only with ``include_lines``, payments with ``include_payments``)."""
        types = STREAM_TYPES + (LINE_STREAM_TYPES if self.include_lines else ())
        types += PAYMENT_STREAM_TYPES if self.include_payments else ()
        return [stream_type(tap=self) for stream_type in types]

    @classmethod
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """``--test``: one cheap request per organization (``--test=schema`` prints the schemas)."""
        if value != "all":
            super().cb_test(ctx, param, value)  # type: ignore[misc]
            return
        config = ctx.params.get("config")
        tap = cls(
            config=config.config if config else None,
            parse_env_config=bool(config and config.parse_env),
            validate_config=True,
        )
        tap.check_connection()
        ctx.exit()
