"""Small helpers shared by the admin views (no logic of their own)."""

from __future__ import annotations

from flask import request

from admin.auth import current_user
from core.models import User
from core.routing import MAX_ID, parse_id


def actor() -> User:
    """The signed-in user of a view behind ``login_required``."""
    user = current_user()
    assert user is not None  # login_required ran first
    return user


def after_arg() -> str | None:
    """The keyset of the page asked for (``?after=``); absent or empty means the first page."""
    value = request.args.get("after", "").strip()
    return value[:200] or None


def int_after_arg(maximum: int = MAX_ID) -> int | None:
    """``?after=`` as an id no larger than the keyset column holds (else the first page)."""
    return parse_id(after_arg(), maximum)


INVALID = 422  # the status of a form sent back with errors
