"""Least privilege by unit: which units a user may see, enforced in services on every query."""

from __future__ import annotations

from sqlalchemy import Select, select
from werkzeug.exceptions import NotFound

from core.extensions import db
from core.models import Counter, Officer, Unit, User


def root_unit(user: User) -> Unit | None:
    """The top of what the user may see; None means everything (system administrators)."""
    if user.role == "admin":
        return None
    if user.unit_id is None:
        raise NotFound()
    return db.session.get(Unit, user.unit_id)


def visible_units(user: User) -> Select:
    """A SELECT of the units the user may see, to filter or join any query by."""
    query = select(Unit.id)
    root = root_unit(user)
    if root is not None:
        query = query.where(Unit.path.startswith(root.path))
    return query


def can_see(user: User, unit: Unit | None) -> bool:
    if unit is None:
        return False
    root = root_unit(user)
    return root is None or unit.path.startswith(root.path)


def get_unit(user: User, unit_id: int) -> Unit:
    """A unit the user may see, or 404: another unit's id looks exactly like a missing one."""
    unit = db.session.get(Unit, unit_id)
    if not can_see(user, unit):
        raise NotFound()
    return unit  # type: ignore[return-value]


def may_see_officers(user: User) -> bool:
    """Officer-level figures: system administrators and unit managers, never viewers."""
    return user.role in ("admin", "manager")


def get_counter(user: User, counter_id: int) -> Counter:
    """A counter of a unit the user may see, or 404."""
    counter = db.session.get(Counter, counter_id)
    if counter is None or not can_see(user, counter.unit):
        raise NotFound()
    return counter


def get_officer(user: User, officer_id: int) -> Officer:
    """An officer of a unit the user may see, or 404 (viewers never reach officer records)."""
    officer = db.session.get(Officer, officer_id)
    if officer is None or not can_see(user, officer.unit):
        raise NotFound()
    return officer


def may_manage(user: User, unit: Unit) -> bool:
    """Configuration changes: administrators anywhere, managers inside their subtree."""
    return user.role == "admin" or (user.role == "manager" and can_see(user, unit))
