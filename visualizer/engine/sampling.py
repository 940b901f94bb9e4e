"""How the next token is chosen from the model's logits: one pipeline, three final picks.

The pipeline is transformers' own processors and warpers (declared in `knobs.py`) in `generate`'s
order, then a softmax. Greedy runs the processors only and takes the argmax of the scores, as
`generate(do_sample=False)` does; sampling runs the warpers too and draws with the decode state's
own seeded CPU `torch.Generator`; forcing takes a given id. Everything works on a batch of rows
at once, on whatever device the logits are: rows with the same settings share one processor call.

A draw is `argmax(probs / noise)` with `noise` exponential, drawn from the generator over the whole
vocabulary. That is exactly what `torch.multinomial(probs, 1, generator=g)` computes for one sample
(on any device), so on the CPU a seeded run equals `torch.manual_seed(s); generate(do_sample=True,
...)` token for token; and the noise needs no logits, so it is drawn ahead (`noise.Noise`) while the
model runs. The generator lives where the logits are: on a GPU it is a CUDA (Philox) generator, so
a draw costs a kernel, not 150,000 draws on the host; the same seed then gives the same tokens on
the same GPU, but not the CPU's tokens (another generator).
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
    modified; when no row has a transform the scores are `logits` itself (callers that see
    `scores is logits` may reuse the raw softmax). Rows with equal settings go through their
    processors together."""
    groups = {}
    for row, row_settings in enumerate(settings):
        groups.setdefault(tuple(row_settings.active()), []).append(row)
    if len(groups) == 1:  # the common case (one user, or a room on the defaults): no gather, no scatter
        (active, rows), = groups.items()
        return _apply(active, logits.clone(), ids, settings[0].needs_ids) if active else logits
    scores = logits.clone()
    for active, rows in groups.items():
        if active:
            index = to_device(rows, logits.device)
            group = _apply(active, scores.index_select(0, index), [ids[row] for row in rows], settings[rows[0]].needs_ids)
            scores.index_copy_(0, index, group)
    return scores


def _apply(active, scores, ids, needs_ids):
    ids_so_far = _padded_ids(ids, scores.device) if needs_ids else \
        torch.zeros((scores.shape[0], 0), dtype=torch.long, device=scores.device)
    for knob, value in active:
        scores = knob.build(value)(ids_so_far, scores)
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


def pick_rows(scores, greedy, forced, noise, probs=None):
    """scores (B, V) -> chosen ids (B,) on the same device. Per row: `forced[row]` if not None, else
    the argmax when `greedy[row]`, else argmax(softmax(scores) / noise[row]) (a multinomial draw).
    `probs`: softmax(scores) when the caller has it already."""
    chosen = torch.argmax(scores, dim=-1)
    sampled_rows = [row for row in range(len(greedy)) if not greedy[row] and forced[row] is None]
    if sampled_rows:
        draws = _stacked([noise[row] for row in sampled_rows]).to(scores.device, non_blocking=True)
        probs = torch.softmax(scores, dim=-1) if probs is None else probs
        if len(sampled_rows) == len(greedy):
            chosen = torch.argmax(probs / draws, dim=-1)
        else:
            index = to_device(sampled_rows, scores.device)
            chosen.index_copy_(0, index, torch.argmax(probs.index_select(0, index) / draws, dim=-1))
    for row, token_id in enumerate(forced):
        if token_id is not None:
            chosen[row] = token_id
    return chosen


def entropy_bits(probs):
    """Shannon entropy in bits along the last dimension; xlogy makes 0 * log 0 = 0 without masking.
    One token left gives +0 (negating a zero sum gives -0, which prints as "-0.00")."""
    return (0.0 - torch.special.xlogy(probs, probs).sum(dim=-1)) / math.log(2)


def entropy_bits_of(scores, probs, removed):
    """The same for rows probs = softmax(scores) (B, V), with no logarithm or exponential per token:
    H = logsumexp(x) - sum p x (nats), where logsumexp(x) = max x - log max p (the softmax of the
    largest score is 1 / its normalizer) and cut tokens (-inf scores, p = 0) count 0."""
    # Centred on the largest score, the sum cancels little: H = -log max p - sum p (x - max x).
    centred = scores - scores.amax(dim=-1, keepdim=True)
    if removed is not None:
        centred.masked_fill_(removed, 0.0)
    expected = torch.linalg.vecdot(probs, centred)  # a fifth of bmm's time for (B, 1, V) x (B, V, 1) here
    return ((-torch.log(probs.amax(dim=-1)) - expected).clamp(min=0.0) + 0.0) / math.log(2)  # + 0.0: never -0


def _padded_ids(rows, device):
    """Ragged id lists -> (B, T) long, each row padded with its own first id: a repeated id changes
    nothing for the repetition penalty (it gathers and scatters the same score)."""
    width = max(len(row) for row in rows)
    return to_device([list(row) + [row[0]] * (width - len(row)) for row in rows], device)


def _stacked(rows):
    """Rows of noise -> one (B, V) tensor, pinned when they are (a copy from pageable memory would
    make the host wait for the device's queued work)."""
    if len(rows) == 1 or rows[0].device.type != "cpu":
        return torch.stack(rows)
    return torch.stack(rows, out=torch.empty((len(rows), rows[0].numel()), pin_memory=rows[0].is_pinned()))


def to_device(values, device):
    """Python ints -> a long tensor on `device`, through pinned memory on CUDA: no wait for the
    device's queued work (a plain copy from pageable memory would wait for it)."""
    tensor = torch.tensor(values, dtype=torch.long)
    if torch.device(device).type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor
