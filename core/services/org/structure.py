"""Units, counters and officers: creation, the subtree rules and scoped, audited management.

Every function that takes an ``actor`` checks scope first (``core.services.org.scope``): another
unit's id is a 404, a unit the actor may see but not change is a 403. Nothing is ever deleted:
units, counters and officers are deactivated, so history keeps pointing at them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, func, literal, select, update
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import Forbidden

from core.extensions import db
from core.models import SCALES, UNIT_LEVELS, Counter, Officer, Unit, User
from core.passwords import hash_pin
from core.services.accounts import audit
from core.services.errors import ServiceError
from core.services.org import scope
from core.services.pagination import PAGE_SIZE, Page, keyset
from core.services.unit_of_work import write_unit

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
PIN_RE = re.compile(r"^[0-9]{4,8}$")
HOURS_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$")
# (min, max) of each kiosk setting, in seconds; the forms use the same bounds.
SETTING_BOUNDS = {
    "min_interval_s": (0, 3600),
    "idle_timeout_s": (5, 600),
    "followup_timeout_s": (5, 600),
}


def add_unit(code: str, name: str, level: str, parent: Unit | None = None) -> Unit:
    """Add a unit under ``parent`` and give it its materialised path (flushes to get the id)."""
    if level not in UNIT_LEVELS:
        raise ValueError(f"unknown unit level {level!r}")
    unit = Unit(code=code, name=name, level=level, parent_id=parent.id if parent else None)
    db.session.add(unit)
    db.session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    return unit


def subtree_ids(unit: Unit) -> list[int]:
    """Ids of a unit and every unit below it (one indexed prefix query)."""
    return list(db.session.scalars(select(Unit.id).where(Unit.path.startswith(unit.path))))


def is_within(unit: Unit, ancestor: Unit) -> bool:
    return unit.path.startswith(ancestor.path)


def depth(unit: Unit) -> int:
    """0 for a root unit, 1 for its children, ..."""
    return unit.path.count("/") - 2


# --- permission helpers ----------------------------------------------------------------------


def _manageable_unit(actor: User, unit_id: int) -> Unit:
    """A unit the actor may change: 404 outside their scope, 403 for viewers."""
    unit = scope.get_unit(actor, unit_id)
    if not scope.may_manage(actor, unit):
        raise Forbidden()
    return unit


def _below_own_root(actor: User, unit: Unit) -> None:
    """Managers change units below their own; only an administrator changes the top itself."""
    if actor.role != "admin" and unit.id == actor.unit_id:
        raise Forbidden()


def _code(value: str) -> str:
    code = (value or "").strip()
    if not CODE_RE.match(code):
        raise ServiceError("org.code")
    return code


def _name(value: str) -> str:
    name = (value or "").strip()
    if not name or len(name) > 200:
        raise ServiceError("org.name")
    return name


# --- units -----------------------------------------------------------------------------------


def list_units(actor: User, after: str | None = None, limit: int = PAGE_SIZE) -> Page[Unit]:
    """The actor's units as a tree: ordered by materialised path, so children follow parents."""
    query = select(Unit).where(Unit.id.in_(scope.visible_units(actor)))
    return keyset(query, Unit.path, after, limit=limit)


def unit_choices(
    actor: User, active_only: bool = True, exclude: Unit | None = None
) -> list[tuple[int, str]]:
    """(id, indented name) of the units an actor may pick, e.g. as a parent or a user's unit.

    ``exclude`` leaves out a unit and its subtree (a unit cannot move under itself).
    """
    query = select(Unit).where(Unit.id.in_(scope.visible_units(actor))).order_by(Unit.path)
    if active_only:
        query = query.where(Unit.active.is_(True))
    if exclude is not None:
        query = query.where(~Unit.path.startswith(exclude.path))
    return [
        (unit.id, "\u00a0\u00a0" * depth(unit) + f"{unit.name} ({unit.code})")
        for unit in db.session.scalars(query)
    ]


def _unique_unit_code(code: str, exclude: int | None = None) -> None:
    query = select(Unit.id).where(Unit.code == code)
    if exclude is not None:
        query = query.where(Unit.id != exclude)
    if db.session.scalar(query) is not None:
        raise ServiceError("org.unit_code_taken", code=code)


@write_unit
def create_unit(
    actor: User, code: str, name: str, level: str, parent_id: int | None
) -> Unit:
    """A new unit under ``parent_id`` (a root unit, without parent, is for administrators)."""
    if parent_id is None:
        if actor.role != "admin":
            raise Forbidden()
        parent = None
    else:
        parent = _manageable_unit(actor, parent_id)
    if level not in UNIT_LEVELS:
        raise ServiceError("org.level")
    code, name = _code(code), _name(name)
    _unique_unit_code(code)
    unit = add_unit(code, name, level, parent)
    audit.record_config(
        actor, "unit.create", unit, unit_id=unit.id,
        changes={"code": [None, code], "name": [None, name], "level": [None, level],
                 "parent_id": [None, parent_id]},
    )
    return unit


@write_unit
def update_unit(actor: User, unit_id: int, code: str, name: str, level: str) -> Unit:
    """Rename a unit (code, name, level); the id and so its history stay the same."""
    unit = _manageable_unit(actor, unit_id)
    _below_own_root(actor, unit)
    if level not in UNIT_LEVELS:
        raise ServiceError("org.level")
    code, name = _code(code), _name(name)
    _unique_unit_code(code, exclude=unit.id)
    before = {"code": unit.code, "name": unit.name, "level": unit.level}
    unit.code, unit.name, unit.level = code, name, level
    changes = audit.changes_between(before, {"code": code, "name": name, "level": level})
    if changes:
        audit.record_config(actor, "unit.update", unit, unit_id=unit.id, changes=changes)
    return unit


@write_unit
def move_unit(actor: User, unit_id: int, new_parent_id: int | None) -> Unit:
    """Put a unit (and its whole subtree) under another parent.

    The materialised paths of the subtree are rewritten in one UPDATE, in the same transaction
    as the new parent id, so no reader ever sees a half-moved tree.
    """
    unit = _manageable_unit(actor, unit_id)
    _below_own_root(actor, unit)
    if new_parent_id is None:
        if actor.role != "admin":
            raise Forbidden()
        parent = None
    else:
        parent = _manageable_unit(actor, new_parent_id)
        if is_within(parent, unit):
            raise ServiceError("org.move_into_itself")
    old_path = unit.path
    new_path = f"{parent.path if parent else '/'}{unit.id}/"
    old_parent = unit.parent_id
    if new_path != old_path:
        unit.parent_id = parent.id if parent else None
        db.session.flush()
        db.session.execute(
            update(Unit)
            .where(Unit.path.startswith(old_path))
            .values(path=literal(new_path, String) + func.substr(Unit.path, len(old_path) + 1)),
            # "fetch": units of the subtree already in the session see their new paths.
            execution_options={"synchronize_session": "fetch"},
        )
        audit.record_config(
            actor, "unit.move", unit, unit_id=unit.id,
            changes={"parent_id": [old_parent, unit.parent_id], "path": [old_path, new_path]},
        )
    return unit


@write_unit
def set_unit_active(actor: User, unit_id: int, active: bool) -> Unit:
    """Deactivate (or reactivate) a unit; its counters, officers and ratings stay as they are."""
    unit = _manageable_unit(actor, unit_id)
    _below_own_root(actor, unit)
    if unit.active != active:
        unit.active = active
        audit.record_config(
            actor, "unit.activate" if active else "unit.deactivate", unit, unit_id=unit.id,
            changes={"active": [not active, active]},
        )
    return unit


def parse_hours(text: str) -> list[list[str]]:
    """"07:30-11:30, 13:30-17:00" -> [["07:30", "11:30"], ["13:30", "17:00"]]; "" -> closed."""
    spans: list[list[str]] = []
    for part in (text or "").replace(";", ",").split(","):
        part = part.strip().replace(" ", "").replace("–", "-")
        if not part:
            continue
        match = HOURS_RE.match(part)
        if not match:
            raise ServiceError("org.hours_format", value=part[:20])
        start, end = part.split("-")
        if end <= start:
            raise ServiceError("org.hours_backwards", value=part)
        if spans and start < spans[-1][1]:
            raise ServiceError("org.hours_overlap", value=part)
        spans.append([start, end])
    return spans


def format_hours(spans: list[list[str]] | None) -> str:
    return ", ".join(f"{start}-{end}" for start, end in spans or [])


@write_unit
def set_opening_hours(actor: User, unit_id: int, days: dict[str, str]) -> Unit:
    """Opening hours per weekday in local time (``core.clock.LOCAL_TZ``); an empty day is closed."""
    unit = _manageable_unit(actor, unit_id)
    hours: dict[str, Any] = {}
    for day in WEEKDAYS:
        spans = parse_hours(days.get(day, ""))
        if spans:
            hours[day] = spans
    before = unit.opening_hours or {}
    if before != hours:
        unit.opening_hours = hours
        audit.record_config(
            actor, "unit.hours", unit, unit_id=unit.id, changes={"opening_hours": [before, hours]}
        )
    return unit


# --- counters --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CounterSettings:
    """The kiosk settings of a counter; also the kiosk's defaults (docs/DEVELOPING.md)."""

    scale: int = 3
    min_interval_s: int = 5
    require_transaction: bool = False
    idle_timeout_s: int = 15
    followup_timeout_s: int = 20

    def validated(self) -> CounterSettings:
        if self.scale not in SCALES:
            raise ServiceError("org.scale")
        for name, (low, high) in SETTING_BOUNDS.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise ServiceError("org.setting_range", setting=name, min=low, max=high)
        return self

    def as_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "min_interval_s": self.min_interval_s,
            "require_transaction": self.require_transaction,
            "idle_timeout_s": self.idle_timeout_s,
            "followup_timeout_s": self.followup_timeout_s,
        }


def _settings_of(counter: Counter) -> dict[str, Any]:
    return {
        "scale": counter.scale,
        "min_interval_s": counter.min_interval_s,
        "require_transaction": counter.require_transaction,
        "idle_timeout_s": counter.idle_timeout_s,
        "followup_timeout_s": counter.followup_timeout_s,
    }


def list_counters(
    actor: User, unit_id: int, after: str | None = None, limit: int = PAGE_SIZE
) -> Page[Counter]:
    unit = scope.get_unit(actor, unit_id)
    return keyset(select(Counter).where(Counter.unit_id == unit.id), Counter.code, after,
                  limit=limit)


def counter_choices(unit: Unit) -> list[tuple[int, str]]:
    query = (
        select(Counter)
        .where(Counter.unit_id == unit.id, Counter.active.is_(True))
        .order_by(Counter.code)
    )
    return [(c.id, f"{c.code} – {c.name}") for c in db.session.scalars(query)]


def _unique_counter_code(unit_id: int, code: str, exclude: int | None = None) -> None:
    query = select(Counter.id).where(Counter.unit_id == unit_id, Counter.code == code)
    if exclude is not None:
        query = query.where(Counter.id != exclude)
    if db.session.scalar(query) is not None:
        raise ServiceError("org.counter_code_taken", code=code)


@write_unit
def create_counter(
    actor: User, unit_id: int, code: str, name: str, settings: CounterSettings
) -> Counter:
    unit = _manageable_unit(actor, unit_id)
    code, name = _code(code), _name(name)
    _unique_counter_code(unit.id, code)
    values = settings.validated().as_dict()
    counter = Counter(unit_id=unit.id, code=code, name=name, **values)
    db.session.add(counter)
    db.session.flush()
    audit.record_config(
        actor, "counter.create", counter, unit_id=unit.id,
        changes={"code": [None, code], "name": [None, name]}
        | {k: [None, v] for k, v in values.items()},
    )
    return counter


@write_unit
def update_counter(
    actor: User, counter_id: int, code: str, name: str, active: bool, settings: CounterSettings
) -> Counter:
    """Rename a counter or change its kiosk settings (kiosks pick them up at their next sync)."""
    counter = scope.get_counter(actor, counter_id)
    if not scope.may_manage(actor, counter.unit):
        raise Forbidden()
    code, name = _code(code), _name(name)
    _unique_counter_code(counter.unit_id, code, exclude=counter.id)
    values = settings.validated().as_dict()
    before = {"code": counter.code, "name": counter.name, "active": counter.active}
    before |= _settings_of(counter)
    after = {"code": code, "name": name, "active": active} | values
    for key, value in after.items():
        setattr(counter, key, value)
    changes = audit.changes_between(before, after)
    if changes:
        audit.record_config(actor, "counter.update", counter, unit_id=counter.unit_id,
                            changes=changes)
    return counter


# --- officers --------------------------------------------------------------------------------


def _officer_scope(actor: User) -> None:
    if not scope.may_see_officers(actor):
        raise Forbidden()


def list_officers(
    actor: User,
    unit_id: int,
    counter_id: int | None = None,
    after: str | None = None,
    limit: int = PAGE_SIZE,
) -> Page[Officer]:
    """A unit's officers by code (the (unit_id, code) unique index serves filter and order)."""
    _officer_scope(actor)
    unit = scope.get_unit(actor, unit_id)
    # The counter of each row comes in the same query: a page costs the same whatever its size.
    query = select(Officer).where(Officer.unit_id == unit.id).options(joinedload(Officer.counter))
    if counter_id is not None:
        counter = scope.get_counter(actor, counter_id)
        if counter.unit_id != unit.id:
            raise ServiceError("org.counter_of_other_unit")
        query = query.where(Officer.counter_id == counter.id)
    return keyset(query, Officer.code, after, limit=limit)


def _pin(value: str) -> str:
    if not PIN_RE.match(value or ""):
        raise ServiceError("org.pin")
    return hash_pin(value)


def _counter_of_unit(actor: User, unit: Unit, counter_id: int | None) -> int | None:
    if counter_id is None:
        return None
    counter = scope.get_counter(actor, counter_id)
    if counter.unit_id != unit.id:
        raise ServiceError("org.counter_of_other_unit")
    return counter.id


@write_unit
def create_officer(
    actor: User, unit_id: int, code: str, full_name: str, counter_id: int | None,
    pin: str | None,
) -> Officer:
    """A new officer of a unit; the kiosk PIN is stored only as an argon2 hash."""
    _officer_scope(actor)
    unit = _manageable_unit(actor, unit_id)
    code, full_name = _code(code), _name(full_name)
    if db.session.scalar(
        select(Officer.id).where(Officer.unit_id == unit.id, Officer.code == code)
    ) is not None:
        raise ServiceError("org.officer_code_taken", code=code)
    officer = Officer(
        unit_id=unit.id,
        code=code,
        full_name=full_name,
        counter_id=_counter_of_unit(actor, unit, counter_id),
        pin_hash=_pin(pin) if pin else None,
    )
    db.session.add(officer)
    db.session.flush()
    audit.record_config(
        actor, "officer.create", officer, unit_id=unit.id,
        changes={"code": [None, code], "full_name": [None, full_name],
                 "counter_id": [None, officer.counter_id], "pin_set": [False, bool(pin)]},
    )
    return officer


@write_unit
def update_officer(
    actor: User, officer_id: int, full_name: str, counter_id: int | None, active: bool,
    pin: str | None = None,
) -> Officer:
    """Change an officer; an empty ``pin`` keeps the current one (it is never shown)."""
    _officer_scope(actor)
    officer = scope.get_officer(actor, officer_id)
    if not scope.may_manage(actor, officer.unit):
        raise Forbidden()
    full_name = _name(full_name)
    new_counter = _counter_of_unit(actor, officer.unit, counter_id)
    before = {"full_name": officer.full_name, "counter_id": officer.counter_id,
              "active": officer.active}
    after = {"full_name": full_name, "counter_id": new_counter, "active": active}
    officer.full_name, officer.counter_id, officer.active = full_name, new_counter, active
    changes = audit.changes_between(before, after)
    if pin:
        officer.pin_hash = _pin(pin)
        changes["pin_changed"] = [False, True]
    if changes:
        audit.record_config(actor, "officer.update", officer, unit_id=officer.unit_id,
                            changes=changes)
    return officer
