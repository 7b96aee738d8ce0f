"""Routes every process serves: health, language switch, the start page."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, redirect, url_for

from core.database import ping
from core.errors import OUTAGE_RETRY_AFTER_S
from core.i18n import switch_language
from core.version import __version__

bp = Blueprint("core", __name__)
log = logging.getLogger(__name__)
DATABASE_UNAVAILABLE = "database unavailable"


@bp.get("/healthz")
def healthz():
    """Role, version and whether the database answers; 503 when it does not.

    The answer never names the database's host, port or error: a load balancer only needs to
    know; the operator finds the reason in the log (written when reachability changes).
    """
    problem = ping()
    _log_change(problem)
    body = {
        "status": "ok" if problem is None else "degraded",
        "role": current_app.config["ROLE"],
        "version": __version__,
        "database": {"reachable": problem is None,
                     "error": None if problem is None else DATABASE_UNAVAILABLE},
    }
    response = jsonify(body)
    if problem is not None:
        response.status_code = 503
        response.headers["Retry-After"] = str(OUTAGE_RETRY_AFTER_S)
    response.headers["Cache-Control"] = "no-store"
    return response


def _log_change(problem: str | None) -> None:
    """One log line when this process sees the database go away or come back, not one a probe."""
    seen = current_app.extensions
    reachable = problem is None
    if seen.get("sipas_database_reachable") == reachable:
        return
    first = "sipas_database_reachable" not in seen
    seen["sipas_database_reachable"] = reachable
    if not reachable:
        log.warning("database unavailable: %s", problem)
    elif not first:
        log.warning("database reachable again")


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
