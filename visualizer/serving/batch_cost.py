"""How long a batched step of N rows takes on this machine, learnt from the steps it ran.

`BatchCost` keeps the recent batch times and answers two questions of the scheduler:
- `rows_within(factor)`: the most rows whose step is predicted to stay within `factor` times a
  one-row step, from t(N) = lone + per_row * (N - 1). `lone` is the quickest of the last `RECENT`
  one-row batches (what the machine can do: a click timed while a room's page events hold the GIL
  took 70-86 ms instead of 40, and with their median as `lone` the batches of runs, steered to
  `factor` lone steps, grew with it, so clicks waited longer still); `per_row` the median over the
  last `RECENT` batches of more rows, each against `lone`. A click's batch takes run tokens within
  1.05x: none on a 2-core CPU, a few on a GPU.
- `run_rows(factor)`: how many rows a batch of runs' tokens alone may take to last about `factor`
  one-row steps, steered by what such batches actually took (`steer_runs`): one more row after a
  batch that used every row it was allowed and finished within `factor` x a one-row step, a fifth
  fewer after one that did not (each factor steered apart: the scheduler switches between two). A
  model cannot do this on a CPU: there a batch of 2 or 3 rows costs 1.7-2x a lone step while 12 rows
  cost 1.9x (the 49k-row output head's matrix product is slower at 2-3 rows than at 4 in MKL), and a
  least-squares line over a room's batches of 7-10 rows took its slope from noise: batches meant to
  last 75 ms took 140, and an attendee's click waited behind them.
Before any one-row batch, `lone` is t(1) of a least-squares line over the batches seen (`fit`);
before two row counts, there is no limit. It also keeps what the scheduler's gathering reads:
`last_rows` (the last batch's rows) and `typical_s` (a moving average of a batch's time).
What is left out: context lengths as such (they enter through the recent batches' times).
"""

import collections
import statistics

SAMPLES = 64
RECENT = 8
SHRINK = 0.8  # a batch of runs that took too long: the next takes this share of its rows


class BatchCost:
    def __init__(self):
        self._samples = collections.deque(maxlen=SAMPLES)  # (rows, seconds)
        self._lone = collections.deque(maxlen=RECENT)  # the last one-row batches' seconds
        self._wide = collections.deque(maxlen=RECENT)  # the last batches of two rows or more
        self._run_rows = {}  # factor -> rows a batch of runs alone may take (absent: no limit learnt yet)
        self.last_rows = 0
        self.typical_s = 0.0

    def add(self, rows, seconds):
        self._samples.append((rows, seconds))
        if rows == 1:
            self._lone.append(seconds)
        else:
            self._wide.append((rows, seconds))
        self.last_rows = rows
        self.typical_s = 0.8 * self.typical_s + 0.2 * seconds if self.typical_s else seconds

    def fit(self):
        """(fixed, per_row) seconds of the least-squares line, or None before two different row counts."""
        if len({rows for rows, _ in self._samples}) < 2:
            return None
        count = len(self._samples)
        mean_rows = sum(rows for rows, _ in self._samples) / count
        mean_time = sum(seconds for _, seconds in self._samples) / count
        spread = sum((rows - mean_rows) ** 2 for rows, _ in self._samples)
        per_row = sum((rows - mean_rows) * (seconds - mean_time) for rows, seconds in self._samples) / spread
        per_row = max(per_row, 0.0)
        return max(mean_time - per_row * mean_rows, 0.0), per_row

    def lone_s(self):
        """A one-row step's seconds (0.0 while unknown)."""
        if self._lone:
            return min(self._lone)
        fitted = self.fit()
        return sum(fitted) if fitted else 0.0

    def lone_and_per_row(self):
        """(a one-row step, what each further row adds) in seconds, or None while unknown."""
        lone = self.lone_s()
        if not lone or not self._wide:
            return None
        return lone, statistics.median(max(0.0, (seconds - lone) / (rows - 1)) for rows, seconds in self._wide)

    def rows_within(self, factor, most):
        """The most rows (1..most) whose step is predicted to take at most `factor` x a one-row step."""
        known = self.lone_and_per_row()
        if known is None or known[1] == 0.0:
            return most
        lone, per_row = known
        return max(1, min(most, 1 + int((factor - 1) * lone / per_row)))

    def run_rows(self, factor):
        """Rows a batch of runs alone may take to last about `factor` one-row steps (None: no limit)."""
        return self._run_rows.get(factor)

    def steer_runs(self, rows, seconds, factor, least):
        """After a batch of `rows` runs' tokens alone, taken under `factor`, that took `seconds`: the
        rows the next may take."""
        lone = self.lone_s()
        if lone:
            allowed = self._run_rows.get(factor) or rows
            if seconds > factor * lone:
                self._run_rows[factor] = max(least, int(min(allowed, rows) * SHRINK))
            elif rows >= allowed:
                self._run_rows[factor] = allowed + 1
        return self._run_rows.get(factor)
