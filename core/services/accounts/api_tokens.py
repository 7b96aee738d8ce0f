"""Per-user tokens for the reporting API: shown once, only a SHA-256 hash is stored.

A refused creation or revocation raises ``ServiceError``: ``token.name``, ``token.too_many``,
``token.missing`` (404).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from core.extensions import db
from core.models import ApiToken, User, utcnow
from core.services.accounts import audit
from core.services.errors import ServiceError
from core.services.unit_of_work import write_unit

PREFIX = "sipas_"
MAX_TOKENS = 20
# last_used_at is a hint for the owner, not an audit trail: write it at most once a minute.
TOUCH_EVERY = timedelta(minutes=1)


def _hash(token: str) -> str:
    # The token has 256 bits of entropy, so a fast hash is enough (no dictionary to guess from).
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_of(user: User) -> list[ApiToken]:
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    ))


@write_unit
def create(user: User, name: str) -> str:
    """Create a token for ``user``; returns the secret, which is never shown again."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 100 or any(ord(ch) < 32 for ch in name):
        raise ServiceError("token.name")
    active = [t for t in tokens_of(user) if t.revoked_at is None]
    if len(active) >= MAX_TOKENS:
        raise ServiceError("token.too_many")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=_hash(secret))
    db.session.add(token)
    db.session.flush()
    audit.record("api_token.create", user=user, target_type="api_token", target_id=token.id,
                 unit_id=user.unit_id, details={"name": name})
    return secret


@write_unit
def revoke(user: User, token_id: int) -> None:
    """Revoke one of the user's own tokens (someone else's looks missing)."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise ServiceError("token.missing", status=404)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record("api_token.revoke", user=user, target_type="api_token",
                     target_id=token.id, unit_id=user.unit_id)


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
        _touch(token.id, now)
    return user


@write_unit
def _touch(token_id: int, now: datetime) -> None:
    """Note when a token was last used (kept by the request's commit)."""
    token = db.session.get(ApiToken, token_id)
    if token is not None:
        token.last_used_at = now
