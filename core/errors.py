"""Localised error pages, and JSON errors under /api/ (never a stack trace).

A database outage is a 503 with Retry-After on every route (``database_unavailable``): the page
is rendered without the database, the session is rolled back, and the next request after the
database comes back is served normally by the same worker.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from flask import (
    Flask,
    current_app,
    g,
    jsonify,
    make_response,
    render_template,
    request,
    session,
)
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

log = logging.getLogger(__name__)
# Seconds a client (a browser, the kiosk's sync worker, a reporting script) waits before trying
# again when the database is away.
OUTAGE_RETRY_AFTER_S = 10
# Blueprint name -> (template, context) of that area's own outage page (the kiosk's screen).
OutagePage = Callable[[str], tuple[str, dict[str, Any]]]


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def _messages() -> dict[int, str]:
    return {
        400: _("The request could not be understood. Please check what you entered."),
        401: _("Please sign in to continue."),
        403: _("You do not have permission to see this page."),
        404: _("This page does not exist. Check the address or go back to the start."),
        405: _("This action is not allowed here."),
        409: _("This was already done; nothing was changed."),
        410: _("This link is no longer valid."),
        413: _("What you sent is too large."),
        415: _("This kind of content is not accepted here."),
        422: _("Some of what you entered is not valid."),
        429: _("Too many attempts. Please wait a moment and try again."),
        500: _("Something went wrong on our side. Nothing you entered was lost; please try again."),
        503: _("The service is busy. Please try again in a moment."),
    }


def render_error(code: int, message: str | None = None, retry_after: int | None = None):
    text = message or _messages().get(code) or _messages()[500 if code >= 500 else 400]
    if wants_json():
        response = jsonify({"error": {"status": code, "message": text}})
    else:
        response = make_response(render_page("errors/error.html", code=code, message=text))
    response.status_code = code
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def outage_message() -> str:
    if request.method in ("GET", "HEAD"):
        return _("The service is temporarily unavailable. Please try again in a few minutes.")
    return _("The service is temporarily unavailable, so what you sent was not saved. "
             "Please try again in a few minutes.")


def register_outage_page(app: Flask, blueprint: str, page: OutagePage) -> None:
    """Let a blueprint show its own outage screen; ``page(message)`` gives template and context."""
    app.extensions.setdefault("sipas_outage_pages", {})[blueprint] = page


def render_page(template: str, **context: Any) -> str:
    """``render_template``, or the same page without the context processors when one of them
    needs the database and it is away (an error page must not fail for that reason)."""
    from core.database import is_outage

    try:
        return render_template(template, **context)
    except Exception as error:
        if not is_outage(error):
            raise
        _forget_connection()
        return render_without_database(template, context)


def _forget_connection() -> None:
    from core.extensions import db

    for step in (db.session.rollback, db.session.remove):
        with contextlib.suppress(Exception):  # the connection is gone; drop it, keep serving
            step()


def _roll_back() -> None:
    """Drop what the failed request changed before the error page is made (and committed)."""
    from core.extensions import db

    try:
        db.session.rollback()
    except Exception:  # the connection itself failed; the page is still owed
        _forget_connection()


def render_without_database(template: str, context: dict[str, Any]) -> str:
    """Render a page without the context processors: they may read the database that is away."""
    from core.config import LOCALES
    from core.i18n import LANGUAGE_NAMES, current_locale

    base = {"request": request, "session": session, "g": g, "config": current_app.config,
            "current_locale": current_locale(), "language_names": LANGUAGE_NAMES,
            "locales": LOCALES}
    return current_app.jinja_env.get_template(template).render({**base, **context})


def database_unavailable():
    """503 with Retry-After for a database outage; nothing about the database is disclosed."""
    _forget_connection()
    message = outage_message()
    if wants_json():
        response = jsonify({"error": {"status": 503, "message": message}})
    else:
        page = current_app.extensions.get("sipas_outage_pages", {}).get(request.blueprint)
        template, context = (page(message) if page is not None
                             else ("errors/error.html", {"code": 503, "message": message}))
        response = make_response(render_without_database(template, context))
    response.status_code = 503
    response.headers["Retry-After"] = str(OUTAGE_RETRY_AFTER_S)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        _roll_back()
        return render_error(
            400, _("This form has expired or was not sent from this site. Please try again.")
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        _roll_back()  # an exception escaped the view: its unfinished changes are not kept
        message = getattr(error, "sipas_message", None)
        retry = getattr(error, "retry_after", None)
        response = render_error(error.code, message, retry)
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            # RFC 9110: a 405 names the methods the resource does accept.
            response.headers["Allow"] = ", ".join(sorted(set(error.valid_methods)))
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        from core.database import is_outage

        if is_outage(error):
            # The reason (host, port, driver message) goes to the log only.
            log.warning("database unavailable on %s %s: %s", request.method, request.path,
                        (str(error).splitlines() or [""])[0][:200])
            return database_unavailable()
        log.exception("unhandled error on %s %s", request.method, request.path)
        _roll_back()
        return render_error(InternalServerError.code)
