"""What the sandbox's seed holds, built in-process from its definition (``dinero_sandbox.seed``), once.

Tests compare what they read with these facts instead of numbers copied from a run's output: when the
seed definition changes, the expected counts change with it, and a test fails only when the sandbox (or
the tap reading it) no longer serves what the definition says. Tests may import the sandbox; production
code never does.
"""

from __future__ import annotations

import functools
import typing as t

from dinero_sandbox.seed import DEFAULT_SEED, build_org, default_anchor, parse_seed_size

if t.TYPE_CHECKING:
    from dinero_sandbox.orgdata import OrgData

ORG_MAIN = "100000"
ORG_SECOND = "100001"


@functools.cache
def organizations(seed_size: str = "demo") -> dict[str, OrgData]:
    """Every organization of ``seed_size`` as the sandbox builds it (same seed, today's anchor).

    Built with ``build_org`` rather than ``build_all`` so that looking at the facts registers no API
    keys in this process.
    """
    anchor = default_anchor()
    return {
        org_id: build_org(org_id, size, seed=DEFAULT_SEED, anchor=anchor)
        for org_id, size in parse_seed_size(seed_size).items()
    }


def rows(org: str, collection: str, seed_size: str = "demo") -> list[dict[str, t.Any]]:
    """The seeded rows of one collection (the names of ``SandboxServer.dump``), deleted ones included."""
    table = organizations(seed_size)[str(org)].table(collection)
    return [table.get(r) for r in table.rows()]


def count(org: str, collection: str, seed_size: str = "demo") -> int:
    """How many rows the seed puts in ``collection``, deleted ones included."""
    return len(rows(org, collection, seed_size))


def deleted(org: str, collection: str, seed_size: str = "demo") -> int:
    """How many of them are deleted (``DeletedAt`` set): what a tap with ``include_deleted`` adds."""
    return sum(1 for row in rows(org, collection, seed_size) if row.get("DeletedAt"))


def live(org: str, collection: str, seed_size: str = "demo") -> int:
    """How many are not deleted: what a list without ``deletedOnly`` returns."""
    return count(org, collection, seed_size) - deleted(org, collection, seed_size)


def accounting_years(org: str, seed_size: str = "demo") -> list[str]:
    """The names (calendar years) of the organization's accounting years, oldest first."""
    return [year["Name"] for year in organizations(seed_size)[str(org)].accounting_years]
