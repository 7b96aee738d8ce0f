"""Admin area logic: signing in, with lockout per account and rate limits per client address.

- Per account: ``User.failed_logins`` counts consecutive failures in the database (so every
  aggregator instance sees the same count); the fifth failure locks the account for 15 minutes
  (``User.locked_until``). While locked, the password is not even checked.
- Per client address: failures are counted in ``core.ratelimit`` (Redis when configured, shared
  by every instance); past the limit, that address is refused for the rest of the window.
- An unknown username is counted like an account (in the rate limiter), so the answers for an
  existing and a missing account are the same and cannot be used to find usernames.
Settings: ``LOGIN_MAX_FAILURES`` (5), ``LOGIN_LOCK_MINUTES`` (15), ``LOGIN_IP_FAILURES`` (30 per
lock window).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, request
from sqlalchemy import select, update

from core import ratelimit
from core.extensions import db
from core.models import User, utcnow
from core.passwords import hash_password, needs_rehash, verify_password
from core.services import audit
from core.services.unit_of_work import write_unit

# Checked when the username is unknown, so a miss costs the same time as a wrong password.
_DUMMY_HASH = hash_password("not-a-real-password-for-timing-only")


@dataclass(frozen=True)
class LoginResult:
    """The signed-in user, or why not: ``retry_after`` (seconds) is set when locked out."""

    user: User | None
    retry_after: int | None = None

    @property
    def locked(self) -> bool:
        return self.retry_after is not None


def _settings() -> tuple[int, int, ratelimit.Limit]:
    config = current_app.config
    failures = int(config.get("LOGIN_MAX_FAILURES", 5))
    minutes = int(config.get("LOGIN_LOCK_MINUTES", 15))
    ip_limit = ratelimit.Limit(int(config.get("LOGIN_IP_FAILURES", 30)), minutes * 60)
    return failures, minutes, ip_limit


def _client() -> str:
    return request.remote_addr or "unknown"


@write_unit
def authenticate(username: str, password: str) -> LoginResult:
    """Check a sign-in; every outcome (success, failure, lockout) is audited."""
    max_failures, minutes, ip_limit = _settings()
    name = username.strip().lower()[:80]
    ip = _client()
    now = utcnow()
    if ratelimit.exceeded("login-ip", ip, ip_limit):
        audit.record("login.failed", username=name, details={"reason": "ip_limited"})
        db.session.commit()
        return LoginResult(None, retry_after=ip_limit.seconds)
    user = db.session.scalar(select(User).where(User.username == name))
    if user is None:
        verify_password(_DUMMY_HASH, password)
        ratelimit.hit("login-ip", ip, ip_limit)
        within = ratelimit.hit("login-name", name, ratelimit.Limit(max_failures - 1, minutes * 60))
        audit.record("login.failed", username=name, details={"reason": "bad_credentials"})
        db.session.commit()
        return LoginResult(None, retry_after=None if within else minutes * 60)
    if user.locked_until is not None and user.locked_until > now:
        audit.record("login.failed", username=name, unit_id=user.unit_id,
                     details={"reason": "locked"})
        db.session.commit()
        return LoginResult(None, retry_after=math.ceil((user.locked_until - now).total_seconds()))
    if not verify_password(user.password_hash, password) or not user.active:
        ratelimit.hit("login-ip", ip, ip_limit)
        # One atomic increment, so concurrent guesses on several instances all count.
        db.session.execute(
            update(User).where(User.id == user.id)
            .values(failed_logins=User.failed_logins + 1)
            .execution_options(synchronize_session=False)
        )
        db.session.refresh(user)
        reason = "bad_credentials" if user.active else "disabled"
        audit.record("login.failed", username=name, unit_id=user.unit_id,
                     details={"reason": reason, "failures": user.failed_logins})
        if user.failed_logins >= max_failures:
            user.locked_until = now + timedelta(minutes=minutes)
            user.failed_logins = 0
            audit.record("login.locked", username=name, target_type="user", target_id=user.id,
                         unit_id=user.unit_id, details={"minutes": minutes})
            db.session.commit()
            return LoginResult(None, retry_after=minutes * 60)
        db.session.commit()
        return LoginResult(None)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit.record("login", user=user, unit_id=user.unit_id)
    db.session.commit()
    return LoginResult(user)


@write_unit
def record_logout(user: User) -> None:
    audit.record("logout", user=user, unit_id=user.unit_id)
    db.session.commit()
