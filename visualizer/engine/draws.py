"""One distribution, many draws: a step's sampling pipeline run once, then one draw per seed.

`StepDistribution.of(branch)` runs the branch's pipeline once on its kept logits (the next
position's, no forward pass) and keeps the scores a draw samples from (on the logits' device), and
on the CPU the raw softmax, the sampled distribution and a preview record (the top candidates).
`draw(noises)` picks one token per noise vector with `sampling.pick_rows`, the very function a
decode step uses, so a draw with the noise of `Noise(seed, branch.device)` is the token
`decode --seed seed --steps 1` samples on the same device (CPU and CUDA generators differ).
`SeedStream.noise(seed, n)` is the noise of a seed's n-th draw: the n-th vector that seed's
generator makes, as a sampled decode run uses one vector per step. Each seed's generator is kept
where it stopped (bounded, least recently used out), so following a room one step at a time costs
one vector per seed and step; a forgotten seed is replayed from its start.
`position(token_id)`: where any token sits (rank 1 = the most likely under the raw softmax).
What is left out: who drew what (serving's rooms) and forward passes (the decoder's).
"""

import collections
from dataclasses import dataclass

import torch

from .noise import Noise
from .sampling import pick_rows, warp_rows
from .stepper import preview_record


@dataclass(frozen=True)
class StepDistribution:
    record: object  # StepRecord preview: top candidates under the settings and raw
    raw: torch.Tensor  # (V,) plain softmax, CPU
    probs: torch.Tensor  # (V,) what a draw samples from, CPU
    scores: torch.Tensor  # (V,) the pipeline's scores (-inf where cut), on the logits' device
    greedy: bool

    @classmethod
    def of(cls, branch, settings=None):
        """The next position of a ready branch (its logits kept) under `settings` (default: its own)."""
        settings = settings or branch.settings
        logits = branch.logits.unsqueeze(0)
        scores = warp_rows(logits, [settings], [branch.ids])[0]
        return cls(record=preview_record(branch, settings), raw=torch.softmax(logits[0].float(), -1).cpu(),
                   probs=torch.softmax(scores.float(), -1).cpu(), scores=scores, greedy=settings.greedy)

    @property
    def vocab_size(self):
        return self.scores.shape[-1]

    @property
    def greedy_id(self):
        return int(torch.argmax(self.scores).item())

    def draw(self, noises):
        """One token id per noise vector (each (V,) exponential, as `Noise.peek` gives)."""
        rows = len(noises)
        scores = self.scores.unsqueeze(0).expand(rows, -1)
        return pick_rows(scores, [self.greedy] * rows, [None] * rows, list(noises)).tolist()

    def position(self, token_id):
        """-> {"rank", "raw_prob", "prob"} of any token id (rank among all tokens, raw softmax)."""
        raw = self.raw[token_id]
        return {"rank": int((self.raw > raw).sum()) + 1, "raw_prob": float(raw), "prob": float(self.probs[token_id])}


class SeedStream:
    """Noise vectors of seeded generators by draw number, keeping up to `keep` generators where they stopped."""

    def __init__(self, vocab_size, device="cpu", keep=1024):
        """`device`: the generators' (a decode state's: `Branch.device`, the engine pool's)."""
        self.vocab_size = vocab_size
        self.device = device
        self.keep = keep
        self._next = collections.OrderedDict()  # seed -> its Noise, where it stopped

    def noise(self, seed, number):
        """The noise of `seed`'s `number`-th draw (1-based): what a decode run with that seed uses
        at its `number`-th sampled step."""
        noise = self._next.pop(seed, None) or Noise(seed, self.device, checkpoints=False)
        noise.set_state((seed, number - 1))  # on from where it stopped, or from the seed when past it
        vector = noise.peek(self.vocab_size)
        noise.consume(self.vocab_size)  # holds no vector now, only the generator's state
        self._next[seed] = noise
        while len(self._next) > self.keep:
            self._next.popitem(last=False)
        return vector
