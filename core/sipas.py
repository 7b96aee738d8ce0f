"""SIPAS index engine: pure functions from answer counts to published figures.

Every formula is the one written down in docs/METHOD.md and is checked against the worked
examples in tests/data/sipas-examples.json. Inputs are *counts*, never rows, so the same code
serves one counter for one day and a whole province for a year: merging periods or units is
addition of `Counts`, and indices are always computed after the merge, never averaged from
sub-totals.

Indices are exact: computed from counts as `Fraction`s, so a figure is never a binary float that
lies just below a half (16373/20000 = 81.865 exactly). `round_half_up` is the one place where a
figure is rounded, half up to two decimals, for every page, API answer and export; ranks and
changes use the unrounded values. Intervals (Wilson for proportions, the delta method for the
element and service indices) are floats. The method in words: docs/METHOD.md. This module
imports no web framework and no database on purpose.
"""

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Final, TypeVar, overload

__all__ = [
    "FIVE_LEVEL_MAP",
    "LEVELS",
    "METHOD_VERSION",
    "MIN_OFFICER_N",
    "MIN_REPORT_N",
    "NO_OPINION",
    "SATISFIED_LEVELS",
    "SCALES",
    "SCALE_LEVELS",
    "SERVICE_ELEMENTS",
    "THREE_LEVEL_MAP",
    "Z_95",
    "Counts",
    "Proportion",
    "ServiceResult",
    "compute_service",
    "counter_rate",
    "delta_interval",
    "element_index",
    "is_suppressed",
    "item_index",
    "mean_variance",
    "missing_elements",
    "proportion",
    "rank",
    "rank_change",
    "round2",
    "round_half_up",
    "service_index",
    "sipas_index",
    "wilson_interval",
]

# Every published figure names the method that computed it, so a quarter stays comparable after a
# change of method (QĐ 1001/QĐ-BNV of 11/12/2023, method for 2023–2026).
METHOD_VERSION: Final[str] = "sipas-2023.1"

LEVELS: Final[tuple[int, int, int, int, int]] = (1, 2, 3, 4, 5)
# The five elements of the service questionnaire (QĐ 1001/QĐ-BNV); a service index needs all five.
SERVICE_ELEMENTS: Final[tuple[str, ...]] = ("TC", "TT", "CC", "KQ", "PA")
SATISFIED_LEVELS: Final[frozenset[int]] = frozenset({4, 5})

# The 3-level counter scale is stored on the 5-level axis so one set of functions serves both:
# "Không hài lòng" becomes 2 (dissatisfied), not 1, because it is the only negative button offered.
THREE_LEVEL_MAP: Final[dict[str, int]] = {"very_satisfied": 5, "satisfied": 4, "not_satisfied": 2}
FIVE_LEVEL_MAP: Final[dict[str, int]] = {
    "very_satisfied": 5,
    "satisfied": 4,
    "neutral": 3,
    "dissatisfied": 2,
    "very_dissatisfied": 1,
}
# The one home of the counter scales: the scales a counter may offer and the stored levels each
# gives (the sync protocol, the unit settings and the questionnaire all read them here).
SCALE_LEVELS: Final[dict[int, tuple[int, ...]]] = {
    3: tuple(sorted(THREE_LEVEL_MAP.values())),
    5: tuple(sorted(FIVE_LEVEL_MAP.values())),
}
SCALES: Final[tuple[int, ...]] = tuple(SCALE_LEVELS)
# A phone-survey answer of "no opinion / not applicable": stored, never counted in an index.
NO_OPINION: Final[int] = 0

# Our decisions: below these, a figure is "không đủ mẫu" rather than a number. These are the
# defaults; the application passes SIPAS_MIN_REPORT_N / SIPAS_MIN_OFFICER_N as arguments.
MIN_REPORT_N: Final[int] = 10
MIN_OFFICER_N: Final[int] = 20

# Two-sided 95% normal quantile, to full double precision so intervals match published tables.
Z_95: Final[float] = 1.959963984540054

_NO_OPINION_CODES = (None, NO_OPINION)

K = TypeVar("K", bound=Hashable)


# --------------------------------------------------------------------------------------------------
# Validation helpers


def _check_count(name: str, value: object) -> int:
    # bool is an int subclass; a True count is always a bug upstream, so refuse it.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


def _check_levels(name: str, values: object) -> tuple[int, int, int, int, int]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ValueError(f"{name} must be 5 counts for levels 1..5, got {values!r}")
    counts = tuple(values)
    if len(counts) != len(LEVELS):
        raise ValueError(f"{name} must have exactly 5 counts (levels 1..5), got {len(counts)}")
    for level, count in zip(LEVELS, counts, strict=True):
        _check_count(f"{name}[level {level}]", count)
    return counts  # type: ignore[return-value]  # length checked above


def _check_level(answer: object) -> int | None:
    """Return the level 1..5, or None for "no opinion" (None or 0)."""
    if answer is None:
        return None
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise ValueError(f"an answer must be a level 1..5, 0 or None, got {answer!r}")
    if answer == 0:
        return None
    if answer not in LEVELS:
        raise ValueError(f"an answer must be a level 1..5, 0 or None, got {answer}")
    return answer


def _check_score(name: str, value: object, *, percent: bool) -> Fraction:
    """The score as an exact Fraction. A float is read as the decimal it prints as (repr), so
    83.965 means 83.965 and not the binary number just below it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction, Decimal)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    finite = math.isfinite(value) if isinstance(value, float) else (
        not isinstance(value, Decimal) or value.is_finite())
    if not finite:
        raise ValueError(f"{name} must be finite, got {value!r}")
    exact = Fraction(Decimal(repr(value))) if isinstance(value, float) else Fraction(value)
    if percent and not 0 <= exact <= 100:
        raise ValueError(f"{name} must be a percentage in [0, 100], got {value!r}")
    return exact


# --------------------------------------------------------------------------------------------------
# Counts


@dataclass(frozen=True)
class Counts:
    """Additive answer counts for one question (item or kiosk tap) over some units and period.

    `by_level[i]` counts answers of level i+1. Answers flagged as misuse are kept apart in the
    `misuse_*` fields: flagged, never deleted (docs/METHOD.md, "Misuse"), and left out of
    indices by default.
    """

    by_level: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    no_opinion: int = 0
    misuse_by_level: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    # A misuse-flagged "no opinion" has no level to go under, but must still not vanish.
    misuse_no_opinion: int = 0

    def __post_init__(self) -> None:
        # Normalise lists to tuples so instances stay hashable and comparable.
        object.__setattr__(self, "by_level", _check_levels("by_level", self.by_level))
        object.__setattr__(
            self, "misuse_by_level", _check_levels("misuse_by_level", self.misuse_by_level)
        )
        _check_count("no_opinion", self.no_opinion)
        _check_count("misuse_no_opinion", self.misuse_no_opinion)

    @property
    def valid(self) -> int:
        """Valid (level 1–5) answers not flagged as misuse: the denominator of every index."""
        return sum(self.by_level)

    @property
    def satisfied(self) -> int:
        """Answers of level 4 or 5 not flagged as misuse."""
        return sum(self.by_level[level - 1] for level in SATISFIED_LEVELS)

    @property
    def misuse_valid(self) -> int:
        """Valid answers flagged as misuse."""
        return sum(self.misuse_by_level)

    @property
    def misuse_satisfied(self) -> int:
        """Answers of level 4 or 5 flagged as misuse."""
        return sum(self.misuse_by_level[level - 1] for level in SATISFIED_LEVELS)

    @property
    def total(self) -> int:
        """Every answer recorded, valid or not, flagged or not."""
        return self.valid + self.no_opinion + self.misuse_valid + self.misuse_no_opinion

    def __add__(self, other: object) -> "Counts":
        if not isinstance(other, Counts):
            return NotImplemented
        return Counts(
            by_level=_add5(self.by_level, other.by_level),
            no_opinion=self.no_opinion + other.no_opinion,
            misuse_by_level=_add5(self.misuse_by_level, other.misuse_by_level),
            misuse_no_opinion=self.misuse_no_opinion + other.misuse_no_opinion,
        )

    def __radd__(self, other: object) -> "Counts":
        # Lets sum(list_of_counts) work with its default start of 0.
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return self
        return NotImplemented

    @classmethod
    def from_answers(
        cls,
        answers: Iterable[int | None],
        misuse: Iterable[bool] | None = None,
    ) -> "Counts":
        """Count raw answers (levels 1..5; 0 or None = no opinion).

        `misuse`, when given, is one flag per answer, in the same order.
        """
        answers = list(answers)
        flags = [False] * len(answers) if misuse is None else list(misuse)
        if len(flags) != len(answers):
            raise ValueError(
                "misuse must have one flag per answer: "
                f"{len(flags)} flags for {len(answers)} answers"
            )
        by_level = [0] * 5
        misuse_by_level = [0] * 5
        no_opinion = misuse_no_opinion = 0
        for answer, flagged in zip(answers, flags, strict=True):
            level = _check_level(answer)
            if level is None:
                if flagged:
                    misuse_no_opinion += 1
                else:
                    no_opinion += 1
            elif flagged:
                misuse_by_level[level - 1] += 1
            else:
                by_level[level - 1] += 1
        return cls(
            by_level=tuple(by_level),  # type: ignore[arg-type]
            no_opinion=no_opinion,
            misuse_by_level=tuple(misuse_by_level),  # type: ignore[arg-type]
            misuse_no_opinion=misuse_no_opinion,
        )

    @classmethod
    def from_mapping(
        cls,
        counts: Mapping[int | None, int],
        misuse: Mapping[int | None, int] | None = None,
    ) -> "Counts":
        """Build from `{level: count}` (e.g. a SQL GROUP BY); key 0 or None counts as no opinion."""
        by_level, no_opinion = _levels_from_mapping("counts", counts)
        misuse_by_level, misuse_no_opinion = _levels_from_mapping("misuse", misuse or {})
        return cls(
            by_level=by_level,
            no_opinion=no_opinion,
            misuse_by_level=misuse_by_level,
            misuse_no_opinion=misuse_no_opinion,
        )


def _add5(
    a: tuple[int, int, int, int, int], b: tuple[int, int, int, int, int]
) -> tuple[int, int, int, int, int]:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4])


def _levels_from_mapping(
    name: str, counts: Mapping[int | None, int]
) -> tuple[tuple[int, int, int, int, int], int]:
    by_level = [0] * 5
    no_opinion = 0
    for key, count in counts.items():
        try:
            level = _check_level(key)
        except ValueError:
            raise ValueError(
                f"{name} has an unknown level key {key!r} (use 1..5, 0 or None)"
            ) from None
        _check_count(f"{name}[{key!r}]", count)
        if level is None:
            no_opinion += count
        else:
            by_level[level - 1] += count
    return tuple(by_level), no_opinion  # type: ignore[return-value]


def _rated(counts: Counts, include_misuse: bool) -> tuple[int, int, int]:
    """(satisfied, valid, excluded) for an index, with or without the misuse-flagged answers."""
    if include_misuse:
        return counts.satisfied + counts.misuse_satisfied, counts.valid + counts.misuse_valid, 0
    return counts.satisfied, counts.valid, counts.misuse_valid


# --------------------------------------------------------------------------------------------------
# Proportions, intervals, suppression


def wilson_interval(satisfied: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """95% (by default) Wilson score interval for satisfied/n, in percent; None when n == 0."""
    _check_count("satisfied", satisfied)
    _check_count("n", n)
    if satisfied > n:
        raise ValueError(f"satisfied ({satisfied}) cannot exceed n ({n})")
    if isinstance(z, bool) or not isinstance(z, (int, float)) or not (math.isfinite(z) and z > 0):
        raise ValueError(f"z must be a positive finite number, got {z!r}")
    if n == 0:
        return None
    # Wilson rather than the normal approximation: small counters often have p = 0 or 1, where the
    # normal interval collapses to a point and claims certainty it does not have.
    p = satisfied / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    margin = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    # At p = 0 or 1 the bound is exactly 0 or 100; say so rather than trust float cancellation.
    low = 0.0 if satisfied == 0 else max(0.0, 100 * (centre - margin))
    high = 100.0 if satisfied == n else min(100.0, 100 * (centre + margin))
    return low, high


def is_suppressed(respondents: int, min_report_n: int = MIN_REPORT_N) -> bool:
    """True when a figure rests on fewer than `min_report_n` respondents ("không đủ mẫu")."""
    _check_count("respondents", respondents)
    _check_count("min_report_n", min_report_n)
    return respondents < min_report_n


@dataclass(frozen=True)
class Proportion:
    """A satisfaction rate with what must be shown beside it: n, 95% interval, exclusions.

    `value` is kept even when `suppressed` is True (so totals can still be audited); a display
    must show "không đủ mẫu" instead of the number whenever `suppressed` is set.
    """

    satisfied: int
    n: int
    value: Fraction | None
    low: float | None
    high: float | None
    suppressed: bool
    excluded_misuse: int = 0
    excluded_share: Fraction | None = None

    def __post_init__(self) -> None:
        _check_count("satisfied", self.satisfied)
        _check_count("n", self.n)
        _check_count("excluded_misuse", self.excluded_misuse)
        if self.satisfied > self.n:
            raise ValueError(f"satisfied ({self.satisfied}) cannot exceed n ({self.n})")


def proportion(
    satisfied: int, n: int, *, min_report_n: int = MIN_REPORT_N, excluded: int = 0
) -> Proportion:
    """Build a `Proportion` from counts; `excluded` is the number of misuse taps left out of n."""
    _check_count("satisfied", satisfied)
    _check_count("n", n)
    _check_count("excluded", excluded)
    if satisfied > n:
        raise ValueError(f"satisfied ({satisfied}) cannot exceed n ({n})")
    interval = wilson_interval(satisfied, n)
    low, high = interval if interval is not None else (None, None)
    # The share is of everything that was rated, so it reads "x% of taps were left out".
    rated = n + excluded
    return Proportion(
        satisfied=satisfied,
        n=n,
        value=Fraction(100 * satisfied, n) if n else None,
        low=low,
        high=high,
        suppressed=is_suppressed(n, min_report_n),
        excluded_misuse=excluded,
        excluded_share=Fraction(100 * excluded, rated) if rated else None,
    )


# --------------------------------------------------------------------------------------------------
# Indices


Score = int | float | Fraction | Decimal


def item_index(counts: Counts, *, include_misuse: bool = False) -> Fraction | None:
    """100 × (answers 4 or 5) / (valid answers 1–5), exact; None when there is no valid answer."""
    satisfied, valid, _ = _rated(counts, include_misuse)
    return Fraction(100 * satisfied, valid) if valid else None


def _mean_of_existing(name: str, scores: Mapping[str, Score | None]) -> Fraction | None:
    present = [
        _check_score(f"{name}[{key!r}]", value, percent=True)
        for key, value in scores.items()
        if value is not None
    ]
    # Exact, so the mean does not depend on the order the mapping was built in.
    return sum(present, Fraction(0)) / len(present) if present else None


def element_index(item_indices: Mapping[str, Score | None]) -> Fraction | None:
    """Mean of the item indices that exist (None = item with no valid answer, left out).

    This is a mean of item figures, not a pooled rate of all answers: pooling would let a
    much-answered item outweigh the others (the CC example: 56.25, not 72.73).
    """
    return _mean_of_existing("item_indices", item_indices)


def missing_elements(element_indices: Mapping[str, Score | None]) -> tuple[str, ...]:
    """The elements with no index (no valid answer), in the order given."""
    return tuple(code for code, value in element_indices.items() if value is None)


def service_index(element_indices: Mapping[str, Score | None]) -> Fraction | None:
    """Mean of the element indices given (the five: TC, TT, CC, KQ, PA).

    When any element has no valid answer (all "no opinion"), there is no service index: the mean
    of four elements is a different index, and would rank a unit on what it was not asked about.
    """
    if not element_indices or missing_elements(element_indices):
        # Still validate what was given, so a bad score is an error and not a silent None.
        _mean_of_existing("element_indices", element_indices)
        return None
    return _mean_of_existing("element_indices", element_indices)


def sipas_index(service: Score | None, policy: Score | None = None) -> Fraction | None:
    """The SIPAS-style index: the service index, or the mean of policy and service when the
    optional policy module gives a figure (the official weighting is not public).

    None when there is no service index: a policy figure alone is not a SIPAS-style index.
    """
    if policy is not None:
        _check_score("policy", policy, percent=True)
    if service is None:
        return None
    service = _check_score("service", service, percent=True)
    if policy is None:
        return service
    return (service + _check_score("policy", policy, percent=True)) / 2


def counter_rate(
    counts: Counts, *, include_misuse: bool = False, min_report_n: int = MIN_REPORT_N
) -> Proportion:
    """Counter satisfaction rate from kiosk taps: 100 × satisfied taps / valid taps.

    Misuse-flagged taps are left out by default; how many were left out is reported with the rate.
    """
    satisfied, valid, excluded = _rated(counts, include_misuse)
    return proportion(satisfied, valid, min_report_n=min_report_n, excluded=excluded)


@dataclass(frozen=True)
class ServiceResult:
    """The service questionnaire's figures for one unit and period, with the method that made them.

    `suppressed` means the whole result must be shown as "không đủ mẫu".
    """

    items: dict[str, Fraction | None]
    elements: dict[str, Fraction | None]
    service: Fraction | None
    method_version: str
    respondents: int | None
    suppressed: bool
    excluded_misuse: int = 0
    excluded_share: Fraction | None = None
    # Delta-method variances (of the index in percent, squared), see `mean_variance`.
    element_variances: dict[str, float | None] = field(default_factory=dict)
    service_variance: float | None = None
    # Elements with no valid answer: when any, there is no service index.
    missing: tuple[str, ...] = ()


def compute_service(
    counts_by_item: Mapping[str, Counts],
    element_of_item: Mapping[str, str],
    *,
    min_report_n: int = MIN_REPORT_N,
    respondents: int | None = None,
    include_misuse: bool = False,
    require_all: bool = True,
) -> ServiceResult:
    """Item, element and service indices from per-item counts.

    `element_of_item` is the questionnaire (item code -> element code); an item listed there with no
    counts is reported as None. Suppression is decided on `respondents` when given; otherwise on the
    largest number of valid answers to any one item, which is a lower bound on respondents (each
    answers an item at most once), so the fallback never shows a figure that should be hidden.

    `require_all` (the service questionnaire): no overall index unless every element has one.
    The optional policy module passes False: its index is the mean of the elements answered.
    """
    unknown = [item for item in counts_by_item if item not in element_of_item]
    if unknown:
        raise ValueError(f"items with no element in element_of_item: {sorted(unknown)}")
    if respondents is not None:
        _check_count("respondents", respondents)

    empty = Counts()
    items: dict[str, Fraction | None] = {}
    by_element: dict[str, dict[str, Fraction | None]] = {}
    pairs: dict[str, list[tuple[int, int]]] = {}
    largest_n = excluded = rated = 0
    for item, element in element_of_item.items():
        counts = counts_by_item.get(item, empty)
        if not isinstance(counts, Counts):
            raise ValueError(
                f"counts_by_item[{item!r}] must be Counts, got {type(counts).__name__}"
            )
        _, valid, item_excluded = _rated(counts, include_misuse)
        largest_n = max(largest_n, valid)
        excluded += item_excluded
        rated += valid + item_excluded
        items[item] = item_index(counts, include_misuse=include_misuse)
        by_element.setdefault(element, {})[item] = items[item]
        satisfied, valid, _ = _rated(counts, include_misuse)
        pairs.setdefault(element, []).append((satisfied, valid))

    elements = {element: element_index(values) for element, values in by_element.items()}
    element_variances = {element: mean_variance(p) for element, p in pairs.items()}
    basis = respondents if respondents is not None else largest_n
    if require_all:
        service = service_index(elements)
        variances = list(element_variances.values())
    else:
        service = element_index(elements)  # the mean of the elements that have an index
        variances = [v for v in element_variances.values() if v is not None]
    service_variance = _mean_of_variances(variances) if service is not None else None
    return ServiceResult(
        items=items,
        elements=elements,
        service=service,
        method_version=METHOD_VERSION,
        respondents=respondents,
        suppressed=is_suppressed(basis, min_report_n),
        excluded_misuse=excluded,
        excluded_share=Fraction(100 * excluded, rated) if rated else None,
        element_variances=element_variances,
        service_variance=service_variance,
        missing=missing_elements(elements),
    )


# --------------------------------------------------------------------------------------------------
# Delta-method intervals for indices that are means


def mean_variance(pairs: Iterable[tuple[int, int]]) -> float | None:
    """Variance (in percent², so its root is in points) of a mean of k item proportions.

    For an element index E = (1/k) Σ p_i over the k items with a valid answer, treating the item
    proportions as independent: Var(E) = Σ p_i(1 − p_i)/n_i / k², times 100². None when no item
    has a valid answer. `pairs` are (satisfied, valid) per item; items with valid = 0 are left
    out, as they are from the element index.
    """
    terms = []
    for satisfied, n in pairs:
        _check_count("satisfied", satisfied)
        _check_count("n", n)
        if satisfied > n:
            raise ValueError(f"satisfied ({satisfied}) cannot exceed n ({n})")
        if n:
            p = satisfied / n
            terms.append(p * (1 - p) / n)
    if not terms:
        return None
    return 100 * 100 * math.fsum(terms) / len(terms) ** 2


def _mean_of_variances(variances: list[float | None]) -> float | None:
    """Variance of a mean of independent estimates: Σ Var_j / J²; None when any is missing."""
    if not variances or any(v is None for v in variances):
        return None
    return math.fsum(v for v in variances if v is not None) / len(variances) ** 2


def delta_interval(
    value: Score | None, variance: float | None, z: float = Z_95
) -> tuple[float, float] | None:
    """Normal (delta-method) 95% interval value ± z·√variance, clipped to [0, 100]; None when
    either is missing. For the element index use `mean_variance` of its items; for the service
    index the mean of the five element variances (Σ Var(E_j) / 25)."""
    if value is None or variance is None:
        return None
    if not (math.isfinite(variance) and variance >= 0):
        raise ValueError(f"variance must be a finite number >= 0, got {variance!r}")
    centre = float(_check_score("value", value, percent=True))
    margin = z * math.sqrt(variance)
    return max(0.0, centre - margin), min(100.0, centre + margin)


# --------------------------------------------------------------------------------------------------
# Rounding and ranking


def round_half_up(x: Score, places: int = 2) -> Decimal:
    """THE rounding rule of every figure shown or exported: half up to `places` decimals
    (90.625 -> 90.63, 81.865 -> 81.87, 0.125 -> 0.13).

    Exact inputs (Fraction, int, Decimal) are rounded from their exact value. A float is read as
    the shortest decimal that prints it (repr), so 2.675 rounds to 2.68 although the binary float
    is slightly below it; built-in round() and Babel (half to even) would give 2.67 or 90.62.
    """
    if isinstance(places, bool) or not isinstance(places, int) or not 0 <= places <= 10:
        raise ValueError(f"places must be an int from 0 to 10, got {places!r}")
    exact = _check_score("x", x, percent=False)
    step = Decimal(1).scaleb(-places)
    # Exact division to enough digits that the half-up decision is the exact one: a Fraction
    # whose denominator is a power of 2 and 5 ends; any other never lies exactly on a half.
    sign = -1 if exact < 0 else 1
    scaled = abs(exact) * 10**places
    whole, rest = divmod(scaled.numerator, scaled.denominator)
    if 2 * rest >= scaled.denominator:
        whole += 1
    return (Decimal(sign * whole) * step).quantize(step)


@overload
def round2(x: Score) -> float: ...
@overload
def round2(x: None) -> None: ...
def round2(x: Score | None) -> float | None:
    """`round_half_up` to two decimals as a float, for JSON and spreadsheets (None stays None)."""
    if x is None:
        return None
    return float(round_half_up(x, 2))


def rank(scores: Mapping[K, Score | None]) -> dict[K, int]:
    """Standard competition ranking, higher is better: ties share a rank, the next is skipped
    (1, 2, 2, 4). Units with no score are not ranked.

    Scores are compared unrounded (exactly, as Fractions): two units tie only when their indices
    are equal, not when they merely print the same at two decimals.
    """
    exact = {
        unit: _check_score(f"scores[{unit!r}]", score, percent=False)
        for unit, score in scores.items()
        if score is not None
    }
    ordered = sorted(exact.values(), reverse=True)
    # The rank of a score is 1 + how many scores are strictly better; first index in sorted order.
    first_position: dict[Fraction, int] = {}
    for position, score in enumerate(ordered, start=1):
        first_position.setdefault(score, position)
    ranks = {unit: first_position[score] for unit, score in exact.items()}
    return dict(sorted(ranks.items(), key=lambda pair: pair[1]))


def rank_change(current: Mapping[K, int], previous: Mapping[K, int]) -> dict[K, int | None]:
    """previous − current for each currently ranked unit: positive means "tăng N bậc" (moved up).

    None when the unit had no rank in the previous period.
    """
    for name, ranks in (("current", current), ("previous", previous)):
        for unit, position in ranks.items():
            _check_count(f"{name}[{unit!r}]", position)
            if position < 1:
                raise ValueError(f"{name}[{unit!r}] must be a rank of 1 or more, got {position}")
    return {
        unit: previous[unit] - position if unit in previous else None
        for unit, position in current.items()
    }
