"""dinero-sandbox: an offline stand-in for the Dinero accounting API, following
``shared/dinero-api/REFERENCE.md`` (not the plugins).

Run it with ``dinero-sandbox --port 8765`` or in-process with ``dinero_sandbox.testing.SandboxServer``.
Modules: ``app`` (Flask app, auth, quota, faults, log), ``routes_*`` (endpoints), ``seed*`` (deterministic
data; sizes documented in ``seed``), ``store`` (column tables), ``ledger`` (entries), ``listing``/``queries``
(fields, queryFilter, paging), ``faults``, ``testing``, ``cli``.
"""

from __future__ import annotations

__all__ = ["create_app"]


def create_app(*args, **kwargs):  # type: ignore[no-untyped-def]
    """Build the Flask app (see ``dinero_sandbox.app.create_app``)."""
    from .app import create_app as _create

    return _create(*args, **kwargs)
