"""Units, counters, officers and procedures: creation and the subtree rules."""

from __future__ import annotations

from sqlalchemy import select

from core.extensions import db
from core.models import UNIT_LEVELS, Unit


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
