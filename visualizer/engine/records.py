"""Plain records of a decoding step: what was chosen, from which distribution, at what cost.

`summarize` computes, for a whole batch of rows at once and on the logits' device, everything a
record needs (chosen token's probabilities and rank, top-N of the raw softmax and of the
distribution actually sampled from, entropies, how many tokens the cuts kept) and packs it into
one small float tensor, so a batched step copies one (B, ~8N) tensor to the host instead of B
vocabularies. `step_records` turns that host copy into frozen `StepRecord`s, which are all the
views, the CLI and the API ever read.
What is left out: the full vocabulary distribution (only the top N is kept per step).
"""

import functools
from dataclasses import dataclass

import torch

from .sampling import entropy_bits_of
from .tokens import piece_text, visible_whitespace

_HEAD = 7  # chosen, raw prob, prob, rank, entropy, raw entropy, kept
_LISTS = 8  # per top list: ids, probs, raw probs, cut flags; two lists (sampled order, raw order)


@dataclass(frozen=True, slots=True)  # slots: no dict per object (a room holds ~10^5-10^6)
class Candidate:
    id: int
    text: str  # the token's text, or its bytes as ⟨hex⟩ when it is part of a character
    display: str  # whitespace made visible
    prob: float  # probability after the sampling pipeline
    raw_prob: float  # plain softmax probability
    cut: bool  # removed by a warper (top-k, top-p, min-p)


@dataclass(frozen=True, slots=True)
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
    kept: int  # tokens the pipeline left to draw from (the vocabulary when nothing is cut)
    cache_before: int
    cache_after: int
    ms: float
    stop: str = None  # "eos" | "max_tokens" | None
    batch_rows: int = 1  # rows of the forward pass that fed this token (other users' steps, a lockstep pair)

    @property
    def is_preview(self):
        return self.id < 0


def summarize(logits, scores, chosen, top_n, sampled=None):
    """logits, scores (B, V) float32; chosen (B,) long (-1: nothing chosen) -> (B, 7 + 8 * top_n) float32.
    `sampled`: softmax(scores) when the caller has it; `scores is logits` (no transform, see
    `sampling.warp_rows`) computes the softmax and the entropy once. Ids and ranks stay exact
    in float32 (vocabularies are far below 2**24)."""
    unchanged = scores is logits
    sampled = torch.softmax(scores, dim=-1) if sampled is None else sampled
    raw = sampled if unchanged else torch.softmax(logits, dim=-1)
    removed = torch.isneginf(scores)
    at = chosen.clamp(min=0).unsqueeze(1)
    raw_chosen = raw.gather(1, at)
    raw_entropy = entropy_bits_of(logits, raw, None).unsqueeze(1)
    head = torch.cat([
        chosen.unsqueeze(1).float(), raw_chosen, sampled.gather(1, at),
        ((raw > raw_chosen).sum(dim=1, keepdim=True) + 1).float(),
        raw_entropy if unchanged else entropy_bits_of(scores, sampled, removed).unsqueeze(1), raw_entropy,
        (~removed).sum(dim=1, keepdim=True).float(),
    ], dim=1)
    k = min(top_n, logits.shape[-1])
    top_sampled = torch.topk(sampled, k, dim=-1).indices
    lists = []
    for ids in (top_sampled, top_sampled if unchanged else torch.topk(raw, k, dim=-1).indices):
        lists += [ids.float(), sampled.gather(1, ids), raw.gather(1, ids), removed.gather(1, ids).float()]
    return torch.cat([head] + lists, dim=1)


def step_records(tokenizer, summary, fields):
    """summary (B, ...) on the host, from `summarize`; fields: one dict per row (top_n, max_new_tokens,
    index, forced, greedy, cache_before, cache_after, ms, batch_rows) -> one StepRecord per row, its
    `stop` set when the chosen id is an end marker or the `index`-th token reaches `max_new_tokens`."""
    records = []
    width = (summary.shape[1] - _HEAD) // _LISTS
    for row, extra in zip(summary.tolist(), fields):
        extra = dict(extra)
        top_n, max_new_tokens = extra.pop("top_n"), extra.pop("max_new_tokens")
        chosen = int(row[0])
        text, display = _texts(tokenizer, chosen) if chosen >= 0 else ("", "")
        stop = None
        if chosen >= 0 and chosen in tokenizer.eos_ids:
            stop = "eos"
        elif chosen >= 0 and extra["index"] >= max_new_tokens:
            stop = "max_tokens"
        lists = [row[_HEAD + i * width:_HEAD + (i + 1) * width][:top_n] for i in range(_LISTS)]
        records.append(StepRecord(
            id=chosen, text=text, display=display,
            prob=row[2] if chosen >= 0 else 0.0, raw_prob=row[1] if chosen >= 0 else 0.0,
            rank=int(row[3]) if chosen >= 0 else 0,
            top=_candidates(tokenizer, *lists[:4], order=lists[1]),
            top_raw=_candidates(tokenizer, *lists[4:], order=lists[6]),
            entropy=row[4], raw_entropy=row[5], kept=int(row[6]), stop=stop, **extra,
        ))
    return records


def token_text(tokenizer, token_id):
    """A token's own text; a piece of a character shows as ⟨hex⟩ bytes, never as mojibake."""
    return _texts(tokenizer, int(token_id))[0]


@functools.lru_cache(maxsize=2**17)  # a vocabulary's worth: a batch of 30 rows names ~600 tokens a step
def _texts(tokenizer, token_id):
    """(text, text with its whitespace made visible) of a token id, worked out once per tokenizer."""
    text = piece_text(tokenizer.token_bytes(token_id))
    return text, visible_whitespace(text)


def _candidates(tokenizer, ids, probs, raw_probs, cuts, order):
    candidates = []
    for token_id, prob, raw_prob, cut, value in zip(ids, probs, raw_probs, cuts, order):
        if value <= 0 and candidates:
            break  # past the kept tokens of a cut distribution
        token_id = int(token_id)
        candidates.append(Candidate(token_id, *_texts(tokenizer, token_id), prob, raw_prob, bool(cut)))
    return tuple(candidates)
