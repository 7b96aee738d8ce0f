"""Routes every process serves: health, language switch, the start page."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, url_for

from core import __version__
from core.database import ping
from core.i18n import switch_language

bp = Blueprint("core", __name__)


@bp.get("/healthz")
def healthz():
    """Role, version and whether the database answers; 503 when it does not."""
    problem = ping()
    body = {
        "status": "ok" if problem is None else "degraded",
        "role": current_app.config["ROLE"],
        "version": __version__,
        "database": {"reachable": problem is None, "error": problem},
    }
    return jsonify(body), 200 if problem is None else 503


@bp.get("/lang/<code>")
def language(code: str):
    """Remember the chosen language and return to the page the person was on."""
    return switch_language(code)


@bp.get("/")
def index():
    """Send a visitor to the part of the product this process serves."""
    role = current_app.config["ROLE"]
    if role == "kiosk":
        return redirect(url_for("kiosk.idle"))
    return redirect(url_for("admin.login"))
