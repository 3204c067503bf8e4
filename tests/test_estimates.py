"""pricer.pricers.estimates: the course's price extraction, the estimates from a next-token distribution
on hand-checked cases, and the estimator table (the model-level checks against the course's own
functions are in test_model.py)."""

from __future__ import annotations

import pytest

from pricer.errors import BadInput
from pricer.pricers.estimates import (
    ESTIMATORS,
    course_topk_estimate,
    estimator,
    extract_price,
    interval_estimate,
    median_estimate,
    quantile_estimate,
    topk_estimate,
)

# --- price extraction ------------------------------------------------------------------------


@pytest.mark.parametrize("text, price", [
    ("Price is $999", 999.0),
    ("$9,999 blah", 9999.0),
    ("Price is $1,299.00", 1299.0),
    ("Price is $12.99 or so", 12.99),
    ("375.00", 375.0),
    ("How much? Price is $ 42 dollars", 42.0),
    ("about $.99", 0.99),
    ("Price is $", None),
    ("no number here", None),
    ("", None),
])
def test_extract_price_takes_the_first_number_after_dollar_and_commas_are_stripped(text, price):
    assert extract_price(text) == price


# --- the estimates from the next-token distribution ------------------------------------------


def test_topk_estimate_is_the_probability_weighted_average_of_the_k_most_likely():
    values, probs = [100, 200, 300, 400], [0.1, 0.4, 0.3, 0.2]
    assert topk_estimate(values, probs, k=3) == pytest.approx((200 * 0.4 + 300 * 0.3 + 400 * 0.2) / 0.9)
    assert topk_estimate(values, probs, k=1) == 200
    assert topk_estimate(values, probs, k=10) == pytest.approx(sum(v * p for v, p in zip(values, probs, strict=True)))


def test_topk_estimate_ignores_unnormalised_scale():
    assert topk_estimate([10, 20], [0.02, 0.02], k=2) == pytest.approx(15)


def test_median_is_where_the_cumulative_probability_reaches_half():
    assert median_estimate([100, 200, 300, 400], [0.1, 0.4, 0.3, 0.2]) == 200
    assert median_estimate([400, 300, 200, 100], [0.2, 0.3, 0.4, 0.1]) == 200  # order of input irrelevant
    assert median_estimate([1, 2, 3], [0.2, 0.2, 0.6]) == 3
    assert median_estimate([5, 7], [0.002, 0.001]) == 5  # unnormalised probabilities


def test_the_80_percent_interval_is_the_10_and_90_percent_quantiles():
    values, probs = [100, 200, 300, 400], [0.1, 0.4, 0.3, 0.2]  # cumulative 0.1, 0.5, 0.8, 1.0
    assert quantile_estimate(values, probs, 0.1) == 100 and quantile_estimate(values, probs, 0.11) == 200
    assert quantile_estimate(values, probs, 0.8) == 300 and quantile_estimate(values, probs, 0.81) == 400
    assert interval_estimate(values, probs) == (100, 400)
    assert interval_estimate(values, probs, coverage=0.6) == (200, 300)  # the 20% and 80% quantiles


def test_the_interval_of_a_spread_distribution_holds_80_percent_of_it():
    values = list(range(1, 1000))
    probs = [1 / 999] * 999  # uniform over the number tokens, unnormalised scale irrelevant
    low, high = interval_estimate(values, [p * 7 for p in probs])
    assert (low, high) == (100, 900)  # 100/999 >= 0.1 first at 100; 900/999 >= 0.9 first at 900
    assert sum(p for v, p in zip(values, probs, strict=True) if low <= v <= high) == pytest.approx(801 / 999)


def test_a_peaked_distribution_gives_a_narrow_interval_and_none_gives_none():
    assert interval_estimate([10, 20, 30], [0.05, 0.9, 0.05]) == (20, 20)
    assert interval_estimate([1, 2], [0.0, 0.0]) is None
    with pytest.raises(BadInput, match="between 0 and 1"):
        interval_estimate([1, 2], [0.5, 0.5], coverage=1.0)
    with pytest.raises(BadInput, match="between 0 and 1"):
        quantile_estimate([1, 2], [0.5, 0.5], 0)


@pytest.mark.parametrize("tokens, probs, expected", [
    (["99", "$", "100"], [0.5, 0.3, 0.2], (99 * 0.5 + 100 * 0.2) / 0.7),  # "$" dropped, the rest renormalised
    (["20", "10", "30"], [0.2, 0.1, 0.05], (20 * 0.2 + 10 * 0.1 + 30 * 0.05) / 0.35),
    (["0", "12", " ."], [0.6, 0.3, 0.1], 12.0),  # 0 is not a price: dropped, as float(token) <= 0
    ([" 45", "<|end_of_text|>", "x"], [0.1, 0.8, 0.1], 45.0),  # float() reads " 45" as the course's did
    (["$", ",", "\n"], [0.5, 0.3, 0.2], 0.0),  # no number at all: the course's 0
])
def test_course_topk_keeps_only_positive_numbers_among_the_top_tokens(tokens, probs, expected):
    assert course_topk_estimate(tokens, probs) == pytest.approx(expected)


def test_course_topk_differs_from_the_number_token_topk_when_a_non_number_is_in_the_top_3():
    # the whole distribution: "$" is second; the course keeps 2 numbers, the number-token variant takes 3
    tokens, probs = ["100", "$", "200", "300"], [0.4, 0.3, 0.2, 0.1]
    assert course_topk_estimate(tokens[:3], probs[:3]) == pytest.approx((100 * 0.4 + 200 * 0.2) / 0.6)
    assert topk_estimate([100, 200, 300], [0.4, 0.2, 0.1]) == pytest.approx((40 + 40 + 30) / 0.7)


def test_topk_needs_a_positive_k():
    with pytest.raises(BadInput, match="k must be at least 1"):
        topk_estimate([1.0], [1.0], k=0)


# --- the estimator table -----------------------------------------------------------------------


def test_each_estimator_reads_the_prediction_field_named_after_it():
    from dataclasses import fields

    from pricer.pricers.llama.model import Prediction

    names = {f.name for f in fields(Prediction)}
    assert [e.name for e in ESTIMATORS] == ["greedy", "topk", "topk-numbers"]  # greedy first: the default
    for e in ESTIMATORS:
        assert e.field == e.name.replace("-", "_") and e.field in names
        assert e.label and e.help


def test_an_estimator_reads_its_own_estimate_and_no_number_as_none():
    from pricer.pricers.llama.model import Prediction

    pred = Prediction("p", "$12", greedy=12.0, topk=47.25, topk_numbers=51.5, median=50.0)
    assert [e.read(pred) for e in ESTIMATORS] == [12.0, 47.25, 51.5]
    nothing = Prediction("p", "$", greedy=None, topk=0.0, topk_numbers=30.0, median=30.0)
    # the course's top-3 gives 0 when none of its tokens is a number: scored as no number
    assert [e.read(nothing) for e in ESTIMATORS] == [None, None, 30.0]
    assert estimator("topk").label == "top-3 weighted (course)"


def test_an_unknown_estimator_lists_the_known_ones():
    with pytest.raises(BadInput, match="estimator must be one of greedy, topk, topk-numbers, not 'mean'"):
        estimator("mean")
