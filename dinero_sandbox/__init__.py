"""dinero-sandbox: an offline stand-in for the Dinero accounting API, for tests, benchmarks and demos.

It follows Dinero's documented and observed behaviour (the project's API reference, REFERENCE.md, and
Dinero's OpenAPI spec as kept in ``dinero_api/contract/``), never the plugins' code; facts nobody has
verified can be played each plausible way (``behaviours.py``).

Run it with ``dinero-sandbox --port 8765 [--seed-size demo|medium|large|invoices=N] [--orgs N]
[--quota N --window S]``
or in-process with ``dinero_sandbox.testing.SandboxServer`` (pytest fixtures in ``tests/conftest.py``).

Endpoints (route segments are case-insensitive, as Dinero's are)
-----------------------------------------------------------------
Auth (not counted by the quota): ``POST /dineroapi/oauth/token`` (API-key password grant, Basic client
auth), ``POST /connect/token`` (Visma Connect refresh-token grant with rotation).

Reads: ``GET /v1/organizations``, ``/v1.1/organizations``, ``/v1/{org}/accountingyears``,
``/v1/{org}/vatTypes``, ``/v1/{org}/accounts/entry|purchase|deposit`` (bare arrays, ``fields``,
``categoryFilter``); paged envelopes ``/v1/{org}/contacts``, ``/v2/{org}/contacts``, ``/v1/{org}/products``,
``/v1/{org}/invoices``, ``/v1/{org}/sales``, ``/v1/{org}/sales/creditnotes``, ``/v1/{org}/tradeoffers``
(``page``, ``pageSize``, ``fields``, ``queryFilter``, ``changesSince``, ``deletedOnly``, ``freeTextSearch``;
invoices/sales/credit notes also ``startDate``/``endDate``, ``statusFilter``, ``sort``, ``sortOrder``);
details ``/v1/{org}/contacts/{guid}``, ``products/{guid}``, ``invoices/{guid}`` (JSON or PDF),
``sales/creditnotes/{guid}``, ``tradeoffers/{guid}``, ``vouchers/manuel/{guid}``,
``vouchers/purchase/{guid}``;
``/v1/{org}/entries`` (``fromDate``, ``toDate``, ``includePrimo``; streamed), ``/v1/{org}/entries/changes``
(``changesFrom``, ``changesTo`` <= 31 days), ``/v1/{org}/files`` (bare array, page/pageSize 1000,
``fileStatus``, ``extensions``, ``uploadedAfter``/``uploadedBefore``), ``/v1/{org}/files/{fileGuid}``.

Writes: contacts ``POST /v1``, ``PUT /v1|v2/{guid}``, ``DELETE``, ``POST {guid}/restore``; products
``POST``/``PUT``/``DELETE``; invoices ``POST /v1``, ``PUT /v1.2/{guid}``, ``DELETE``, ``POST {guid}/book``;
sales credit notes the same under ``sales/creditnotes``; manual vouchers ``POST /v1/{org}/vouchers/manuel``,
``PUT``/``DELETE``/``POST book``; purchase vouchers ``POST /v1.2|v1.1/{org}/vouchers/purchase``,
``DELETE``/``POST book``; ``POST /v1/{org}/files`` (multipart).

Every other operation of Dinero's OpenAPI spec (136 in all; ``python scripts/sandbox_coverage.py``) is
served by ``dinero_sandbox.resources``, one module per spec tag (payments, generate-creditnote,
e-mail/SMS/e-invoice sends recorded as mailouts, reminders, ledger items booked asynchronously, purchase
credit notes and payments, reports computed from the entries, contact notes, state of account,
attachments, countries, sales settings, account creation, webhooks). Any number of organizations:
seed size ``demo,orgs=N[:tiny|small|demo|invoices=K]`` (``seed_orgs``), API key
``sandbox-api-key-<org id>`` per organization.

Inspection (no auth, not counted): ``/_sandbox/requests``, ``stats``, ``reset``, ``quota``, ``tokens``,
``orgs``, ``orgs/{org}/{collection}``, ``orgs/{org}/mutate``, ``faults`` (see ``faults`` for the modes).

Choices where the reference is uncertain
----------------------------------------
* Unknown routes and unknown GUIDs answer Dinero's HTML 404 page; a token for another organization 403.
* ``ResultWithoutFilter`` = rows matching the filters before paging (the SPEC's description).
* ``queryFilter`` values: ``''`` inside quotes is one quote; unquoted single tokens are accepted; a field
  the reference does not list as filterable, bad syntax or an unknown operator -> 400 code 46.
* ``fields`` names outside the reference's list for that endpoint -> 400 code 44 naming the field.
* ``changesSince`` other than ``YYYY-MM-DDTHH:MM:SSZ`` -> 400 code 44; comparison is inclusive on
  UpdatedAt (and DeletedAt); record times are UTC ``YYYY-MM-DDTHH:MM:SS.fff``.
* A second create with an existing client-chosen ``Guid``/``ContactGuid`` -> 400 code 42 naming it.
* Uploaded files are invisible in ``GET /files`` until a voucher references the FileGuid (best-practices
  page); files uploaded through Dinero's web archive (seeded) are visible and ``Unused``. > 6 MiB -> 400.
* Quota: sliding window per (client id, organization), refused requests not counted, ``Retry-After`` =
  seconds until the oldest counted request leaves the window. Token endpoints are not counted.
* Entries: ``VoucherType`` is ``Invoice``, ``CreditNote``, ``ManualVoucher`` or ``Purchases``; a positive
  manual-voucher ``Amount`` debits ``AccountNumber`` and credits ``BalancingAccountNumber``; entries
  change when their voucher is booked; deleting a booked voucher adds offsetting entries.

Modules: ``app`` (Flask app, auth, quota, faults, log), ``routes_*``/``writes_*`` (endpoints),
``resources/*`` (the other operations, one module per spec tag), ``seed*``
(deterministic data; sizes and counts in ``seed``), ``store`` (column tables), ``ledger`` (entries),
``listing``/``queries`` (fields, queryFilter, paging), ``validate`` (write bodies), ``faults``, ``testing``,
``cli``.
"""

from __future__ import annotations

__all__ = ["create_app"]


def create_app(*args, **kwargs):  # type: ignore[no-untyped-def]
    """Build the Flask app (see ``dinero_sandbox.app.create_app``)."""
    from .app import create_app as _create

    return _create(*args, **kwargs)
