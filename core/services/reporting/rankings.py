"""Rankings: child units ranked by SIPAS-style index with rank change, and a unit among its peers.

Units of the same level are ranked together (docs/METHOD.md, "Ranking"); the overview reads
the headline and the ranking from one grouped read per period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select

from core import sipas
from core.extensions import db
from core.models import Unit
from core.questionnaire_definition import QuestionnaireDefinition
from core.services.reporting.cells import CellTotals, merge_into, totals_by_unit
from core.services.reporting.figures import (
    BASIS_SERVICE,
    Figure,
    Headline,
    add_previous,
    headline_codes,
    headline_from_totals,
    questionnaire,
)
from core.services.reporting.filters import Filters


@dataclass(frozen=True)
class RankRow:
    unit: Unit
    sipas: Figure
    counter_rate: Figure
    rank: int | None
    previous_rank: int | None
    change: int | None
    tap_rank: int | None = None
    basis: str = BASIS_SERVICE


def _rank_units(
    f: Filters, units: list[Unit], q: QuestionnaireDefinition
) -> dict[int, tuple[Headline, int | None, int | None]]:
    if not units:
        return {}
    # Which ranked unit each unit of the subtrees belongs to, from the materialised paths.
    owner: dict[int, int] = {}
    for uid, path in db.session.execute(select(Unit.id, Unit.path)):
        for u in units:
            if path.startswith(u.path):
                owner[uid] = u.id
    per_unit = totals_by_unit(f, headline_codes(q), list(owner))
    sub: dict[int, CellTotals] = {u.id: CellTotals() for u in units}
    for uid, t in per_unit.items():
        merge_into(sub[owner[uid]], t)
    return _rank_from(f, units, sub, q)


def _rank_from(
    f: Filters, units: list[Unit], sub: Mapping[int, CellTotals], q: QuestionnaireDefinition
) -> dict[int, tuple[Headline, int | None, int | None]]:
    heads = {u.id: headline_from_totals(sub[u.id], f, q) for u in units}
    ranks: dict[int, int] = {}
    tap_ranks: dict[int, int] = {}
    # Units of the same level are ranked together (docs/METHOD.md, "Ranking").
    by_level: dict[str, list[Unit]] = defaultdict(list)
    for u in units:
        by_level[u.level].append(u)
    for group in by_level.values():
        ranks.update(sipas.rank({u.id: heads[u.id].sipas.shown for u in group}))
        tap_ranks.update(sipas.rank({u.id: heads[u.id].counter_rate.shown for u in group}))
    return {u.id: (heads[u.id], ranks.get(u.id), tap_ranks.get(u.id)) for u in units}


def _children(unit: Unit) -> list[Unit]:
    return list(db.session.scalars(
        select(Unit).where(Unit.parent_id == unit.id, Unit.active.is_(True)).order_by(Unit.code)
    ))


def ranking(f: Filters, units: list[Unit] | None = None) -> list[RankRow]:
    """The child units of the filter's unit ranked by SIPAS-style index, with rank change."""
    q = questionnaire()
    if units is None:
        units = _children(f.unit)
    current = _rank_units(f, units, q)
    previous = _rank_units(f.for_period(f.period.previous()), units, q)
    return _ranking_rows(units, current, previous)


def _ranking_rows(units, current, previous) -> list[RankRow]:
    prev_ranks = {uid: r for uid, (_, r, _) in previous.items() if r is not None}
    cur_ranks = {uid: r for uid, (_, r, _) in current.items() if r is not None}
    changes = sipas.rank_change(cur_ranks, prev_ranks)
    rows = []
    for unit in units:
        head, r, tap_r = current[unit.id]
        prev_head = previous[unit.id][0]
        rows.append(RankRow(
            unit=unit,
            sipas=head.sipas.with_previous(prev_head.sipas),
            counter_rate=head.counter_rate.with_previous(prev_head.counter_rate),
            rank=r, previous_rank=prev_ranks.get(unit.id), change=changes.get(unit.id),
            tap_rank=tap_r, basis=head.basis,
        ))
    rows.sort(key=lambda row: (row.unit.level, row.rank is None, row.rank or 0, row.unit.code))
    return rows


@dataclass
class Overview:
    """The dashboard's headline and child-unit ranking, read together."""

    headline: Headline
    ranking: list[RankRow]


def overview(f: Filters) -> Overview:
    """Headline (with change) and the ranking of the child units from two reads grouped by unit
    (current and previous period): the subtree's totals are the sum of its units' totals."""
    q = questionnaire()
    units = _children(f.unit)
    subtree = list(db.session.execute(
        select(Unit.id, Unit.path).where(Unit.path.startswith(f.unit.path))))
    owner = {uid: next((u.id for u in units if path.startswith(u.path)), None)
             for uid, path in subtree}
    reads = []
    for period_f in (f, f.for_period(f.period.previous())):
        whole = CellTotals()
        sub = {u.id: CellTotals() for u in units}
        for uid, t in totals_by_unit(period_f, None, list(owner)).items():
            merge_into(whole, t)
            if owner.get(uid) is not None:
                merge_into(sub[owner[uid]], t)
        reads.append((period_f, whole, sub))
    (cur_f, cur_whole, cur_sub), (prev_f, prev_whole, prev_sub) = reads
    head = headline_from_totals(cur_whole, cur_f, q)
    head.totals = cur_whole
    add_previous(head, headline_from_totals(prev_whole, prev_f, q))
    rows = _ranking_rows(units, _rank_from(cur_f, units, cur_sub, q),
                         _rank_from(prev_f, units, prev_sub, q))
    return Overview(head, rows)


def peer_rank(f: Filters) -> RankRow | None:
    """The unit's own place among the units of its level under the same parent."""
    unit = f.unit
    if unit.parent_id is None:
        return None
    peers = list(db.session.scalars(
        select(Unit).where(Unit.parent_id == unit.parent_id, Unit.level == unit.level,
                           Unit.active.is_(True)).order_by(Unit.code)
    ))
    parent = db.session.get(Unit, unit.parent_id)
    rows = ranking(f.for_unit(parent), peers) if parent else []
    return next((row for row in rows if row.unit.id == unit.id), None)
