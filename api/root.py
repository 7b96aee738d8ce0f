"""The root of the JSON API under /api/v1: its OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, jsonify

from api.openapi import document
from core.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Kiosks and API clients authenticate by signature or token, not by a browser session.
csrf.exempt(bp)


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 document of every JSON endpoint."""
    return jsonify(document())
