"""Any number of organizations: the ``orgs=N[:SIZE]`` part of a seed size, the names and addresses of the
generated organizations, and one API key per organization.

Seed-size grammar (``--seed-size``, ``POST /_sandbox/reset {"seed_size": ...}``)::

    MAIN[,orgs=N[:SIZE]]   MAIN: demo | medium | large | invoices=K   (organization 100000)
                           N:    how many organizations in all (default 2: 100000 and 100001)
                           SIZE: tiny | small | demo | invoices=K     (100002 ...; default small)

Examples: ``demo`` (two organizations), ``demo,orgs=200`` (200 organizations, 198 of them small),
``large,orgs=20:tiny``. Organization 100001 keeps its demo size ("small") whatever SIZE says.

Credentials reach them as Dinero's do: the Visma Connect refresh token (``sandbox-refresh-token``) gives a
token for every organization (one client covering many organizations, listed by ``GET /v1/organizations``);
the API key ``sandbox-api-key-<org id>`` gives a token for that one organization (the historical
``sandbox-api-key`` and ``sandbox-api-key-2`` keep working for 100000 and 100001). The quota is counted
per (client id, organization), so each organization has its own.
"""

from __future__ import annotations

import re
from typing import Any

from .constants import API_KEYS, ORG_MAIN, ORG_SECOND

API_KEY_PREFIX = "sandbox-api-key-"
FIRST_ORG = int(ORG_MAIN)
_TOWNS = (
    ("Odense C", "5000", "Vestergade"),
    ("Aalborg", "9000", "Boulevarden"),
    ("Esbjerg", "6700", "Kongensgade"),
    ("Randers C", "8900", "Torvegade"),
    ("Kolding", "6000", "Jernbanegade"),
    ("Horsens", "8700", "Søndergade"),
    ("Vejle", "7100", "Nørregade"),
    ("Roskilde", "4000", "Algade"),
)
_TRADES = ("Tømrer", "Frisør", "Consulting", "Design", "Bager", "VVS", "Revision", "Webshop", "Café", "El")


def api_key_for(org_id: str) -> str:
    """The API key that reaches one organization."""
    return f"{API_KEY_PREFIX}{org_id}"


def register_api_keys(org_ids: list[str]) -> None:
    """Make ``sandbox-api-key-<org>`` valid for every seeded organization (keys of organizations a later,
    smaller seed lacks stay known but their tokens reach no data: 403)."""
    for org_id in org_ids:
        API_KEYS.setdefault(api_key_for(org_id), org_id)


def split_seed_size(seed_size: str) -> tuple[str, int, str]:
    """``(main size, number of organizations, size of the extra ones)``; ValueError when malformed."""
    main, count, extra = "demo", 2, "small"
    seen_main = False
    for part in [p.strip().lower() for p in seed_size.split(",") if p.strip()]:
        match = re.fullmatch(r"orgs=(\d+)(?::(.+))?", part)
        if match:
            count = int(match.group(1))
            extra = (match.group(2) or "small").strip()
            if count < 1:
                raise ValueError("orgs=N needs N >= 1")
            if count > 10_000:
                raise ValueError("orgs=N is limited to 10 000 organizations")
        elif not seen_main:
            main, seen_main = part, True
        else:
            raise ValueError(f"unknown seed size part {part!r}")
    return main, count, extra


def org_ids(count: int) -> list[str]:
    """Ids of ``count`` organizations: 100000, 100001, ..."""
    return [str(FIRST_ORG + k) for k in range(count)]


def org_info(org_id: str, known: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Name and address of an organization (fixed for the two demo ones, generated for the others)."""
    if org_id in known:
        return known[org_id]
    k = int(org_id) - FIRST_ORG
    town, zipcode, street = _TOWNS[k % len(_TOWNS)]
    trade = _TRADES[k % len(_TRADES)]
    slug = f"org{org_id}"
    return {
        "Name": f"{trade} {org_id} ApS",
        "Street": f"{street} {1 + k % 97}",
        "City": town,
        "ZipCode": zipcode,
        "Email": f"regnskab@{slug}.dk",
        "Phone": f"+45 70 {k % 100:02d} {k // 100 % 100:02d} 00",
        "AttPerson": "Demo Bogholder",
        "Website": f"https://{slug}.dk",
    }


__all__ = ["ORG_MAIN", "ORG_SECOND", "api_key_for", "org_ids", "org_info", "register_api_keys"]
