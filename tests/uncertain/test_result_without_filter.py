"""``Pagination.ResultWithoutFilter`` counted after or before the filters (REFERENCE.md §3.1, §7 q3): the
tap reads every changed and every deleted row under either reading, and stops without an extra request
where the count is safe to trust."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import pytest

from dinero_sandbox.behaviours import CHOICES
from dinero_sandbox.testing import SandboxServer
from tests.harness import run_tap

ORG = "100000"


@pytest.mark.parametrize("reading", CHOICES["result_without_filter"])
def test_every_deleted_row_is_read_when_deleted_rows_outnumber_the_count(
    reading: str, play: Any, sandbox: SandboxServer, tap_config: dict[str, Any]
) -> None:
    """Before the filters, the count is the number of live contacts; the deletion pass has more rows
    than that. A paginator trusting the count there would stop early and lose deletions."""
    play(result_without_filter=reading)
    contacts = [c for c in sandbox.dump(ORG, "contacts") if not c["DeletedAt"]]
    for contact in contacts[: len(contacts) - 10]:
        sandbox.mutate(ORG, "contacts", action="delete", guid=contact["ContactGuid"])
    deleted = {c["ContactGuid"] for c in sandbox.dump(ORG, "contacts") if c["DeletedAt"]}
    live = {c["ContactGuid"] for c in sandbox.dump(ORG, "contacts") if not c["DeletedAt"]}
    assert len(deleted) > len(live) + 7

    result = run_tap({**tap_config, "page_size": 7}, streams=["contacts"])

    assert result.error is None
    emitted = result.stream("contacts")
    assert {r["ContactGuid"] for r in emitted if r["_sdc_deleted_at"]} == deleted
    assert {r["ContactGuid"] for r in emitted if not r["_sdc_deleted_at"]} == live


@pytest.mark.parametrize("reading", CHOICES["result_without_filter"])
def test_changed_rows_are_all_read_and_a_trusted_count_saves_the_empty_page(
    reading: str, play: Any, sandbox: SandboxServer, tap_config: dict[str, Any]
) -> None:
    play(result_without_filter=reading)
    config = {**tap_config, "page_size": 5, "include_deleted": False, "lookback_seconds": 0}
    first = run_tap(config, streams=["products"])
    products = sandbox.dump(ORG, "products")
    for product in products[:10]:  # two full pages of changes
        sandbox.mutate(
            ORG, "products", guid=product["ProductGuid"], fields={"Name": f"Ændret {product['Name']}"}
        )
    mark = sandbox.requests()[-1]["id"]

    second = run_tap(config, streams=["products"], state=first.final_state)

    assert second.error is None
    names = {r["ProductGuid"]: r["Name"] for r in second.stream("products")}
    assert all(names.get(p["ProductGuid"], "").startswith("Ændret") for p in products[:10])
    pages = [
        parse_qs(r["query"]).get("page", ["0"])[0]
        for r in sandbox.requests(mark)
        if r["path"].endswith("/products")
    ]
    # After the filters the count says "10": two full pages and done. Before the filters it counts every
    # product, so the tap goes on until a short page.
    assert len(pages) == (2 if reading == "after_filters" else 3)
