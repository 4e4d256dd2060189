"""Which entry ``VoucherType`` values point at which voucher endpoint.

Manual and purchase vouchers have no list endpoint (REFERENCE §2.9, §2.10): the tap reaches them through
the ``VoucherGuid`` of ledger entries. An entry's ``VoucherType`` names the kind of voucher that booked it;
the values below are matched case-insensitively.
"""

from __future__ import annotations

__all__ = ["MANUAL", "MANUAL_VOUCHER_TYPES", "PURCHASE", "PURCHASE_VOUCHER_TYPES", "voucher_kind"]

MANUAL = "manual"
PURCHASE = "purchase"

#: VoucherType values of entries booked by a manual voucher ("finansbilag").
MANUAL_VOUCHER_TYPES = frozenset({"manuel", "manual", "manualvoucher", "manuelvoucher", "finansbilag"})
#: VoucherType values of entries booked by a purchase voucher ("købsbilag").
PURCHASE_VOUCHER_TYPES = frozenset({"purchase", "purchases", "purchasevoucher", "købsbilag"})


def voucher_kind(voucher_type: object) -> str | None:
    """``"manual"``, ``"purchase"`` or None for an entry's ``VoucherType``."""
    if not isinstance(voucher_type, str):
        return None
    normalized = voucher_type.replace(" ", "").replace("-", "").replace("_", "").lower()
    if normalized in MANUAL_VOUCHER_TYPES:
        return MANUAL
    if normalized in PURCHASE_VOUCHER_TYPES:
        return PURCHASE
    return None
