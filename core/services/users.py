"""Administrator accounts."""

from __future__ import annotations

from sqlalchemy import select

from core.extensions import db
from core.models import ROLES, Unit, User
from core.passwords import hash_password
from core.services import audit

MIN_PASSWORD_LENGTH = 10


class AccountError(ValueError):
    """A user could not be created or changed; the message says why."""


def create_user(
    username: str,
    password: str,
    role: str = "viewer",
    unit: Unit | None = None,
    full_name: str = "",
    actor: User | None = None,
) -> User:
    """Create an account (audited); managers and viewers need a unit to scope what they see."""
    username = username.strip().lower()
    if not username or len(username) > 80:
        raise AccountError("username must be 1-80 characters")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if role != "admin" and unit is None:
        raise AccountError("managers and viewers need a unit")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"user {username!r} already exists")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        unit_id=unit.id if unit else None,
        full_name=full_name,
    )
    db.session.add(user)
    db.session.flush()
    audit.record(
        "user.create",
        user=actor,
        username=None if actor else "cli",
        target_type="user",
        target_id=user.id,
        unit_id=user.unit_id,
        details={"username": username, "role": role},
    )
    return user


def set_password(user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_password(password)
