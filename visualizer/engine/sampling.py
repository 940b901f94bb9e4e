"""How the next token is chosen from the model's logits: one pipeline, three final picks.

The pipeline is transformers' own processors and warpers (declared in `knobs.py`) in `generate`'s
order, then a softmax. Greedy runs the processors only and takes the argmax of the scores, as
`generate(do_sample=False)` does; sampling runs the warpers too and draws with the decode state's
own seeded CPU `torch.Generator`; forcing takes a given id. Everything works on a batch of rows
at once, on whatever device the logits are: rows with the same settings share one processor call.

A draw is `argmax(probs / noise)` with `noise` exponential, drawn from the generator over the whole
vocabulary. That is exactly what `torch.multinomial(probs, 1, generator=g)` computes on the CPU, so
a seeded run equals `torch.manual_seed(s); generate(do_sample=True, ...)` token for token; and the
noise needs no logits, so it is drawn ahead (`Noise`) while the model runs.
What is left out: beam search, and knobs transformers has that the app does not teach.
"""

import math
from dataclasses import dataclass

import torch

from .knobs import KNOB_BY_NAME, KNOBS
from .limits import check_seed


@dataclass(frozen=True)
class SamplingSettings:
    """`greedy` picks the argmax; `knobs` holds (name, value) for every knob that is on, in table order."""

    greedy: bool = True
    seed: int = 0
    knobs: tuple = ()

    @classmethod
    def from_user(cls, vocab_size, greedy=None, seed=None, **values):
        """Validated settings from untrusted values (raises InputError). `greedy=None`: greedy
        unless a temperature is given (the API's and the CLI's rule)."""
        unknown = set(values) - set(KNOB_BY_NAME)
        if unknown:
            raise TypeError(f"unknown sampling knobs: {sorted(unknown)}")
        if greedy is None:
            greedy = values.get("temperature") is None
        checked = ((knob.name, knob.check(values.get(knob.name), vocab_size)) for knob in KNOBS)
        return cls(greedy=bool(greedy), seed=check_seed(seed), knobs=tuple((n, v) for n, v in checked if v is not None))

    @classmethod
    def sampled(cls, seed=0, **values):
        """Trusted settings for tests and benchmarks: sampling with these knob values."""
        return cls(greedy=False, seed=seed, knobs=tuple((k.name, values[k.name]) for k in KNOBS if k.name in values))

    def get(self, name):
        """A knob's value, or None when it is off."""
        return dict(self.knobs).get(name)

    def active(self):
        """(Knob, value) pairs that apply: processors always, warpers only when sampling."""
        values = dict(self.knobs)
        return [(knob, values[knob.name]) for knob in KNOBS
                if knob.name in values and (knob.stage == "processor" or not self.greedy)]

    @property
    def needs_ids(self):
        """Whether a processor looks at the ids so far (the repetition penalty)."""
        return any(knob.stage == "processor" for knob, _ in self.active())

    def processors(self):
        """Fresh transformers processors, in `generate`'s order, for these settings."""
        return [knob.build(value) for knob, value in self.active()]

    def as_dict(self):
        return {"greedy": self.greedy, "seed": self.seed, **{knob.name: self.get(knob.name) for knob in KNOBS}}


def warp_rows(logits, settings, ids=None):
    """logits (B, V) float32 + one SamplingSettings per row (+ the ids so far per row, needed when a
    processor looks at them) -> scores (B, V): -inf where a processor cut a token. `logits` is not
    modified. Rows with equal settings go through their processors together."""
    scores = logits.clone()
    groups = {}
    for row, row_settings in enumerate(settings):
        groups.setdefault(tuple(row_settings.active()), []).append(row)
    for active, rows in groups.items():
        if not active:
            continue
        index = torch.tensor(rows, device=logits.device)
        group = scores.index_select(0, index)
        ids_so_far = _padded_ids([ids[row] for row in rows], logits.device) if settings[rows[0]].needs_ids else \
            torch.zeros((len(rows), 0), dtype=torch.long, device=logits.device)
        for knob, value in active:
            group = knob.build(value)(ids_so_far, group)
        scores.index_copy_(0, index, group)
    return scores


def stages(logits, settings, ids=()):
    """One row's pipeline stage by stage: [(knob name or "raw", value, probs (V,), removed (V,) bool)].
    The last entry's probabilities are what a step draws from."""
    ids_so_far = torch.tensor([list(ids)], dtype=torch.long, device=logits.device)
    scores = logits.unsqueeze(0).clone()
    out = [("raw", None, torch.softmax(scores[0], dim=-1), torch.zeros_like(scores[0], dtype=torch.bool))]
    for knob, value in settings.active():
        scores = knob.build(value)(ids_so_far, scores)
        out.append((knob.name, value, torch.softmax(scores[0], dim=-1), torch.isneginf(scores[0])))
    return out


def pick_rows(scores, greedy, forced, noise):
    """scores (B, V) -> chosen ids (B,) on the same device. Per row: `forced[row]` if not None, else
    the argmax when `greedy[row]`, else argmax(softmax(scores) / noise[row]) (a multinomial draw)."""
    chosen = torch.argmax(scores, dim=-1)
    sampled_rows = [row for row in range(len(greedy)) if not greedy[row] and forced[row] is None]
    if sampled_rows:
        index = torch.tensor(sampled_rows, device=scores.device)
        probs = torch.softmax(scores.index_select(0, index), dim=-1)
        draws = torch.stack([noise[row] for row in sampled_rows]).to(scores.device, non_blocking=True)
        chosen.index_copy_(0, index, torch.argmax(probs / draws, dim=-1))
    for row, token_id in enumerate(forced):
        if token_id is not None:
            chosen[row] = token_id
    return chosen


class Noise:
    """A decode state's seeded generator, with the next draw's noise made ahead of time.

    `peek(vocab)` returns the exponential noise of the next sampled pick (drawn once from a copy of
    the generator, so peeking consumes nothing); `consume()` advances the generator past it (a
    sampled pick was committed). Forced and greedy picks consume nothing, as in `generate`.
    `state()` / `set_state()` give the generator's bytes for exact undo and for saving."""

    def __init__(self, seed):
        self.generator = torch.Generator(device="cpu")
        self.generator.manual_seed(seed)
        self._ahead = None  # (noise, generator state after drawing it)

    def peek(self, vocab_size):
        if self._ahead is None or self._ahead[0].numel() != vocab_size:
            copy = torch.Generator(device="cpu")
            copy.set_state(self.generator.get_state())
            noise = torch.empty(vocab_size).exponential_(generator=copy)
            self._ahead = (noise, copy.get_state())
        return self._ahead[0]

    def consume(self, vocab_size):
        self.peek(vocab_size)
        self.generator.set_state(self._ahead[1])
        self._ahead = None

    def state(self):
        return self.generator.get_state()

    def set_state(self, state):
        self.generator.set_state(state)
        self._ahead = None


def entropy_bits(probs):
    """Shannon entropy in bits along the last dimension; xlogy makes 0 * log 0 = 0 without masking."""
    return -torch.special.xlogy(probs, probs).sum(dim=-1) / math.log(2)


def _padded_ids(rows, device):
    """Ragged id lists -> (B, T) long, each row padded with its own first id: a repeated id changes
    nothing for the repetition penalty (it gathers and scatters the same score)."""
    width = max(len(row) for row in rows)
    padded = [list(row) + [row[0]] * (width - len(row)) for row in rows]
    return torch.tensor(padded, dtype=torch.long, device=device)
