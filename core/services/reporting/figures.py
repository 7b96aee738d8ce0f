"""The SIPAS dashboard's figures: every number comes from core/sipas.py over rollup counts.

Headline figures, the monthly trend, the level distribution, item drill-down, follow-up reasons,
perception results and the child-unit ranking are SUM ... GROUP BY queries over the coarse
``rollup_unit_months`` cells (whole months) and ``rollup_unit_days`` cells (the days of a
partial month); breakdowns by counter, procedure and field read ``rollup_dim_months`` for whole
months and the fine ``rollup_counts`` cells for partial ones, by officer the fine cells; the
heat map reads ``rollup_hours``. Raw rows are read only for comments and exports. Scoping by
unit is enforced here with ``core.services.scope`` on every call.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Select, and_, func, select

from core import clock, sipas
from core.extensions import db
from core.models import (
    RESPONDENTS,
    TAP,
    Counter,
    Officer,
    Procedure,
    ProcedureField,
    RollupCount,
    RollupDimMonth,
    RollupHour,
    RollupUnitDay,
    RollupUnitMonth,
    SurveyResponse,
    Unit,
    User,
)
from core.questionnaire import Questionnaire, load_definition
from core.services import audit, questionnaires, scope

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SURVEY_CHANNELS = ("kiosk_qr", "poster", "api")
ALL_CHANNELS = ("kiosk", *SURVEY_CHANNELS)
PERIOD_KINDS = ("month", "quarter", "year", "custom")
BREAKDOWNS = ("counter", "procedure", "field", "officer")
MAX_CUSTOM_DAYS = 3 * 366
TREND_MONTHS = 12


class ReportError(ValueError):
    """A filter could not be understood; ``code`` names which one (for a translated message)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------------------------------
# Periods and filters


def local_today() -> date:
    return clock.local_today()


@dataclass(frozen=True)
class Period:
    """A range of local days, both ends included, and how it was chosen."""

    kind: str
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def value(self) -> str:
        """The period as written in a filter ("2026-11", "2026-Q4", "2026" or "start/end")."""
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "year":
            return str(self.start.year)
        return f"{self.start.isoformat()}/{self.end.isoformat()}"

    def previous(self) -> Period:
        """The previous equivalent period: the month, quarter or year before, or for a custom
        range the same number of days just before it."""
        if self.kind == "month":
            return month_period(*_shift_month(self.start.year, self.start.month, -1))
        if self.kind == "quarter":
            year, month = _shift_month(self.start.year, self.start.month, -3)
            return quarter_period(year, (month - 1) // 3 + 1)
        if self.kind == "year":
            return year_period(self.start.year - 1)
        end = self.start - timedelta(days=1)
        return Period("custom", end - timedelta(days=self.days - 1), end)


def _shift_month(year: int, month: int, by: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + by
    return index // 12, index % 12 + 1


def _month_end(year: int, month: int) -> date:
    y, m = _shift_month(year, month, 1)
    return date(y, m, 1) - timedelta(days=1)


def month_period(year: int, month: int) -> Period:
    return Period("month", date(year, month, 1), _month_end(year, month))


def quarter_period(year: int, quarter: int) -> Period:
    first = 3 * (quarter - 1) + 1
    return Period("quarter", date(year, first, 1), _month_end(year, first + 2))


def year_period(year: int) -> Period:
    return Period("year", date(year, 1, 1), date(year, 12, 31))


_MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER_RE = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_YEAR_RE = re.compile(r"^(\d{4})$")


MIN_YEAR, MAX_YEAR = 2000, 2100


def _check_year(year: int) -> int:
    # Bounded so the previous period and the trend never step outside the calendar.
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ReportError("period", f"the year must be between {MIN_YEAR} and {MAX_YEAR}")
    return year


def parse_period(
    kind: str | None, value: str | None = None, start: str | None = None,
    end: str | None = None, today: date | None = None,
) -> Period:
    """A period from filter values; the current month when nothing is given."""
    today = today or local_today()
    kind = (kind or "month").strip().lower()
    value = (value or "").strip()
    if kind not in PERIOD_KINDS:
        raise ReportError("period", f"unknown period kind {kind!r}")
    try:
        if kind == "month":
            if not value:
                return month_period(today.year, today.month)
            match = _MONTH_RE.match(value)
            if not match:
                raise ReportError("period", f"a month is written YYYY-MM, got {value!r}")
            return month_period(_check_year(int(match[1])), int(match[2]))
        if kind == "quarter":
            if not value:
                return quarter_period(today.year, (today.month - 1) // 3 + 1)
            match = _QUARTER_RE.match(value)
            if not match:
                raise ReportError("period", f"a quarter is written YYYY-Qn, got {value!r}")
            return quarter_period(_check_year(int(match[1])), int(match[2]))
        if kind == "year":
            if not value:
                return year_period(today.year)
            match = _YEAR_RE.match(value)
            if not match:
                raise ReportError("period", f"a year is written YYYY, got {value!r}")
            return year_period(_check_year(int(match[1])))
        if (not start or not end) and "/" in value:
            start, end = value.split("/", 1)
        first = date.fromisoformat((start or "").strip())
        last = date.fromisoformat((end or "").strip())
    except ValueError as exc:
        if isinstance(exc, ReportError):
            raise
        raise ReportError("period", f"not a valid date: {exc}") from None
    if last < first:
        raise ReportError("period", "the end of the range is before its start")
    _check_year(first.year)
    _check_year(last.year)
    if (last - first).days + 1 > MAX_CUSTOM_DAYS:
        raise ReportError("period", f"a custom range is at most {MAX_CUSTOM_DAYS} days")
    return Period("custom", first, last)


@dataclass(frozen=True)
class Filters:
    """What a report is about: a unit's subtree, a period, channels, and whether misuse counts."""

    unit: Unit
    period: Period
    channels: tuple[str, ...] = ALL_CHANNELS
    include_misuse: bool = False

    @property
    def survey_channels(self) -> tuple[str, ...]:
        return tuple(c for c in self.channels if c in SURVEY_CHANNELS)

    @property
    def kiosk(self) -> bool:
        return "kiosk" in self.channels

    def for_period(self, period: Period) -> Filters:
        return replace(self, period=period)

    def for_unit(self, unit: Unit) -> Filters:
        return replace(self, unit=unit)

    def query_args(self) -> dict[str, str | list[str]]:
        """The filter as GET parameters, to keep it in links and forms."""
        args: dict[str, str | list[str]] = {"unit": str(self.unit.id), "period": self.period.kind}
        if self.period.kind == "custom":
            args["start"] = self.period.start.isoformat()
            args["end"] = self.period.end.isoformat()
        else:
            args["value"] = self.period.value
        if self.channels != ALL_CHANNELS:
            args["channel"] = list(self.channels)
        if self.include_misuse:
            args["misuse"] = "1"
        return args


def default_unit(user: User) -> Unit:
    """Where a user's dashboard opens: their own unit, or the first top-level unit for admins."""
    root = scope.root_unit(user)
    if root is not None:
        return root
    unit = db.session.scalar(
        select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id).limit(1)
    )
    if unit is None:
        raise ReportError("unit", "there is no unit yet")
    return unit


def build_filters(user: User, args: Mapping[str, object]) -> Filters:
    """Parse dashboard/API filter parameters for a user; units out of scope are a 404."""
    getlist = getattr(args, "getlist", None)
    unit_arg = _one(args.get("unit"))
    unit = resolve_unit(user, unit_arg) if unit_arg else default_unit(user)
    period = parse_period(
        _one(args.get("period")), _one(args.get("value")), _one(args.get("start")),
        _one(args.get("end")),
    )
    raw_channels = getlist("channel") if getlist else args.get("channel")
    if isinstance(raw_channels, str):
        raw_channels = raw_channels.split(",")
    chosen = [c.strip() for c in (raw_channels or []) if c and c.strip()]
    unknown = [c for c in chosen if c not in ALL_CHANNELS]
    if unknown:
        raise ReportError("channel", f"unknown channel {unknown[0]!r}")
    channels = tuple(c for c in ALL_CHANNELS if c in chosen) or ALL_CHANNELS
    misuse = _one(args.get("misuse")) in ("1", "true", "yes", "on")
    return Filters(unit=unit, period=period, channels=channels, include_misuse=misuse)


def _one(value: object) -> str | None:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return None if value is None else str(value)


_CODE_RE = re.compile(r"^[\w.\-]{1,40}$")


def resolve_unit(user: User, ref: str) -> Unit:
    """A unit by id or code that the user may see, else 404 (out of scope looks like missing)."""
    ref = ref.strip()
    if ref.isascii() and ref.isdigit() and len(ref) < 10:
        return scope.get_unit(user, int(ref))
    if not _CODE_RE.match(ref):
        # Not a unit code at all (control characters, too long): PostgreSQL would refuse a NUL.
        return scope.get_unit(user, -1)
    unit = db.session.scalar(select(Unit).where(Unit.code == ref))
    if unit is None:
        return scope.get_unit(user, -1)
    return scope.get_unit(user, unit.id)


# --------------------------------------------------------------------------------------------------
# Figures


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


def _figure_from_proportion(p: sipas.Proportion) -> Figure:
    return Figure(p.value, p.n, p.low, p.high, p.suppressed, p.excluded_share)


def _index_figure(value: Fraction | None, n: int, excluded_share: Fraction | None,
                  variance: float | None, min_n: int, missing: tuple[str, ...] = ()) -> Figure:
    """An index (a mean of item rates) with n respondents and its delta-method 95% interval
    (core/sipas.py ``delta_interval``; docs/METHOD.md)."""
    interval = sipas.delta_interval(value, variance)
    low, high = interval if interval is not None else (None, None)
    return Figure(value, n, low, high, sipas.is_suppressed(n, min_n), excluded_share,
                  interval=DELTA, missing=missing if value is None else (), variance=variance)


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


_PARSED: dict[tuple[int, int], Questionnaire] = {}


def questionnaire() -> Questionnaire:
    """The active questionnaire, parsed once per stored version (versions are never edited in
    place, core/questionnaire.py)."""
    row = questionnaires.active()
    if row is None:
        row = questionnaires.ensure_default()
    key = (row.id, row.version)
    if key not in _PARSED:
        _PARSED[key] = load_definition(row.definition)
    return _PARSED[key]


def service_element_of_item(q: Questionnaire) -> dict[str, str]:
    return {item.code: element.code for element in q.elements for item in element.items}


def policy_element_of_item(q: Questionnaire) -> dict[str, str]:
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


def _unit_ids(unit: Unit) -> Select:
    return select(Unit.id).where(Unit.path.startswith(unit.path))


def _split(start: date, end: date) -> tuple[list[tuple[date, date]], tuple[date, date] | None]:
    """Day ranges to read from the daily cells, and the whole months (first days, both ends
    included) to read from the monthly cells: a year is 12 monthly reads, not 365 daily."""
    first_full = start if start.day == 1 else _month_end(start.year, start.month) + timedelta(1)
    last_full = end if end == _month_end(end.year, end.month) else end.replace(day=1) - timedelta(1)
    if first_full > last_full:
        return [(start, end)], None
    days = []
    if start < first_full:
        days.append((start, first_full - timedelta(1)))
    if end > last_full:
        days.append((last_full + timedelta(1), end))
    return days, (first_full, last_full.replace(day=1))


def _cells(
    start: date, end: date, units, channels: Iterable[str], codes: Iterable[str] | None,
    group: str | None = None,
):
    """(group key, item, level, misuse, count) summed over the coarse cells of a range.

    ``units`` is a SELECT of unit ids or a list; ``group`` is None, "unit" or "month".
    """
    channels, codes = list(channels), None if codes is None else list(codes)
    days, months = _split(start, end)
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
    for _, code, level, misuse, count in _cells(
        f.period.start, f.period.end, _unit_ids(f.unit), f.channels, codes
    ):
        out.add(code, level, misuse, count)
    return out


def totals_by_unit(
    f: Filters, codes: Iterable[str], unit_ids: Iterable[int]
) -> dict[int, CellTotals]:
    """The same sums per unit (for rankings): one GROUP BY, folded into subtrees by the caller."""
    out: dict[int, CellTotals] = defaultdict(CellTotals)
    for unit_id, code, level, misuse, count in _cells(
        f.period.start, f.period.end, list(unit_ids), f.channels, codes, group="unit"
    ):
        out[unit_id].add(code, level, misuse, count)
    return out


def _headline_codes(q: Questionnaire) -> list[str]:
    return [TAP, RESPONDENTS, *service_element_of_item(q), *policy_element_of_item(q)]


def _policy_figures(
    t: CellTotals, f: Filters, q: Questionnaire, excluded: float | None
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


def headline_from_totals(t: CellTotals, f: Filters, q: Questionnaire) -> Headline:
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
        items[item] = _figure_from_proportion(p)
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
    rate = _figure_from_proportion(sipas.counter_rate(tap, include_misuse=inc,
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
    codes = _headline_codes(q)
    cells = totals(f)
    current = headline_from_totals(cells, f, q)
    current.totals = cells
    if not with_previous:
        return current
    prev_f = f.for_period(f.period.previous())
    _with_previous(current, headline_from_totals(totals(prev_f, codes), prev_f, q))
    return current


def _with_previous(current: Headline, prev: Headline) -> None:
    current.sipas = current.sipas.with_previous(prev.sipas)
    if current.service is not None:
        current.service = current.service.with_previous(prev.service)
    if current.policy is not None:
        current.policy = current.policy.with_previous(prev.policy)
    current.counter_rate = current.counter_rate.with_previous(prev.counter_rate)
    current.elements = {
        code: fig.with_previous(prev.elements.get(code)) for code, fig in current.elements.items()
    }


# --------------------------------------------------------------------------------------------------
# Trend, heat map


def _month_key(column):
    if db.session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


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
    sy, sm = _shift_month(end.year, end.month, -(months - 1))
    span = Filters(f.unit, Period("custom", date(sy, sm, 1), end), f.channels, f.include_misuse)
    by_month: dict[str, CellTotals] = defaultdict(CellTotals)
    for month, code, level, misuse, count in _cells(
        span.period.start, end, _unit_ids(f.unit), f.channels, _headline_codes(q), group="month"
    ):
        by_month[month].add(code, level, misuse, count)
    points = []
    for i in range(months):
        y, m = _shift_month(sy, sm, i)
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
    conds = [h.day >= f.period.start, h.day <= f.period.end, h.unit_id.in_(_unit_ids(f.unit))]
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


# --------------------------------------------------------------------------------------------------
# Rankings


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


def _merge_into(target: CellTotals, source: CellTotals) -> None:
    for code, levels in source.levels.items():
        for lv, (plain, mis) in levels.items():
            target.add(code, lv, False, plain)
            target.add(code, lv, True, mis)


def _rank_units(
    f: Filters, units: list[Unit], q: Questionnaire
) -> dict[int, tuple[Headline, int | None, int | None]]:
    if not units:
        return {}
    # Which ranked unit each unit of the subtrees belongs to, from the materialised paths.
    owner: dict[int, int] = {}
    for uid, path in db.session.execute(select(Unit.id, Unit.path)):
        for u in units:
            if path.startswith(u.path):
                owner[uid] = u.id
    per_unit = totals_by_unit(f, _headline_codes(q), list(owner))
    sub: dict[int, CellTotals] = {u.id: CellTotals() for u in units}
    for uid, t in per_unit.items():
        _merge_into(sub[owner[uid]], t)
    return _rank_from(f, units, sub, q)


def _rank_from(
    f: Filters, units: list[Unit], sub: Mapping[int, CellTotals], q: Questionnaire
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
            _merge_into(whole, t)
            if owner.get(uid) is not None:
                _merge_into(sub[owner[uid]], t)
        reads.append((period_f, whole, sub))
    (cur_f, cur_whole, cur_sub), (prev_f, prev_whole, prev_sub) = reads
    head = headline_from_totals(cur_whole, cur_f, q)
    head.totals = cur_whole
    _with_previous(head, headline_from_totals(prev_whole, prev_f, q))
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


# --------------------------------------------------------------------------------------------------
# Breakdowns, drill-down, reasons, perception


@dataclass(frozen=True)
class BreakdownRow:
    key: int
    code: str
    name: str
    sipas: Figure
    counter_rate: Figure


class NotAllowed(PermissionError):
    """The user's role may not see this figure (officer-level data for viewers)."""


def breakdown(user: User, f: Filters, by: str) -> list[BreakdownRow]:
    """SIPAS-style index and counter rate per counter, procedure, field or officer.

    Officer figures: administrators and managers only, only officers with at least MIN_OFFICER_N
    valid taps or respondents, and every view is audited (docs/METHOD.md, "Suppression").
    """
    if by not in BREAKDOWNS:
        raise ReportError("by", f"unknown breakdown {by!r}")
    scope.get_unit(user, f.unit.id)
    if by == "officer" and not scope.may_see_officers(user):
        raise NotAllowed("officer-level figures are for administrators and managers")
    q = questionnaire()
    per_key: dict[int, CellTotals] = defaultdict(CellTotals)
    for key, code, level, misuse, count in _dim_cells(f, by, _headline_codes(q)):
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
                _merge_into(merged[fid], t)
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
        db.session.commit()
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
        days, months = _split(f.period.start, f.period.end)
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
                column >= lo, column <= hi, model.unit_id.in_(_unit_ids(f.unit)),
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
            options.append((code, n, _figure_from_proportion(prop)))
        out.append(PerceptionResult(p.code, p.kind, answered,
                                    sipas.is_suppressed(answered, min_report_n()), options))
    return out


# --------------------------------------------------------------------------------------------------
# Comments


# Phone numbers (0xx / +84 ...), 9-digit CMND and 12-digit CCCD numbers, with or without spaces,
# dots or dashes between the digit groups: any run of seven or more digits is masked.
_NUMBER_RE = re.compile(r"\+?\d(?:[\s.\-]?\d){6,}")
MASK = "•"
COMMENT_PAGE = 25


def mask_numbers(text: str) -> str:
    """Replace phone and ID numbers by bullets, keeping the text around them readable."""
    return _NUMBER_RE.sub(lambda m: MASK * sum(ch.isdigit() for ch in m.group(0)), text)


@dataclass(frozen=True)
class CommentRow:
    id: int
    day: date
    unit_code: str
    channel: str
    text: str | None  # None: hidden from this user
    hidden: bool
    flagged: bool


def may_moderate(user: User) -> bool:
    return user.role in ("admin", "manager")


def comments(user: User, f: Filters, search: str = "", before_id: int | None = None,
             limit: int = COMMENT_PAGE) -> list[CommentRow]:
    """Comments of the filter, newest first, numbers masked; viewers see none of the text.

    The search ignores digits so nobody can probe for a phone or ID number behind the mask.
    """
    scope.get_unit(user, f.unit.id)
    s = SurveyResponse
    conds = [
        s.local_day >= f.period.start, s.local_day <= f.period.end,
        s.unit_id.in_(_unit_ids(f.unit)), s.channel.in_(f.survey_channels or ("none",)),
        s.comment.is_not(None), s.comment != "",
    ]
    if not f.include_misuse:
        conds.append(s.misuse.is_(None))
    if not may_moderate(user):
        conds.append(s.comment_hidden.is_(False))
    # Digits and control characters are dropped (no probing behind the mask, no NUL for PG).
    words = [w[:40] for w in re.sub(r"[\d\x00-\x1f]", " ", search).split() if w][:5]
    for word in words:
        conds.append(func.lower(s.comment).contains(word.lower(), autoescape=True))
    if before_id is not None:
        conds.append(s.id < before_id)
    stmt = (
        select(s.id, s.local_day, Unit.code, s.channel, s.comment, s.comment_hidden,
               s.comment_flagged)
        .join(Unit, Unit.id == s.unit_id).where(and_(*conds)).order_by(s.id.desc()).limit(limit)
    )
    rows = []
    for rid, day, unit_code, channel, text, hidden, flagged in db.session.execute(stmt):
        shown = mask_numbers(text) if may_moderate(user) else None
        rows.append(CommentRow(rid, day, unit_code, channel, shown, hidden, flagged))
    return rows


MODERATION_ACTIONS = ("hide", "unhide", "flag", "unflag")


def moderate_comment(user: User, response_id: int, action: str) -> SurveyResponse:
    """Hide or flag a comment (administrators and managers of its unit); audited."""
    if action not in MODERATION_ACTIONS:
        raise ReportError("action", f"unknown moderation action {action!r}")
    if not may_moderate(user):
        raise NotAllowed("only administrators and managers moderate comments")
    from core.database import begin_write

    begin_write()
    response = db.session.get(SurveyResponse, response_id)
    if response is None or not response.comment:
        raise ReportError("comment", "no such comment")
    scope.get_unit(user, response.unit_id)
    if action in ("hide", "unhide"):
        response.comment_hidden = action == "hide"
    else:
        response.comment_flagged = action == "flag"
    audit.record(f"comment.{action}", user=user, target_type="survey_response",
                 target_id=response.id, unit_id=response.unit_id)
    db.session.commit()
    return response


def unit_choices(user: User) -> list[Unit]:
    """Units the user may pick in the filter, in tree order."""
    stmt = select(Unit).where(Unit.id.in_(scope.visible_units(user)), Unit.active.is_(True))
    return sorted(db.session.scalars(stmt), key=lambda u: u.path)


def public_unit(code: str) -> Unit | None:
    """An active unit for the public transparency page, by code."""
    if not _CODE_RE.match(code):
        return None
    return db.session.scalar(select(Unit).where(Unit.code == code, Unit.active.is_(True)))


def public_filters(unit: Unit, args: Mapping[str, object]) -> Filters:
    """Public page filters: the period only; misuse always left out, every channel."""
    kind = _one(args.get("period")) or "year"
    period = parse_period(kind, _one(args.get("value")), _one(args.get("start")),
                          _one(args.get("end")))
    return Filters(unit=unit, period=period)


__all__ = [
    "ALL_CHANNELS", "BREAKDOWNS", "MODERATION_ACTIONS", "PERIOD_KINDS", "SURVEY_CHANNELS",
    "BreakdownRow", "CellTotals", "CommentRow", "Figure", "Filters", "Headline", "NotAllowed",
    "Period", "RankRow", "ReportError", "breakdown", "build_filters", "comments", "headline",
    "heatmap", "mask_numbers", "moderate_comment", "parse_period", "peer_rank", "perception",
    "ranking", "reasons", "totals", "trend",
]
