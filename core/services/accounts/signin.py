"""Signing in to the admin area, limited per attempt source and per client address.

- Per attempt source (client address + username): at most ``LOGIN_MAX_FAILURES`` (5) tries in
  a moving window of ``LOGIN_LOCK_MINUTES`` (15); a success clears the source's count. A guesser
  elsewhere locks only themselves out, never the owner signing in from the office.
- Per client address, across accounts (against password spraying): ``LOGIN_IP_ATTEMPTS`` (30)
  tries per window.
- Each try is counted before the password is checked, in one atomic operation of the
  rate-limit store (``core.ratelimit``: Redis when configured, shared by every instance), so
  parallel tries never get more passwords checked than the limit.
- Known and unknown usernames, locked or not, get the same answers, the same Retry-After rule
  (seconds until the source's oldest try leaves the window) and the same work: exactly one
  argon2 verification, against a dummy hash when the name is unknown.
- A refusal is audited (``login.failed``, ``login.locked``) and returned, not raised: the
  view answers 401 or 429 and the request's commit keeps the entries.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request
from sqlalchemy import select

from core import ratelimit
from core.extensions import db
from core.models import User, utcnow
from core.passwords import hash_password, needs_rehash, verify_password
from core.services.accounts import audit
from core.services.accounts.users import end_sessions, guess_limit
from core.services.unit_of_work import write_unit

# Verified when the username is unknown, so a miss costs the same time as a wrong password.
# Made at the first sign-in, not at import (an argon2 hash costs a noticeable fraction of a
# second, which every process start and CLI command would otherwise pay).
_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("not-a-real-password-for-timing-only")
    return _DUMMY_HASH


@dataclass(frozen=True)
class LoginResult:
    """The signed-in user, or why not: ``retry_after`` (seconds) is set when locked out."""

    user: User | None
    retry_after: int | None = None

    @property
    def locked(self) -> bool:
        return self.retry_after is not None


def _address_limit() -> ratelimit.Limit:
    config = current_app.config
    return ratelimit.Limit(int(config.get("LOGIN_IP_ATTEMPTS", 30)),
                           int(config.get("LOGIN_LOCK_MINUTES", 15)) * 60)


def _client() -> str:
    return request.remote_addr or "unknown"


def authenticate(username: str, password: str) -> LoginResult:
    """Check a sign-in; every outcome (success, failure, lockout) is audited.

    The password is checked outside the write unit: argon2 takes a noticeable fraction of a
    second, and SQLite's write lock is not held that long. Without the limit store, 503.
    """
    with ratelimit.required("login"):
        return _authenticate(username, password)


def _authenticate(username: str, password: str) -> LoginResult:
    source_limit, address_limit = guess_limit(), _address_limit()
    name = username.strip().lower()[:80]
    ip = _client()
    source = f"{ip}/{name}"
    # Count first, then check (one atomic step each).
    address_ok = ratelimit.hit("login-ip", ip, address_limit)
    source_ok = address_ok and ratelimit.hit("login-source", source, source_limit)
    user = db.session.scalar(select(User).where(User.username == name))
    # Exactly one argon2 verification whatever the case, so the time tells nothing.
    matches = verify_password(user.password_hash if user is not None else _dummy_hash(), password)
    user_id = user.id if user is not None else None
    if not address_ok:
        return _refused(name, user_id, "ip_limited",
                        ratelimit.retry_after("login-ip", ip, address_limit))
    if not source_ok:
        return _refused(name, user_id, "locked",
                        ratelimit.retry_after("login-source", source, source_limit))
    if user is None or not matches or not user.active:
        reason = "disabled" if user is not None and not user.active else "bad_credentials"
        # After the source's last try in this window, say so at once.
        wait = (ratelimit.retry_after("login-source", source, source_limit)
                if ratelimit.exceeded("login-source", source, source_limit) else None)
        return _refused(name, user_id, reason, wait, minutes=source_limit.seconds // 60)
    ratelimit.reset("login-source", source)
    return _signed_in(user.id, password)


@write_unit
def _refused(name: str, user_id: int | None, reason: str, retry_after: int | None,
             minutes: int | None = None) -> LoginResult:
    user = db.session.get(User, user_id) if user_id is not None else None
    unit_id = user.unit_id if user is not None else None
    audit.record("login.failed", username=name, unit_id=unit_id, details={"reason": reason})
    if minutes is not None and retry_after is not None:
        audit.record("login.locked", username=name, target_type="user" if user else None,
                     target_id=user_id, unit_id=unit_id, details={"minutes": minutes})
    return LoginResult(None, retry_after)


@write_unit
def _signed_in(user_id: int, password: str) -> LoginResult:
    user = db.session.get(User, user_id)
    if user is None or not user.active:  # disabled while the password was being checked
        return LoginResult(None)
    user.last_login_at = utcnow()
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit.record("login", user=user, unit_id=user.unit_id)
    return LoginResult(user)


@write_unit
def record_logout(user: User) -> None:
    """Sign-out ends every session of the account (a copied cookie included); API tokens stay."""
    end_sessions(user, revoke_tokens=False)
    audit.record("logout", user=user, unit_id=user.unit_id)
