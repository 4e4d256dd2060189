"""A tap that Dinero refuses request after request stops instead of hammering it: a Dinero-side rule
refusing every ``ledgeritems/status`` request would otherwise cost one 400 per configured id (the batch
is asked id by id) -- and call every live item deleted. After ``max_consecutive_refusals`` refusals the
tap stops with exit code 7 and one line; its state does not advance.

Guarantee: Dinero's refusals stop the run (README).
"""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

from dinero_api.client import DineroClient
from dinero_api.settings import DineroSettings
from tests.harness import ORG, run_tap_process, tap_catalog, write_json

LIMIT = 4


def test_a_tap_refused_again_and_again_stops_after_the_limit(
    sandbox: Any, tap_config: dict[str, Any], tmp_path: Path
) -> None:
    client = DineroClient(DineroSettings.from_config(tap_config))
    ids = [str(uuid.uuid4()) for _ in range(30)]
    line = {"Description": "Salg", "Amount": 100, "AccountNumber": 58000, "BalancingAccountNumber": 1010}
    today = date.today().isoformat()
    items = [{"Id": i, "VoucherDate": today, "Lines": [line]} for i in ids]
    client.post_json(f"/v1.2/{ORG}/ledgeritems", items)
    config = {**tap_config, "ledger_item_ids": ids, "max_consecutive_refusals": LIMIT}
    config_path = write_json(tmp_path / "config.json", config)
    catalog = tap_catalog(config, ["ledger_items"], tmp_path / "catalog.json")

    mark = len(sandbox.requests())
    sandbox.set_fault("5xx", count=1000, path_contains="ledgeritems/status", method="POST", status=400)
    result = run_tap_process(config_path, None, tmp_path, catalog_path=catalog)

    log = sandbox.requests()[mark:]
    refused = [r for r in log if "ledgeritems/status" in r["path"] and r["status"] == 400]
    assert len(refused) == LIMIT  # the batch, then LIMIT - 1 ids: not 1 + 30
    assert result.returncode == 7, result.stderr
    assert "Traceback" not in result.stderr
    stop = [x for x in result.stderr.splitlines() if "[exit code 7]" in x]
    assert len(stop) == 1, result.stderr
    assert f"refused {LIMIT} requests in a row" in stop[0] and "ledgeritems/status" in stop[0]
    assert "HTTP 400" in stop[0] and "Dinero error code 50" in stop[0]
    # No live item was called deleted, and no state says the ids were refused.
    records = [m for m in result.messages if m.get("type") == "RECORD"]
    assert not [m for m in records if m["record"].get("_sdc_deleted_at")]
    assert not any("refused_ids" in str(m.get("value")) for m in result.messages if m.get("type") == "STATE")
