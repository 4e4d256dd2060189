"""Answers a bookkeeper asks, in SQL, from the DuckDB file the quick start loaded tap-dinero's output into.

    <target-duckdb's python> scripts/quickstart_sql.py output/warehouse.duckdb

Run with the Python of Meltano's target-duckdb plugin (it has ``duckdb``; the project does not depend on
it). Tables are in schema ``dinero``; target-duckdb lower-cases Dinero's column names.

* revenue per month: booked and paid sales invoices (not drafts, not deleted), amounts excl. VAT in DKK;
* top customers by the same revenue;
* a trial balance of the latest accounting year from the ledger entries (its opening "primo" rows
  included): debit and credit per account, which must sum to zero.
"""

from __future__ import annotations

import sys
from typing import Any

import duckdb

REVENUE_PER_MONTH = """
    SELECT substr(date, 1, 7) AS month, count(*) AS invoices, round(sum(totalexclvatindkk), 2) AS revenue_dkk
    FROM dinero.invoices
    WHERE status <> 'Draft' AND deletedat IS NULL
    GROUP BY 1 ORDER BY 1 DESC LIMIT 12
"""
TOP_CUSTOMERS = """
    SELECT contactname AS customer, count(*) AS invoices, round(sum(totalexclvatindkk), 2) AS revenue_dkk
    FROM dinero.invoices
    WHERE status <> 'Draft' AND deletedat IS NULL
    GROUP BY 1 ORDER BY 3 DESC LIMIT 5
"""
TRIAL_BALANCE = """
    WITH year AS (SELECT name, fromdate, todate FROM dinero.accounting_years ORDER BY fromdate DESC LIMIT 1)
    SELECT accountnumber AS account, any_value(accountname) AS name,
           round(sum(CASE WHEN amount > 0 THEN amount ELSE 0 END), 2) AS debit,
           round(sum(CASE WHEN amount < 0 THEN -amount ELSE 0 END), 2) AS credit,
           round(sum(amount), 2) AS balance
    FROM dinero.entries, year
    WHERE substr(entries.date, 1, 10) BETWEEN year.fromdate AND year.todate
    GROUP BY 1 ORDER BY 1
"""


def table(title: str, columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    """A plain fixed-width table."""
    cells = [[str(c) for c in columns]] + [
        ["" if v is None else f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row] for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = [title]
    for n, row in enumerate(cells):
        lines.append(
            "  "
            + "  ".join(
                v.rjust(w) if n and _numeric(v) else v.ljust(w) for v, w in zip(row, widths, strict=True)
            )
        )
        if n == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "").replace("-", "").isdigit()


def query(con: Any, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of ``sql``."""
    cursor = con.execute(sql)
    return [d[0] for d in cursor.description], cursor.fetchall()


def main(path: str) -> int:
    con = duckdb.connect(path, read_only=True)
    tables = [
        r[0]
        for r in query(
            con, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'dinero' ORDER BY 1"
        )[1]
    ]
    counts = [(name, query(con, f'SELECT count(*) FROM dinero."{name}"')[1][0][0]) for name in tables]
    print(
        table(
            f"Dinero -> DuckDB: {path}, schema dinero ({sum(n for _, n in counts)} rows):",
            ["table", "rows"],
            counts,
        )
    )
    print(
        table(
            "Revenue per month (sales invoices, excl. VAT, DKK; last 12 months):",
            *query(con, REVENUE_PER_MONTH),
        )
    )
    print(table("Top customers:", *query(con, TOP_CUSTOMERS)))
    columns, rows = query(con, TRIAL_BALANCE)
    sums = [round(sum(r[i] for r in rows), 2) + 0.0 for i in (2, 3, 4)]  # + 0.0: no "-0.00"
    year = query(con, "SELECT name FROM dinero.accounting_years ORDER BY fromdate DESC LIMIT 1")[1][0][0]
    title = f"Trial balance of accounting year {year} from the ledger entries (debit = credit):"
    print(table(title, columns, [*rows, ("", "total", *sums)]))
    return 0 if abs(sums[2]) < 0.005 else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "output/warehouse.duckdb"))
