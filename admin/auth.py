"""Who is signed in to /admin/: the session holds the user id and the time of last activity."""

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


def current_user() -> User | None:
    """The signed-in, active user, or None (an idle or disabled session counts as signed out)."""
    # Cached per request (not per app context: tests and CLI reuse one app context).
    cached = getattr(request, "_sipas_user", _MISSING)
    if cached is not _MISSING:
        return cached
    user = None
    uid = session.get("uid")
    last = session.get("seen", 0)
    idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
    if uid is not None and time.time() - last <= idle:
        candidate = db.session.get(User, uid)
        # A password change or disable ends every other session of that user.
        if (
            candidate is not None
            and candidate.active
            and session.get("pwv") == password_version(candidate)
        ):
            user = candidate
            session["seen"] = int(time.time())
    if user is None and uid is not None:
        session.clear()
    g.user = user
    request._sipas_user = user  # type: ignore[attr-defined]
    return user


def password_version(user: User) -> str:
    return user.password_hash[-16:]


def start_session(user: User) -> None:
    session.clear()  # a fresh session on sign-in: no fixation
    session["uid"] = user.id
    session["pwv"] = password_version(user)
    session["seen"] = int(time.time())
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
