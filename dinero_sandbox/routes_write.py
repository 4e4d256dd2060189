"""Write endpoints of the Dinero API (filled in by the second milestone)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api_write", __name__)
