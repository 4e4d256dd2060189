"""Round trip of what only an invoice's detail says: its comment, address, payment terms and language.

tap-dinero reads each changed invoice's detail for its lines; the detail's other fields (``Comment``,
``Address``, ``PaymentConditionType``/``…NumberOfDays``, ``Language``, ``InvoiceTemplateId`` ...) were
read and dropped, so a copy through target-dinero lost them. The copy into another organization carries
them now -- all but the template, which is the other organization's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.harness import live, make_target_config, run_tap, run_target

SOURCE = "100000"
COPY = "100001"
CARRIED = ("Comment", "Address", "PaymentConditionType", "PaymentConditionNumberOfDays", "Language")


def test_an_invoice_copied_into_another_organization_keeps_what_only_its_detail_says(
    sandbox: Any, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    stored = {i["Guid"]: i for i in live(sandbox.dump(SOURCE, "invoices")) if i.get("Comment")}
    stamps = sorted(i["UpdatedAt"] for i in stored.values())
    tapped = run_tap(
        {**sandbox_settings, "quota_requests": 100_000, "start_date": stamps[-4] + "Z"}, streams=["invoices"]
    )
    assert tapped.error is None, tapped.error
    records = [r for r in tapped.stream("invoices") if r["Guid"] in stored]
    assert records and all(r["Comment"] and r["Address"] for r in records)

    second = {**sandbox_settings, "organization_id": COPY, "api_key": "sandbox-api-key-2"}
    config = make_target_config(second, tmp_path, {"invoices": {"load_as": "invoice"}})
    result = run_target(sandbox, config, tapped.messages)
    assert result.error is None, result.stderr

    copies = {i["ExternalReference"]: i for i in live(sandbox.dump(COPY, "invoices"))}
    for record in records:
        source = stored[record["Guid"]]
        copy = copies[source["ExternalReference"] or f"invoices:{SOURCE}|{source['Guid']}"]
        assert {f: copy.get(f) for f in CARRIED} == {f: source.get(f) for f in CARRIED}
        assert copy.get("InvoiceTemplateId") != source["InvoiceTemplateId"]
