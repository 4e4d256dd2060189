"""TapDinero: the tap class, its settings and the per-organization shared clients."""

from __future__ import annotations

import copy
import sys
import threading
import typing as t
from functools import cached_property

import click
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from dinero_api.auth import token_provider_for
from dinero_api.client import DineroClient
from dinero_api.errors import DineroConfigError
from dinero_api.logs import LOG_SETTINGS
from dinero_api.plugin import DineroPluginMixin
from dinero_api.sdk_adapter import SdkAdapterTap, share_run_version
from dinero_api.settings import PAGE_SIZE_SETTING, SHARED_SETTINGS_SCHEMA, DineroSettings
from tap_dinero.organizations import HEALTH_KEY, OrganizationRun, OrganizationsFailed
from tap_dinero.streams import LINE_STREAM_TYPES, PAYMENT_STREAM_TYPES, STREAM_TYPES
from tap_dinero.writer import DineroMessageWriter

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.streams import Stream

__all__ = ["TapDinero"]

DEFAULT_LOOKBACK_SECONDS = 300
MAX_ENTRY_WINDOW_DAYS = 31
#: Organizations synced at the same time by one tap process (see tap_dinero.organizations and the
#: README's "Many organizations" section for the measurements behind it).
DEFAULT_MAX_PARALLEL_ORGANIZATIONS = 8
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
        "max_parallel_organizations",
        th.IntegerType(minimum=1),
        default=DEFAULT_MAX_PARALLEL_ORGANIZATIONS,
        description="With organization_ids: how many organizations one tap process syncs at the same time, "
        "each on its own quota. An organization that fails (403, outage) stops only itself; the run then "
        "exits 10 (partly failed) after syncing the others.",
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        description="First run only: read rows changed at or after this time (and entries dated from this "
        "day, unless entries_start_date is set). Omit to read everything.",
    ),
    PAGE_SIZE_SETTING,
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
        "TotalLines and ShowLinesInclVat, and every other field the list lacks (Comment, Address, payment "
        "terms, TotalVat, CreditNoteFor ...), go into the document record; the lines feed the line streams. "
        "False: no detail requests, none of those fields, no line streams.",
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
        "and read again only when an entry dated in them changed (one /entries/changes request per run).",
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


class TapDinero(DineroPluginMixin, SdkAdapterTap):
    """Singer tap for the Dinero accounting API (one partition per organization)."""

    name = "tap-dinero"
    package_name = "dinero-singer"
    config_jsonschema = th.PropertiesList(*SHARED_SETTINGS_SCHEMA, *TAP_SETTINGS, *LOG_SETTINGS).to_dict()
    #: msgspec JSON encoding (singer-sdk's ``msgspec`` extra): a third less CPU per record than the
    #: default writer, same messages (see tap_dinero.writer).
    message_writer_class = DineroMessageWriter

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """Set up the lazily created per-organization clients."""
        self._clients: dict[str, DineroClient] = {}
        self._clients_lock = threading.Lock()
        self.input_organization_health: dict[str, t.Any] = {}
        #: True in the per-organization worker taps of a multi-organization run.
        self.is_organization_worker = False
        self._organization_run: OrganizationRun | None = None
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
        numbers: set[str] = set()
        for value in raw:
            org = str(value).strip()
            # 0100000 is organization 100000 to Dinero: one worker (and one quota) per organization.
            number = str(int(org)) if org.isascii() and org.isdigit() else org
            if org and number not in numbers:
                numbers.add(number)
                ids.append(org)
        if not ids:
            msg = "Set organization_id (or organization_ids, a list) to the Dinero organization(s) to sync."
            raise ConfigValidationError(msg, errors=[msg])
        return ids

    # Each setting below is read with its default from TAP_SETTINGS (written there only) and was checked
    # against the schema's bounds at start-up (dinero_api.plugin).
    @property
    def max_parallel_organizations(self) -> int:
        """Organizations synced at once by this process (``max_parallel_organizations``)."""
        return int(self.setting("max_parallel_organizations"))

    @cached_property
    def page_size(self) -> int:
        """Rows per list page (validated with the shared settings: at most Dinero's maximum)."""
        return self.dinero_settings.page_size

    @property
    def lookback_seconds(self) -> int:
        """Overlap subtracted from bookmarks."""
        return int(self.setting("lookback_seconds"))

    @cached_property
    def include_deleted(self) -> bool:
        """Whether incremental streams make a deletedOnly pass."""
        return bool(self.setting("include_deleted"))

    @cached_property
    def include_lines(self) -> bool:
        """Whether the document line streams exist."""
        return bool(self.setting("include_lines"))

    @cached_property
    def include_payments(self) -> bool:
        """Whether the payment streams exist."""
        return bool(self.setting("include_payments"))

    @property
    def reports_open_years(self) -> int:
        """How many of the latest accounting years count as open (re-read every run)."""
        return int(self.setting("reports_open_years"))

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
        return int(self.setting("entries_window_days"))

    # ------------------------------------------------------------------------------ clients
    def client_for(self, organization_id: str) -> DineroClient:
        """The shared client of one organization (its own quota key), created on first use."""
        with self._clients_lock:
            client = self._clients.get(organization_id)
            if client is None:
                client = DineroClient(self.dinero_settings, organization_id=organization_id)
                self._clients[organization_id] = client
            return client

    def release_clients(self) -> None:
        """Close this tap's clients and their quota stores' connections (an organization worker that is
        done: a run over hundreds of organizations must not keep hundreds of files and sockets open).
        A client used again reopens what it needs."""
        with self._clients_lock:
            clients = list(self._clients.values())
        for client in clients:
            client.close()
            client.throttle.close()

    def check_connection(self) -> dict[str, int]:
        """One cheap request per organization (its accounting years); returns the count per org."""
        counts: dict[str, int] = {}
        for org in self.organization_ids:
            years = self.client_for(org).get_json("/v1/{org}/accountingyears")
            counts[org] = len(years or [])
            self.logger.info("Connected to Dinero organization %s (%d accounting years).", org, counts[org])
        return counts

    # ------------------------------------------------------------------------------ state
    def load_state(self, state: dict[str, t.Any]) -> None:
        """The SDK's bookmarks, plus the per-organization health record (tap_dinero.organizations)."""
        super().load_state(state)
        health = state.get(HEALTH_KEY)
        if isinstance(health, dict):
            self.input_organization_health = copy.deepcopy(health)
            self.state[HEALTH_KEY] = copy.deepcopy(health)

    # ------------------------------------------------------------------------------ sync
    def sync_all(self) -> None:
        """Sync every selected stream; several organizations side by side (tap_dinero.organizations).

        One organization: the SDK's sync. Several: the organization-free streams here, then one worker
        per organization, at most ``max_parallel_organizations`` at a time; an organization that fails
        does not stop the others (:class:`~tap_dinero.organizations.OrganizationsFailed` at the end).
        """
        if self.is_organization_worker or len(self.organization_ids) == 1:
            super().sync_all()
            return
        self.prepare_sync_state()
        if self.state:
            self.state_writer.write_state(self.state)
        for stream in self.streams.values():
            if getattr(stream, "org_scoped", True) or stream.parent_stream_type:
                continue
            if stream.selected or stream.has_selected_descendents:
                stream.sync()
                stream.finalize_state_progress_markers()
                stream.log_sync_costs()
        # One login serves every organization: refused credentials stop the run after one request
        # instead of once per organization.
        token_provider_for(self.dinero_settings).get_token()
        run = OrganizationRun(self, self.max_parallel_organizations)
        self._organization_run = run
        try:
            run.run()
        finally:
            self._organization_run = None

    def organization_worker(
        self, organization_id: str, *, state: dict[str, t.Any], writer: t.Any
    ) -> TapDinero:
        """A tap for one organization of this run: same config and selection, that organization's state.

        Built in the worker's thread (the SDK installs signal handlers only from the main thread).
        """
        catalog = copy.deepcopy(self.current_catalog)  # the selection as it stands, set in code or not
        if self.input_catalog is not None:
            for stream_id, entry in catalog.items():
                given = self.input_catalog.get_stream(stream_id)
                if given is not None:
                    entry.schema = copy.deepcopy(given.schema)
        config = {
            **dict(self.config),
            "organization_ids": [organization_id],
            "organization_id": organization_id,
        }
        worker = type(self)(config=config, catalog=catalog, state=state, message_writer=writer)
        worker.is_organization_worker = True
        for stream in worker.streams.values():
            share_run_version(stream, self.initialized_at)  # one ACTIVATE_VERSION for every organization
            if not getattr(stream, "org_scoped", True) and not stream.parent_stream_type:
                stream.selected = False  # organization-free streams are the parent's
        return worker

    def handle_termination(self, signum: int, frame: FrameType | None) -> None:  # pragma: no cover
        """Stop the organization workers and write the latest merged state under the writer's lock."""
        run = self._organization_run
        if run is None:
            self.sdk_handle_termination(signum, frame)
            return
        run.stop()
        with run.lock:
            self.replace_state(run.merged_state())  # a STATE the 5 s spacing held back is written too
            self.sdk_handle_termination(signum, frame)

    @classmethod
    def invoke(cls, *args: t.Any, **kwargs: t.Any) -> None:  # type: ignore[override]
        """The SDK's run; a run in which some organizations failed exits 10 after naming them."""
        try:
            super().invoke(*args, **kwargs)
        except OrganizationsFailed as exc:
            cls.logger.error("%s", exc)
            sys.exit(exc.exit_code)

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
