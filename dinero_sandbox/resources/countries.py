"""Countries (spec tag ``Countries``): ``GET /v1/countries`` (no organization in the path)."""

from __future__ import annotations

from flask import Response

from ..errors import json_response
from .common import blueprint

bp = blueprint("countries")

COUNTRIES = (
    ("DK", "Danmark", "Denmark"),
    ("SE", "Sverige", "Sweden"),
    ("NO", "Norge", "Norway"),
    ("DE", "Tyskland", "Germany"),
    ("FI", "Finland", "Finland"),
    ("IS", "Island", "Iceland"),
    ("GL", "Grønland", "Greenland"),
    ("FO", "Færøerne", "Faroe Islands"),
    ("NL", "Holland", "Netherlands"),
    ("BE", "Belgien", "Belgium"),
    ("FR", "Frankrig", "France"),
    ("ES", "Spanien", "Spain"),
    ("IT", "Italien", "Italy"),
    ("PL", "Polen", "Poland"),
    ("GB", "Storbritannien", "United Kingdom"),
    ("IE", "Irland", "Ireland"),
    ("AT", "Østrig", "Austria"),
    ("CH", "Schweiz", "Switzerland"),
    ("US", "USA", "United States"),
    ("CA", "Canada", "Canada"),
)


@bp.get("/v1/countries")
def countries() -> Response:
    """``CountryModel[]``."""
    return json_response([{"Key": k, "DanishName": da, "EnglishName": en} for k, da, en in COUNTRIES])
