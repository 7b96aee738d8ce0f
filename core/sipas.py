"""SIPAS index engine: pure functions from answer counts to published figures.

Every formula is the one written down in docs/METHOD.md (the indices, our decisions) and is checked
against the worked examples in tests/data/sipas-examples.json. Inputs are *counts*, never rows, so
the same code serves one counter for one day and a whole province for a year: merging periods or
units is addition of `Counts`, and indices are always computed after the merge, never averaged
from sub-totals.

Figures are returned at full float precision; `round2` is the one place where they are rounded for
display and comparison. This module imports no web framework and no database on purpose.
"""

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, TypeVar, overload

__all__ = [
    "FIVE_LEVEL_MAP",
    "LEVELS",
    "METHOD_VERSION",
    "MIN_OFFICER_N",
    "MIN_REPORT_N",
    "SATISFIED_LEVELS",
    "THREE_LEVEL_MAP",
    "Z_95",
    "Counts",
    "Proportion",
    "ServiceResult",
    "compute_service",
    "counter_rate",
    "element_index",
    "is_suppressed",
    "item_index",
    "proportion",
    "rank",
    "rank_change",
    "round2",
    "service_index",
    "sipas_index",
    "wilson_interval",
]

# Every published figure names the method that computed it, so a quarter stays comparable after a
# change of method (QĐ 1001/QĐ-BNV of 11/12/2023, method for 2023–2026).
METHOD_VERSION: Final[str] = "sipas-2023.1"

LEVELS: Final[tuple[int, int, int, int, int]] = (1, 2, 3, 4, 5)
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

# Our decisions (docs/METHOD.md): below these, a figure is "không đủ mẫu" rather than a number.
MIN_REPORT_N: Final[int] = 10
MIN_OFFICER_N: Final[int] = 20

# Two-sided 95% normal quantile, to full double precision so intervals match published tables.
Z_95: Final[float] = 1.959963984540054

_NO_OPINION_CODES = (None, 0)

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


def _check_score(name: str, value: object, *, percent: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if percent and not 0 <= value <= 100:
        raise ValueError(f"{name} must be a percentage in [0, 100], got {value!r}")
    return float(value)


# --------------------------------------------------------------------------------------------------
# Counts


@dataclass(frozen=True)
class Counts:
    """Additive answer counts for one question (item or kiosk tap) over some units and period.

    `by_level[i]` counts answers of level i+1. Answers flagged as misuse are kept apart in the
    `misuse_*` fields: flagged, never deleted (docs/METHOD.md), and left out of indices by default.
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
    value: float | None
    low: float | None
    high: float | None
    suppressed: bool
    excluded_misuse: int = 0
    excluded_share: float | None = None

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
        value=100 * satisfied / n if n else None,
        low=low,
        high=high,
        suppressed=is_suppressed(n, min_report_n),
        excluded_misuse=excluded,
        excluded_share=100 * excluded / rated if rated else None,
    )


# --------------------------------------------------------------------------------------------------
# Indices


def item_index(counts: Counts, *, include_misuse: bool = False) -> float | None:
    """100 × (answers 4 or 5) / (valid answers 1–5); None when there is no valid answer."""
    satisfied, valid, _ = _rated(counts, include_misuse)
    return 100 * satisfied / valid if valid else None


def _mean_of_existing(name: str, scores: Mapping[str, float | None]) -> float | None:
    present = [
        _check_score(f"{name}[{key!r}]", value, percent=True)
        for key, value in scores.items()
        if value is not None
    ]
    # fsum so the mean does not depend on the order the mapping was built in.
    return math.fsum(present) / len(present) if present else None


def element_index(item_indices: Mapping[str, float | None]) -> float | None:
    """Mean of the item indices that exist (None = item with no valid answer, left out).

    This is a mean of item figures, not a pooled rate of all answers: pooling would let a
    much-answered item outweigh the others (the CC example: 56.25, not 72.73).
    """
    return _mean_of_existing("item_indices", item_indices)


def service_index(element_indices: Mapping[str, float | None]) -> float | None:
    """Mean of the element indices (normally the five: TC, TT, CC, KQ, PA).

    Our decision (the record is silent): an element with no valid answer is left out rather than
    counted as 0, because "nobody answered" is not "nobody was satisfied". None when none exist.
    """
    return _mean_of_existing("element_indices", element_indices)


def sipas_index(service: float | None, policy: float | None = None) -> float | None:
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
    return (service + policy) / 2


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

    items: dict[str, float | None]
    elements: dict[str, float | None]
    service: float | None
    method_version: str
    respondents: int | None
    suppressed: bool
    excluded_misuse: int = 0
    excluded_share: float | None = None


def compute_service(
    counts_by_item: Mapping[str, Counts],
    element_of_item: Mapping[str, str],
    *,
    min_report_n: int = MIN_REPORT_N,
    respondents: int | None = None,
    include_misuse: bool = False,
) -> ServiceResult:
    """Item, element and service indices from per-item counts.

    `element_of_item` is the questionnaire (item code -> element code); an item listed there with no
    counts is reported as None. Suppression is decided on `respondents` when given; otherwise on the
    largest number of valid answers to any one item, which is a lower bound on respondents (each
    answers an item at most once), so the fallback never shows a figure that should be hidden.
    """
    unknown = [item for item in counts_by_item if item not in element_of_item]
    if unknown:
        raise ValueError(f"items with no element in element_of_item: {sorted(unknown)}")
    if respondents is not None:
        _check_count("respondents", respondents)

    empty = Counts()
    items: dict[str, float | None] = {}
    by_element: dict[str, dict[str, float | None]] = {}
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

    elements = {element: element_index(values) for element, values in by_element.items()}
    basis = respondents if respondents is not None else largest_n
    return ServiceResult(
        items=items,
        elements=elements,
        service=service_index(elements),
        method_version=METHOD_VERSION,
        respondents=respondents,
        suppressed=is_suppressed(basis, min_report_n),
        excluded_misuse=excluded,
        excluded_share=100 * excluded / rated if rated else None,
    )


# --------------------------------------------------------------------------------------------------
# Rounding and ranking


@overload
def round2(x: float) -> float: ...
@overload
def round2(x: None) -> None: ...
def round2(x: float | None) -> float | None:
    """Round half up to 2 decimals, as people expect on a published table (83.965 -> 83.97).

    Goes through the shortest decimal repr of the float, so 2.675 rounds to 2.68 even though the
    binary float is slightly below it; built-in round() would give 2.67 (banker's and binary noise).
    """
    if x is None:
        return None
    x = _check_score("x", x, percent=False)
    return float(Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def rank(scores: Mapping[K, float | None]) -> dict[K, int]:
    """Standard competition ranking, higher is better: ties share a rank, the next is skipped
    (1, 2, 2, 4). Units with no score are not ranked. Scores are compared at 2 decimals, as
    published, so float noise never splits a tie.
    """
    rounded = {
        unit: round2(_check_score(f"scores[{unit!r}]", score, percent=False))
        for unit, score in scores.items()
        if score is not None
    }
    ordered = sorted(rounded.values(), reverse=True)
    # The rank of a score is 1 + how many scores are strictly better; first index in sorted order.
    first_position: dict[float, int] = {}
    for position, score in enumerate(ordered, start=1):
        first_position.setdefault(score, position)
    ranks = {unit: first_position[score] for unit, score in rounded.items()}
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
