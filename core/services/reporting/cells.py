"""Reading the rollup cells: SUM(count) GROUP BY item, level and misuse over a filter.

Whole months come from ``rollup_unit_months``, the days of a partial month from
``rollup_unit_days`` (a year is 12 monthly reads, not 365 daily). ``CellTotals`` holds the
folded counts that every figure is computed from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import Select, func, select

from core import sipas
from core.extensions import db
from core.models import RollupUnitDay, RollupUnitMonth, Unit
from core.services.reporting.filters import Filters
from core.services.reporting.periods import month_end


class CellTotals:
    """Counts folded from rollup rows: per item code, level and misuse flag."""

    def __init__(self) -> None:
        # item code -> level -> [count not flagged, count flagged as misuse]
        self.levels: dict[str, dict[int, list[int]]] = defaultdict(
            lambda: defaultdict(lambda: [0, 0])
        )

    def add(self, item_code: str, level: int, misuse: bool, count: int) -> None:
        self.levels[item_code][int(level)][1 if misuse else 0] += int(count)

    def counts(self, item_code: str) -> sipas.Counts:
        cells = self.levels.get(item_code)
        if not cells:
            return sipas.Counts()
        return sipas.Counts.from_mapping(
            {lv: c[0] for lv, c in cells.items()}, {lv: c[1] for lv, c in cells.items()}
        )

    def plain(self, item_code: str, include_misuse: bool) -> int:
        """The count of a level-0 key (respondents, reasons, perception options)."""
        cells = self.levels.get(item_code, {})
        return sum(c[0] + (c[1] if include_misuse else 0) for c in cells.values())

    def misuse_only(self, item_code: str) -> int:
        return sum(c[1] for c in self.levels.get(item_code, {}).values())

    def codes_with_prefix(self, prefix: str) -> list[str]:
        return [code for code in self.levels if code.startswith(prefix)]


def merge_into(target: CellTotals, source: CellTotals) -> None:
    """Add ``source``'s counts to ``target`` (a unit's cells into its subtree's)."""
    for code, levels in source.levels.items():
        for lv, (plain, mis) in levels.items():
            target.add(code, lv, False, plain)
            target.add(code, lv, True, mis)


def unit_ids(unit: Unit) -> Select:
    """The ids of a unit and every unit below it (by materialised path)."""
    return select(Unit.id).where(Unit.path.startswith(unit.path))


def split_months(
    start: date, end: date
) -> tuple[list[tuple[date, date]], tuple[date, date] | None]:
    """Day ranges to read from the daily cells, and the whole months (first days, both ends
    included) to read from the monthly cells: a year is 12 monthly reads, not 365 daily."""
    first_full = start if start.day == 1 else month_end(start.year, start.month) + timedelta(1)
    last_full = end if end == month_end(end.year, end.month) else end.replace(day=1) - timedelta(1)
    if first_full > last_full:
        return [(start, end)], None
    days = []
    if start < first_full:
        days.append((start, first_full - timedelta(1)))
    if end > last_full:
        days.append((last_full + timedelta(1), end))
    return days, (first_full, last_full.replace(day=1))


def sum_cells(
    start: date, end: date, units, channels: Iterable[str], codes: Iterable[str] | None,
    group: str | None = None,
):
    """(group key, item, level, misuse, count) summed over the coarse cells of a range.

    ``units`` is a SELECT of unit ids or a list; ``group`` is None, "unit" or "month".
    """
    channels, codes = list(channels), None if codes is None else list(codes)
    days, months = split_months(start, end)
    sources = [(RollupUnitDay, RollupUnitDay.day, lo, hi) for lo, hi in days]
    if months is not None:
        sources.append((RollupUnitMonth, RollupUnitMonth.month, *months))
    for model, column, lo, hi in sources:
        conds = [column >= lo, column <= hi, model.unit_id.in_(units), model.channel.in_(channels)]
        if codes is not None:
            conds.append(model.item_code.in_(codes))
        key = None
        if group == "unit":
            key = model.unit_id
        elif group == "month":
            key = column if model is RollupUnitMonth else _month_key(column)
        cols = [model.item_code, model.level, model.misuse]
        group_by = [*cols, key] if key is not None else cols
        stmt = select(*(cols if key is None else [key, *cols]), func.sum(model.count)).where(
            *conds).group_by(*group_by)
        for row in db.session.execute(stmt):
            if key is None:
                yield (None, *row)
            else:
                g = row[0]
                if isinstance(g, date):
                    g = f"{g:%Y-%m}"
                yield (g, *row[1:])


def totals(f: Filters, codes: Iterable[str] | None = None) -> CellTotals:
    """SUM(count) GROUP BY item, level, misuse over the coarse cells of a filter."""
    out = CellTotals()
    for _, code, level, misuse, count in sum_cells(
        f.period.start, f.period.end, unit_ids(f.unit), f.channels, codes
    ):
        out.add(code, level, misuse, count)
    return out


def totals_by_unit(
    f: Filters, codes: Iterable[str], unit_ids: Iterable[int]
) -> dict[int, CellTotals]:
    """The same sums per unit (for rankings): one GROUP BY, folded into subtrees by the caller."""
    out: dict[int, CellTotals] = defaultdict(CellTotals)
    for unit_id, code, level, misuse, count in sum_cells(
        f.period.start, f.period.end, list(unit_ids), f.channels, codes, group="unit"
    ):
        out[unit_id].add(code, level, misuse, count)
    return out


def _month_key(column):
    if db.session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)
