"""Stream base classes shared by every tap-dinero stream.

Every HTTP request a stream makes goes through the shared :class:`dinero_api.client.DineroClient` session
of the stream's organization, so it passes that organization's quota throttle, carries its token and gets
its retries (429 waits, 5xx backoff). The SDK's own backoff is switched off to avoid retrying twice.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import fnmatch
import hashlib
import json
import logging
import typing as t
from functools import cached_property

import requests
from singer_sdk.exceptions import FatalAPIError
from singer_sdk.helpers.conform import TypeConformanceLevel

from dinero_api.envelope import decode_json
from dinero_api.errors import DineroAPIError, DineroGone, DineroMalformedResponse, raise_for_response
from dinero_api.retry import RetryPolicy
from dinero_api.sdk_adapter import SdkAdapterStream
from dinero_api.settings import DEFAULT_API_URL
from tap_dinero.pagination import DineroPaginator, page_records, page_total
from tap_dinero.progress import StreamProgress
from tap_dinero.schemas import list_fields, load_schema
from tap_dinero.writer import flush_output

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, RequestFunc
    from singer_sdk.pagination import BaseAPIPaginator

    from tap_dinero.tap import TapDinero

__all__ = ["COVERS_KEY", "DetailStream", "DineroStream", "StreamProgress", "coverage_grew"]

#: Partition-state key of what a bookmark covers: the streams the read emitted rows of, each with the
#: properties it left out (see :meth:`DineroStream.selection_coverage`).
COVERS_KEY = "covers"
#: Pseudo property in a coverage: the run did not emit deleted rows (``include_deleted: false``).
DELETED_ROWS = "(deleted rows)"
#: Pseudo property in a coverage: the tap's own ``stream_maps`` shaped the rows (followed by a digest of the
#: map): a map taken away or changed may emit what it held back (see DineroStream.stream_map_marker).
STREAM_MAP = "(stream map"

#: Columns the tap adds to Dinero's read models (never sent in ``fields``).
TAP_COLUMNS = frozenset({"organization_id", "_sdc_deleted_at", "_sdc_synced_at"})
ORGANIZATION_ID = {"type": "string", "description": "Dinero organization id the row belongs to (tap-added)"}


class DineroStream(SdkAdapterStream):
    """A Dinero endpoint read through the shared client.

    Subclasses set ``name``, ``path`` (with ``{organization_id}``), ``schema_name`` (a file in
    ``tap_dinero/schemas``), ``primary_keys`` and the request shape flags below.
    """

    #: Name of the read-model schema in ``tap_dinero/schemas``.
    schema_name: t.ClassVar[str]
    #: True for ``/v1/{organization_id}/...`` endpoints: one partition per configured organization.
    org_scoped: t.ClassVar[bool] = True
    #: True when the endpoint takes ``page``/``pageSize``.
    paginated: t.ClassVar[bool] = False
    #: True when the endpoint takes ``fields`` (we ask for every field of the schema, PascalCase).
    sends_fields: t.ClassVar[bool] = False
    #: True when the envelope count may end pagination (see tap_dinero.pagination).
    trust_page_total: bool = True
    #: No per-record type conformance: rows are decoded JSON (str, int, Decimal, bool, None, lists,
    #: objects) plus string columns the tap adds, and every read-model schema allows additional
    #: properties, so the SDK's pass would convert and drop nothing (NaN is written as null by the SDK's
    #: encoder anyway). It was a third of the tap's CPU per record (benchmarks/run.py, group 1).
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(self, tap: TapDinero) -> None:
        """Build the stream with its schema from ``tap_dinero/schemas``."""
        super().__init__(tap=tap, name=self.name, schema=self.build_schema())
        self._active_org: str | None = None
        self.progress = StreamProgress()
        self.server_clock_first: dt.datetime | None = None
        self._server_clock_first_upper: dt.datetime | None = None
        self.server_clock_last: dt.datetime | None = None

    # ----------------------------------------------------------------------------------- Dinero's clock
    def reset_server_clock(self) -> None:
        """Forget the clock readings: the next answer is the first of a new read (see note_server_clock)."""
        self.server_clock_first = self._server_clock_first_upper = self.server_clock_last = None

    def request_clock_bookmark(self, local_started: dt.datetime, previous: dt.datetime | None) -> dt.datetime:
        """The bookmark of a read that started at ``local_started`` by this machine's clock.

        The earlier of the two clocks: ``local_started``, unless it is ahead of Dinero's clock at the
        first answer (beyond the header's whole second), then Dinero's clock there (its lower bound). A
        clock running ahead, ours or a ``Date`` header's, never puts the bookmark in Dinero's future; one
        running behind costs a re-read of the difference (rows already emitted are not emitted again).
        Never before a ``previous`` bookmark that Dinero's clock has passed (both are lower bounds of
        this run's start); a previous bookmark in Dinero's future (written by a clock running ahead) is
        dropped. Without a ``Date`` header: ``local_started``.
        """
        lower, upper = self.server_clock_first, self._server_clock_first_upper
        ahead = lower is not None and upper is not None and local_started > upper
        bookmark = t.cast("dt.datetime", lower) if ahead else local_started
        now = self.server_clock_last or local_started
        if previous is not None and bookmark < previous <= now:
            return previous
        return bookmark

    def note_server_clock(self, response: requests.Response) -> None:
        """Read Dinero's clock from an answer's ``Date`` header (whole seconds, UTC).

        Dinero stamps ``UpdatedAt`` and booking times by its own clock, so a bookmark taken from this
        machine's clock is off by however much the two differ -- by more than ``lookback_seconds``, a
        clock ahead loses every change made before Dinero's clock catches up. ``server_clock_first``: a
        lower bound of Dinero's time when it served the first answer since :meth:`reset_server_clock`
        (the header, cut down to the second, minus the request's time in flight); every row changed
        after that answer has a later stamp. ``server_clock_last``: an upper bound of Dinero's time at
        the latest answer. None without a readable header (then the local clock is used).
        """
        elapsed = getattr(response, "elapsed", None) or dt.timedelta(0)
        try:
            served = email.utils.parsedate_to_datetime(response.headers.get("Date") or "")
            if served.tzinfo is None:
                served = served.replace(tzinfo=dt.timezone.utc)
            lower = served - elapsed - dt.timedelta(seconds=1)
            upper = served + dt.timedelta(seconds=1)
        except (TypeError, ValueError, AttributeError, OverflowError):
            # unreadable, or at the very edge of what a datetime holds (a proxy's "year 9999"): no reading
            return
        if self.server_clock_first is None:
            self.server_clock_first, self._server_clock_first_upper = lower, upper
        if self.server_clock_last is None or upper > self.server_clock_last:
            self.server_clock_last = upper

    # ----------------------------------------------------------------------------------- selection
    def unemitted_properties(self) -> set[str]:
        """Top-level properties this stream's records leave out: the deselected ones (subclasses add
        what a setting leaves out, e.g. a document's lines without ``include_lines``)."""
        mask = self.mask
        return {name for name in self.schema["properties"] if not mask[("properties", name)]}

    def selection_coverage(self) -> dict[str, list[str]]:
        """What one read of this stream's partition emits: every selected stream it feeds (itself, its
        selected descendants), each with the properties left out.

        Kept next to the bookmark (``covers``): a bookmark only vouches for the rows *and properties*
        that were emitted up to it. When a later run emits more -- a stream selected that was not (a
        parent read only for its children, a child selected later), a property selected again, deleted
        rows asked for again -- the rows from before the bookmark never carried it, and an incremental
        read would never bring them: see :func:`coverage_grew`.
        """
        covered: dict[str, list[str]] = {}

        def visit(stream: t.Any) -> None:
            if stream.selected:
                left_out = stream.unemitted_properties()
                marker = stream.stream_map_marker()
                if marker:
                    left_out.add(marker)
                covered[stream.name] = sorted(left_out)
            for child in stream.child_streams or []:
                visit(child)

        visit(self)
        return covered

    def stream_map_marker(self) -> str | None:
        """``(stream map <digest>)`` when the tap's own ``stream_maps`` apply to this stream, else None.

        A map leaves properties (``"Email": null``) or rows (``__filter__``) out of what is emitted, as a
        deselection does; the digest covers the stream's map entries (``__else__`` when none names it) and
        ``stream_map_config``, so the same map from run to run is the same marker (key order does not
        matter), and a map taken away or changed reads the partition in full once (see coverage_grew)."""
        maps = self.config.get("stream_maps") or {}
        if not isinstance(maps, dict) or not maps:
            return None
        entries = {
            key: value for key, value in maps.items() if key != "__else__" and fnmatch.fnmatch(self.name, key)
        }
        if not entries and "__else__" in maps:
            entries = {"__else__": maps["__else__"]}
        if not entries:
            return None
        shape = {"maps": entries, "config": self.config.get("stream_map_config") or {}}
        digest = hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode()).hexdigest()[:12]
        return f"{STREAM_MAP} {digest})"

    def coverage_grew(self, state: t.Mapping[str, t.Any]) -> list[str]:
        """What the current selection emits that the partition's bookmark does not cover (empty when
        the bookmark covers it all, and for a state written before coverage was kept: trusted)."""
        previous = state.get(COVERS_KEY)
        if not isinstance(previous, dict):
            return []
        return coverage_grew(previous, self.selection_coverage(), self._known_properties())

    def _known_properties(self) -> dict[str, set[str]]:
        known: dict[str, set[str]] = {}

        def visit(stream: t.Any) -> None:
            known[stream.name] = {*stream.schema["properties"], DELETED_ROWS}
            for child in stream.child_streams or []:
                visit(child)

        visit(self)
        return known

    # ----------------------------------------------------------------------------------- schema
    @classmethod
    def build_schema(cls) -> dict[str, t.Any]:
        """The read-model schema plus the columns the tap adds."""
        schema = load_schema(cls.schema_name)
        if cls.org_scoped:
            schema["properties"]["organization_id"] = dict(ORGANIZATION_ID)
        return schema

    @property
    def api_fields(self) -> list[str]:
        """The names asked for with ``fields`` (PascalCase): the list's scalar read-model properties and
        the spec's documented options, as generated into the schema (``x-dinero-fields``); a schema
        without that list asks for every Dinero field it has. Never a property the list cannot carry
        (lines), which Dinero would refuse."""
        generated = list_fields(self.schema_name)
        if generated is not None:
            return [name for name in generated if name in self.schema["properties"]]
        return [name for name in self.schema["properties"] if name not in TAP_COLUMNS]

    # ----------------------------------------------------------------------------------- wiring
    @property
    def dinero_tap(self) -> TapDinero:
        """The tap this stream belongs to."""
        return t.cast("TapDinero", self.owning_tap)

    @property
    def url_base(self) -> str:
        """``api_url`` from the config (Dinero's by default)."""
        return str(self.config.get("api_url") or DEFAULT_API_URL).rstrip("/")

    @property
    def partitions(self) -> list[dict] | None:
        """One partition (and bookmark, and quota key) per configured organization."""
        if not self.org_scoped:
            return None
        return [{"organization_id": org} for org in self.dinero_tap.organization_ids]

    def organization_for(self, context: Context | None) -> str:
        """The organization whose client serves ``context``."""
        if context and context.get("organization_id"):
            return str(context["organization_id"])
        return self.dinero_tap.organization_ids[0]

    @property
    def requests_session(self) -> requests.Session:
        """The shared client's session of the organization being synced (quota, auth, retries)."""
        org = self._active_org or self.dinero_tap.organization_ids[0]
        return self.dinero_tap.client_for(org).session

    @property
    def timeout(self) -> float:  # type: ignore[override]
        """Per-request timeout from ``request_timeout`` (seconds, fractions kept: ``int()`` would turn
        0.5 into 0, which requests refuses, and 2.9 into 2)."""
        return float(self.dinero_tap.dinero_settings.request_timeout)

    @cached_property
    def user_agent(self) -> str:
        """``user_agent`` from the config, else ``tap-dinero/<version>``."""
        return str(self.config.get("user_agent") or f"tap-dinero/{self.dinero_tap.plugin_version}")

    def build_prepared_request(self, *args: t.Any, **kwargs: t.Any) -> requests.PreparedRequest:
        """Prepare a request on the shared session without replacing its authentication."""
        request = requests.Request(*args, **kwargs)
        request.headers.setdefault("User-Agent", self.user_agent)
        return self.requests_session.prepare_request(request)

    def request_decorator(self, func: RequestFunc) -> RequestFunc:
        """No SDK backoff (the shared session already waits on 429 and retries 5xx, timeouts and resets);
        count requests. A 2xx whose body is not JSON (an outage page, a body cut short) is fetched again
        with the client's backoff and ``max_retries``, as ``DineroClient.get_json`` does, then fails
        with a clear error instead of a bare JSONDecodeError."""
        settings = self.dinero_tap.dinero_settings

        def counted(prepared_request: requests.PreparedRequest, context: Context | None) -> requests.Response:
            stats = self.dinero_tap.client_for(self._active_org or self.organization_for(context)).stats
            waited_before = stats.quota_wait_seconds
            flush_output()  # rows already written never wait in our block for a request or the quota
            try:
                response = func(prepared_request, context)
            finally:
                self.progress.requests += 1
                self.progress.quota_wait_seconds += max(0.0, stats.quota_wait_seconds - waited_before)
            if response.status_code < 400:
                self.note_server_clock(response)
                _require_json(response)
                # The first list page's count is the partition's total (an upper bound under changesSince).
                exact = "changesSince=" not in (prepared_request.url or "")
                self.progress.note_total(page_total(response), exact=exact)
            self.progress.maybe_log(self.logger, self.name)
            return response

        retried = RetryPolicy.from_settings(settings).on_exception(
            DineroMalformedResponse,
            on_retry=lambda details: self.logger.warning("%s; fetching it again", details["exception"]),
        )(counted)

        def fetch(prepared_request: requests.PreparedRequest, context: Context | None) -> requests.Response:
            try:
                return retried(prepared_request, context)
            except DineroMalformedResponse as exc:
                raise FatalAPIError(f"{exc} Gave up after {settings.max_retries + 1} tries.") from exc

        return fetch

    def validate_response(self, response: requests.Response) -> None:
        """Raise FatalAPIError quoting Dinero's error body (the session has done any retrying)."""
        try:
            raise_for_response(response)
        except DineroAPIError as exc:
            raise FatalAPIError(str(exc)) from exc

    @property
    def http_headers(self) -> dict[str, str]:
        """Ask for JSON (detail endpoints answer PDF to ``Accept: application/octet-stream``)."""
        return {"Accept": "application/json"}

    def fetch_json(self, context: Context | None, path: str, params: dict[str, t.Any] | None = None) -> t.Any:
        """GET one extra JSON resource (e.g. accounting years) the way stream pages are requested."""
        url = self.url_base + path.replace("{organization_id}", self.organization_for(context))
        prepared = self.build_prepared_request(
            method="GET", url=url, params=params or {}, headers=self.http_headers
        )
        response = self.send_prepared(prepared, context)
        return decode_json(response.content)

    def get_new_paginator(self) -> BaseAPIPaginator | None:
        """Page-number paginator for paged endpoints; single page otherwise."""
        if not self.paginated:
            return None
        return DineroPaginator(self.dinero_tap.page_size, trust_total=self.trust_page_total)

    def get_url_params(self, context: Context | None, next_page_token: t.Any | None) -> dict[str, t.Any]:
        """``fields`` (every schema field) and ``page``/``pageSize`` where the endpoint takes them."""
        params: dict[str, t.Any] = {}
        if self.sends_fields:
            params["fields"] = ",".join(self.api_fields)
        if self.paginated:
            params["page"] = next_page_token or 0
            params["pageSize"] = self.dinero_tap.page_size
        return params

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """Records of the envelope's ``Collection`` or of a bare array.

        Endpoints without ``fields`` answer their whole read model; those rows are cut to the schema's
        properties, naming a field the schema does not know (see :meth:`schema_fields_of`).
        """
        if self.sends_fields:
            yield from page_records(response)
            return
        known = self.schema["properties"]
        for row in page_records(response):
            yield self.schema_fields_of(row, known)

    def schema_fields_of(
        self, row: dict[str, t.Any], known: t.Container[str], where: str = ""
    ) -> dict[str, t.Any]:
        """``row`` cut to the properties ``known`` to the schema, saying so when that drops a field.

        A read without ``fields`` (details, bare arrays) answers Dinero's whole read model, and a field
        Dinero adds later is in no schema: it is left out of the record -- a target makes its columns from
        the SCHEMA message, and singer-sdk drops such properties too when it conforms records -- but not
        silently: the first time a stream meets a field it does not know, one WARNING names it (then the
        schemas need regenerating from a newer contract, ``scripts/derive_tap_schemas.py``).
        """
        unknown = [key for key in row if key not in known]
        if not unknown:
            return row
        self.warn_unknown_fields(unknown, where)
        return {key: value for key, value in row.items() if key in known}

    def warn_unknown_fields(self, names: t.Iterable[str], where: str = "") -> None:
        """One WARNING per stream and field name (see :meth:`schema_fields_of`)."""
        warned: set[str] = self.__dict__.setdefault("_unknown_fields_warned", set())
        new = sorted({f"{where}.{name}" if where else str(name) for name in names} - warned)
        if not new:
            return
        warned.update(new)
        self.logger.warning(
            "Dinero answered field(s) that stream %s's schema does not have: %s. They are left out of the "
            "records (a target makes its columns from the SCHEMA message); a tap-dinero whose schemas know "
            "them emits them.",
            self.name,
            ", ".join(new),
        )

    # ----------------------------------------------------------------------------------- records
    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Records of one partition, read with that organization's client."""
        self._active_org = self.organization_for(context)
        top_level = self.parent_stream_type is None
        if top_level:
            self.progress.start_partition(f" (organization {self._active_org})" if self.org_scoped else "")
        before = self.progress.as_dict()
        for record in self.get_partition_records(context):
            self.progress.records += 1
            yield record
        if top_level:
            after = self.progress.as_dict()
            self.logger.info(
                "Stream %s%s: %d records, %d requests, %.1f s quota wait",
                self.name,
                f" (organization {self._active_org})" if self.org_scoped else "",
                after["records"] - before["records"],
                after["requests"] - before["requests"],
                after["quota_wait_seconds"] - before["quota_wait_seconds"],
            )

    def get_partition_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Records of one partition; the default reads every page of ``path``."""
        yield from self.request_records(context)

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Tag org-scoped rows with their organization id."""
        if self.org_scoped:
            row["organization_id"] = self._active_org or self.organization_for(context)
        return row

    def get_replication_key_signpost(self, context: Context | None = None) -> None:
        """No SDK signpost: incremental streams write a request-clock bookmark themselves."""
        return None

    def log_sync_costs(self) -> None:
        """Log the stream's totals for the run: records, requests, quota wait."""
        if self.progress.requests or self.progress.records:
            self.logger.info("Totals of stream %s: %s", self.name, self.progress.as_dict())


def coverage_grew(
    previous: t.Mapping[str, t.Any], current: t.Mapping[str, list[str]], known: t.Mapping[str, set[str]]
) -> list[str]:
    """What ``current`` emits that ``previous`` did not (``stream`` or ``stream.property``).

    Both map a stream to the properties it leaves out; a stream emits more when it was not covered at
    all, or when something it left out before (and that still exists) is emitted now.
    """
    grew: list[str] = []
    for stream, left_out in current.items():
        before = previous.get(stream)
        if not isinstance(before, list):
            grew.append(stream)
            continue
        now_out = set(left_out)
        grew.extend(
            f"{stream}.{name}"
            for name in sorted({str(n) for n in before})
            if (name in known.get(stream, set()) or name.startswith(STREAM_MAP)) and name not in now_out
        )
    return grew


def _require_json(response: requests.Response) -> None:
    """Raise DineroMalformedResponse unless the body parses as JSON (the parse is cached on the response)."""
    try:
        page_records(response)
    except ValueError:
        raise DineroMalformedResponse.for_response(response) from None


class DetailStream(DineroStream):
    """A child stream reading one detail object per parent record (``GET .../{guid}``).

    A detail that vanished between the list and the detail call (404, or Dinero error 63/65 "item is
    deleted") is skipped with a warning instead of failing the sync.
    """

    state_partitioning_keys: t.ClassVar[list[str]] = ["organization_id"]

    def log(self, message: str, *args: t.Any, level: int = logging.INFO, **kwargs: t.Any) -> None:
        """The SDK's per-sync INFO lines go to DEBUG here: a detail stream is synced once per document."""
        super().log(message, *args, level=logging.DEBUG if level == logging.INFO else level, **kwargs)

    def validate_response(self, response: requests.Response) -> None:
        """Let a vanished detail through (parse_response yields nothing for it)."""
        try:
            raise_for_response(response)
        except DineroAPIError as exc:
            if isinstance(exc, DineroGone):
                self.logger.warning("Skipping %s: %s", self.name, exc)
                return
            raise FatalAPIError(str(exc)) from exc

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """The detail object(s) of a successful response; nothing for a vanished one.

        A detail GET returns the whole read model (no ``fields`` parameter), so rows are cut to the
        schema's properties here, naming a field the schema does not know (see :meth:`schema_fields_of`).
        """
        if response.status_code >= 400:
            return
        known = self.schema["properties"]
        for row in self.parse_detail(decode_json(response.content)):
            yield self.schema_fields_of(row, known)

    def parse_detail(self, detail: dict[str, t.Any]) -> t.Iterable[dict[str, t.Any]]:
        """Rows made from one detail object (default: the object itself)."""
        yield detail
