"""The sampling knobs, declared once: name, range, what turns each off, and its transformers processor.

Everything that shows or takes a knob reads this table: `SamplingSettings` (validation and the
processor list), the CLI (`--top-k`), the API (`/start`'s parameters), the UI (one control each,
element id `#top-k`), the stage view and the texts (label key = the name). Adding a knob is one
row here plus its label in each language.

The order is `generate`'s: processors that look at the ids so far (the repetition penalty) come
first and apply in greedy mode too; warpers (temperature, top-k, top-p, min-p) come after and only
when sampling. Each knob's transform is transformers' own class, built fresh per use and never
modified in place.
What is left out: the seed and greedy/sampling switch (they choose how the last step picks, not
what it picks from; see `sampling.py`), and processors the app does not teach (typical-p, eta, ...).
"""

import math
from dataclasses import dataclass

from transformers import (
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from .errors import refuse
from .limits import as_float, as_int


@dataclass(frozen=True)
class Knob:
    name: str  # settings key, API parameter, CLI flag (--top-k) and UI element id (#top-k), dashes for underscores
    kind: type  # int or float
    low: float  # smallest value a user may give
    high: float  # largest value (None: the model's vocabulary size)
    off: float  # the value that turns the knob off (it then builds no processor)
    default: float  # where the UI control starts
    step: float  # the UI control's step
    stage: str  # "processor" (also in greedy mode; sees the ids so far) or "warper" (sampling only)
    processor: type  # transformers class, called as processor(value)

    @property
    def flag(self):
        return "--" + self.name.replace("_", "-")

    @property
    def elem_id(self):
        return self.name.replace("_", "-")

    def check(self, value, vocab_size=None):
        """Untrusted value -> validated number, or None when it is absent or means off (InputError if bad)."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        label = self.name.replace("_", "-")
        number = as_int(value, label) if self.kind is int else as_float(value, label)
        if number == self.off:
            return None
        high = vocab_size if self.high is None else self.high
        if not self.low <= number <= high:
            if 0 < self.low < 1e-300:  # the smallest float above 0 (top-p): said as "above 0", not 4.94066e-324
                raise refuse("out_of_range_above", name=label, low="0", high=f"{high:g}", value=f"{number:g}")
            raise refuse("out_of_range", name=label, low=f"{self.low:g}", high=f"{high:g}", value=f"{number:g}")
        return number

    def build(self, value):
        return self.processor(value)


KNOBS = (
    Knob("repetition_penalty", float, 0.1, 3.0, off=1.0, default=1.0, step=0.05, stage="processor",
         processor=lambda value: RepetitionPenaltyLogitsProcessor(penalty=value)),
    Knob("temperature", float, 0.01, 5.0, off=1.0, default=0.7, step=0.01, stage="warper",
         processor=TemperatureLogitsWarper),
    Knob("top_k", int, 1, None, off=0, default=50, step=1, stage="warper",
         processor=lambda value: TopKLogitsWarper(top_k=value)),
    Knob("top_p", float, math.ulp(0.0), 1.0, off=1.0, default=0.95, step=0.01, stage="warper",
         processor=lambda value: TopPLogitsWarper(top_p=value)),
    Knob("min_p", float, 0.0, 1.0, off=0.0, default=0.0, step=0.01, stage="warper",
         processor=lambda value: MinPLogitsWarper(min_p=value)),
)
KNOB_BY_NAME = {knob.name: knob for knob in KNOBS}
