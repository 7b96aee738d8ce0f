"""Who is signed in to /admin/: the signed session cookie holds the user id, the account's session
epoch when it started, its start and its last activity; the epoch in the database revokes it."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, g, redirect, request, session, url_for
from werkzeug.exceptions import Forbidden

from core.extensions import db
from core.models import User

_MISSING = object()


# The cookie is re-signed at most this often by mere use (the idle clock is kept in minutes).
_SEEN_EVERY = 60


def current_user() -> User | None:
    """The signed-in, active user, or None: a session that was idle too long, is older than its
    absolute lifetime, or whose account's session epoch moved on (sign-out, password change or
    reset, disable, role change) counts as signed out."""
    # Cached per request (not per app context: tests and CLI reuse one app context).
    cached = getattr(request, "_sipas_user", _MISSING)
    if cached is not _MISSING:
        return cached
    user = None
    uid = session.get("uid")
    now = int(time.time())
    last = session.get("seen", 0)
    started = session.get("iat", 0)
    idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
    lifetime = current_app.config["SESSION_MAX_HOURS"] * 3600
    if uid is not None and now - last <= idle and now - started <= lifetime:
        candidate = db.session.get(User, uid)
        if (
            candidate is not None
            and candidate.active
            and session.get("ep") == candidate.session_epoch
        ):
            user = candidate
            if now - last >= _SEEN_EVERY:
                session["seen"] = now
    if user is None and uid is not None:
        session.clear()
    g.user = user
    request._sipas_user = user  # type: ignore[attr-defined]
    return user


def start_session(user: User) -> None:
    """A fresh session (no fixation) bound to the account's current session epoch; the cookie
    holds the user id, the epoch and two times, nothing derived from the password."""
    session.clear()
    now = int(time.time())
    session["uid"] = user.id
    session["ep"] = user.session_epoch
    session["iat"] = now
    session["seen"] = now
    session.permanent = False
    g.user = user
    request._sipas_user = user  # type: ignore[attr-defined]


def end_session() -> None:
    session.clear()
    g.pop("user", None)
    request._sipas_user = None  # type: ignore[attr-defined]


# Pages a user who must change their password may still reach.
PASSWORD_CHANGE_ENDPOINTS = frozenset({"admin_account.password", "admin.logout"})


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any):
        user = current_user()
        if user is None:
            return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
        if user.must_change_password and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
            # A reset or newly created account first replaces its temporary password.
            return redirect(url_for("admin_account.password"))
        return view(*args, **kwargs)

    return wrapped


def role_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any):
            user = current_user()
            if user is None or user.role not in roles:
                raise Forbidden()
            return view(*args, **kwargs)

        return wrapped

    return decorator
