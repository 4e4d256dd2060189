"""Incremental sync for lists that take ``changesSince`` and ``deletedOnly``.

How a partition (one organization) is read:

1. ``since`` = the partition's bookmark minus ``lookback_seconds`` (or ``start_date`` on the first run,
   or nothing at all: then the first run reads everything).
2. Pass 1 pages through ``?changesSince=since`` (created or updated rows; Dinero's filter is inclusive).
3. Pass 2 (``include_deleted``) pages through ``?deletedOnly=true&changesSince=since``; those rows carry
   ``DeletedAt`` and get ``_sdc_deleted_at`` so targets can soft-delete them.
4. The new bookmark is the request clock taken *before* pass 1 (REFERENCE §3.5: ``UpdatedAt`` has no
   offset and may be Danish local time, so ``max(UpdatedAt)`` could sit hours in the future) -- Dinero's
   clock, read from the ``Date`` header of the first answer, not this machine's: a local clock ahead of
   Dinero's by more than the overlap would put the bookmark in Dinero's future and lose the changes
   made before Dinero's clock gets there (the local clock only where Dinero sends no ``Date``).

The overlap makes the next run re-read rows changed shortly before the bookmark. To not emit them twice,
the partition state keeps ``boundary``: ``{key: "UpdatedAt|DeletedAt"}`` for every row read whose
``UpdatedAt`` falls inside the overlap; a re-read row with the same stamp is skipped. The set holds only
rows changed in the last ``lookback_seconds`` before a sync, so it stays small.

Pages are offsets: a row updated or deleted on an already-read page while the list is being paged
shifts later rows back, and one row slips past a page boundary unseen. A key served twice (or served
live and then by the deletion pass) reveals that, and the list is read again (see
``ChangesSinceStream.get_partition_records``). What was served and emitted is tracked by
:class:`tap_dinero.served.ServedRows` in memory that does not grow with the list: the last page or two of
keys, the few rows changed around the run, and a temporary file that is loaded into SQLite only when a
list has to be read again.

State is written in the SDK's own shape (``replication_key``/``replication_key_value`` per partition);
while a partition is running its progress sits in the SDK's ``progress_markers``, so a run that is
killed leaves the previous bookmark in place and the next run re-reads from there: nothing is lost.
"""

from __future__ import annotations

import datetime as dt
import typing as t

from dinero_api.dates import format_change_filter, parse_api_datetime, utc_now, widen_for_danish_clock_change
from dinero_api.sdk_adapter import PROGRESS_MARKER_NOTE, PROGRESS_MARKERS
from tap_dinero.client import DineroStream
from tap_dinero.served import RECENT_MARGIN, ServedRows

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

__all__ = ["BOUNDARY_KEY", "ChangesSinceStream", "commit_request_clock_bookmark"]

BOUNDARY_KEY = "boundary"
DELETED_AT = {
    "type": ["string", "null"],
    "format": "date-time",
    "description": "When Dinero deleted the row (tap-added from DeletedAt; null while the row exists)",
}


def commit_request_clock_bookmark(
    state: dict[str, t.Any], replication_key: str, started: dt.datetime
) -> None:
    """Make ``started`` the bookmark the SDK promotes when it finalizes this partition's state."""
    markers = state.setdefault(
        PROGRESS_MARKERS, {PROGRESS_MARKER_NOTE: "Progress is not resumable if interrupted."}
    )
    markers["replication_key"] = replication_key
    markers["replication_key_value"] = started.isoformat()


class ChangesSinceStream(DineroStream):
    """A paged envelope list read incrementally by ``changesSince`` with a deletion pass."""

    replication_key = "UpdatedAt"
    owns_bookmark = True  # the request clock, committed in get_partition_records
    #: How many times a list that changes while it is paged is read before giving up for this run.
    MAX_READS = 3
    is_sorted = False  # invoices and credit notes cannot be sorted by UpdatedAt (REFERENCE §3.5)
    paginated = True
    sends_fields = True

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """Set up the per-pass request parameters."""
        super().__init__(*args, **kwargs)
        self._changes_since: str | None = None
        self._deleted_pass = False

    @classmethod
    def build_schema(cls) -> dict[str, t.Any]:
        """The read model plus ``_sdc_deleted_at``."""
        schema = super().build_schema()
        schema["properties"]["_sdc_deleted_at"] = dict(DELETED_AT)
        return schema

    @property
    def primary_key_field(self) -> str:
        """The Dinero key of a row (``Guid``, ``ContactGuid``, ...)."""
        return next(key for key in self.primary_keys if key != "organization_id")

    @property
    def trust_page_total(self) -> bool:  # type: ignore[override]
        """Counts are trusted on the normal pass only (see tap_dinero.pagination)."""
        return not self._deleted_pass

    def changes_since(self, context: Context | None) -> dt.datetime | None:
        """Start of the change window: bookmark minus the overlap, else ``start_date``, else None."""
        state = self.get_context_state(context)
        start = self.get_starting_timestamp(context)
        if start is None:
            return None
        if state.get("replication_key") == self.replication_key and state.get("replication_key_value"):
            start -= dt.timedelta(seconds=self.dinero_tap.lookback_seconds)
        return start

    def get_url_params(self, context: Context | None, next_page_token: t.Any | None) -> dict[str, t.Any]:
        """Add ``changesSince`` and, on the deletion pass, ``deletedOnly=true``."""
        params = super().get_url_params(context, next_page_token)
        if self._changes_since:
            params["changesSince"] = self._changes_since
        if self._deleted_pass:
            params["deletedOnly"] = "true"
        return params

    def get_partition_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Changed rows, then deleted rows, without rows already emitted by the previous run.

        Pages are offsets, so a row updated or deleted on an already-read page while the list is being
        paged shifts later rows back by one, and one row at a page boundary is never served. Such a
        disturbance shows as a key served twice, or a row served live and then by the deletion pass;
        the list is then read again (rows already emitted are not emitted twice), up to
        ``MAX_READS`` times. If it never settles, the bookmark is left where it was, so the next run
        reads the same window again instead of losing rows.
        """
        state = self.get_context_state(context)
        local_started = utc_now()
        self.reset_server_clock()
        since = self.changes_since(context)
        if since is not None:
            # UpdatedAt may be Danish local time: the hour after the autumn clock change needs more overlap
            since = widen_for_danish_clock_change(since)
        self._changes_since = format_change_filter(since) if since else None
        lookback = dt.timedelta(seconds=self.dinero_tap.lookback_seconds)
        # Set from Dinero's clock once its first answer is in (before the first row is looked at).
        started = overlap_start = recent_start = local_started
        clock_read = False
        previous: dict[str, str] = dict(state.get(BOUNDARY_KEY) or {})
        boundary: dict[str, str] = {}
        key_field = self.primary_key_field

        settled = False
        with ServedRows(self.dinero_tap.page_size) as served:
            for attempt in range(1, self.MAX_READS + 1):
                served.start_read(attempt)
                passes = [False, True] if self.dinero_tap.include_deleted else [False]
                for deleted_pass in passes:
                    self._deleted_pass = deleted_pass
                    served.start_pass(deleted=deleted_pass)
                    for record in self.request_records(context):
                        if not clock_read:
                            clock_read = True
                            started = self.request_clock_bookmark(local_started, None)
                            overlap_start = started - lookback
                            recent_start = min(overlap_start, started - RECENT_MARGIN)
                        key = str(record.get(key_field))
                        stamp = f"{record.get('UpdatedAt')}|{record.get('DeletedAt')}"
                        updated = parse_api_datetime(record.get("UpdatedAt"))
                        if updated is not None and updated >= overlap_start:
                            boundary[key] = stamp
                        recent = updated is None or updated >= recent_start
                        if deleted_pass and not recent:
                            deleted = parse_api_datetime(record.get("DeletedAt"))
                            recent = deleted is None or deleted >= recent_start
                        # skip rows read in the overlap of the previous run, or already in this one
                        if served.serve(key, stamp, recent=recent, wanted=previous.get(key) != stamp):
                            yield record
                if not served.finish_read():
                    settled = True
                    break
                self.logger.warning(
                    "Stream %s (organization %s) changed while it was paged (read %d of %d); reading it "
                    "again so that no row shifted past a page boundary is missed.",
                    self.name,
                    self.organization_for(context),
                    attempt,
                    self.MAX_READS,
                )
        self._deleted_pass = False
        self._changes_since = None
        if not settled:
            self.logger.error(
                "Stream %s (organization %s) kept changing while it was paged; its bookmark is not moved, so "
                "the next run reads the same window again.",
                self.name,
                self.organization_for(context),
            )
            state.pop(PROGRESS_MARKERS, None)  # keep the SDK from promoting max(UpdatedAt) either
            return
        if boundary:
            state[BOUNDARY_KEY] = boundary
        else:
            state.pop(BOUNDARY_KEY, None)
        previous = None
        if state.get("replication_key") == self.replication_key:
            previous = parse_api_datetime(state.get("replication_key_value"))
        commit_request_clock_bookmark(
            state, self.replication_key, self.request_clock_bookmark(local_started, previous)
        )

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Set ``_sdc_deleted_at`` from ``DeletedAt`` (null for live rows)."""
        row = super().post_process(row, context) or row
        deleted_at = row.get("DeletedAt")
        if self._deleted_pass and not deleted_at:
            deleted_at = row.get("UpdatedAt")  # a deleted row without DeletedAt: its last change
        row["_sdc_deleted_at"] = deleted_at or None
        return row
