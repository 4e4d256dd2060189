"""A detail GET of a deleted document (REFERENCE.md §5.2: JAVA maps codes 63 and 65 to not-found): 200
with ``DeletedAt``, 400 code 65, 400 code 63 or the HTML 404. The tap skips the lines of a document deleted
between its list read and its detail read, and finishes, under each."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from dinero_sandbox.behaviours import CHOICES
from dinero_sandbox.testing import SandboxServer
from tap_dinero.streams.sales import TradeOffersStream
from tests.harness import run_tap
from tests.sandbox.conftest import api_key_token

ORG = "100000"
EXPECTED = {"ok": (200, None), "item_deleted": (400, 65), "code_63": (400, 63), "not_found": (404, None)}


@pytest.mark.parametrize("answer", CHOICES["deleted_detail"])
def test_sandbox_answers_a_deleted_documents_detail_as_chosen(
    answer: str, play: Any, sandbox: SandboxServer
) -> None:
    play(deleted_detail=answer)
    invoice = next(i for i in sandbox.dump(ORG, "invoices") if i["DeletedAt"])
    token = api_key_token(sandbox)
    response = requests.get(
        f"{sandbox.url}/v1/{ORG}/invoices/{invoice['Guid']}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    status, code = EXPECTED[answer]
    assert response.status_code == status
    if code is not None:
        assert response.json()["code"] == code and response.json()["validationErrors"]


@pytest.mark.parametrize("answer", CHOICES["deleted_detail"])
def test_tap_skips_the_lines_of_a_document_deleted_before_its_detail_read(
    answer: str, play: Any, sandbox: SandboxServer, tap_config: dict[str, Any], monkeypatch: Any
) -> None:
    play(deleted_detail=answer)
    victims: list[str] = []
    original = TradeOffersStream.read_detail

    def delete_first_then_read(self: TradeOffersStream, context: Any, guid: str) -> Any:
        if not victims:  # someone deletes the first document between the list and its detail read
            victims.append(guid)
            sandbox.mutate(ORG, "tradeoffers", action="delete", guid=guid)
        return original(self, context, guid)

    monkeypatch.setattr(TradeOffersStream, "read_detail", delete_first_then_read)
    live = {i["Guid"] for i in sandbox.dump(ORG, "tradeoffers") if not i["DeletedAt"]}

    result = run_tap({**tap_config, "include_deleted": False}, streams=["trade_offers", "trade_offer_lines"])

    assert result.error is None
    emitted = {r["Guid"]: r for r in result.stream("trade_offers")}
    assert set(emitted) == live
    victim = emitted[victims[0]]
    lines_of_victim = [r for r in result.stream("trade_offer_lines") if r["TradeOfferGuid"] == victims[0]]
    if answer == "ok":  # Dinero still shows it: its lines come along, as its deletion pass will tell
        assert "ProductLines" in victim
    else:
        assert "ProductLines" not in victim and not lines_of_victim
    others = [g for g in live if g != victims[0]]
    assert all("ProductLines" in emitted[g] for g in others)
