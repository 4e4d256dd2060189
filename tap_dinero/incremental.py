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
5. The bookmark is kept with what the read emitted (``covers``: the selected streams it fed, each with
   the properties it left out). A bookmark is ignored -- the partition read as on a first run -- when the
   selection now emits more than it covers (a parent selected that was read only for its child, a child
   or a property selected later, ``include_lines``/``include_deleted`` turned on), or when it lies in
   Dinero's future (a clock running ahead wrote it): either way rows older than it would never come.

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
from tap_dinero.client import COVERS_KEY, DELETED_ROWS, DineroStream
from tap_dinero.served import RECENT_MARGIN, ServedRows

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

__all__ = ["BOUNDARY_KEY", "ChangesSinceStream", "bookmark_in_dinero_future", "commit_request_clock_bookmark"]

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


def bookmark_in_dinero_future(stream: DineroStream, bookmark: dt.datetime | None) -> bool:
    """Whether a stored bookmark is later than Dinero's clock at the stream's latest answer (this
    machine's clock without a ``Date`` header).

    Bookmarks are Dinero's clock at the start of a run (see DineroStream.request_clock_bookmark), so a
    later one was written by a clock running ahead -- an older tap's, or one without ``Date`` headers --
    and the rows changed between that run and now were never asked for.

    Tolerance: ``lookback_seconds``. Dinero's servers differ by seconds and a ``Date`` header has whole
    seconds, so a bookmark one server's clock gave can lie seconds past the clock of the server answering
    the next run; a bookmark up to the overlap ahead lost nothing (the read starts ``lookback_seconds``
    before it), and judging it untrusted cost a full read of the stream each time.
    """
    if bookmark is None:
        return False
    tolerance = dt.timedelta(seconds=stream.dinero_tap.lookback_seconds)
    return bookmark - tolerance > (stream.server_clock_last or utc_now())


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
        #: Keys of live rows emitted without what completes them (a document whose detail read failed) and
        #: not shown deleted by the deletion pass: the read is not complete (see note_incomplete).
        self._incomplete: set[str] = set()

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

    def unemitted_properties(self) -> set[str]:
        """The deselected properties, and the deleted rows without ``include_deleted``."""
        left_out = super().unemitted_properties()
        if not self.dinero_tap.include_deleted:
            left_out.add(DELETED_ROWS)
        return left_out

    def changes_since(self, context: Context | None, *, ignore_bookmark: bool = False) -> dt.datetime | None:
        """Start of the change window: bookmark minus the overlap, else ``start_date``, else None.

        ``ignore_bookmark``: as on a first run (``start_date``, else None: everything).
        """
        state = self.get_context_state(context)
        if ignore_bookmark:
            start_date = self.config.get("start_date")
            return parse_api_datetime(str(start_date)) if start_date else None
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

        The partition is read in full (as on a first run) when its bookmark cannot vouch for the rows
        before it: the selection now emits more than the bookmark covers (see
        :meth:`~tap_dinero.client.DineroStream.coverage_grew`), or the bookmark lies in Dinero's future
        (written by a clock running ahead: an older tap's, or a state edited by hand), where the rows
        changed between the run that wrote it and now would be asked for by no run.
        """
        state = self.get_context_state(context)
        local_started = utc_now()
        self.reset_server_clock()
        bookmark = None
        if state.get("replication_key") == self.replication_key:
            bookmark = parse_api_datetime(state.get("replication_key_value"))
        grew = self.coverage_grew(state)
        if grew:
            self.logger.warning(
                "Stream %s (organization %s) now emits what earlier runs left out (%s): reading it in full "
                "once (from start_date, if set), so that rows older than the bookmark get it too.",
                self.name,
                self.organization_for(context),
                ", ".join(grew),
            )
        read = yield from self._read_window(context, state, local_started, full=bool(grew))
        if read is not None and not grew and bookmark_in_dinero_future(self, bookmark):
            self.logger.warning(
                "Stream %s (organization %s): the bookmark %s lies in Dinero's future (its clock read %s), "
                "so it was written by a clock running ahead and cannot vouch for the rows changed before "
                "it; reading the stream in full once (from start_date, if set).",
                self.name,
                self.organization_for(context),
                t.cast("dt.datetime", bookmark).isoformat(),
                (self.server_clock_last or local_started).isoformat(),
            )
            read = yield from self._read_window(context, state, local_started, full=True)
        self._deleted_pass = False
        self._changes_since = None
        if read is None:
            self.logger.error(
                "Stream %s (organization %s) could not be read completely in this run (see above); its "
                "bookmark is not moved, so the next run reads the same window again.",
                self.name,
                self.organization_for(context),
            )
            state.pop(PROGRESS_MARKERS, None)  # keep the SDK from promoting max(UpdatedAt) either
            return
        if read:
            state[BOUNDARY_KEY] = read
        else:
            state.pop(BOUNDARY_KEY, None)
        state[COVERS_KEY] = self.selection_coverage()
        commit_request_clock_bookmark(
            state, self.replication_key, self.request_clock_bookmark(local_started, bookmark)
        )

    def _read_window(
        self, context: Context | None, state: dict[str, t.Any], local_started: dt.datetime, *, full: bool
    ) -> t.Generator[dict[str, t.Any], None, dict[str, str] | None]:
        """Read the change window (``full``: as on a first run) until it settles; yields the rows to
        emit and returns the new ``boundary``, or None when the list kept changing."""
        since = self.changes_since(context, ignore_bookmark=full)
        if since is not None:
            # UpdatedAt may be Danish local time: the hour after the autumn clock change needs more overlap
            since = widen_for_danish_clock_change(since)
        self._changes_since = format_change_filter(since) if since else None
        lookback = dt.timedelta(seconds=self.dinero_tap.lookback_seconds)
        # Set from Dinero's clock once its first answer is in (before the first row is looked at).
        started = overlap_start = recent_start = local_started
        clock_read = False
        # rows the previous run emitted in its overlap are skipped -- unless this is a full read for what
        # that run did not emit (a skipped row would not bring it, e.g. a newly selected child's rows)
        previous: dict[str, str] = {} if full else dict(state.get(BOUNDARY_KEY) or {})
        boundary: dict[str, str] = {}
        key_field = self.primary_key_field
        self._incomplete = set()

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
                        if deleted_pass:
                            self._incomplete.discard(key)  # gone: nothing more to read of it
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
                    if self._incomplete:
                        self.logger.warning(
                            "Stream %s (organization %s): %d live row(s) could not be read in full and are "
                            "not deleted (%s); they are read again in the next run.",
                            self.name,
                            self.organization_for(context),
                            len(self._incomplete),
                            ", ".join(sorted(self._incomplete)[:5]),
                        )
                        return None
                    return boundary
                self.logger.warning(
                    "Stream %s (organization %s) changed while it was paged (read %d of %d); reading it "
                    "again so that no row shifted past a page boundary is missed.",
                    self.name,
                    self.organization_for(context),
                    attempt,
                    self.MAX_READS,
                )
        return None

    def note_incomplete(self, key: str, *, complete: bool) -> None:
        """Say whether the live row ``key`` just emitted carries all it should. A row emitted without what
        completes it -- a document whose detail read answered 404 or "deleted" -- is fine when the
        deletion pass of the same read then shows it deleted; otherwise (a detail that failed for a live
        document) the partition's bookmark is not moved, so the next run reads the row again in full
        instead of leaving an upserting target with a record that lost its lines and fields."""
        if complete:
            self._incomplete.discard(key)
        else:
            self._incomplete.add(key)

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Set ``_sdc_deleted_at`` from ``DeletedAt`` (null for live rows)."""
        row = super().post_process(row, context) or row
        deleted_at = row.get("DeletedAt")
        if self._deleted_pass and not deleted_at:
            deleted_at = row.get("UpdatedAt")  # a deleted row without DeletedAt: its last change
        row["_sdc_deleted_at"] = deleted_at or None
        return row
