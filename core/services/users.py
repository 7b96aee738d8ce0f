"""Administrator accounts: creation, roles, passwords, disabling, and who may manage whom.

Who may manage accounts (documented in docs/ADMIN.md):
- a system administrator manages every account, of any role and unit;
- a unit manager may create viewer accounts for units in their own subtree, and reset the
  password of, disable or re-enable those viewers; they never change managers or administrators
  and never grant a role above viewer;
- a viewer manages no account but their own password.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import Forbidden, NotFound

from core.extensions import db
from core.models import ROLES, Unit, User, utcnow
from core.passwords import hash_password, verify_password
from core.services import audit, scope
from core.services.messages import _
from core.services.pagination import PAGE_SIZE, Page, keyset
from core.services.unit_of_work import write_unit

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200


class AccountError(ValueError):
    """A user could not be created or changed; the message says why, ``field`` says where."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def password_problem(username: str, password: str) -> str | None:
    """Why a new password is refused, or None: at least 10 characters, not the username."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return _("A password needs at least %(n)d characters.", n=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return _("A password has at most %(n)d characters.", n=MAX_PASSWORD_LENGTH)
    if username and password.strip().lower() == username.strip().lower():
        return _("The password must not be the username.")
    return None


def _check_password(username: str, password: str) -> None:
    problem = password_problem(username, password)
    if problem:
        raise AccountError(problem, field="password")


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
        raise AccountError(_("A username has 1 to 80 characters."))
    if role not in ROLES:
        raise AccountError(_("Choose a role from the list."))
    if role != "admin" and unit is None:
        raise AccountError(_("Managers and viewers need a unit."))
    _check_password(username, password)
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(_("The username %(name)s is already taken.", name=username),
                           field="username")
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
    _check_password(user.username, password)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()


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
            raise AccountError(_("Managers and viewers need a unit."))
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
    db.session.commit()
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
        raise AccountError(_("You cannot change your own role."))
    unit = _unit_for(actor, role, unit_id)
    before = _snapshot(user)
    user.role = role
    user.unit_id = unit.id if unit is not None and role != "admin" else None
    user.full_name = full_name.strip()
    user.email = (email or "").strip() or None
    changes = audit.changes_between(before, _snapshot(user))
    if changes:
        action = "user.role" if "role" in changes or "unit_id" in changes else "user.update"
        audit.record(action, user=actor, target_type="user", target_id=user.id,
                     unit_id=user.unit_id, details={"username": user.username,
                                                    "changes": changes})
    db.session.commit()
    return user


@write_unit
def reset_password(actor: User, user_id: int, temporary_password: str) -> User:
    """Give an account a temporary password that must be changed at the next sign-in."""
    user = _manageable_user(actor, user_id)
    set_password(user, temporary_password)
    user.must_change_password = True
    user.failed_logins = 0
    user.locked_until = None
    audit.record("user.password_reset", user=actor, target_type="user", target_id=user.id,
                 unit_id=user.unit_id, details={"username": user.username})
    db.session.commit()
    return user


@write_unit
def set_active(actor: User, user_id: int, active: bool) -> User:
    """Disable (or re-enable) an account; a disabled account's sessions end at once."""
    user = _manageable_user(actor, user_id)
    if user.id == actor.id:
        raise AccountError(_("You cannot disable your own account."))
    if user.active != active:
        user.active = active
        if active:
            user.failed_logins = 0
            user.locked_until = None
        audit.record("user.enable" if active else "user.disable", user=actor,
                     target_type="user", target_id=user.id, unit_id=user.unit_id,
                     details={"username": user.username})
    db.session.commit()
    return user


@write_unit
def change_own_password(user_id: int, current: str, new: str) -> User:
    """A signed-in user changes their password; the current one proves it is them."""
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound()
    if not verify_password(user.password_hash, current):
        audit.record("user.password_change_failed", user=user, target_type="user",
                     target_id=user.id, unit_id=user.unit_id)
        db.session.commit()
        raise AccountError(_("The current password is wrong."), field="current")
    if current == new:
        raise AccountError(_("The new password must differ from the current one."), field="new")
    set_password(user, new)
    user.must_change_password = False
    audit.record("user.password_change", user=user, target_type="user", target_id=user.id,
                 unit_id=user.unit_id)
    db.session.commit()
    return user


def is_locked(user: User, now: datetime | None = None) -> bool:
    return user.locked_until is not None and user.locked_until > (now or utcnow())
