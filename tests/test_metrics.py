"""pricer.metrics: the course's Tester metrics (colours, error, RMSLE, hits) on hand-checked cases."""

from __future__ import annotations

import math

import pytest

from pricer.data.datasets import TestItem
from pricer.metrics import Outcome, color_for, outcome, summarize


def item(truth: float) -> TestItem:
    return TestItem(0, "How much does this cost to the nearest dollar?\n\nThing\n\nPrice is $", truth, "Thing")


# --- metrics -----------------------------------------------------------------------------------


@pytest.mark.parametrize("error, truth, color", [
    (39.99, 200.0, "green"),   # under $40 although 20% of the truth
    (40.0, 200.0, "orange"),   # $40 and exactly 20%: no longer a hit
    (199.0, 1000.0, "green"),  # 19.9% of the truth although over $80
    (200.0, 1000.0, "orange"),  # 20%
    (79.99, 150.0, "orange"),  # under $80 although 53% of the truth
    (80.0, 150.0, "red"),      # $80 and over 40%
    (399.0, 1000.0, "orange"),  # 39.9%
    (400.0, 1000.0, "red"),    # 40%
    (0.0, 0.5, "green"),
])
def test_colour_boundaries_follow_the_course(error, truth, color):
    assert color_for(error, truth) == color


def test_metrics_on_a_hand_checked_case():
    # truths 100, 200, 50; guesses 110, 150 and no number (scored as 0)
    outcomes = [Outcome(0, "a", 100.0, 110.0), Outcome(1, "b", 200.0, 150.0),
                Outcome(2, "c", 50.0, 0.0, parsed=False)]
    m = summarize(outcomes)
    assert m.average_error == pytest.approx((10 + 50 + 50) / 3)
    # SLEs by hand: (ln 101 - ln 111)^2 = 0.008913, (ln 201 - ln 151)^2 = 0.081810, (ln 51)^2 = 15.459253
    assert m.rmsle == pytest.approx(math.sqrt((0.008913 + 0.081810 + 15.459253) / 3), abs=1e-5)
    assert [o.color for o in outcomes] == ["green", "orange", "orange"]
    assert m.hits == pytest.approx(1 / 3)
    assert m.mse == pytest.approx((100 + 2500 + 2500) / 3)
    # R^2 = 1 - 5100 / sum((t - 116.67)^2) = 1 - 5100 / 11666.67
    assert m.r2 == pytest.approx(1 - 5100 / 11666.666667)
    assert m.unparsed == 1 and m.counts == {"green": 1, "orange": 2, "red": 0}
    assert m.line() == "Error=$36.67 RMSLE=2.28 Hits=33.3%"


def test_metrics_line_uses_thousands_separators_like_the_course():
    m = summarize([Outcome(0, "a", 10.0, 2010.0)])
    assert m.line() == "Error=$2,000.00 RMSLE=5.21 Hits=0.0%"


def test_zero_guess_rmsle_is_the_log_of_the_truth():
    truth = math.e ** 2 - 1  # ln(truth + 1) = 2
    assert summarize([Outcome(0, "a", truth, 0.0)]).rmsle == pytest.approx(2.0)


def test_unparsable_guess_counts_as_zero_and_is_marked():
    one = item(99.0)
    for nothing in (None, math.nan, math.inf, "12", True):
        scored = outcome(one, nothing)
        assert scored.guess == 0.0 and not scored.parsed and "no number" in scored.note
    assert summarize([outcome(one, None)]).rmsle == pytest.approx(math.log(100))


def test_numpy_numbers_are_guesses():
    import numpy as np

    one = item(99.0)
    assert outcome(one, np.float32(12.5)).guess == 12.5
    assert outcome(one, np.int64(7)).parsed


def test_negative_guess_is_clipped_in_the_log_but_not_in_the_error():
    o = Outcome(0, "a", 100.0, -5.0)
    assert o.error == 105.0
    assert o.sle == pytest.approx(math.log(101) ** 2)


def test_r2_is_undefined_when_all_truths_are_equal():
    m = summarize([Outcome(0, "a", 10.0, 12.0), Outcome(1, "b", 10.0, 8.0)])
    assert m.r2 is None and "R²=n/a" in m.details()


def test_no_outcomes_give_zero_metrics():
    assert summarize([]).line() == "Error=$0.00 RMSLE=0.00 Hits=0.0%"




# --- the 80% interval ----------------------------------------------------------------------------


def test_coverage_is_the_share_of_truths_inside_the_interval():
    outcomes = [outcome(item(100.0), 90.0, 80.0, 120.0),   # inside
                outcome(item(100.0), 90.0, 100.0, 100.0),  # the ends count as inside
                outcome(item(100.0), 150.0, 110.0, 200.0),  # outside
                outcome(item(100.0), 50.0, 20.0, 99.99)]    # outside
    m = summarize(outcomes)
    assert m.coverage == 0.5 and [o.inside for o in outcomes] == [True, True, False, False]
    assert "80% interval coverage=50.0%" in m.details()
    assert "coverage" not in m.line().lower()  # the course's line stays the course's


def test_without_an_interval_there_is_no_coverage():
    m = summarize([outcome(item(100.0), 90.0), Outcome(1, "b", 50.0, 40.0)])
    assert m.coverage is None and "coverage" not in m.details()
    assert outcome(item(100.0), 90.0).inside is None


@pytest.mark.parametrize("low, high", [(None, 10.0), (10.0, None), (20.0, 10.0), (math.nan, 10.0), ("5", 10.0)])
def test_an_interval_needs_two_numbers_in_order(low, high):
    scored = outcome(item(15.0), 12.0, low, high)
    assert (scored.low, scored.high, scored.inside) == (None, None, None)


def test_items_without_an_interval_do_not_count_towards_coverage():
    m = summarize([outcome(item(100.0), 90.0, 80.0, 120.0), outcome(item(100.0), None)])
    assert m.coverage == 1.0 and m.unparsed == 1


# --- absurd numbers: finite scores or inf, never an OverflowError -------------------------------


def test_a_guess_of_1e200_scores_without_overflow():
    m = summarize([outcome(item(100.0), 1e200), outcome(item(50.0), 50.0)])
    assert m.average_error == pytest.approx(5e199) and m.mse == math.inf and m.r2 is None
    assert m.line() == "Error=$5.00e+199 RMSLE=322.37 Hits=50.0%"  # (ln 1e200 - ln 101) / sqrt 2
    assert "MSE=inf" in m.details()


def test_a_true_price_of_1e308_scores_without_overflow():
    m = summarize([Outcome(0, "a", 1e308, 0.0), Outcome(1, "b", 1e308, 1.0)])
    assert m.average_error == pytest.approx(1e308) and math.isfinite(m.rmsle)
    assert m.line().startswith("Error=$1.00e+308 RMSLE=")


def test_the_largest_floats_average_without_overflow():
    m = summarize([Outcome(0, "a", 1.0, 1.7e308), Outcome(1, "b", 1.0, 1.7e308), Outcome(2, "c", 1.0, -1.7e308)])
    assert m.average_error == pytest.approx(1.7e308) and m.mse == math.inf


def test_a_guess_beyond_a_float_is_no_number():
    scored = outcome(item(10.0), 10 ** 400)  # an int too large for a float
    assert scored.guess == 0.0 and not scored.parsed
