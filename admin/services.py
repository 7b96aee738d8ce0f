"""Admin area logic: signing in."""

from __future__ import annotations

from sqlalchemy import select

from core.database import begin_write
from core.extensions import db
from core.models import User, utcnow
from core.passwords import verify_password
from core.services import audit


def authenticate(username: str, password: str) -> User | None:
    """The user whose password matches, or None; both outcomes are audited."""
    begin_write()
    name = username.strip().lower()
    user = db.session.scalar(select(User).where(User.username == name))
    if user is None or not user.active or not verify_password(user.password_hash, password):
        audit.record("login.failed", username=name[:80], details={"reason": "bad_credentials"})
        db.session.commit()
        return None
    user.last_login_at = utcnow()
    audit.record("login", user=user, unit_id=user.unit_id)
    db.session.commit()
    return user
