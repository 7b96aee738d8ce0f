"""Breakdowns by counter, procedure, field or officer; follow-up reasons; perception results.

Counters and procedures read whole months from ``rollup_dim_months`` and partial months from
the fine ``rollup_counts`` cells; officers always read the fine cells, are for administrators
and managers only, and every officer view is audited (the caller commits).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

from sqlalchemy import func, select

from core import sipas
from core.extensions import db
from core.models import (
    RESPONDENTS,
    Counter,
    Officer,
    Procedure,
    ProcedureField,
    RollupCount,
    RollupDimMonth,
    Unit,
    User,
)
from core.services.accounts import audit
from core.services.org import scope
from core.services.reporting.cells import CellTotals, merge_into, split_months, totals, unit_ids
from core.services.reporting.errors import NotAllowed, ReportError
from core.services.reporting.figures import (
    Figure,
    figure_from_proportion,
    headline_codes,
    headline_from_totals,
    min_officer_n,
    min_report_n,
    questionnaire,
)
from core.services.reporting.filters import Filters

BREAKDOWNS = ("counter", "procedure", "field", "officer")


@dataclass(frozen=True)
class BreakdownRow:
    key: int
    code: str
    name: str
    sipas: Figure
    counter_rate: Figure


def breakdown(user: User, f: Filters, by: str) -> list[BreakdownRow]:
    """SIPAS-style index and counter rate per counter, procedure, field or officer.

    Officer figures: administrators and managers only, only officers with at least MIN_OFFICER_N
    valid taps or respondents, and every view is audited (docs/METHOD.md, "Suppression"): the
    audit entry is flushed, and the caller commits it.
    """
    if by not in BREAKDOWNS:
        raise ReportError("by", f"unknown breakdown {by!r}")
    scope.get_unit(user, f.unit.id)
    if by == "officer" and not scope.may_see_officers(user):
        raise NotAllowed("officer-level figures are for administrators and managers")
    q = questionnaire()
    per_key: dict[int, CellTotals] = defaultdict(CellTotals)
    for key, code, level, misuse, count in _dim_cells(f, by, headline_codes(q)):
        per_key[int(key)].add(code, level, misuse, count)
    labels = _labels(by, list(per_key))
    if by == "field":
        merged: dict[int, CellTotals] = defaultdict(CellTotals)
        field_of = dict(db.session.execute(
            select(Procedure.id, Procedure.field_id).where(Procedure.id.in_(list(per_key)))
        ).all())
        for pid, t in per_key.items():
            fid = field_of.get(pid)
            if fid is not None:
                merge_into(merged[fid], t)
        per_key = merged
        labels = _labels("field", list(per_key))
    rows = []
    for key, t in per_key.items():
        head = headline_from_totals(t, f, q)
        sipas_fig, rate = head.sipas, head.counter_rate
        if by == "officer":
            # Below MIN_OFFICER_N the figure is withheld, not merely marked: protect officers
            # from noise and citizens from being identified.
            sipas_fig = replace(sipas_fig, suppressed=sipas_fig.n < min_officer_n())
            rate = replace(rate, suppressed=rate.n < min_officer_n())
        code, name = labels.get(key, (str(key), str(key)))
        rows.append(BreakdownRow(key, code, name, sipas_fig, rate))
    rows.sort(key=lambda row: row.code)
    if by == "officer":
        audit.record(
            "report.officers", user=user, target_type="unit", target_id=f.unit.id,
            unit_id=f.unit.id,
            details={"period": f.period.value, "kind": f.period.kind, "officers": len(rows)},
        )
        # Part of the caller's unit of work: the view commits once, after the page is built.
        db.session.flush()
    return rows


def _dim_cells(f: Filters, by: str, codes: list[str]):
    """(dimension id, item, level, misuse, count) summed over a filter's period.

    Counters and procedures read whole months from ``rollup_dim_months`` and only the days of
    partial months from the fine cells; officers (not in the monthly cells, and audited) always
    read the fine cells.
    """
    if by == "officer":
        sources = [(RollupCount, RollupCount.day, f.period.start, f.period.end)]
    else:
        days, months = split_months(f.period.start, f.period.end)
        sources = [(RollupCount, RollupCount.day, lo, hi) for lo, hi in days]
        if months is not None:
            sources.append((RollupDimMonth, RollupDimMonth.month, *months))
    for model, column, lo, hi in sources:
        if by == "counter":
            dim = model.counter_id
        elif by == "officer":
            dim = RollupCount.officer_id
        else:
            dim = model.procedure_id
        stmt = (
            select(dim, model.item_code, model.level, model.misuse, func.sum(model.count))
            .where(
                column >= lo, column <= hi, model.unit_id.in_(unit_ids(f.unit)),
                model.channel.in_(f.channels), model.item_code.in_(codes), dim != 0,
            )
            .group_by(dim, model.item_code, model.level, model.misuse)
        )
        yield from db.session.execute(stmt)


def _labels(by: str, keys: list[int]) -> dict[int, tuple[str, str]]:
    if not keys:
        return {}
    if by == "counter":
        stmt = select(Counter.id, Counter.code, Counter.name, Unit.code).join(
            Unit, Unit.id == Counter.unit_id).where(Counter.id.in_(keys))
        return {i: (f"{u}/{c}", n) for i, c, n, u in db.session.execute(stmt)}
    model = {"officer": Officer, "procedure": Procedure, "field": ProcedureField}[by]
    name_col = model.full_name if by == "officer" else model.name
    stmt = select(model.id, model.code, name_col).where(model.id.in_(keys))
    return {i: (c, n) for i, c, n in db.session.execute(stmt)}


@dataclass(frozen=True)
class ReasonRow:
    code: str
    count: int
    share: float | None


def reasons(f: Filters, t: CellTotals | None = None) -> list[ReasonRow]:
    """Follow-up reasons after low kiosk taps, in the questionnaire's order."""
    q = questionnaire()
    codes = [f"reason:{r.code}" for r in q.followup_reasons]
    t = t or totals(f, codes)
    counted = {code: t.plain(code, f.include_misuse) for code in codes}
    whole = sum(counted.values())
    return [
        ReasonRow(code.split(":", 1)[1], n, 100 * n / whole if whole else None)
        for code, n in counted.items()
    ]


@dataclass(frozen=True)
class PerceptionResult:
    question: str
    kind: str
    respondents: int
    suppressed: bool
    options: list[tuple[str, int, Figure]]


def perception(f: Filters, t: CellTotals | None = None) -> list[PerceptionResult]:
    """Trips, harassment, informal payments, channel and priorities: share of respondents."""
    q = questionnaire()
    questions = [p for p in q.perception if p.kind in ("single", "multi")]
    codes = [f"{p.code}:{o.code}" for p in questions for o in p.options] + [RESPONDENTS]
    t = t or totals(Filters(f.unit, f.period, f.survey_channels or ("none",), f.include_misuse),
                    codes)
    respondents = t.plain(RESPONDENTS, f.include_misuse) if f.survey_channels else 0
    out = []
    for p in questions:
        counts = [(o.code, t.plain(f"{p.code}:{o.code}", f.include_misuse)) for o in p.options]
        answered = sum(n for _, n in counts) if p.kind == "single" else respondents
        options = []
        for code, n in counts:
            prop = sipas.proportion(n, max(answered, n), min_report_n=min_report_n())
            options.append((code, n, figure_from_proportion(prop)))
        out.append(PerceptionResult(p.code, p.kind, answered,
                                    sipas.is_suppressed(answered, min_report_n()), options))
    return out
