"""The scheduler's batch-time model against Python's own least squares (`statistics.linear_regression`)."""

import statistics

import pytest

from visualizer.serving.batch_cost import BatchCost

SAMPLES = [(1, 0.050), (4, 0.061), (8, 0.080), (16, 0.112), (2, 0.055), (30, 0.170)]


def test_the_fit_is_the_least_squares_line_and_sets_the_rows_runs_may_add():
    cost = BatchCost()
    assert cost.fit() is None and cost.rows_within(1.5, 32) == 32  # nothing learnt: no limit
    for rows, seconds in SAMPLES:
        cost.add(rows, seconds)
    slope, intercept = statistics.linear_regression([r for r, _ in SAMPLES], [s for _, s in SAMPLES])
    fixed, per_row = cost.fit()
    assert (fixed, per_row) == pytest.approx((intercept, slope))
    allowed = int((1.5 * (intercept + slope) - intercept) / slope)
    assert cost.rows_within(1.5, 32) == allowed and 1 < allowed < 32
    assert cost.rows_within(1.5, 4) == 4


def test_it_keeps_the_last_batch_and_a_moving_average_of_batch_times():
    cost = BatchCost()
    cost.add(3, 0.1)
    cost.add(5, 0.2)
    assert cost.last_rows == 5 and cost.typical_s == pytest.approx(0.8 * 0.1 + 0.2 * 0.2)
