"""Adding to the rollup counts with one upsert per row, inside the caller's transaction.

Callers pass only the rows they actually inserted, in the same transaction, so totals never
double-count (README, "Sync: enrolling a kiosk and how ratings travel").
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy.dialects import postgresql, sqlite

from core.extensions import db
from core.models import RollupCount, RollupDimMonth, RollupHour, RollupUnitDay, RollupUnitMonth


@dataclass(frozen=True)
class Key:
    """One cell of the rollup: every dimension (0 means "none")."""

    unit_id: int
    day: date
    channel: str
    item_code: str
    level: int
    counter_id: int = 0
    officer_id: int = 0
    procedure_id: int = 0
    misuse: bool = False


def _insert(model):
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert(model) if dialect == "postgresql" else sqlite.insert(model))


def add(keys: Iterable[Key]) -> int:
    """Add one to the count of each key (keys may repeat); returns the number of cells touched."""
    tally = Tally(keys)
    if not tally:
        return 0
    rows = [
        {
            "unit_id": k.unit_id,
            "counter_id": k.counter_id or 0,
            "officer_id": k.officer_id or 0,
            "procedure_id": k.procedure_id or 0,
            "day": k.day,
            "channel": k.channel,
            "item_code": k.item_code,
            "level": k.level,
            "misuse": k.misuse,
            "count": n,
        }
        for k, n in sorted(tally.items(), key=lambda kv: _order(kv[0]))
    ]
    stmt = _insert(RollupCount)
    stmt = stmt.on_conflict_do_update(
        index_elements=[c.name for c in RollupCount.__table__.primary_key.columns],
        set_={"count": RollupCount.__table__.c.count + stmt.excluded.count},
    )
    db.session.execute(stmt, rows)
    _add_unit_days(tally)
    return len(rows)


def _add_unit_days(tally: Tally[Key]) -> None:
    # The coarse unit x day and unit x month cells the headline figures read; same transaction,
    # same keys, so they always equal the sums of the fine cells.
    days: Tally[tuple] = Tally()
    months: Tally[tuple] = Tally()
    for k, n in tally.items():
        days[(k.unit_id, k.day, k.channel, k.item_code, k.level, k.misuse)] += n
        months[(k.unit_id, k.day.replace(day=1), k.channel, k.item_code, k.level, k.misuse)] += n
    for model, column, cells in ((RollupUnitDay, "day", days), (RollupUnitMonth, "month", months)):
        rows = [
            {"unit_id": u, column: d, "channel": c, "item_code": i, "level": lv, "misuse": m,
             "count": n}
            for (u, d, c, i, lv, m), n in sorted(cells.items())
        ]
        stmt = _insert(model)
        stmt = stmt.on_conflict_do_update(
            index_elements=[c.name for c in model.__table__.primary_key.columns],
            set_={"count": model.__table__.c.count + stmt.excluded.count},
        )
        db.session.execute(stmt, rows)
    # Counter x procedure x month cells for the breakdown pages.
    dims: Tally[tuple] = Tally()
    for k, n in tally.items():
        dims[(k.unit_id, k.counter_id or 0, k.procedure_id or 0, k.day.replace(day=1),
              k.channel, k.item_code, k.level, k.misuse)] += n
    rows = [
        {"unit_id": u, "counter_id": c, "procedure_id": p, "month": mo, "channel": ch,
         "item_code": i, "level": lv, "misuse": m, "count": n}
        for (u, c, p, mo, ch, i, lv, m), n in sorted(dims.items())
    ]
    stmt = _insert(RollupDimMonth)
    stmt = stmt.on_conflict_do_update(
        index_elements=[c.name for c in RollupDimMonth.__table__.primary_key.columns],
        set_={"count": RollupDimMonth.__table__.c.count + stmt.excluded.count},
    )
    db.session.execute(stmt, rows)


def add_hours(cells: Iterable[tuple], misuse: bool = False) -> None:
    """Add kiosk taps to the hour table.

    Each cell is (unit_id, local day, local hour, satisfied) or, to mix flagged and unflagged
    taps, (unit_id, local day, local hour, satisfied, misuse). Four-item cells take ``misuse``
    (False by default: the contract's non-misuse taps), so existing callers are unchanged.
    """
    tally: Tally[tuple[int, date, int, bool]] = Tally()
    satisfied: Tally[tuple[int, date, int, bool]] = Tally()
    for cell in cells:
        unit_id, day, hour, is_satisfied, *rest = cell
        if len(rest) > 1:
            raise ValueError(f"an hour cell has 4 or 5 items, got {cell!r}")
        key = (unit_id, day, hour, bool(rest[0]) if rest else bool(misuse))
        tally[key] += 1
        satisfied[key] += int(is_satisfied)
    if not tally:
        return
    rows = [
        {"unit_id": u, "day": d, "hour": h, "misuse": m, "total": n,
         "satisfied": satisfied[(u, d, h, m)]}
        for (u, d, h, m), n in sorted(tally.items())
    ]
    stmt = _insert(RollupHour)
    table = RollupHour.__table__
    stmt = stmt.on_conflict_do_update(
        index_elements=["unit_id", "day", "hour", "misuse"],
        set_={
            "total": table.c.total + stmt.excluded.total,
            "satisfied": table.c.satisfied + stmt.excluded.satisfied,
        },
    )
    db.session.execute(stmt, rows)


def _order(key: Key) -> tuple:
    # A fixed order of upserts keeps two concurrent transactions from deadlocking on PostgreSQL.
    return (key.unit_id, key.counter_id, key.officer_id, key.procedure_id, key.day, key.channel,
            key.item_code, key.level, key.misuse)
