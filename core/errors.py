"""Localised error pages, and JSON errors under /api/ (never a stack trace)."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

log = logging.getLogger(__name__)
BUSY_RETRY_AFTER_S = 5


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
        response = make_response(render_template("errors/error.html", code=code, message=text))
    response.status_code = code
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        return render_error(
            400, _("This form has expired or was not sent from this site. Please try again.")
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        message = getattr(error, "sipas_message", None)
        retry = getattr(error, "retry_after", None)
        response = render_error(error.code, message, retry)
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            # RFC 9110: a 405 names the methods the resource does accept.
            response.headers["Allow"] = ", ".join(sorted(set(error.valid_methods)))
        return response

    @app.errorhandler(OperationalError)
    def _busy(error: OperationalError):
        # A lock timeout or a lost database connection is passing trouble, not a bug: the
        # client may try again shortly (the OpenAPI document lists this 503 with Retry-After).
        from core.extensions import db

        db.session.rollback()
        log.warning("database busy or unavailable on %s %s: %s", request.method, request.path,
                    str(error).splitlines()[0][:200])
        return render_error(503, retry_after=BUSY_RETRY_AFTER_S)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(InternalServerError.code)
