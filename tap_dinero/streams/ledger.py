"""The general ledger: entries and the manual and purchase vouchers their ``VoucherGuid`` points at.

Accounting entries (the booked ledger), incremental through Dinero's entry-change endpoint.

* First run of an organization: ``GET /v1/{org}/entries?fromDate&toDate`` once per calendar month of each
  accounting year (Dinero refuses ranges that cross years), from ``entries_start_date`` (or
  ``start_date``) on. The answer is one JSON array, so a whole year in one request held the year's entries
  in memory at once (450 MiB peak RSS for the 420 000 entries of the sandbox's large seed); a month bounds
  it. The cost is 12 requests per accounting year instead of 1, once per organization. The primo rows
  (opening balances) come with the year's first window; later windows ask ``includePrimo=false``.
* Later runs: ``GET /v1/{org}/entries/changes?changesFrom&changesTo`` in windows of at most
  ``entries_window_days`` (Dinero's limit is 31 days) from the bookmark minus ``lookback_seconds`` up to
  the request clock at the start of the run. A bookmark that lies in Dinero's future (a clock running
  ahead wrote it), or one that does not cover the vouchers streams now selected (``covers``), is read
  past as on a first run, by accounting year.

Entries have no update timestamp, so each row carries ``_sdc_synced_at`` -- the request clock of the run
that read it -- which is also the replication key; the bookmark is that clock. Primo rows come back with
the account's current opening balance under the same ``EntryGuid`` (key ``EntryGuid``: targets upsert).
A row read twice in one run (adjacent change windows share their boundary second) is emitted once unless
its content changed; only the fingerprints of the previous and the current window are kept, so memory does
not grow with the ledger.

Manual and purchase vouchers, reached through ledger entries (Dinero has no list endpoint for them).

Both are child streams of ``entries``: for every new ``VoucherGuid`` an entry of the matching
``VoucherType`` (see :mod:`tap_dinero.vouchers`) shows in this run, the tap reads the voucher's detail
once. Only booked vouchers have entries, so drafts are not reachable; a voucher changed later (e.g.
deleted, which books offsetting entries) shows up again in the entry changes and is read again.
"""

from __future__ import annotations

import datetime as dt
import json
import typing as t

from dinero_api.dates import (
    format_change_filter,
    parse_api_datetime,
    utc_now,
    whole_second,
    widen_for_danish_clock_change,
)
from tap_dinero.client import COVERS_KEY, DetailStream, DineroStream
from tap_dinero.incremental import DELETED_AT, bookmark_in_dinero_future, commit_request_clock_bookmark
from tap_dinero.voucher_types import MANUAL, PURCHASE, voucher_kind

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

__all__ = ["EntriesStream", "ManualVouchersStream", "PurchaseVouchersStream", "change_windows", "month_spans"]

SYNCED_AT = {
    "type": "string",
    "format": "date-time",
    "description": "Request clock (UTC) of the sync run that read this row (tap-added; replication key)",
}
ENTRIES_PATH = "/v1/{organization_id}/entries"
CHANGES_PATH = "/v1/{organization_id}/entries/changes"

Window = tuple[str, dict[str, str]]


class EntriesStream(DineroStream):
    """Ledger entries: per accounting year first, then by change windows."""

    name = "entries"
    path = ENTRIES_PATH
    schema_name = "entry"
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "EntryGuid"]
    replication_key = "_sdc_synced_at"
    owns_bookmark = True  # the request clock, committed after the last window
    is_sorted = False

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """Set up per-window request parameters."""
        super().__init__(*args, **kwargs)
        self._window_params: dict[str, str] = {}
        self._vouchers_seen: set[tuple[str, str]] = set()

    @classmethod
    def build_schema(cls) -> dict[str, t.Any]:
        """The entry read model plus ``_sdc_synced_at``."""
        schema = super().build_schema()
        schema["properties"]["_sdc_synced_at"] = dict(SYNCED_AT)
        return schema

    def get_url_params(self, context: Context | None, next_page_token: t.Any | None) -> dict[str, t.Any]:
        """The date or change window being read."""
        return {**super().get_url_params(context, next_page_token), **self._window_params}

    # ------------------------------------------------------------------------------ windows
    def _first_day(self) -> dt.date | None:
        raw = self.config.get("entries_start_date") or self.config.get("start_date")
        parsed = parse_api_datetime(str(raw)) if raw else None
        return parsed.date() if parsed else None

    def year_windows(self, context: Context | None) -> list[Window]:
        """``fromDate``/``toDate`` windows of one calendar month each within every accounting year (bounded
        by the start date); windows after a year's first ask ``includePrimo=false``."""
        first_day = self._first_day()
        years = self.fetch_json(context, "/v1/{organization_id}/accountingyears") or []
        windows: list[Window] = []
        for year in sorted(years, key=lambda y: str(y.get("FromDate") or "")):
            start, end = year.get("FromDate"), year.get("ToDate")
            if not start or not end:
                continue
            start_day = dt.date.fromisoformat(str(start)[:10])
            end_day = dt.date.fromisoformat(str(end)[:10])
            if first_day and end_day < first_day:
                continue
            if first_day and start_day < first_day:
                start_day = first_day
            for month_start, month_end in month_spans(start_day, end_day):
                params = {"fromDate": month_start.isoformat(), "toDate": month_end.isoformat()}
                if month_start != start_day:
                    params["includePrimo"] = "false"  # the year's primo rows came with its first window
                windows.append((ENTRIES_PATH, params))
        return windows

    def change_windows(self, since: dt.datetime, until: dt.datetime) -> list[Window]:
        """``changesFrom``/``changesTo`` windows of at most ``entries_window_days`` covering the range."""
        return change_windows(since, until, self.dinero_tap.entries_window_days)

    # ------------------------------------------------------------------------------ records
    def get_partition_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Entries of the partition's first load or of the change windows since its bookmark."""
        state = self.get_context_state(context)
        started = utc_now()
        self.reset_server_clock()
        bookmark = None
        if state.get("replication_key") == self.replication_key:
            bookmark = parse_api_datetime(state.get("replication_key_value"))
        grew = self.coverage_grew(state) if bookmark is not None else []
        if grew:
            self.logger.warning(
                "Stream %s (organization %s) now emits what earlier runs left out (%s): reading the ledger "
                "in full once, so that entries older than the bookmark bring it too.",
                self.name,
                self.organization_for(context),
                ", ".join(grew),
            )
            bookmark = None
        covered = started  # change windows read up to here (extended to Dinero's clock below)
        if bookmark is None:
            windows = self.year_windows(context)
        else:
            since = bookmark - dt.timedelta(seconds=self.dinero_tap.lookback_seconds)
            # booking times may be Danish local time: more overlap across the autumn clock change
            since = widen_for_danish_clock_change(since)
            # at least one window, whose answer tells Dinero's clock (ours may be behind the bookmark)
            covered = max(started, since + dt.timedelta(seconds=1))
            windows = self.change_windows(since, covered)

        synced_at = started.isoformat()
        seen_before: dict[str, int] = {}  # fingerprints of the previous window
        self._vouchers_seen = set()
        distrusted = extended = False
        while True:
            for path, params in windows:
                self.path = path
                self._window_params = params
                seen: dict[str, int] = {}
                for record in self.request_records(context):
                    fingerprint = hash(json.dumps(record, sort_keys=True, default=str))
                    key = str(record.get("EntryGuid"))
                    if seen.get(key, seen_before.get(key)) == fingerprint:
                        continue
                    seen[key] = fingerprint
                    record["_sdc_synced_at"] = synced_at
                    yield record
                seen_before = seen
            if bookmark is not None and not distrusted and bookmark_in_dinero_future(self, bookmark):
                # written by a clock running ahead: the entries booked between the run that wrote it and
                # now were asked for by no run, so the ledger is read as on a first run
                self.logger.warning(
                    "Stream %s (organization %s): the bookmark %s lies in Dinero's future (its clock read "
                    "%s), so it cannot vouch for the entries booked before it; reading the ledger in full "
                    "once.",
                    self.name,
                    self.organization_for(context),
                    bookmark.isoformat(),
                    (self.server_clock_last or started).isoformat(),
                )
                distrusted = True
                windows = self.year_windows(context)
                continue
            # Dinero's clock ahead of ours: the change windows end at our clock, before the bookmark the
            # next run starts from (Dinero's clock at the first answer), so read on up to Dinero's clock,
            # once (the first load reads by date, which has no such end).
            first = self.server_clock_first
            if bookmark is None or distrusted or extended or first is None or covered >= first:
                break
            if not self.server_clock_last:
                break
            windows = self.change_windows(covered, self.server_clock_last)
            covered = self.server_clock_last
            extended = True
        self.path = ENTRIES_PATH
        self._window_params = {}
        # Dinero's clock at its first answer, not ours (see DineroStream.note_server_clock)
        clock = self.request_clock_bookmark(started, bookmark)
        state[COVERS_KEY] = self.selection_coverage()
        commit_request_clock_bookmark(state, self.replication_key, clock)

    def generate_child_contexts(
        self, record: dict[str, t.Any], context: Context | None
    ) -> t.Iterable[Context | None]:
        """A voucher context the first time a manual/purchase voucher's Guid shows up in this run."""
        kind = voucher_kind(record.get("VoucherType"))
        guid = record.get("VoucherGuid")
        if not kind or not guid or (kind, str(guid)) in self._vouchers_seen:
            return
        self._vouchers_seen.add((kind, str(guid)))
        yield {
            "organization_id": self.organization_for(context),
            "voucher_guid": str(guid),
            "voucher_kind": kind,
        }


def change_windows(since: dt.datetime, until: dt.datetime, days: int) -> list[Window]:
    """``/entries/changes`` windows of at most ``days`` covering ``[since, until]`` (whole seconds, the
    end rounded up; adjacent windows share their boundary second, Dinero's bounds being inclusive)."""
    step = dt.timedelta(days=days)
    windows: list[Window] = []
    start, until = whole_second(since), whole_second(until, round_up=True)
    while start < until:
        end = min(start + step, until)
        windows.append(
            (
                CHANGES_PATH,
                {"changesFrom": format_change_filter(start), "changesTo": format_change_filter(end)},
            )
        )
        start = end
    return windows


def month_spans(first: dt.date, last: dt.date) -> list[tuple[dt.date, dt.date]]:
    """``[first, last]`` cut at calendar-month ends: ``(start, end)`` days, both inclusive."""
    spans: list[tuple[dt.date, dt.date]] = []
    start = first
    while start <= last:
        next_month = (start.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        end = min(next_month - dt.timedelta(days=1), last)
        spans.append((start, end))
        start = end + dt.timedelta(days=1)
    return spans


class _VoucherStream(DetailStream):
    """A voucher read by the Guid its entries carry.

    Vouchers have no list, so no ``deletedOnly`` pass either: a deleted voucher shows only in its detail
    read (its offsetting entries bring it up again). However Dinero answers that read -- 200 with
    ``DeletedAt``, 400 code 63/65, 404 -- the row is emitted with ``_sdc_deleted_at``, so a target never
    keeps a deleted voucher (and its amounts) as booked.
    """

    parent_stream_type = EntriesStream
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "Guid"]
    #: The voucher kind this stream reads (contexts of the other kind are ignored without a request).
    voucher_kind: t.ClassVar[str]

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """Start with no voucher; a voucher found gone is stamped deleted at the run's start."""
        super().__init__(*args, **kwargs)
        self._voucher_guid: str | None = None
        self._synced_at = utc_now().isoformat()

    @classmethod
    def build_schema(cls) -> dict[str, t.Any]:
        """The voucher read model plus ``DeletedAt`` and ``_sdc_deleted_at``."""
        schema = super().build_schema()
        schema["properties"].setdefault("DeletedAt", dict(DELETED_AT, description="When Dinero deleted it"))
        schema["properties"]["_sdc_deleted_at"] = dict(DELETED_AT)
        return schema

    def get_partition_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Read the voucher named by the context if it is of this stream's kind."""
        if (context or {}).get("voucher_kind") != self.voucher_kind:
            return
        self._voucher_guid = str((context or {}).get("voucher_guid"))
        yield from self.request_records(context)

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """The voucher; for one Dinero says is gone (validate_response let only that through) a row with
        its Guid and ``_sdc_deleted_at``: the voucher was read before (its entries brought it up)."""
        if response.status_code >= 400:
            yield {"Guid": self._voucher_guid, "DeletedAt": None, "_sdc_deleted_at": self._synced_at}
            return
        yield from super().parse_response(response)

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """``_sdc_deleted_at`` from ``DeletedAt`` (null for a live voucher)."""
        row = super().post_process(row, context) or row
        row["_sdc_deleted_at"] = row.get("_sdc_deleted_at") or row.get("DeletedAt") or None
        return row


class ManualVouchersStream(_VoucherStream):
    """Manual vouchers: ``GET /v1/{org}/vouchers/manuel/{guid}`` (the path is spelled "manuel")."""

    name = "manual_vouchers"
    path = "/v1/{organization_id}/vouchers/manuel/{voucher_guid}"
    schema_name = "manual_voucher"
    voucher_kind = MANUAL


class PurchaseVouchersStream(_VoucherStream):
    """Purchase vouchers: ``GET /v1/{org}/vouchers/purchase/{guid}``."""

    name = "purchase_vouchers"
    path = "/v1/{organization_id}/vouchers/purchase/{voucher_guid}"
    schema_name = "purchase_voucher"
    voucher_kind = PURCHASE
