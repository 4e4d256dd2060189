"""Dinero's own reports per accounting year, and ledger items (kassekladde) read by id.

Reports: ``GET /v1/{org}/{accountingYear}/reports/saldo|result|balance|primo`` -- the trial balance
(saldo), the profit and loss (result), the balance sheet (balance) and the opening balances (primo), one
row per account (``result`` and ``balance`` add Dinero's summary row "Årets resultat" as account 0). The
rows are keyed ``(organization_id, AccountingYear, Report, AccountNumber)`` so targets upsert a re-read
year in place; every account of the chart is asked for (``showZeroAccount``), so an account whose
balance returns to zero gets a row with 0 instead of keeping its old balance in the target.

Replication: FULL_TABLE per accounting year, all years of an organization in its one partition. A year
changes while bookings can still land in it; Dinero does not say when a year is closed, so the latest
``reports_open_years`` years that have begun (default 2: the current one and the previous one, whose
annual accounts are done months after it ends) and any year that has not begun yet are re-read on every
run. An older year is read once more and its name is then
kept in the partition state (``closed_years``); later runs skip it -- unless an entry dated in it changed
since the last run (a correction booked into a past year, a voucher there deleted): each run with closed
years asks ``/entries/changes`` from the previous run's start (``entries_checked``, Dinero's clock) and
reads the years those entries are dated in once more, so their balances in a target never stay stale.
Cost per run: 1 request (the accounting years) + 4 per open year + 1 per 31 days since the last run when
some year is closed; a closed year costs 4 requests once, and again after each correction in it.

Ledger items: Dinero has no list of them. ``POST /v1/{org}/ledgeritems/status`` answers the status of
given ids (Draft, PendingBooking, Booked + VoucherNumber), ``POST .../ledgeritems/ledgers`` the content of
given ids that are still unbooked. The stream reads the ids of the ``ledger_item_ids`` setting (e.g. the
Ids target-dinero chose when it wrote them): 1 status request per 1000 ids + 1 content request per 1000
unbooked ones. A booked item becomes a manual voucher with the item's Id as its Guid, which the
``manual_vouchers`` stream reads through its entries.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from urllib.parse import quote

from singer_sdk.exceptions import FatalAPIError

from dinero_api.dates import parse_api_datetime, utc_now, widen_for_danish_clock_change
from dinero_api.envelope import decode_json
from dinero_api.errors import DineroAPIError, raise_for_response
from tap_dinero.client import COVERS_KEY, DineroStream
from tap_dinero.incremental import bookmark_in_dinero_future
from tap_dinero.streams.ledger import change_windows

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

__all__ = ["REPORTS", "LedgerItemsStream", "ReportsStream", "open_accounting_years"]

#: The reports read for each accounting year, in this order.
REPORTS = ("saldo", "result", "balance", "primo")
#: Partition-state key listing the accounting years read as closed (never read again).
CLOSED_YEARS_KEY = "closed_years"
#: Partition-state key: Dinero's clock at the start of the last run; closed years are re-read when entries
#: dated in them changed since (``/entries/changes``).
CHECKED_KEY = "entries_checked"
#: Partition-state key listing the configured ledger-item ids Dinero refused (deleted): not asked again.
REFUSED_IDS_KEY = "refused_ids"
#: Most ids Dinero takes in one ledger-item request ("maximum number of ledger items in a ledger").
LEDGER_BATCH = 1000


def open_accounting_years(dated: list[tuple[str, str]], count: int, today: dt.date) -> set[str]:
    """Names of the years re-read every run: the latest ``count`` that have begun, and any that has not
    (a year Dinero created early because a voucher was dated into it does not push the previous one,
    still being closed, out of the open years)."""
    begun = [name for start, name in dated if not start or start <= today.isoformat()]
    future = {name for start, name in dated if start and start > today.isoformat()}
    return set(begun[-count:]) | future


class ReportsStream(DineroStream):
    """Saldo, result, balance and primo reports of each accounting year (see the module docstring)."""

    name = "reports"
    path = "/v1/{organization_id}/accountingyears"
    schema_name = "report"
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "AccountingYear", "Report", "AccountNumber"]
    whole_table_each_run = False  # closed years are not read again: no ACTIVATE_VERSION

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """Start outside any report."""
        super().__init__(*args, **kwargs)
        self._year: str | None = None
        self._report: str | None = None

    def get_partition_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Every report of the open years and of closed years not yet read as closed."""
        state = self.get_context_state(context)
        closed = {str(name) for name in state.get(CLOSED_YEARS_KEY) or []}
        grew = self.coverage_grew(state) if closed else []
        if grew:
            self.logger.warning(
                "Stream %s (organization %s) now emits what earlier runs left out (%s): reading the closed "
                "years once more.",
                self.name,
                self.organization_for(context),
                ", ".join(grew),
            )
            closed = set()
        started = utc_now()
        self.reset_server_clock()
        checked = (
            parse_api_datetime(state.get(CHECKED_KEY)) if isinstance(state.get(CHECKED_KEY), str) else None
        )
        years = self.fetch_json(context, "/v1/{organization_id}/accountingyears") or []
        dated = sorted(
            (str(year.get("FromDate") or "")[:10], str(year["Name"]))
            for year in years
            if isinstance(year, dict) and year.get("Name")
        )
        names = [name for _, name in dated]
        open_years = open_accounting_years(dated, self.dinero_tap.reports_open_years, utc_now().date())
        if checked is not None and bookmark_in_dinero_future(self, checked):
            # written by a clock running ahead: the corrections since that run were asked for by no run
            self.logger.warning(
                "Stream %s (organization %s): %s %s lies in Dinero's future; reading the closed years again.",
                self.name,
                self.organization_for(context),
                CHECKED_KEY,
                checked.isoformat(),
            )
            closed, checked = set(), None
        if closed and checked is None:
            # a state from before closed years were checked: the corrections booked into them since it was
            # written were asked for by no run, so they are read once more (then checked from this run on)
            self.logger.warning(
                "Stream %s (organization %s): the state has closed years but no %s (written by an older "
                "tap); reading them once more so that corrections booked into them since are not missed.",
                self.name,
                self.organization_for(context),
                CHECKED_KEY,
            )
            closed = set()
        if closed - open_years and checked is not None:
            changed = self._years_with_entry_changes(context, years, checked) & closed
            if changed:
                self.logger.info(
                    "Stream %s (organization %s): entries dated in closed year(s) %s changed since the last "
                    "run; reading their reports again.",
                    self.name,
                    self.organization_for(context),
                    ", ".join(sorted(changed)),
                )
                closed -= changed
        for name in names:
            if name in closed and name not in open_years:
                continue
            for report in REPORTS:
                self._year, self._report = name, report
                self.path = f"/v1/{{organization_id}}/{quote(name, safe='')}/reports/{report}"
                yield from self.request_records(context)
            if name not in open_years:
                closed.add(name)
        self._year = self._report = None
        self.path = type(self).path
        if closed:
            state[CLOSED_YEARS_KEY] = sorted(closed)
        state[COVERS_KEY] = self.selection_coverage()
        state[CHECKED_KEY] = self.request_clock_bookmark(started, checked).isoformat()

    def _years_with_entry_changes(
        self, context: Context | None, years: list[t.Any], since: dt.datetime
    ) -> set[str]:
        """Names of the accounting years in which an entry dated there changed at or after ``since``
        (minus the overlap): ``/entries/changes`` up to Dinero's clock, one request per 31 days. A
        correction in an earlier year re-sends the later years' primo rows, dated on their first day,
        so those years are named too (their primo report changed)."""
        spans = [
            (str(y.get("FromDate") or "")[:10], str(y.get("ToDate") or "")[:10], str(y["Name"]))
            for y in years
            if isinstance(y, dict) and y.get("Name") and y.get("FromDate") and y.get("ToDate")
        ]
        start = widen_for_danish_clock_change(since - dt.timedelta(seconds=self.dinero_tap.lookback_seconds))
        until = max(self.server_clock_last or utc_now(), start + dt.timedelta(seconds=1))
        hit: set[str] = set()
        for path, params in change_windows(start, until, self.dinero_tap.entries_window_days):
            for entry in self.fetch_json(context, path, params) or []:
                day = str(entry.get("Date") or "")[:10] if isinstance(entry, dict) else ""
                hit.update(name for first, last, name in spans if day and first <= day <= last)
        return hit

    def get_url_params(self, context: Context | None, next_page_token: t.Any | None) -> dict[str, t.Any]:
        """``showZeroAccount=true`` on the reports: Dinero leaves zero-balance accounts out by default, so
        an account whose balance returns to zero in a re-read year (a voucher reversed, a clearing
        account settled) would have no row, and an upserting target would keep its old balance."""
        params = super().get_url_params(context, next_page_token)
        if self._report is not None:
            params["showZeroAccount"] = "true"
        return params

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:
        """Tag the row with its year and report."""
        row = super().post_process(row, context) or row
        row["AccountingYear"] = self._year
        row["Report"] = self._report
        return row


class LedgerItemsStream(DineroStream):
    """Ledger items named by ``ledger_item_ids``: status of each, content of the unbooked ones."""

    name = "ledger_items"
    path = "/v1/{organization_id}/ledgeritems/status"
    schema_name = "ledger_item"
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "Id"]

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        """Start outside a ledger-item request."""
        super().__init__(*args, **kwargs)
        self._tolerate_refusal = False
        self._refused: set[str] = set()
        self._synced_at = utc_now().isoformat()

    @classmethod
    def build_schema(cls) -> dict[str, t.Any]:
        """The ledger-item read model plus ``_sdc_deleted_at`` (set on an id Dinero refuses: deleted)."""
        schema = super().build_schema()
        schema["properties"]["_sdc_deleted_at"] = {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "Set when Dinero refused the id (deleted): the run's start (tap-added)",
        }
        return schema

    def get_partition_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Status (+ content while unbooked) of each configured id; no request without ids. An id Dinero
        refuses (a deleted item) is emitted as a row with only its Id and ``_sdc_deleted_at``.

        An id Dinero refused (a deleted item) is kept in the partition state and not asked again: one
        such id makes Dinero refuse its whole batch, which is then asked id by id -- a request per
        configured id and a 400 per refused one, paid once instead of on every run (Dinero revokes
        integrations that cause many 400s). Remove the id from ``ledger_item_ids``, or ``refused_ids``
        from the state, to ask again.
        """
        state = self.get_context_state(context)
        configured = self.dinero_tap.ledger_item_ids
        refused = {str(item).lower() for item in state.get(REFUSED_IDS_KEY) or []} & set(configured)
        if refused:
            self.logger.warning(
                "Skipping %d ledger item id(s) Dinero refused in an earlier run (deleted): %s. Remove them "
                "from ledger_item_ids, or '%s' from the state to ask again.",
                len(refused),
                ", ".join(sorted(refused)),
                REFUSED_IDS_KEY,
            )
        self._refused = set(refused)
        ids = [item for item in configured if item not in refused]
        yield from self._read_ids(context, ids)
        for item in sorted(self._refused):  # gone: a target that holds the item must drop it
            yield {"Id": item, "_sdc_deleted_at": self._synced_at}
        if self._refused:
            state[REFUSED_IDS_KEY] = sorted(self._refused)
        else:
            state.pop(REFUSED_IDS_KEY, None)

    def _read_ids(self, context: Context | None, ids: list[str]) -> t.Iterable[dict[str, t.Any]]:
        """Status (+ content while unbooked) of ``ids``, 1000 per request."""
        known = self.schema["properties"]
        for start in range(0, len(ids), LEDGER_BATCH):
            batch = ids[start : start + LEDGER_BATCH]
            statuses = self._post_ids(context, "/v1/{organization_id}/ledgeritems/status", batch)
            drafts = [str(s["Id"]).lower() for s in statuses if str(s.get("Status") or "").lower() == "draft"]
            content = {
                str(item.get("Id")).lower(): item
                for item in self._post_ids(context, "/v1/{organization_id}/ledgeritems/ledgers", drafts)
            }
            for status in statuses:
                row = {**content.get(str(status["Id"]).lower(), {}), **status}
                yield self.schema_fields_of(row, known)

    def _post_ids(self, context: Context | None, path: str, ids: list[str]) -> list[dict[str, t.Any]]:
        """POST ``[{Id}]`` and return the answer's objects. Dinero refuses a whole batch (400) when one id
        does not exist (a deleted item): the batch is then asked id by id and the refused ids are skipped
        with a warning, so one deleted item does not stop every run."""
        if not ids:
            return []
        answer = self._post(context, path, ids)
        if answer is not None:
            return answer
        if len(ids) == 1:
            self._refuse(ids[0])
            return []
        out: list[dict[str, t.Any]] = []
        for item in ids:
            single = self._post(context, path, [item])
            if single is None:
                self._refuse(item)
                continue
            out.extend(single)
        return out

    def _refuse(self, item: str) -> None:
        """Skip an id Dinero refused, and remember it so later runs do not ask again."""
        self.logger.warning(
            "Ledger item %s cannot be read (Dinero refused it); skipped, and not asked again in later runs.",
            item,
        )
        self._refused.add(item.lower())

    def _post(self, context: Context | None, path: str, ids: list[str]) -> list[dict[str, t.Any]] | None:
        """The answer's objects, or None when Dinero refused the ids (400)."""
        url = self.url_base + path.replace("{organization_id}", self.organization_for(context))
        prepared = self.build_prepared_request(
            method="POST", url=url, json=[{"Id": item} for item in ids], headers=self.http_headers
        )
        self._tolerate_refusal = True
        try:
            response = self.send_prepared(prepared, context)
        finally:
            self._tolerate_refusal = False
        if response.status_code == 400:
            return None
        body = decode_json(response.content)
        return [item for item in body or [] if isinstance(item, dict) and item.get("Id")]

    def validate_response(self, response: requests.Response) -> None:
        """A refused batch (400: an id that does not exist) is let through to be split or skipped;
        anything else fails as usual."""
        try:
            raise_for_response(response)
        except DineroAPIError as exc:
            if self._tolerate_refusal and response.status_code == 400:
                return
            raise FatalAPIError(str(exc)) from exc
