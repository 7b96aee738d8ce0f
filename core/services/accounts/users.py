"""Administrator accounts: creation, roles, passwords, disabling, and who may manage whom.

Who may manage accounts (documented in docs/ADMIN.md):
- a system administrator manages every account, of any role and unit;
- a unit manager may create viewer accounts for units in their own subtree, and reset the
  password of, disable or re-enable those viewers; they never change managers or administrators
  and never grant a role above viewer;
- a viewer manages no account but their own password.

A refused change raises ``ServiceError``; its code starts with the input it concerns
(``username.``, ``password.``, ``current_password.``, ``new_password.``) or with ``account.``
when it concerns the request as a whole. The admin blueprint has the words.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import Forbidden, NotFound

from core import ratelimit
from core.extensions import db
from core.models import ROLES, ApiToken, Unit, User, utcnow
from core.passwords import hash_password, verify_password
from core.services.accounts import audit
from core.services.errors import ServiceError
from core.services.org import scope
from core.services.pagination import PAGE_SIZE, Page, keyset
from core.services.unit_of_work import write_unit

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200


# Words a Vietnamese office guesses first; zxcvbn's own lists are English, so they are added as
# dictionary words next to the account's own name.
_LOCAL_WORDS = ("matkhau", "anhyeuem", "emyeuanh", "yeuem", "vietnam", "hanoi", "saigon",
                "hochiminh", "sipas", "admin", "quantri", "motcua", "tiepdan", "kiosk")
MIN_PASSWORD_SCORE = 3  # zxcvbn: 3 = "safely unguessable" against online and slowed attacks


def _weakness(password: str, words: list[str]) -> str | None:
    """Why zxcvbn (the password strength estimator) finds a password easy to guess (a code), or
    None."""
    from zxcvbn import zxcvbn  # builds its dictionaries on import: only when a password is set

    if password.lower() in _common_passwords():
        return "password.common"
    result = zxcvbn(password, user_inputs=words, max_length=MAX_PASSWORD_LENGTH)
    if result["score"] >= MIN_PASSWORD_SCORE:
        return None
    patterns = {match["pattern"] for match in result["sequence"]}
    if "repeat" in patterns:
        return "password.repeated"
    if "sequence" in patterns:
        return "password.sequence"
    if "spatial" in patterns:
        return "password.keyboard"
    return "password.guessable"


@cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 most used passwords, as zxcvbn ships them."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(username: str, password: str, full_name: str = "") -> ServiceError | None:
    """Why a new password is refused, or None: 10 to 200 characters, not the username, not one
    of the most common passwords and hard to guess by zxcvbn's estimate (score 3 of 4)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return ServiceError("password.too_short", n=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return ServiceError("password.too_long", n=MAX_PASSWORD_LENGTH)
    if username and password.strip().lower() == username.strip().lower():
        return ServiceError("password.is_username")
    words = [w for w in (username, *full_name.split(), *_LOCAL_WORDS) if w]
    weakness = _weakness(password, words)
    return ServiceError(weakness) if weakness else None


def guess_limit() -> ratelimit.Limit:
    """Password tries allowed per lock window (per address and account at sign-in, per account
    on the password-change form): ``LOGIN_MAX_FAILURES`` in ``LOGIN_LOCK_MINUTES``."""
    config = current_app.config
    return ratelimit.Limit(int(config.get("LOGIN_MAX_FAILURES", 5)),
                           int(config.get("LOGIN_LOCK_MINUTES", 15)) * 60)


def _check_password(username: str, password: str, full_name: str = "") -> None:
    problem = password_problem(username, password, full_name)
    if problem:
        raise problem


def create_user(
    username: str,
    password: str,
    role: str = "viewer",
    unit: Unit | None = None,
    full_name: str = "",
    actor: User | None = None,
    must_change_password: bool = False,
) -> User:
    """Create an account (audited, not committed); managers and viewers need a unit."""
    username = username.strip().lower()
    if not username or len(username) > 80:
        raise ServiceError("username.length")
    if role not in ROLES:
        raise ServiceError("account.role")
    if role != "admin" and unit is None:
        raise ServiceError("account.unit_required")
    _check_password(username, password, full_name)
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ServiceError("username.taken", name=username)
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        unit_id=unit.id if unit else None,
        full_name=full_name,
        must_change_password=must_change_password,
        password_changed_at=utcnow(),
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
    _check_password(user.username, password, user.full_name or "")
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()


def end_sessions(user: User, revoke_tokens: bool = True) -> None:
    """End every session of the account at once (its epoch moves on) and, unless it is only a
    sign-out, revoke its API tokens too (in the caller's write unit)."""
    db.session.execute(
        update(User).where(User.id == user.id)
        .values(session_epoch=User.session_epoch + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(user, ["session_epoch"])
    if revoke_tokens:
        db.session.execute(
            update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
            .execution_options(synchronize_session=False)
        )


# --- who may see and manage whom -------------------------------------------------------------


def visible_users(actor: User):
    """A SELECT of the accounts an actor may see: all for admins, their subtree for others."""
    query = select(User)
    if actor.role != "admin":
        query = query.where(User.unit_id.in_(scope.visible_units(actor)))
    return query


def get_user(actor: User, user_id: int) -> User:
    """An account the actor may see, or 404 (another unit's account looks like a missing one)."""
    if actor.role == "viewer" and user_id != actor.id:
        raise NotFound()
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    if actor.role != "admin" and (user.unit is None or not scope.can_see(actor, user.unit)):
        raise NotFound()
    return user


def may_manage_user(actor: User, user: User) -> bool:
    if actor.role == "admin":
        return True
    return actor.role == "manager" and user.role == "viewer" and user.id != actor.id


def assignable_roles(actor: User) -> tuple[str, ...]:
    return ROLES if actor.role == "admin" else ("viewer",) if actor.role == "manager" else ()


def _manageable_user(actor: User, user_id: int) -> User:
    user = get_user(actor, user_id)
    if not may_manage_user(actor, user):
        raise Forbidden()
    return user


def list_users(actor: User, after: str | None = None, limit: int = PAGE_SIZE) -> Page[User]:
    if actor.role == "viewer":
        raise Forbidden()
    query = visible_users(actor).options(joinedload(User.unit))
    return keyset(query, User.username, after, limit=limit)


def _unit_for(actor: User, role: str, unit_id: int | None) -> Unit | None:
    if role not in assignable_roles(actor):
        raise Forbidden()
    if unit_id is None:
        if role != "admin":
            raise ServiceError("account.unit_required")
        return None
    return scope.get_unit(actor, unit_id)


@write_unit
def create_account(
    actor: User, username: str, password: str, role: str, unit_id: int | None,
    full_name: str = "", email: str | None = None,
) -> User:
    """An account made in the admin pages: the new user must choose their own password."""
    if actor.role not in ("admin", "manager"):
        raise Forbidden()
    unit = _unit_for(actor, role, unit_id)
    user = create_user(
        username, password, role=role, unit=unit if role != "admin" else None,
        full_name=full_name.strip(), actor=actor, must_change_password=True,
    )
    user.email = (email or "").strip() or None
    return user


def _snapshot(user: User) -> dict[str, Any]:
    return {"role": user.role, "unit_id": user.unit_id, "full_name": user.full_name,
            "email": user.email}


@write_unit
def update_account(
    actor: User, user_id: int, role: str, unit_id: int | None, full_name: str,
    email: str | None,
) -> User:
    """Change an account's role, unit or name (role changes are audited as such)."""
    user = _manageable_user(actor, user_id)
    if user.id == actor.id and role != actor.role:
        raise ServiceError("account.own_role")
    unit = _unit_for(actor, role, unit_id)
    before = _snapshot(user)
    user.role = role
    user.unit_id = unit.id if unit is not None and role != "admin" else None
    user.full_name = full_name.strip()
    user.email = (email or "").strip() or None
    changes = audit.changes_between(before, _snapshot(user))
    if changes:
        action = "user.role" if "role" in changes or "unit_id" in changes else "user.update"
        if action == "user.role":
            end_sessions(user)  # signed in again, the account works with its new rights only
        audit.record(action, user=actor, target_type="user", target_id=user.id,
                     unit_id=user.unit_id, details={"username": user.username,
                                                    "changes": changes})
    return user


@write_unit
def reset_password(actor: User, user_id: int, temporary_password: str) -> User:
    """Give an account a temporary password that must be changed at the next sign-in."""
    user = _manageable_user(actor, user_id)
    set_password(user, temporary_password)
    user.must_change_password = True
    end_sessions(user)
    audit.record("user.password_reset", user=actor, target_type="user", target_id=user.id,
                 unit_id=user.unit_id, details={"username": user.username})
    return user


@write_unit
def set_active(actor: User, user_id: int, active: bool) -> User:
    """Disable (or re-enable) an account; a disabled account's sessions end at once."""
    user = _manageable_user(actor, user_id)
    if user.id == actor.id:
        raise ServiceError("account.own_disable")
    if user.active != active:
        user.active = active
        if not active:
            end_sessions(user)
        audit.record("user.enable" if active else "user.disable", user=actor,
                     target_type="user", target_id=user.id, unit_id=user.unit_id,
                     details={"username": user.username})
    return user


def change_own_password(user_id: int, current: str, new: str) -> User:
    """A signed-in user changes their password; the current one proves it is them.

    A wrong or rate-limited current password is refused (``current_password.wrong``, or
    ``current_password.too_many_guesses`` with ``retry_after`` seconds) and audited: a caller
    that answers the refusal (rather than letting it escape a request) keeps the audit entry.
    """
    refusal = _check_current_password(user_id, current)
    if refusal is not None:
        raise refusal
    return _set_own_password(user_id, current, new)


@write_unit
def _check_current_password(user_id: int, current: str) -> ServiceError | None:
    """The refusal of a wrong or rate-limited current password (audited), or None."""
    user = _active_user(user_id)
    # Like sign-in: each try is counted before the password is checked, in one atomic step, so
    # a stolen session cannot guess the current password faster than the sign-in form allows.
    limit = guess_limit()
    with ratelimit.required("password-change"):
        allowed = ratelimit.hit("password-change", str(user.id), limit)
        wait = None if allowed else ratelimit.retry_after("password-change", str(user.id), limit)
    if wait is not None:
        audit.record("user.password_change_failed", user=user, target_type="user",
                     target_id=user.id, unit_id=user.unit_id, details={"reason": "limited"})
        return ServiceError("current_password.too_many_guesses", status=429, retry_after=wait)
    if not verify_password(user.password_hash, current):
        audit.record("user.password_change_failed", user=user, target_type="user",
                     target_id=user.id, unit_id=user.unit_id)
        return ServiceError("current_password.wrong")
    with ratelimit.required("password-change"):
        ratelimit.reset("password-change", str(user.id))
    return None


@write_unit
def _set_own_password(user_id: int, current: str, new: str) -> User:
    user = _active_user(user_id)
    if current == new:
        raise ServiceError("new_password.unchanged")
    set_password(user, new)
    user.must_change_password = False
    end_sessions(user)  # the caller starts this browser's session again
    audit.record("user.password_change", user=user, target_type="user", target_id=user.id,
                 unit_id=user.unit_id)
    return user


def _active_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound()
    return user
