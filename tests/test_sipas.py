"""Specification of the SIPAS index engine (core/sipas.py).

Two independent sources of truth: the worked examples (tests/data/sipas-examples.json, the method's
examples, kept byte-identical to the project's reference copy) and figures computed by hand and
written here. Then properties that must hold for any data.
"""

import json
import math
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.sipas import (
    FIVE_LEVEL_MAP,
    LEVELS,
    METHOD_VERSION,
    SATISFIED_LEVELS,
    THREE_LEVEL_MAP,
    Counts,
    Proportion,
    ServiceResult,
    compute_service,
    counter_rate,
    delta_interval,
    element_index,
    is_suppressed,
    item_index,
    mean_variance,
    proportion,
    rank,
    rank_change,
    round2,
    round_half_up,
    service_index,
    sipas_index,
    wilson_interval,
)

EXAMPLES_PATH = Path(__file__).resolve().parent / "data" / "sipas-examples.json"

# No example database on disk and no deadline flakiness on a loaded machine.
PROPERTY = settings(database=None, deadline=None, max_examples=200)

CC_ANSWERS = {
    "CC1": [5, 5, 5, 5],
    "CC2": [4, 1],
    "CC3": [None, None],
    "CC4": [3],
    "CC5": [4, 4, 4, 2],
}


def two_dp(x: float | None) -> float | None:
    return round2(x)


@pytest.fixture(scope="module")
def examples() -> dict:
    # Part of the repository: never skipped.
    return json.loads(EXAMPLES_PATH.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------------
# The shared worked examples, every one of them


def test_every_section_of_the_examples_file_is_checked_here(examples):
    checked = {
        "item_index",
        "element_index",
        "service_index",
        "counter_rate",
        "wilson_95",
        "suppression",
        "ranking",
        "rounding",
    }
    assert set(examples) - {"about"} == checked


def test_examples_rounding_half_up_from_the_exact_counts(examples):
    for case in examples["rounding"]:
        value = item_index(Counts(by_level=(case["valid"] - case["satisfied"], 0, 0,
                                            case["satisfied"], 0)))
        assert value == Fraction(case["exact"]), case
        assert round2(value) == case["expect_api"], case
        assert f"{round_half_up(value)}%".replace(".", ",") == case["expect_vi"], case
        assert f"{round_half_up(value)}%" == case["expect_en"], case


def test_examples_item_index(examples):
    for case in examples["item_index"]:
        assert two_dp(item_index(Counts.from_answers(case["answers"]))) == case["expect"], case


def test_examples_element_index_from_items_that_exist(examples):
    for case in examples["element_index"]:
        items = {
            code: item_index(Counts.from_answers(answers))
            for code, answers in case["items"].items()
        }
        assert {code: two_dp(v) for code, v in items.items()} == case["item_expect"], case
        assert two_dp(element_index(items)) == case["expect"], case


def test_examples_service_index(examples):
    for case in examples["service_index"]:
        assert two_dp(service_index(case["elements"])) == case["expect"], case


def test_examples_counter_rate_with_and_without_misuse(examples):
    for case in examples["counter_rate"]:
        scale = THREE_LEVEL_MAP if case["scale"] == 3 else FIVE_LEVEL_MAP
        counts = Counts.from_answers(
            [scale[tap["level"]] for tap in case["taps"]],
            misuse=["misuse" in tap for tap in case["taps"]],
        )
        assert two_dp(counter_rate(counts).value) == case["expect_without_misuse"], case
        with_misuse = counter_rate(counts, include_misuse=True).value
        assert two_dp(with_misuse) == case["expect_with_misuse"], case


def test_examples_rounding_half_up_from_the_counts(examples):
    for case in examples["rounding"]:
        satisfied, valid = case["satisfied"], case["valid"]
        assert Fraction(100 * satisfied, valid) == Fraction(case["exact"]), case
        counts = Counts(by_level=(valid - satisfied, 0, 0, 0, satisfied))
        assert two_dp(item_index(counts)) == case["expect_api"], case


def test_examples_wilson_95(examples):
    for case in examples["wilson_95"]:
        interval = wilson_interval(case["satisfied"], case["n"])
        assert interval is not None
        assert [two_dp(bound) for bound in interval] == case["expect"], case


def test_examples_suppression(examples):
    for case in examples["suppression"]:
        suppressed = is_suppressed(case["respondents"], case["min_report_n"])
        assert suppressed == (case["expect"] == "insufficient sample"), case


def test_examples_ranking_and_rank_change(examples):
    for case in examples["ranking"]:
        ranks = rank(case["current"])
        assert ranks == case["expect_rank"], case
        assert rank_change(ranks, case["previous_rank"]) == case["expect_change"], case


# --------------------------------------------------------------------------------------------------
# Constants and the scales


def test_method_version_is_named():
    assert METHOD_VERSION == "sipas-2023.1"


def test_only_levels_4_and_5_count_as_satisfied():
    assert LEVELS == (1, 2, 3, 4, 5)
    assert sorted(SATISFIED_LEVELS) == [4, 5]


def test_three_level_counter_scale_is_stored_on_the_five_level_axis():
    assert THREE_LEVEL_MAP == {"very_satisfied": 5, "satisfied": 4, "not_satisfied": 2}
    assert FIVE_LEVEL_MAP == {
        "very_satisfied": 5,
        "satisfied": 4,
        "neutral": 3,
        "dissatisfied": 2,
        "very_dissatisfied": 1,
    }
    taps = Counts.from_answers(THREE_LEVEL_MAP[code] for code in THREE_LEVEL_MAP)
    assert taps.satisfied == 2 and taps.valid == 3


# --------------------------------------------------------------------------------------------------
# Counts


def test_counts_keep_no_opinion_apart_from_valid_answers():
    counts = Counts.from_answers([5, 4, 3, 2, 1, None, 0, 4])
    assert counts.by_level == (1, 1, 1, 2, 1)
    assert counts.no_opinion == 2
    assert counts.valid == 6
    assert counts.satisfied == 3
    assert counts.total == 8


def test_counts_keep_misuse_flagged_answers_apart_never_dropped():
    counts = Counts.from_answers([5, 4, None, 2], misuse=[False, True, True, False])
    assert counts.by_level == (0, 1, 0, 0, 1)
    assert counts.misuse_by_level == (0, 0, 0, 1, 0)
    assert counts.misuse_no_opinion == 1
    assert counts.total == 4


def test_counts_from_mapping_matches_counts_from_answers():
    from_map = Counts.from_mapping({5: 2, 4: 1, 1: 1, None: 3}, misuse={4: 2})
    from_answers = Counts.from_answers(
        [5, 5, 4, 1, None, None, None, 4, 4],
        misuse=[False] * 7 + [True, True],
    )
    assert from_map == from_answers


def test_merging_periods_is_addition_of_counts():
    january = Counts(by_level=(1, 0, 2, 3, 4), no_opinion=1)
    february = Counts(by_level=(0, 1, 0, 1, 1), misuse_by_level=(0, 0, 0, 1, 0))
    merged = january + february
    assert merged.by_level == (1, 1, 2, 4, 5)
    assert merged.no_opinion == 1
    assert merged.misuse_by_level == (0, 0, 0, 1, 0)
    assert sum([january, february]) == merged


def test_counts_accept_a_list_and_store_a_tuple():
    assert Counts(by_level=[1, 2, 3, 4, 5]).by_level == (1, 2, 3, 4, 5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"by_level": (1, 2, 3, 4)},
        {"by_level": (1, 2, 3, 4, 5, 6)},
        {"by_level": (1, -2, 3, 4, 5)},
        {"by_level": (1, 2.0, 3, 4, 5)},
        {"by_level": (1, True, 3, 4, 5)},
        {"by_level": "12345"},
        {"no_opinion": -1},
        {"misuse_by_level": (0, 0, 0, 0)},
        {"misuse_by_level": (0, 0, 0, -1, 0)},
    ],
)
def test_counts_reject_negative_or_malformed_counts(kwargs):
    with pytest.raises(ValueError):
        Counts(**kwargs)


@pytest.mark.parametrize("answer", [6, -1, 3.0, "5", True])
def test_an_answer_outside_the_scale_is_refused(answer):
    with pytest.raises(ValueError):
        Counts.from_answers([5, answer])


def test_misuse_flags_must_match_the_answers_one_to_one():
    with pytest.raises(ValueError, match="one flag per answer"):
        Counts.from_answers([5, 4, 3], misuse=[True])


def test_from_mapping_refuses_unknown_levels_and_negative_counts():
    with pytest.raises(ValueError, match="unknown level"):
        Counts.from_mapping({7: 1})
    with pytest.raises(ValueError):
        Counts.from_mapping({5: -1})


# --------------------------------------------------------------------------------------------------
# Indices, by hand


def test_item_index_is_share_of_4_and_5_among_valid_answers():
    # 6 valid answers (no opinion left out), 3 of them 4 or 5.
    assert item_index(Counts.from_answers([5, 4, 3, 2, 1, None, 4])) == 50.0


def test_item_index_does_not_exist_without_a_valid_answer():
    assert item_index(Counts.from_answers([None, 0])) is None
    assert item_index(Counts()) is None


def test_item_index_leaves_misuse_out_unless_asked():
    counts = Counts.from_answers([5, 2, 4], misuse=[False, False, True])
    assert item_index(counts) == 50.0
    assert item_index(counts, include_misuse=True) == pytest.approx(200 / 3)


def test_element_index_is_mean_of_item_indices_not_pooled_answers():
    items = {code: item_index(Counts.from_answers(a)) for code, a in CC_ANSWERS.items()}
    assert items == {"CC1": 100.0, "CC2": 50.0, "CC3": None, "CC4": 0.0, "CC5": 75.0}
    assert element_index(items) == 56.25  # (100 + 50 + 0 + 75) / 4
    pooled = item_index(sum(Counts.from_answers(a) for a in CC_ANSWERS.values()))
    assert round2(pooled) == 72.73  # 8 of 11: what the method is NOT


def test_element_index_does_not_exist_when_no_item_has_an_answer():
    assert element_index({"PA1": None, "PA2": None}) is None
    assert element_index({}) is None


def test_service_index_is_mean_of_the_five_elements():
    elements = {"TC": 80.0, "TT": 90.0, "CC": 56.25, "KQ": 100.0, "PA": 70.0}
    assert service_index(elements) == pytest.approx((80 + 90 + 56.25 + 100 + 70) / 5)
    assert round2(service_index(elements)) == 79.25


def test_no_service_index_when_an_element_has_no_valid_answer():
    # All PA items "no opinion": the mean of the other four (81.56) is not the service index.
    elements = {"TC": 80.0, "TT": 90.0, "CC": 56.25, "KQ": 100.0, "PA": None}
    assert service_index(elements) is None
    assert service_index({"TC": None}) is None
    assert service_index({}) is None


def test_compute_service_names_the_missing_element_and_gives_no_service_index():
    element_of = {"TC1": "TC", "TT1": "TT", "CC1": "CC", "KQ1": "KQ", "PA1": "PA"}
    counts = {code: Counts(by_level=(0, 0, 0, 5, 5)) for code in element_of}
    counts["PA1"] = Counts(no_opinion=10)
    result = compute_service(counts, element_of, respondents=10)
    assert result.elements["TC"] == 100 and result.elements["PA"] is None
    assert result.service is None and result.service_variance is None
    assert result.missing == ("PA",)


@pytest.mark.parametrize("bad", [-0.1, 100.5, math.nan, math.inf, "80", True])
def test_indices_refuse_values_that_are_not_percentages(bad):
    with pytest.raises(ValueError):
        element_index({"X1": bad})
    with pytest.raises(ValueError):
        service_index({"TC": bad})


def test_sipas_index_is_service_alone_or_mean_with_policy():
    assert sipas_index(84.09) == Fraction("84.09")
    assert sipas_index(84.09, None) == Fraction("84.09")
    both = sipas_index(84.09, 83.84)
    assert both == Fraction("83.965")  # (83.84 + 84.09) / 2, the 2024 national figures
    assert round2(both) == 83.97


def test_sipas_index_needs_a_service_figure():
    assert sipas_index(None) is None
    assert sipas_index(None, 83.84) is None


def test_compute_service_reproduces_the_cc_element_and_names_its_method():
    element_of_item = {code: "CC" for code in CC_ANSWERS}
    counts = {code: Counts.from_answers(a) for code, a in CC_ANSWERS.items()}
    result = compute_service(counts, element_of_item, respondents=40)
    assert isinstance(result, ServiceResult)
    assert result.items["CC3"] is None
    assert result.elements == {"CC": 56.25}
    assert result.service == 56.25
    assert result.method_version == METHOD_VERSION
    assert result.respondents == 40
    assert result.suppressed is False


def test_compute_service_over_five_elements():
    # One item per element, counts chosen so each figure can be checked by hand.
    element_of_item = {"TC1": "TC", "TT1": "TT", "CC1": "CC", "KQ1": "KQ", "PA1": "PA"}
    counts = {
        "TC1": Counts(by_level=(1, 0, 1, 4, 4)),  # 8 of 10 -> 80
        "TT1": Counts(by_level=(0, 1, 0, 5, 4)),  # 9 of 10 -> 90
        "CC1": Counts(by_level=(0, 2, 5, 1, 0)),  # 1 of 8 -> 12.5
        "KQ1": Counts(by_level=(0, 0, 0, 2, 8)),  # 10 of 10 -> 100
        # PA1 absent: nobody reached the feedback questions
    }
    result = compute_service(counts, element_of_item, respondents=10)
    assert result.items["PA1"] is None
    assert result.elements == {"TC": 80.0, "TT": 90.0, "CC": 12.5, "KQ": 100.0, "PA": None}
    # Four elements of five: no service index (not the mean of the four, 70.625).
    assert result.service is None and result.missing == ("PA",)
    counts["PA1"] = Counts(by_level=(0, 0, 0, 5, 5))
    full = compute_service(counts, element_of_item, respondents=10)
    assert full.service == Fraction("76.5")  # (80 + 90 + 12.5 + 100 + 100) / 5


def test_compute_service_is_suppressed_below_the_minimum_respondents():
    counts = {"TC1": Counts(by_level=(0, 0, 0, 0, 9))}
    assert compute_service(counts, {"TC1": "TC"}, respondents=9).suppressed is True
    assert compute_service(counts, {"TC1": "TC"}, respondents=10).suppressed is False


def test_compute_service_without_respondents_uses_the_largest_item_n():
    counts = {"TC1": Counts(by_level=(0, 0, 0, 0, 9)), "TC2": Counts(by_level=(0, 0, 0, 0, 3))}
    result = compute_service(counts, {"TC1": "TC", "TC2": "TC"})
    assert result.respondents is None
    assert result.suppressed is True  # at most 9 respondents are known to exist
    counts["TC1"] = Counts(by_level=(0, 0, 0, 0, 10))
    assert compute_service(counts, {"TC1": "TC", "TC2": "TC"}).suppressed is False


def test_compute_service_reports_misuse_left_out():
    counts = {"TC1": Counts(by_level=(0, 0, 0, 3, 0), misuse_by_level=(1, 0, 0, 0, 0))}
    result = compute_service(counts, {"TC1": "TC"})
    assert result.items == {"TC1": 100.0}
    assert result.excluded_misuse == 1
    assert result.excluded_share == 25.0


def test_compute_service_refuses_an_item_with_no_element():
    with pytest.raises(ValueError, match="no element"):
        compute_service({"XX9": Counts()}, {"TC1": "TC"})


# --------------------------------------------------------------------------------------------------
# Counter rate, intervals, suppression


def test_counter_rate_leaves_misuse_out_and_says_how_much():
    taps = [
        THREE_LEVEL_MAP["very_satisfied"],
        THREE_LEVEL_MAP["satisfied"],
        THREE_LEVEL_MAP["not_satisfied"],
        THREE_LEVEL_MAP["satisfied"],  # too fast: flagged
        THREE_LEVEL_MAP["very_satisfied"],
    ]
    counts = Counts.from_answers(taps, misuse=[False, False, False, True, False])
    rate = counter_rate(counts)
    assert isinstance(rate, Proportion)
    assert (rate.satisfied, rate.n, rate.value) == (3, 4, 75.0)
    assert rate.excluded_misuse == 1
    assert rate.excluded_share == 20.0  # 1 of 5 taps
    assert rate.suppressed is True  # 4 taps are not a figure

    included = counter_rate(counts, include_misuse=True)
    assert (included.satisfied, included.n, included.value) == (4, 5, 80.0)
    assert included.excluded_misuse == 0
    assert included.excluded_share == 0.0


def test_counter_rate_with_no_taps_has_no_value_and_no_interval():
    rate = counter_rate(Counts())
    assert rate.value is None and rate.low is None and rate.high is None
    assert rate.suppressed is True
    assert rate.excluded_share is None


def test_counter_rate_carries_its_wilson_interval():
    rate = counter_rate(Counts(by_level=(0, 5, 0, 20, 25)), min_report_n=10)
    assert rate.value == 90.0
    assert (round2(rate.low), round2(rate.high)) == (78.64, 95.65)
    assert rate.suppressed is False


def test_wilson_interval_by_hand():
    assert [round2(b) for b in wilson_interval(45, 50)] == [78.64, 95.65]
    assert [round2(b) for b in wilson_interval(0, 12)] == [0.00, 24.25]
    assert [round2(b) for b in wilson_interval(12, 12)] == [75.75, 100.00]


def test_wilson_interval_is_exact_at_the_edges_and_absent_without_data():
    assert wilson_interval(0, 12)[0] == 0.0
    assert wilson_interval(12, 12)[1] == 100.0
    assert wilson_interval(0, 0) is None


def test_wilson_interval_widens_with_a_larger_z():
    narrow = wilson_interval(45, 50, z=1.0)
    wide = wilson_interval(45, 50)
    assert wide[0] < narrow[0] < narrow[1] < wide[1]


@pytest.mark.parametrize(("satisfied", "n"), [(-1, 5), (6, 5), (1, -1), (1.0, 5)])
def test_wilson_interval_refuses_impossible_counts(satisfied, n):
    with pytest.raises(ValueError):
        wilson_interval(satisfied, n)


def test_suppression_below_the_minimum_only():
    assert is_suppressed(9) is True
    assert is_suppressed(10) is False
    assert is_suppressed(9, min_report_n=10) is True
    assert is_suppressed(19, min_report_n=20) is True
    assert is_suppressed(0, min_report_n=0) is False


def test_proportion_helper():
    p = proportion(9, 9)
    assert p.suppressed is True and p.value == 100.0
    p = proportion(9, 10, excluded=10)
    assert p.suppressed is False
    assert p.value == 90.0
    assert p.excluded_misuse == 10 and p.excluded_share == 50.0
    with pytest.raises(ValueError):
        proportion(11, 10)
    with pytest.raises(ValueError):
        proportion(1, 10, excluded=-1)


# --------------------------------------------------------------------------------------------------
# Rounding and ranking


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (83.965, 83.97),
        (2.675, 2.68),  # the float is just below 2.675; built-in round() gives 2.67
        (0.125, 0.13),  # banker's rounding would give 0.12
        (79.25, 79.25),
        (100.0, 100.0),
        (0.0, 0.0),
        (56.254999, 56.25),
    ],
)
def test_round2_rounds_half_up(x, expected):
    assert round2(x) == expected


def test_round2_passes_none_through():
    assert round2(None) is None


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (Fraction(2900, 32), "90.63"),  # 90.625 exactly; Babel (half even) gives 90.62
        (Fraction(1637300, 20000), "81.87"),  # 81.865 exactly; the float is 81.86499...
        (Fraction(100, 3), "33.33"),
        (Fraction(200, 3), "66.67"),
        (Decimal("0.005"), "0.01"),
        (Fraction(-1, 8), "-0.13"),  # away from zero, like Decimal's ROUND_HALF_UP
    ],
)
def test_round_half_up_rounds_the_exact_value(x, expected):
    assert round_half_up(x) == Decimal(expected)
    assert str(round_half_up(x)) == expected


def test_round_half_up_to_other_places():
    assert round_half_up(Fraction(25, 2), 0) == Decimal("13")
    assert round_half_up(Fraction(1, 20), 1) == Decimal("0.1")


def test_indices_are_exact_fractions():
    assert item_index(Counts(by_level=(3, 0, 0, 29, 0))) == Fraction(90625, 1000)
    assert element_index({"a": Fraction(100, 3), "b": Fraction(200, 3)}) == 50


def test_rank_ties_share_a_rank_and_skip_the_next():
    ranks = rank({"A": 90.10, "B": 85.0, "C": 85.0, "D": 70.0})
    assert ranks == {"A": 1, "B": 2, "C": 2, "D": 4}


def test_rank_compares_unrounded_values():
    # Both print as 85.00%, but A is better: ranks use the unrounded index (SIPAS.md).
    ranks = rank({"A": Fraction(85004, 1000), "B": Fraction(84996, 1000), "C": 85.0})
    assert ranks == {"A": 1, "C": 2, "B": 3}
    # Equal exact values are a tie however they were reached.
    assert rank({"A": Fraction(100, 3), "B": Fraction(200, 6)}) == {"A": 1, "B": 1}


# --------------------------------------------------------------------------------------------------
# Delta-method intervals for the element and service indices (hand-computed)


def test_element_interval_by_the_delta_method_for_the_cc_example():
    # Items with a valid answer: CC1 4/4, CC2 1/2, CC4 0/1, CC5 3/4 (k = 4).
    # Var = (0 + 0.25/2 + 0 + 0.1875/4) / 4² = 0.0107421875, i.e. 107.421875 in points²;
    # 56.25 ± 1.959964 × 10.36445 = [35.94, 76.56].
    pairs = [(4, 4), (1, 2), (0, 0), (0, 1), (3, 4)]
    variance = mean_variance(pairs)
    assert variance == pytest.approx(107.421875)
    low, high = delta_interval(56.25, variance)
    assert (round2(low), round2(high)) == (35.94, 76.56)


def test_service_interval_is_the_mean_of_the_five_element_variances():
    # Each element one item, 80 of 100 satisfied: Var(E) = 0.8 × 0.2 / 100 = 16 points²,
    # E = 80 ± 7.84; Var(S) = 5 × 16 / 25 = 3.2, S = 80 ± 3.51.
    element_of = {f"{e}1": e for e in ("TC", "TT", "CC", "KQ", "PA")}
    counts = {code: Counts(by_level=(20, 0, 0, 80, 0)) for code in element_of}
    result = compute_service(counts, element_of, respondents=100)
    assert result.element_variances["TC"] == pytest.approx(16.0)
    assert result.service_variance == pytest.approx(3.2)
    low, high = delta_interval(result.elements["TC"], result.element_variances["TC"])
    assert (round2(low), round2(high)) == (72.16, 87.84)
    low, high = delta_interval(result.service, result.service_variance)
    assert (round2(low), round2(high)) == (76.49, 83.51)


def test_delta_interval_is_clipped_to_0_100_and_absent_without_a_value():
    assert delta_interval(99.0, 4.0) == (pytest.approx(95.08007203), 100.0)
    assert delta_interval(1.0, 4.0)[0] == 0.0
    assert delta_interval(None, 4.0) is None
    assert delta_interval(50.0, None) is None
    assert mean_variance([(0, 0)]) is None
    with pytest.raises(ValueError):
        delta_interval(50.0, -1.0)
    with pytest.raises(ValueError):
        mean_variance([(3, 2)])


def test_rank_change_is_previous_minus_current():
    ranks = {"A": 1, "B": 2, "C": 2, "D": 4}
    previous = {"A": 3, "B": 1, "C": 4, "D": 2}
    assert rank_change(ranks, previous) == {"A": 2, "B": -1, "C": 2, "D": -2}


def test_rank_change_from_55th_to_5th_is_up_50():
    assert rank_change({"Tỉnh X": 5}, {"Tỉnh X": 55}) == {"Tỉnh X": 50}


def test_rank_change_is_none_for_a_unit_not_ranked_before():
    assert rank_change({"A": 1, "New": 2}, {"A": 1, "Gone": 2}) == {"A": 0, "New": None}


def test_rank_leaves_out_units_without_a_figure():
    assert rank({"A": None, "B": 60.0, "C": 75.0}) == {"C": 1, "B": 2}
    assert rank({}) == {}


def test_rank_ties_exactly_equal_indices_reached_by_different_counts():
    # 2 of 3 and 4 of 6 are the same rate; element means in any order are the same Fraction.
    a = element_index({"x": item_index(Counts(by_level=(1, 0, 0, 2, 0))), "y": 50})
    b = element_index({"y": 50, "x": item_index(Counts(by_level=(2, 0, 0, 0, 4)))})
    assert rank({"A": a, "B": b}) == {"A": 1, "B": 1}


def test_rank_does_not_tie_values_that_only_print_alike():
    assert rank({"A": 85.004, "B": 85.0}) == {"A": 1, "B": 2}
    assert rank({"A": 85.005, "B": 85.0}) == {"A": 1, "B": 2}


def test_rank_and_rank_change_refuse_nonsense():
    with pytest.raises(ValueError):
        rank({"A": math.nan})
    with pytest.raises(ValueError):
        rank_change({"A": 0}, {})
    with pytest.raises(ValueError):
        rank_change({"A": 1}, {"A": -3})


# --------------------------------------------------------------------------------------------------
# Properties

answers_st = st.lists(st.one_of(st.none(), st.integers(min_value=0, max_value=5)), max_size=60)


@st.composite
def flagged_answers(draw):
    answers = draw(answers_st)
    flags = draw(st.lists(st.booleans(), min_size=len(answers), max_size=len(answers)))
    return answers, flags


def figures(counts: Counts) -> tuple:
    rate = counter_rate(counts)
    rate_all = counter_rate(counts, include_misuse=True)
    return (
        item_index(counts),
        item_index(counts, include_misuse=True),
        (rate.value, rate.low, rate.high, rate.excluded_misuse, rate.excluded_share),
        (rate_all.value, rate_all.low, rate_all.high),
    )


@PROPERTY
@given(flagged_answers(), st.data())
def test_order_of_arrival_changes_nothing(answered, data):
    answers, flags = answered
    pairs = list(zip(answers, flags, strict=True))
    shuffled = data.draw(st.permutations(pairs))
    original = Counts.from_answers(answers, misuse=flags)
    reordered = Counts.from_answers([a for a, _ in shuffled], misuse=[f for _, f in shuffled])
    assert reordered == original
    assert figures(reordered) == figures(original)


@PROPERTY
@given(flagged_answers(), flagged_answers())
def test_merging_two_periods_equals_computing_on_all_their_answers(first, second):
    a = Counts.from_answers(first[0], misuse=first[1])
    b = Counts.from_answers(second[0], misuse=second[1])
    union = Counts.from_answers(first[0] + second[0], misuse=first[1] + second[1])
    assert a + b == union
    assert figures(a + b) == figures(union)


@PROPERTY
@given(st.dictionaries(st.sampled_from(["X1", "X2", "X3", "X4"]), flagged_answers(), min_size=1))
def test_merged_element_index_equals_element_index_of_merged_items(answers_by_item):
    # Splitting each item's answers into two periods and merging gives the same element figure.
    whole = {}
    merged = {}
    for code, (answers, flags) in answers_by_item.items():
        half = len(answers) // 2
        whole[code] = Counts.from_answers(answers, misuse=flags)
        merged[code] = Counts.from_answers(answers[:half], misuse=flags[:half]) + (
            Counts.from_answers(answers[half:], misuse=flags[half:])
        )
    element = {code: "X" for code in answers_by_item}
    assert compute_service(merged, element) == compute_service(whole, element)


@st.composite
def satisfied_and_n(draw):
    n = draw(st.integers(min_value=0, max_value=1_000_000))
    return draw(st.integers(min_value=0, max_value=n)), n


@PROPERTY
@given(satisfied_and_n())
def test_wilson_interval_contains_the_estimate_and_stays_within_0_100(counts):
    satisfied, n = counts
    interval = wilson_interval(satisfied, n)
    if n == 0:
        assert interval is None
        return
    low, high = interval
    estimate = 100 * satisfied / n
    assert 0.0 <= low <= estimate <= high <= 100.0


@PROPERTY
@given(satisfied_and_n())
def test_a_proportion_agrees_with_its_parts(counts):
    satisfied, n = counts
    p = proportion(satisfied, n)
    assert p.suppressed == (n < 10)
    assert p.value == (Fraction(100 * satisfied, n) if n else None)
    assert (p.low, p.high) == (wilson_interval(satisfied, n) or (None, None))


scores_st = st.dictionaries(
    st.text(min_size=1, max_size=4),
    st.one_of(st.none(), st.floats(min_value=0, max_value=100)),
    max_size=25,
)


@PROPERTY
@given(scores_st, st.data())
def test_rank_does_not_depend_on_the_order_or_names_of_units(scores, data):
    ranks = rank(scores)
    reordered = dict(data.draw(st.permutations(list(scores.items()))))
    assert rank(reordered) == ranks
    labels = list(scores)
    new_labels = data.draw(st.permutations(labels))
    relabel = dict(zip(labels, new_labels, strict=True))
    relabelled = {relabel[unit]: score for unit, score in scores.items()}
    assert rank(relabelled) == {relabel[unit]: r for unit, r in ranks.items()}


@PROPERTY
@given(scores_st)
def test_rank_is_one_plus_the_number_of_strictly_better_units(scores):
    ranks = rank(scores)
    ranked = {unit: s for unit, s in scores.items() if s is not None}
    assert set(ranks) == set(ranked)
    for unit, position in ranks.items():
        better = sum(1 for other in ranked.values() if other > ranked[unit])
        assert position == 1 + better
