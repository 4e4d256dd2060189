"""Two target workers loading the same input into one organization (issue 11 items 3 and 7).

* Workers with their own local files (``ledger_file``, quota, rejects -- as on two machines) but one
  ``journal_store`` (a SQLite file both reach; Redis when ``DINERO_TEST_REDIS_URL`` is set) run at the
  same time, then alternate: every invoice, manual voucher (with and without file), daily-sales day,
  product and contact exists once, with its content and status.
* Two overlapping runs on one machine (default store) create each product and contact once.
* Workers with *only Dinero* in common (separate stores), one after the other: no duplicate of any kind.
  Invoices, contacts, products and vouchers are recognised in Dinero (vouchers through their file); a
  day of daily sales that the other worker loaded is rejected as "check by hand", because only the
  journal says which sales a day voucher holds. That is the documented limit.

Guarantee: exactly-once across workers (README, Guarantees).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.harness import ORG, REPO, TARGET_CODE, live, run_target_process, singer_lines, write_json

from .helpers import count_by
from .workload import check_by_hand, messages, problems, target_config

PREFIX = "TW-"


def _worker(root: Path, name: str, settings: dict[str, Any], **extra: Any) -> tuple[Path, Path]:
    workdir = root / name
    workdir.mkdir()
    config = target_config(settings, workdir, PREFIX, **extra)
    return workdir, write_json(workdir / "config.json", config)


def _run_together(configs: list[Path], input_path: Path, root: Path) -> list[int]:
    procs = []
    for n, config in enumerate(configs):
        with input_path.open("rb") as stdin, (root / f"together{n}.err").open("wb") as err:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", TARGET_CODE, "--config", str(config)],
                    stdin=stdin,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    cwd=REPO,
                )
            )
    return [p.wait(timeout=180) for p in procs]


STORES = [
    "sqlite",
    pytest.param(
        "redis",
        marks=pytest.mark.skipif(
            not os.environ.get("DINERO_TEST_REDIS_URL"), reason="DINERO_TEST_REDIS_URL not set"
        ),
    ),
]


@pytest.mark.parametrize("store", STORES)
def test_two_workers_sharing_only_the_journal_store_create_nothing_twice(
    sandbox, sandbox_settings: dict[str, Any], tmp_path: Path, store: str
) -> None:
    if store == "sqlite":
        journal_store = str(tmp_path / "shared" / "journal.sqlite3")
    else:
        journal_store = os.environ["DINERO_TEST_REDIS_URL"]
        import redis

        client = redis.Redis.from_url(journal_store)
        for key in client.scan_iter("target-dinero:*"):
            client.delete(key)
    input_path = tmp_path / "input.jsonl"
    input_path.write_text(singer_lines(messages(PREFIX)), encoding="utf-8")
    (a_dir, a_config), (b_dir, b_config) = (
        _worker(tmp_path, name, sandbox_settings, journal_store=journal_store) for name in ("a", "b")
    )

    codes = _run_together([a_config, b_config], input_path, tmp_path)

    assert codes == [0, 0], [(tmp_path / f"together{n}.err").read_text()[-3000:] for n in (0, 1)]
    # then alternate: each worker runs again, nothing is written
    for workdir, config in ((b_dir, b_config), (a_dir, a_config)):
        again = run_target_process(sandbox, config, input_path, workdir, name="again")
        assert again.returncode == 0, again.stderr[-3000:]
        assert [
            (r["method"], r["path"])
            for r in again.requests
            if r["method"] != "GET" and r["path"].startswith("/v")
        ] == []
    by_hand = check_by_hand([a_dir / "rejects.jsonl", b_dir / "rejects.jsonl"])
    assert by_hand == set()
    assert problems(sandbox, PREFIX) == []


def test_two_overlapping_runs_create_each_product_and_contact_once(
    sandbox, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    """Both runs use the machine's default journal store, whose lock makes the second wait."""
    from tests.harness import record_message, schema_message, state_message

    products = [
        {
            "id": n,
            "ExternalReference": f"OVL-P{n}",
            "Name": f"Vare {n}",
            "BaseAmountValue": n,
            "AccountNumber": 1000,
            "Unit": "parts",
        }
        for n in range(1, 31)
    ]
    contacts = [
        {"id": n, "ExternalReference": f"OVL-C{n}", "Name": f"Firma {n}", "Email": f"ovl{n}@example.dk"}
        for n in range(1, 31)
    ]
    input_path = tmp_path / "input.jsonl"
    input_path.write_text(
        singer_lines(
            [
                schema_message("catalog"),
                *(record_message("catalog", p) for p in products),
                schema_message("customers"),
                *(record_message("customers", c) for c in contacts),
                state_message({"done": True}),
            ]
        ),
        encoding="utf-8",
    )
    config = write_json(tmp_path / "config.json", target_config(sandbox_settings, tmp_path, "OVL-"))

    codes = _run_together([config, config], input_path, tmp_path)

    assert codes == [0, 0], [(tmp_path / f"together{n}.err").read_text()[-3000:] for n in (0, 1)]
    held_products = [
        p for p in live(sandbox.dump(ORG, "products")) if str(p.get("ExternalReference")).startswith("OVL-")
    ]
    held_contacts = [
        c for c in live(sandbox.dump(ORG, "contacts")) if str(c.get("ExternalReference")).startswith("OVL-")
    ]
    assert count_by(held_products, "ExternalReference") == {p["ExternalReference"]: 1 for p in products}
    assert count_by(held_contacts, "ExternalReference") == {c["ExternalReference"]: 1 for c in contacts}


def test_two_workers_with_only_dinero_in_common_never_duplicate(
    sandbox, sandbox_settings: dict[str, Any], tmp_path: Path
) -> None:
    input_path = tmp_path / "input.jsonl"
    input_path.write_text(singer_lines(messages(PREFIX)), encoding="utf-8")
    (a_dir, a_config), (b_dir, b_config) = (_worker(tmp_path, n, sandbox_settings) for n in ("a", "b"))

    first = run_target_process(sandbox, a_config, input_path, a_dir, name="first")
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_target_process(sandbox, b_config, input_path, b_dir, name="second")

    # the other worker's day vouchers: only a journal knows their sales -> check by hand, never doubled
    assert second.returncode == 0, second.stderr[-3000:]
    posts = [r["path"] for r in second.requests if r["method"] == "POST"]
    assert not [
        p for p in posts if p.endswith(("/invoices", "/contacts", "/products", "/vouchers/manuel"))
    ], posts
    assert problems(sandbox, PREFIX) == []
    by_hand = check_by_hand([b_dir / "rejects.jsonl"])
    assert by_hand == {f"{PREFIX}S{n}" for n in range(1, 5)}
