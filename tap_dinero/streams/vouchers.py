"""Manual and purchase vouchers, reached through ledger entries (Dinero has no list endpoint for them).

Both are child streams of ``entries``: for every new ``VoucherGuid`` an entry of the matching
``VoucherType`` (see :mod:`tap_dinero.vouchers`) shows in this run, the tap reads the voucher's detail
once. Only booked vouchers have entries, so drafts are not reachable; a voucher changed later (e.g.
deleted, which books offsetting entries) shows up again in the entry changes and is read again.
"""

from __future__ import annotations

import typing as t

from tap_dinero.client import DetailStream
from tap_dinero.streams.entries import EntriesStream
from tap_dinero.vouchers import MANUAL, PURCHASE

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

__all__ = ["ManualVouchersStream", "PurchaseVouchersStream"]


class _VoucherStream(DetailStream):
    parent_stream_type = EntriesStream
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "Guid"]
    #: The voucher kind this stream reads (contexts of the other kind are ignored without a request).
    voucher_kind: t.ClassVar[str]

    def get_partition_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Read the voucher named by the context if it is of this stream's kind."""
        if (context or {}).get("voucher_kind") != self.voucher_kind:
            return
        yield from self.request_records(context)


class ManualVouchersStream(_VoucherStream):
    """Manual vouchers: ``GET /v1/{org}/vouchers/manuel/{guid}`` (the path is spelled "manuel")."""

    name = "manual_vouchers"
    path = "/v1/{organization_id}/vouchers/manuel/{voucher_guid}"
    schema_name = "manual_voucher"
    voucher_kind = MANUAL


class PurchaseVouchersStream(_VoucherStream):
    """Purchase vouchers: ``GET /v1/{org}/vouchers/purchase/{guid}``."""

    name = "purchase_vouchers"
    path = "/v1/{organization_id}/vouchers/purchase/{voucher_guid}"
    schema_name = "purchase_voucher"
    voucher_kind = PURCHASE
