"""The JSON API under /api/v1: the sync endpoint for kiosks and the reporting API."""

from __future__ import annotations

from flask import Blueprint, jsonify

from admin.openapi import document
from core.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Kiosks and API clients authenticate by signature or token, not by a browser session.
csrf.exempt(bp)


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 document of every JSON endpoint."""
    return jsonify(document())
