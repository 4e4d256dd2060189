"""Products stream (incremental by ``changesSince``, with deletions)."""

from __future__ import annotations

import typing as t

from tap_dinero.incremental import ChangesSinceStream

__all__ = ["ProductsStream"]


class ProductsStream(ChangesSinceStream):
    """Products: ``GET /v1/{org}/products`` (envelope, ordered by UpdatedAt)."""

    name = "products"
    path = "/v1/{organization_id}/products"
    schema_name = "product"
    primary_keys: t.ClassVar[list[str]] = ["organization_id", "ProductGuid"]
