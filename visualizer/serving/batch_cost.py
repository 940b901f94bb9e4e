"""How long a batched step of N rows takes on this machine, learnt from the steps it ran.

`BatchCost` fits t(N) = fixed + per_row * N (least squares over the last batches) and answers
`rows_within(factor)`: the most rows whose predicted time stays within `factor` times a one-row
step. The scheduler uses it to keep the tokens of runs from making a batch long: on a 2-core CPU a
row costs about a tenth of a lone step, on a GPU a few percent, so the same rule gives small batches
there and full ones here. Until it has seen two different batch sizes it sets no limit.
It also keeps what the scheduler's gathering reads: `last_rows` (the last batch's rows) and
`typical_s` (a moving average of a batch's time).
What is left out: anything but the row count (context lengths, prompt chunks in between).
"""

import collections

SAMPLES = 64


class BatchCost:
    def __init__(self):
        self._samples = collections.deque(maxlen=SAMPLES)  # (rows, seconds)
        self.last_rows = 0
        self.typical_s = 0.0

    def add(self, rows, seconds):
        self._samples.append((rows, seconds))
        self.last_rows = rows
        self.typical_s = 0.8 * self.typical_s + 0.2 * seconds if self.typical_s else seconds

    def fit(self):
        """(fixed, per_row) seconds, or None before two different row counts were seen."""
        if len({rows for rows, _ in self._samples}) < 2:
            return None
        count = len(self._samples)
        mean_rows = sum(rows for rows, _ in self._samples) / count
        mean_time = sum(seconds for _, seconds in self._samples) / count
        spread = sum((rows - mean_rows) ** 2 for rows, _ in self._samples)
        per_row = sum((rows - mean_rows) * (seconds - mean_time) for rows, seconds in self._samples) / spread
        per_row = max(per_row, 0.0)
        return max(mean_time - per_row * mean_rows, 0.0), per_row

    def rows_within(self, factor, most):
        """The most rows (1..most) whose step is predicted to take at most `factor` x a one-row step."""
        fitted = self.fit()
        if fitted is None or fitted[1] == 0.0:
            return most
        fixed, per_row = fitted
        allowed = (factor * (fixed + per_row) - fixed) / per_row
        return max(1, min(most, int(allowed)))
