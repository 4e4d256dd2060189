"""Derive ``target_dinero/iso_codes.json`` (ISO 4217 currencies, ISO 3166-1 countries) from iso-codes.

The target validates currency and country codes locally, before any request, so a record with
``Currency: "XXX"`` is rejected instead of creating its contact and then being refused by Dinero. The
lists ship with the package (no network, no system files at run time); this script regenerates them
from Debian's ``iso-codes`` package (``/usr/share/iso-codes/json``)::

    python scripts/iso_codes.py [--source /usr/share/iso-codes/json]

Currencies: every ISO 4217 code except the ones that are not money a business invoices in -- precious
metals, bond-market units, SDR/Sucre/ADB units, fund codes, the testing code XTS and XXX ("no
currency"). Dinero documents no list of its own (REFERENCE: "Currency string? (default DKK; day's rate
applied)"); a code it still refuses comes back as a 400 that rejects the record.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "target_dinero" / "iso_codes.json"
#: ISO 4217 codes that are not currencies an invoice can be written in.
NOT_MONEY = {
    "XAG": "silver",
    "XAU": "gold",
    "XPD": "palladium",
    "XPT": "platinum",
    "XBA": "bond market unit",
    "XBB": "bond market unit",
    "XBC": "bond market unit",
    "XBD": "bond market unit",
    "XDR": "special drawing right (IMF)",
    "XSU": "Sucre (ALBA accounting unit)",
    "XUA": "ADB unit of account",
    "XTS": "reserved for testing",
    "XXX": "no currency",
    "BOV": "fund code",
    "CHE": "fund code",
    "CHW": "fund code",
    "CLF": "fund code",
    "COU": "fund code",
    "MXV": "fund code",
    "USN": "fund code",
    "UYI": "fund code",
    "UYW": "fund code",
}


def main() -> None:
    """Write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="/usr/share/iso-codes/json", type=Path)
    args = parser.parse_args()
    currencies = json.loads((args.source / "iso_4217.json").read_text(encoding="utf-8"))["4217"]
    countries = json.loads((args.source / "iso_3166-1.json").read_text(encoding="utf-8"))["3166-1"]
    data = {
        "source": "Debian iso-codes (ISO 4217, ISO 3166-1), via scripts/iso_codes.py",
        "currencies": sorted(c["alpha_3"] for c in currencies if c["alpha_3"] not in NOT_MONEY),
        "not_money": dict(
            sorted((c["alpha_3"], NOT_MONEY[c["alpha_3"]]) for c in currencies if c["alpha_3"] in NOT_MONEY)
        ),
        "countries": sorted(c["alpha_2"] for c in countries),
    }
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(data['currencies'])} currencies, {len(data['countries'])} countries")


if __name__ == "__main__":
    main()
