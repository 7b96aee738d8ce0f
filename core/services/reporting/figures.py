"""The SIPAS figures: headline indices, items, counter rate, monthly trend and heat map.

Every number comes from core/sipas.py over rollup counts summed by ``reporting.cells``; the
heat map reads ``rollup_hours``. Suppression thresholds (SIPAS_MIN_REPORT_N,
SIPAS_MIN_OFFICER_N) are read here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

from flask import current_app
from sqlalchemy import func, select

from core import sipas
from core.extensions import db
from core.models import RESPONDENTS, TAP, RollupHour
from core.questionnaire_definition import QuestionnaireDefinition
from core.services.reporting.cells import CellTotals, sum_cells, totals, unit_ids
from core.services.reporting.filters import Filters
from core.services.reporting.periods import Period, shift_month
from core.services.survey import questionnaires

TREND_MONTHS = 12


# Why a figure has no number (the API's ``reason``; the pages say it in words).
REASON_INSUFFICIENT = "insufficient_sample"
REASON_INCOMPLETE = "incomplete_elements"
REASON_NO_DATA = "no_data"
WILSON = "wilson"
DELTA = "delta"


def min_report_n() -> int:
    """SIPAS_MIN_REPORT_N: figures on fewer respondents are "không đủ mẫu"."""
    return int(current_app.config.get("MIN_REPORT_N", sipas.MIN_REPORT_N))


def min_officer_n() -> int:
    """SIPAS_MIN_OFFICER_N: officer-level figures need at least this many ratings."""
    return int(current_app.config.get("MIN_OFFICER_N", sipas.MIN_OFFICER_N))


@dataclass(frozen=True)
class Figure:
    """One published figure with what must stand beside it.

    ``value`` is exact (a Fraction from counts) or None when there is nothing to show;
    ``suppressed`` means "không đủ mẫu" must be shown instead of the number; ``missing`` names
    the elements without a valid answer when an index needs all five. ``change`` is against the
    previous equivalent period, unrounded (None when either side is not shown). ``interval`` says
    how ``low``/``high`` were computed: "wilson" (a proportion) or "delta" (a mean of proportions).
    """

    value: Fraction | None
    n: int
    low: float | None
    high: float | None
    suppressed: bool
    excluded_share: Fraction | None = None
    previous: Fraction | None = None
    change: Fraction | None = None
    interval: str = WILSON
    missing: tuple[str, ...] = ()
    # The delta-method variance behind ``low``/``high`` (indices only), to combine indices.
    variance: float | None = None

    @property
    def shown(self) -> Fraction | None:
        return None if self.suppressed else self.value

    @property
    def change_shown(self) -> Decimal | None:
        """The change as displayed: rounded half up to two decimals (its sign picks the arrow)."""
        return None if self.change is None else sipas.round_half_up(self.change)

    @property
    def reason(self) -> str | None:
        """Why there is no number: insufficient sample, an element missing, or no data."""
        if self.suppressed:
            return REASON_INSUFFICIENT
        if self.value is not None:
            return None
        return REASON_INCOMPLETE if self.missing else REASON_NO_DATA

    def with_previous(self, previous: Figure | None) -> Figure:
        if previous is None or previous.shown is None or self.shown is None:
            return replace(self, previous=previous.shown if previous else None, change=None)
        # Changes use the unrounded values; only the display rounds (docs/METHOD.md, "The indices").
        return replace(self, previous=previous.shown, change=self.shown - previous.shown)

    def as_dict(self) -> dict[str, object]:
        r = sipas.round2
        has_ci = not self.suppressed and self.value is not None and self.low is not None
        return {
            "value": r(self.shown), "n": self.n, "suppressed": self.suppressed,
            "reason": self.reason, "missing_elements": list(self.missing),
            "ci95": [r(self.low), r(self.high)] if has_ci else None,
            "ci95_method": self.interval if has_ci else None,
            "excluded_misuse_share": r(self.excluded_share),
            "previous": r(self.previous), "change": r(self.change),
        }


def figure_from_proportion(p: sipas.Proportion) -> Figure:
    """A rate from the engine (Wilson interval) as a published figure."""
    return Figure(p.value, p.n, p.low, p.high, p.suppressed, p.excluded_share)


def _index_figure(value: Fraction | None, n: int, excluded_share: Fraction | None,
                  variance: float | None, min_n: int, missing: tuple[str, ...] = ()) -> Figure:
    """An index (a mean of item rates) with n respondents and its delta-method 95% interval
    (core/sipas.py ``delta_interval``; docs/METHOD.md)."""
    interval = sipas.delta_interval(value, variance)
    low, high = interval if interval is not None else (None, None)
    return Figure(value, n, low, high, sipas.is_suppressed(n, min_n), excluded_share,
                  interval=DELTA, missing=missing if value is None else (), variance=variance)


def questionnaire() -> QuestionnaireDefinition:
    """The active questionnaire, parsed once per stored version (core/services/survey/
    questionnaires.py keeps the one cache)."""
    return questionnaires.active_definition()


def service_element_of_item(q: QuestionnaireDefinition) -> dict[str, str]:
    return {item.code: element.code for element in q.elements for item in element.items}


def policy_element_of_item(q: QuestionnaireDefinition) -> dict[str, str]:
    """Items of the optional policy module (items 1–14 of the form), whether or not the active
    version has it on: earlier or later versions of the period may have collected them."""
    return {item.code: element.code for element in q.policy_elements for item in element.items}


BASIS_SERVICE = "service"
BASIS_COMBINED = "service+policy"


@dataclass
class Headline:
    """The dashboard's headline for one filter.

    ``sipas`` is the SIPAS-style index: the service index, or (``basis`` "service+policy") the
    mean of the policy and service indices when responses with the policy module are in the
    period (docs/METHOD.md, "The indices"). ``policy`` is None when there are none.
    """

    sipas: Figure
    elements: dict[str, Figure]
    items: dict[str, Figure]
    counter_rate: Figure
    respondents: int
    method_version: str
    distribution: dict[int, int] = field(default_factory=dict)
    tap_distribution: dict[int, int] = field(default_factory=dict)
    # Every summed cell of the period, so reasons and perception need no second query.
    totals: CellTotals | None = None
    service: Figure | None = None
    policy: Figure | None = None
    policy_elements: dict[str, Figure] = field(default_factory=dict)
    basis: str = BASIS_SERVICE

    def as_dict(self) -> dict[str, object]:
        service = self.service or self.sipas
        return {
            "method_version": self.method_version,
            "sipas_index": {**self.sipas.as_dict(), "method_version": self.method_version,
                            "basis": self.basis},
            "service_index": service.as_dict(),
            "policy_index": self.policy.as_dict() if self.policy else None,
            "elements": {code: fig.as_dict() for code, fig in self.elements.items()},
            "policy_elements": {code: fig.as_dict() for code, fig in self.policy_elements.items()},
            "counter_rate": self.counter_rate.as_dict(),
            "respondents": self.respondents,
        }


def headline_codes(q: QuestionnaireDefinition) -> list[str]:
    """The item codes a headline reads: taps, respondents, service and policy items."""
    return [TAP, RESPONDENTS, *service_element_of_item(q), *policy_element_of_item(q)]


def _policy_figures(
    t: CellTotals, f: Filters, q: QuestionnaireDefinition, excluded: float | None
) -> tuple[Figure | None, dict[str, Figure]]:
    """The policy index and its element indices, or (None, {}) when no response of the period
    answered the policy module. Its n is the largest number of valid answers to one policy
    item: a lower bound on the respondents who had the module (the rollups keep no separate
    respondent count for it), so suppression errs on the side of hiding."""
    element_of = policy_element_of_item(q)
    if not f.survey_channels or not element_of:
        return None, {}
    counts = {item: t.counts(item) for item in element_of}
    inc = f.include_misuse
    n_of = {item: _sat_valid(c, inc)[1] for item, c in counts.items()}
    # Only answers the filter counts make the module present: a flagged response alone, or
    # "no opinion" everywhere, leaves the index the service index.
    if not any(n_of.values()):
        return None, {}
    result = sipas.compute_service(counts, element_of, include_misuse=inc,
                                   min_report_n=min_report_n(), require_all=False)
    elements = {
        element.code: _index_figure(
            result.elements.get(element.code),
            max((n_of[i.code] for i in element.items), default=0), excluded,
            result.element_variances.get(element.code), min_report_n())
        for element in q.policy_elements
    }
    return _index_figure(result.service, max(n_of.values(), default=0), excluded,
                         result.service_variance, min_report_n()), elements


def headline_from_totals(t: CellTotals, f: Filters, q: QuestionnaireDefinition) -> Headline:
    """Every headline figure from summed counts, by the engine in core/sipas.py."""
    element_of = service_element_of_item(q)
    inc = f.include_misuse
    respondents = t.plain(RESPONDENTS, inc) if f.survey_channels else 0
    resp_misuse = t.misuse_only(RESPONDENTS) if f.survey_channels else 0
    resp_total = t.plain(RESPONDENTS, True) if f.survey_channels else 0
    resp_excluded = None if inc or not resp_total else 100 * resp_misuse / resp_total
    counts = {item: t.counts(item) for item in element_of} if f.survey_channels else {}
    min_n = min_report_n()
    result = sipas.compute_service(counts, element_of, respondents=respondents,
                                   include_misuse=inc, min_report_n=min_n)
    items: dict[str, Figure] = {}
    for item in element_of:
        p = sipas.proportion(
            *_sat_valid(counts.get(item, sipas.Counts()), inc), min_report_n=min_n,
            excluded=0 if inc else counts.get(item, sipas.Counts()).misuse_valid,
        )
        items[item] = figure_from_proportion(p)
    elements: dict[str, Figure] = {}
    for element in q.elements:
        n = max((items[i.code].n for i in element.items), default=0)
        elements[element.code] = _index_figure(
            result.elements.get(element.code), n, resp_excluded,
            result.element_variances.get(element.code), min_n)
    # No answers at all is "no data", not "elements missing".
    missing = result.missing if respondents and f.survey_channels else ()
    service = _index_figure(result.service, respondents, resp_excluded, result.service_variance,
                            min_n, missing)
    if result.suppressed:
        service = replace(service, suppressed=True)
    policy, policy_elements = _policy_figures(t, f, q, resp_excluded)
    if policy is None:
        combined, basis = service, BASIS_SERVICE
    else:
        # A figure built partly on an insufficient policy sample is itself not shown.
        value = sipas.sipas_index(result.service, policy.value)
        variance = None
        if result.service_variance is not None and policy.value is not None:
            variance = (None if policy.variance is None
                        else (result.service_variance + policy.variance) / 4)
        combined = replace(_index_figure(value, respondents, resp_excluded, variance, min_n,
                                         missing),
                           suppressed=service.suppressed or policy.suppressed)
        basis = BASIS_COMBINED
    tap = t.counts(TAP) if f.kiosk else sipas.Counts()
    rate = figure_from_proportion(sipas.counter_rate(tap, include_misuse=inc,
                                                      min_report_n=min_n))
    distribution = {lv: 0 for lv in (5, 4, 3, 2, 1, 0)}
    for item in element_of:
        c = counts.get(item, sipas.Counts())
        for lv in sipas.LEVELS:
            distribution[lv] += c.by_level[lv - 1] + (c.misuse_by_level[lv - 1] if inc else 0)
        distribution[0] += c.no_opinion + (c.misuse_no_opinion if inc else 0)
    tap_distribution = {
        lv: tap.by_level[lv - 1] + (tap.misuse_by_level[lv - 1] if inc else 0)
        for lv in (5, 4, 3, 2, 1)
    }
    return Headline(combined, elements, items, rate, respondents, result.method_version,
                    distribution, tap_distribution, service=service, policy=policy,
                    policy_elements=policy_elements, basis=basis)


def _sat_valid(c: sipas.Counts, include_misuse: bool) -> tuple[int, int]:
    if include_misuse:
        return c.satisfied + c.misuse_satisfied, c.valid + c.misuse_valid
    return c.satisfied, c.valid


def headline(f: Filters, with_previous: bool = True) -> Headline:
    """The headline for a filter, with changes against the previous equivalent period."""
    q = questionnaire()
    codes = headline_codes(q)
    cells = totals(f)
    current = headline_from_totals(cells, f, q)
    current.totals = cells
    if not with_previous:
        return current
    prev_f = f.for_period(f.period.previous())
    add_previous(current, headline_from_totals(totals(prev_f, codes), prev_f, q))
    return current


def add_previous(current: Headline, prev: Headline) -> None:
    """Set the previous-period value and change on the headline's figures, in place."""
    current.sipas = current.sipas.with_previous(prev.sipas)
    if current.service is not None:
        current.service = current.service.with_previous(prev.service)
    if current.policy is not None:
        current.policy = current.policy.with_previous(prev.policy)
    current.counter_rate = current.counter_rate.with_previous(prev.counter_rate)
    current.elements = {
        code: fig.with_previous(prev.elements.get(code)) for code, fig in current.elements.items()
    }


@dataclass(frozen=True)
class TrendPoint:
    month: date
    sipas: Figure
    counter_rate: Figure
    basis: str = BASIS_SERVICE


def trend(f: Filters, months: int = TREND_MONTHS) -> list[TrendPoint]:
    """The SIPAS-style index and counter rate for each month up to the end of the period."""
    q = questionnaire()
    end = f.period.end
    sy, sm = shift_month(end.year, end.month, -(months - 1))
    span = Filters(f.unit, Period("custom", date(sy, sm, 1), end), f.channels, f.include_misuse)
    by_month: dict[str, CellTotals] = defaultdict(CellTotals)
    for month, code, level, misuse, count in sum_cells(
        span.period.start, end, unit_ids(f.unit), f.channels, headline_codes(q), group="month"
    ):
        by_month[month].add(code, level, misuse, count)
    points = []
    for i in range(months):
        y, m = shift_month(sy, sm, i)
        h = headline_from_totals(by_month.get(f"{y:04d}-{m:02d}", CellTotals()), span, q)
        points.append(TrendPoint(date(y, m, 1), h.sipas, h.counter_rate, h.basis))
    return points


def _weekday_key(column):
    if db.session.get_bind().dialect.name == "postgresql":
        return func.extract("dow", column)
    return func.strftime("%w", column)


@dataclass(frozen=True)
class HeatCell:
    weekday: int  # 0 = Monday .. 6 = Sunday
    hour: int
    total: int
    satisfied: int

    @property
    def rate(self) -> float | None:
        return 100 * self.satisfied / self.total if self.total else None


def heatmap(f: Filters) -> dict[tuple[int, int], HeatCell]:
    """Kiosk taps by weekday and local hour; taps flagged as misuse only when the filter
    includes them. Survey channels have no hour: without the kiosk channel the map is empty."""
    if not f.kiosk:
        return {}
    h = RollupHour
    dow = _weekday_key(h.day)
    conds = [h.day >= f.period.start, h.day <= f.period.end, h.unit_id.in_(unit_ids(f.unit))]
    if not f.include_misuse:
        conds.append(h.misuse.is_(False))
    stmt = (
        select(dow, h.hour, func.sum(h.total), func.sum(h.satisfied))
        .where(*conds)
        .group_by(dow, h.hour)
    )
    cells = {}
    for sunday_first, hour, total, satisfied in db.session.execute(stmt):
        weekday = (int(sunday_first) + 6) % 7
        cells[(weekday, int(hour))] = HeatCell(weekday, int(hour), int(total), int(satisfied))
    return cells
