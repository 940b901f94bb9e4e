"""The scheduler's batch-time model: its line against Python's own least squares
(`statistics.linear_regression`), its rows against the samples' arithmetic."""

import statistics

import pytest

from visualizer.serving.batch_cost import RECENT, BatchCost

SAMPLES = [(1, 0.050), (4, 0.061), (8, 0.080), (16, 0.112), (2, 0.055), (30, 0.170)]


def test_the_fit_is_the_least_squares_line():
    cost = BatchCost()
    assert cost.fit() is None and cost.rows_within(1.5, 32) == 32  # nothing learnt: no limit
    for rows, seconds in SAMPLES:
        cost.add(rows, seconds)
    slope, intercept = statistics.linear_regression([r for r, _ in SAMPLES], [s for _, s in SAMPLES])
    assert cost.fit() == pytest.approx((intercept, slope))


def test_runs_get_the_rows_that_keep_a_batch_within_factor_times_a_lone_step():
    cost = BatchCost()
    for rows, seconds in SAMPLES:
        cost.add(rows, seconds)
    per_row = statistics.median((s - 0.050) / (r - 1) for r, s in SAMPLES if r > 1)  # each against the lone step
    allowed = 1 + int(0.5 * 0.050 / per_row)
    assert cost.rows_within(1.5, 32) == allowed and 1 < allowed < 32
    assert 0.050 + per_row * (allowed - 1) <= 1.5 * 0.050 < 0.050 + per_row * allowed
    assert cost.rows_within(1.5, 4) == 4


def test_a_room_of_runs_with_long_contexts_gets_short_batches_however_noisy_its_batches():
    """Seen on the CPU: one-row steps at the start, then only run batches of 7-10 rows whose times
    fall as often as they rise with the rows; a least-squares line through the last 64 set no limit
    (its slope came out 0) and the run batches took 140 ms against 50 for a lone step."""
    cost = BatchCost()
    for _ in range(20):
        cost.add(1, 0.050)
    for _ in range(64):
        cost.add(8, 0.150)
        cost.add(10, 0.140)  # noise: more rows, less time
    assert cost.fit()[1] == 0.0  # the line alone: no cost per row, no limit
    per_row = statistics.median([(0.150 - 0.050) / 7, (0.140 - 0.050) / 9])
    assert cost.rows_within(1.5, 32) == 1 + int(0.5 * 0.050 / per_row) == 3


def test_lone_steps_timed_under_load_do_not_move_the_lone_step():
    cost = BatchCost()
    for seconds in (0.050, 0.048, 0.200, 0.210, 0.190, 0.052):  # three while a room's pages held the GIL
        cost.add(1, seconds)
    for _ in range(RECENT):
        cost.add(10, 0.140)
    lone, per_row = cost.lone_and_per_row()
    assert lone == 0.048 and per_row == pytest.approx((0.140 - 0.048) / 9)  # their median: 0.121
    assert cost.rows_within(1.5, 32) == 1 + int(0.5 * 0.048 / per_row) == 3


CPU_300 = {1: 0.044, 2: 0.073, 3: 0.091, 4: 0.070, 6: 0.070, 9: 0.082, 12: 0.084, 16: 0.100, 20: 0.125}


def cpu_batch(rows):
    """SmolLM2 on this 2-core CPU, rows at ~300 tokens (bench: the engine alone, one run): 2-3 rows
    cost more than 4; between the measured counts, linear."""
    known = sorted(CPU_300)
    below = max(n for n in known if n <= rows)
    above = min((n for n in known if n >= rows), default=below)
    if above == below:
        return CPU_300[below]
    return CPU_300[below] + (CPU_300[above] - CPU_300[below]) * (rows - below) / (above - below)


def test_runs_batches_are_steered_to_the_most_rows_within_the_budget_on_the_cpu_curve():
    cost = BatchCost()
    for _ in range(3):
        cost.add(1, CPU_300[1])
    taken = []
    for _ in range(60):  # nothing learnt at first: the first batch of runs takes all 32 rows waiting
        rows = min(32, cost.run_rows(2.0) or 32)
        cost.add(rows, cpu_batch(rows))
        cost.steer_runs(rows, cpu_batch(rows), 2.0, 2)
        taken.append(rows)
    budget = 2.0 * CPU_300[1]
    best = max(rows for rows in range(1, 33) if cpu_batch(rows) <= budget)  # 13
    assert all(0.8 * best <= rows <= best + 1 for rows in taken[-20:])  # it hovers at the budget's edge
    assert statistics.fmean(cpu_batch(rows) for rows in taken[-20:]) <= budget
    # (a model with one cost per row, fitted on such batches, stops at 2: t(2) is 1.7x a lone step)


def test_steering_grows_by_a_row_shrinks_by_a_fifth_and_keeps_the_least():
    cost = BatchCost()
    assert cost.steer_runs(8, 1.0, 2.0, 2) is None  # no lone step known: no limit
    cost.add(1, 0.050)
    assert cost.steer_runs(4, 0.06, 2.0, 2) == 5  # within 0.1 s and every allowed row used: one more
    assert cost.steer_runs(3, 0.06, 2.0, 2) == 5  # fewer runs were waiting: nothing learnt
    assert cost.steer_runs(5, 0.12, 2.0, 2) == 4  # too long
    assert cost.steer_runs(2, 0.30, 2.0, 2) == 2  # never under the least
    assert cost.run_rows(4.0) is None and cost.steer_runs(6, 0.15, 4.0, 2) == 7  # each factor apart


def test_before_any_lone_step_the_line_gives_it_and_recent_batches_the_rest():
    cost = BatchCost()
    for rows, seconds in [(4, 0.08), (8, 0.12)] * 3:  # no one-row batch yet: t(1) = 0.05 on the line
        cost.add(rows, seconds)
    lone, per_row = cost.lone_and_per_row()
    assert lone == pytest.approx(0.05) and per_row == pytest.approx(0.01)
    assert cost.rows_within(1.5, 32) == 3
    for _ in range(RECENT):
        cost.add(8, 0.19)  # the contexts grew: only the last RECENT batches count
    assert cost.lone_and_per_row()[1] == pytest.approx((0.19 - cost.lone_and_per_row()[0]) / 7)


def test_it_keeps_the_last_batch_and_a_moving_average_of_batch_times():
    cost = BatchCost()
    cost.add(3, 0.1)
    cost.add(5, 0.2)
    assert cost.last_rows == 5 and cost.typical_s == pytest.approx(0.8 * 0.1 + 0.2 * 0.2)
