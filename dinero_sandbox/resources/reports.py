"""Reports (spec tag ``Reports``): ``/v1/{org}/{accountingYear}/reports/saldo|result|primo|balance``,
computed from the sandbox's own entries of that accounting year (the same ones ``/entries`` serves, primo
included), so they add up:

* saldo: per account, the sum of its entries in the year (primo included) - the rows sum to zero;
* result: result accounts (below 50000), the year's movements;
* primo: the opening balance per balance account (the primo entries);
* balance: balance accounts (50000 and up), closing balances.

``includeSummaryAccount`` (default true) adds one summary row with ``AccountNumber`` 0: "Årets resultat"
(the year's result) to result and balance, so that the balance report's rows sum to zero (the balance sheet
balances once the result is carried to equity). ``showZeroAccount`` (default false) lists accounts without
movements too. ``showAccountNo``, ``showVatType`` and ``includeLedgerEntries`` are accepted and change
nothing (the answer model has only AccountName, AccountNumber, Amount). Unknown year -> 400 code 47.

Cost on the 100 000-invoice seed: the first report about 6 s CPU, later ones (after any writes) about
0.5 s - each booked voucher's postings are kept once derived."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from .. import chart, ledger
from ..amounts import r2
from ..api_common import org_data
from ..errors import DineroError, json_response
from ..listing import parse_bool
from ..orgdata import OrgData
from .common import blueprint

bp = blueprint("reports")
BALANCE_FROM = 50000
RESULT_ROW = "Årets resultat"


def find_year(org: OrgData, name: str) -> dict[str, Any]:
    """An accounting year by name (400 code 47 when unknown)."""
    for year in org.accounting_years:
        if str(year["Name"]).lower() == name.lower():
            return year
    raise DineroError(400, 47, "Accounting year not found", {"accountingYear": f"No accounting year {name}."})


def _postings(org: OrgData, source: ledger.Source) -> tuple[tuple[int, float], ...]:
    """(account, amount) of a booked voucher's entries. A booked voucher's entries never change (a
    deletion adds offsets elsewhere), so they are kept per (table, row, booking and change time): after
    the first report on the 100 000-invoice seed (which regenerates every invoice's lines, as ``/entries``
    does) the next ones, after any number of writes, cost a pass over these tuples."""
    cache: dict[tuple[str, int, str, str], tuple[tuple[int, float], ...]] = org.__dict__.setdefault(
        "_report_postings", {}
    )
    name, row = source
    table = org.table(name)
    key = (name, row, table.cols["_BookedAt"][row], table.cols["UpdatedAt"][row])  # a mutation re-derives
    hit = cache.get(key)
    if hit is None:
        hit = tuple((e["AccountNumber"], e["Amount"]) for e in ledger.entries_of(org, source))
        cache[key] = hit
    return hit


def _add(into: dict[int, float], account: int, amount: float) -> None:
    into[account] = into.get(account, 0.0) + amount


def _opening(org: OrgData, year: dict[str, Any]) -> dict[int, float]:
    """The primo of a year, as ``ledger.primo_entries`` computes it (same order, same rounding)."""
    if year is org.accounting_years[0]:
        return {}
    sums: dict[int, float] = {}
    day = year["FromDate"]
    for source in ledger.booked_sources(org, None, None):
        if ledger.voucher_date(org, source) >= day:
            continue
        for account, amount in _postings(org, source):
            _add(sums, account, amount)
    for e in org.extra_entries:
        if e["Date"] < day:
            _add(sums, e["AccountNumber"], e["Amount"])
    carried: dict[int, float] = {}
    for account, amount in sums.items():
        _add(carried, account if account >= BALANCE_FROM else chart.EQUITY_ACCOUNT, amount)
    return {a: r2(x) for a, x in sorted(carried.items()) if r2(x)}


def sums(org: OrgData, year: dict[str, Any]) -> tuple[dict[int, float], dict[int, float]]:
    """(saldo per account incl. primo, primo per account) - the same figures as summing the year's
    ``/entries`` (primo included) - cached until the organization changes."""
    key = ("reports", year["Name"], org.version, len(org.extra_entries))

    def compute() -> tuple[dict[int, float], dict[int, float]]:
        opening = _opening(org, year)
        saldo: dict[int, float] = {}
        for account, amount in opening.items():
            _add(saldo, account, amount)
        for source in ledger.booked_sources(org, year["FromDate"], year["ToDate"]):
            for account, amount in _postings(org, source):
                _add(saldo, account, amount)
        for e in ledger.extra_entries(org, year["FromDate"], year["ToDate"]):
            _add(saldo, e["AccountNumber"], e["Amount"])
        return saldo, opening

    return org.table("accounts").cached(key, compute)


def _rows(org: OrgData, amounts: dict[int, float], keep: Any) -> list[dict[str, Any]]:
    show_zero = parse_bool(request.args, "showZeroAccount", False)
    accounts = org.table("accounts")
    numbers = set(amounts)
    if show_zero:
        numbers |= set(accounts.cols["AccountNumber"])
    out = []
    for number in sorted(n for n in numbers if keep(n)):
        amount = r2(amounts.get(number, 0.0))
        if not amount and not show_zero:
            continue
        account = org.account(number) or {}
        out.append({"AccountName": account.get("Name"), "AccountNumber": number, "Amount": amount})
    return out


def _with_result(rows: list[dict[str, Any]], result: float) -> list[dict[str, Any]]:
    if parse_bool(request.args, "includeSummaryAccount", True):
        rows.append({"AccountName": RESULT_ROW, "AccountNumber": 0, "Amount": r2(result)})
    return rows


def _result(saldo: dict[int, float]) -> float:
    return sum(a for n, a in saldo.items() if n < BALANCE_FROM)


@bp.get("/v1/<org>/<accounting_year>/reports/saldo")
def saldo_report(accounting_year: str) -> Response:
    """Every account's balance at the end of the year (sum of its entries, primo included)."""
    org = org_data()
    saldo, _ = sums(org, find_year(org, accounting_year))
    return json_response(_rows(org, saldo, lambda n: True))


@bp.get("/v1/<org>/<accounting_year>/reports/result")
def result_report(accounting_year: str) -> Response:
    """Result accounts (income negative, expenses positive, as entries are signed) + the year's result."""
    org = org_data()
    saldo, _ = sums(org, find_year(org, accounting_year))
    return json_response(_with_result(_rows(org, saldo, lambda n: n < BALANCE_FROM), _result(saldo)))


@bp.get("/v1/<org>/<accounting_year>/reports/primo")
def primo_report(accounting_year: str) -> Response:
    """Opening balances of the year."""
    org = org_data()
    _, opening = sums(org, find_year(org, accounting_year))
    return json_response(_rows(org, opening, lambda n: n >= BALANCE_FROM))


@bp.get("/v1/<org>/<accounting_year>/reports/balance")
def balance_report(accounting_year: str) -> Response:
    """Balance accounts at the end of the year + the year's result (the rows sum to zero)."""
    org = org_data()
    saldo, _ = sums(org, find_year(org, accounting_year))
    return json_response(_with_result(_rows(org, saldo, lambda n: n >= BALANCE_FROM), _result(saldo)))
