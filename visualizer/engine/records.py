"""Plain records of a decoding step: what was chosen, from which distribution, at what cost.

`step_record` turns a `Distribution` and a chosen id into a frozen `StepRecord` holding the top
candidates of the raw softmax and of the distribution actually sampled from, the chosen
token's probability and rank, entropies and timings. Views and the CLI read only these.
What is left out: the full vocabulary distribution (only the top N is kept per step).
"""

from dataclasses import asdict, dataclass

import torch

from .sampling import entropy_bits
from .tokens import piece_text, visible_whitespace


@dataclass(frozen=True)
class Candidate:
    id: int
    text: str  # the token's text, or its bytes as ⟨hex⟩ when it is part of a character
    display: str  # whitespace made visible
    prob: float  # probability after temperature / top-k / top-p
    raw_prob: float  # plain softmax probability
    cut: bool  # removed by top-k or top-p


@dataclass(frozen=True)
class StepRecord:
    index: int  # 1-based position among generated tokens; 0 for a preview (nothing chosen yet)
    id: int  # chosen token id, -1 for a preview
    text: str
    display: str
    prob: float  # chosen token's probability in the distribution it was drawn from
    raw_prob: float
    rank: int  # 1 = most likely under the raw softmax
    forced: bool
    greedy: bool
    top: tuple  # Candidates, by sampled probability
    top_raw: tuple  # Candidates, by raw probability
    entropy: float  # bits, of the sampled distribution
    raw_entropy: float  # bits, of the raw softmax
    cache_before: int
    cache_after: int
    ms: float
    stop: str = None  # "eos" | "max_tokens" | None
    batch_rows: int = 1  # rows of the forward pass that fed this token (other users' steps, a lockstep pair)

    @property
    def is_preview(self):
        return self.id < 0

    def as_dict(self):
        return asdict(self)


def step_record(tokenizer, dist, chosen, top_n, **fields):
    """Distribution + chosen id (or -1 for a preview) -> StepRecord; `fields` fill the rest."""
    raw_prob = float(dist.raw[chosen]) if chosen >= 0 else 0.0
    prob = float(dist.sampled[chosen]) if chosen >= 0 else 0.0
    rank = int((dist.raw > dist.raw[chosen]).sum()) + 1 if chosen >= 0 else 0
    text = token_text(tokenizer, chosen) if chosen >= 0 else ""
    return StepRecord(
        id=int(chosen),
        text=text,
        display=visible_whitespace(text),
        prob=prob,
        raw_prob=raw_prob,
        rank=rank,
        top=_candidates(tokenizer, dist, dist.sampled, top_n),
        top_raw=_candidates(tokenizer, dist, dist.raw, top_n),
        entropy=entropy_bits(dist.sampled),
        raw_entropy=entropy_bits(dist.raw),
        **fields,
    )


def token_text(tokenizer, token_id):
    """A token's own text; a piece of a character shows as ⟨hex⟩ bytes, never as mojibake."""
    return piece_text(tokenizer.token_bytes(token_id))


def _candidates(tokenizer, dist, probs, top_n):
    values, indices = torch.topk(probs, k=min(top_n, probs.numel()))
    cut = dist.cut
    candidates = []
    for value, token_id in zip(values.tolist(), indices.tolist()):
        if value <= 0 and candidates:
            break  # past the kept tokens of a cut distribution
        text = token_text(tokenizer, token_id)
        candidates.append(
            Candidate(
                id=token_id,
                text=text,
                display=visible_whitespace(text),
                prob=float(dist.sampled[token_id]),
                raw_prob=float(dist.raw[token_id]),
                cut=bool(cut[token_id]),
            )
        )
    return tuple(candidates)
