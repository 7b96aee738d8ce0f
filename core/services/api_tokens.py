"""Per-user tokens for the reporting API: shown once, only a SHA-256 hash is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from core.database import begin_write
from core.extensions import db
from core.models import ApiToken, User, utcnow
from core.services import audit

PREFIX = "sipas_"
MAX_TOKENS = 20
# last_used_at is a hint for the owner, not an audit trail: write it at most once a minute.
TOUCH_EVERY = timedelta(minutes=1)


class TokenError(ValueError):
    """A token could not be created or revoked; ``code`` names why."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _hash(token: str) -> str:
    # The token has 256 bits of entropy, so a fast hash is enough (no dictionary to guess from).
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_of(user: User) -> list[ApiToken]:
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    ))


def create(user: User, name: str) -> str:
    """Create a token for ``user``; returns the secret, which is never shown again."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 100 or any(ord(ch) < 32 for ch in name):
        raise TokenError("name")
    begin_write()
    active = [t for t in tokens_of(user) if t.revoked_at is None]
    if len(active) >= MAX_TOKENS:
        raise TokenError("too_many")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=_hash(secret))
    db.session.add(token)
    db.session.flush()
    audit.record("api_token.create", user=user, target_type="api_token", target_id=token.id,
                 unit_id=user.unit_id, details={"name": name})
    db.session.commit()
    return secret


def revoke(user: User, token_id: int) -> None:
    """Revoke one of the user's own tokens (someone else's looks missing)."""
    begin_write()
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise TokenError("missing")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record("api_token.revoke", user=user, target_type="api_token",
                     target_id=token.id, unit_id=user.unit_id)
    db.session.commit()


def expires_at(token: ApiToken) -> datetime:
    """When the token stops working: SIPAS_API_TOKEN_DAYS after it was created (no token lives
    for ever; a program that still needs access gets a new one)."""
    return token.created_at + timedelta(days=current_app.config["API_TOKEN_DAYS"])


def authenticate(secret: str | None) -> User | None:
    """The active user owning a live (not revoked, not expired) token, or None."""
    if not secret or not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(secret)))
    if token is None or token.revoked_at is not None or expires_at(token) <= utcnow():
        return None
    user = token.user
    if user is None or not user.active:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        begin_write()
        token.last_used_at = now
        db.session.commit()
    return user
