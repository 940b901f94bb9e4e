"""How the next token is chosen from the model's logits: one pipeline, two final picks.

The pipeline is transformers' own logits warpers, in `generate`'s order (temperature ->
top-k -> top-p), then a softmax. Greedy runs the same pipeline with no warpers and takes the
argmax; sampling draws from it with the decode state's own seeded `torch.Generator`.
What is left out: repetition penalties, min-p and other processors the app does not expose.
"""

import math
from dataclasses import dataclass

import torch
from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from .limits import check_seed, check_temperature, check_top_k, check_top_p


@dataclass(frozen=True)
class SamplingSettings:
    """temperature None means greedy; top_k / top_p None mean off."""

    temperature: float = None
    top_k: int = None
    top_p: float = None
    seed: int = 0

    @classmethod
    def from_user(cls, vocab_size, temperature=None, top_k=None, top_p=None, seed=None, greedy=False):
        """Validated settings from untrusted values (raises InputError)."""
        return cls(
            temperature=None if greedy else check_temperature(temperature),
            top_k=check_top_k(top_k, vocab_size),
            top_p=check_top_p(top_p),
            seed=check_seed(seed),
        )

    @property
    def greedy(self):
        return self.temperature is None

    def processors(self):
        """The warpers `generate(do_sample=True, ...)` would build for these settings."""
        if self.greedy:
            return LogitsProcessorList()
        warpers = []
        if self.temperature != 1.0:
            warpers.append(TemperatureLogitsWarper(self.temperature))
        if self.top_k is not None:
            warpers.append(TopKLogitsWarper(top_k=self.top_k))
        if self.top_p is not None:
            warpers.append(TopPLogitsWarper(top_p=self.top_p))
        return LogitsProcessorList(warpers)

    def as_dict(self):
        return {"temperature": self.temperature, "top_k": self.top_k, "top_p": self.top_p, "seed": self.seed}


@dataclass(frozen=True)
class Distribution:
    """Next-token distributions over the vocabulary, float32 tensors of shape (vocab,)."""

    raw: torch.Tensor  # softmax of the plain logits
    sampled: torch.Tensor  # softmax after the warpers; 0 where a warper cut the token
    removed: torch.Tensor = None  # bool (vocab,), True where top-k / top-p cut the token

    @property
    def cut(self):
        # Not `sampled == 0`: at a low temperature, kept tokens' probabilities underflow to 0 too.
        return self.removed if self.removed is not None else self.sampled == 0


def distribution(logits, settings, input_ids=None):
    """logits (vocab,) float32 -> Distribution. `logits` is not modified."""
    ids = input_ids if input_ids is not None else torch.zeros((1, 0), dtype=torch.long)
    scores = settings.processors()(ids, logits.unsqueeze(0)).squeeze(0)
    return Distribution(
        raw=torch.softmax(logits, dim=-1), sampled=torch.softmax(scores, dim=-1), removed=torch.isneginf(scores)
    )


def pick(dist, settings, generator):
    """The final step, the only one where greedy and sampling differ. Returns a token id."""
    if settings.greedy:
        return int(torch.argmax(dist.sampled))
    return int(torch.multinomial(dist.sampled, num_samples=1, generator=generator))


def new_generator(seed):
    """A CPU generator per decode state: picks are reproducible on any device."""
    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed)
    return generator


def entropy_bits(probs):
    """Shannon entropy in bits; xlogy makes 0 * log 0 = 0 without masking (masking is slow)."""
    return float(-torch.special.xlogy(probs, probs).sum() / math.log(2))
