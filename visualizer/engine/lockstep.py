"""Branches side by side, decoded in lockstep: greedy vs sampled, prompt A vs prompt B.

`Lockstep.greedy_vs_sampled` prefills the prompt once and forks the row for the sampled branch
(the prompt's full pages are shared, not copied); `Lockstep.a_vs_b` holds two prompts, both greedy.
Each `step` lets every live branch pick from its own logits and feeds all picks in ONE forward
pass. Batching changes nothing: each row sees exactly what a lone `Decoder` with the same settings
would. A branch that stopped (end marker or max tokens) leaves the pass; the others go on. As in `Decoder`, the pool rows
are derived state: `evict` gives them back and the next action rebuilds them from the ids.
`first_divergence` finds where two id sequences part (greedy vs sampled, prompt A vs prompt B).
What is left out: undo and forced tokens (see `decoder.py`).
"""

from .branch import Branch, DecodeFinished
from .engine import check_context, require_weights
from .errors import refuse
from .limits import DEFAULT_NEW_TOKENS, DEFAULT_TOP_N
from .sampling import SamplingSettings
from .stepper import Advance, Feed, preview_record, release


def first_divergence(ids_a, ids_b):
    """The first index where the two sequences differ; None when they are identical.

    When one is a strict prefix of the other they part at the shorter one's length.
    """
    for index, (a, b) in enumerate(zip(ids_a, ids_b)):
        if a != b:
            return index
    return None if len(ids_a) == len(ids_b) else min(len(ids_a), len(ids_b))


class Lockstep:
    """Several branches stepped together, one forward pass per step: `greedy_vs_sampled` (one prompt,
    two settings) or `a_vs_b` (two prompts, greedy)."""

    def __init__(self, engine, rows, max_new_tokens=DEFAULT_NEW_TOKENS, top_n=DEFAULT_TOP_N):
        """rows: [(prompt ids, SamplingSettings)], one branch each."""
        require_weights(engine.loaded)
        for prompt_ids, _ in rows:
            check_context(engine.loaded, len(prompt_ids), max_new_tokens)
        self.engine = engine
        self.branches = tuple(Branch(engine.tokenizer, ids, settings, max_new_tokens, top_n, engine.pool.device)
                              for ids, settings in rows)

    @classmethod
    def greedy_vs_sampled(cls, engine, prompt_ids, sampled_settings, max_new_tokens=DEFAULT_NEW_TOKENS,
                          top_n=DEFAULT_TOP_N):
        """Row 0 greedy, row 1 sampled; both take the sampled settings' knobs (processors such as the
        repetition penalty apply to greedy too, as in `generate`)."""
        return cls(engine, [(prompt_ids, _with_greedy(sampled_settings, True)),
                            (prompt_ids, _with_greedy(sampled_settings, False))], max_new_tokens, top_n)

    @classmethod
    def a_vs_b(cls, engine, ids_a, ids_b, max_new_tokens=DEFAULT_NEW_TOKENS, top_n=DEFAULT_TOP_N):
        return cls(engine, [(ids_a, SamplingSettings()), (ids_b, SamplingSettings())], max_new_tokens, top_n)

    @property
    def divergence(self):
        """Index among generated tokens where the first two branches first differ, or None."""
        return first_divergence(self.branches[0].generated, self.branches[1].generated)

    @property
    def finished(self):
        return all(branch.stop for branch in self.branches)

    def nbytes(self):
        pool = self.engine.pool
        return sum((pool.nbytes(b.handle) if b.handle is not None else 0) + b.nbytes() for b in self.branches)

    def start(self):
        """Prefill (if not done yet); a preview record per branch."""
        return self.preview()

    def preview(self):
        self._ensure_ready()
        return tuple(preview_record(branch) for branch in self.branches)

    def step(self, interactive=True):
        """Every live branch picks, one forward pass. Returns a record per branch, None in the place
        of a branch that had already stopped. `interactive=False`: part of a run (see Decoder.step)."""
        live = [branch for branch in self.branches if not branch.stop]
        if not live:
            raise refuse("both_ended", DecodeFinished)
        self._ensure_ready()
        records = self.engine.turns.advance([Advance(branch) for branch in live], interactive)
        by_branch = dict(zip(map(id, live), records))
        return tuple(by_branch.get(id(branch)) for branch in self.branches)

    def run(self, max_steps=None):
        """Yield record tuples until every message ends or `max_steps` are taken."""
        taken = 0
        while not self.finished and (max_steps is None or taken < max_steps):
            yield self.step(interactive=False)
            taken += 1

    def use_settings(self, settings=None, top_n=None, max_new_tokens=None):
        """As `Decoder.use_settings`, for every branch; each keeps its own greedy/sampled choice."""
        for branch in self.branches:
            if settings is not None:
                branch.use_settings(_with_greedy(settings, branch.settings.greedy))
            if top_n is not None:
                branch.top_n = top_n
            if max_new_tokens is not None:
                check_context(self.engine.loaded, len(branch.prompt_ids), max_new_tokens)
                branch.max_new_tokens = max_new_tokens

    def reset(self):
        """Back to the prompts alone, generators reseeded."""
        rewinds = [Feed(b, b.prompt_ids[-1], len(b.prompt_ids) - 1) for b in self.branches if b.generated and b.ready]
        for branch in self.branches:
            branch.clear()
        if rewinds:
            self.engine.turns.advance(rewinds)

    def evict(self):
        """Give the pool rows back; the next action rebuilds them from the ids."""
        for branch in self.branches:
            release(self.engine.runner, branch)

    def _ensure_ready(self):
        """Rebuild missing rows; a row whose ids equal a ready row's is a fork of it (shared pages)."""
        for branch in self.branches:
            if branch.ready:
                continue
            twin = next((other for other in self.branches if other.ready and other.ids == branch.ids), None)
            if twin is None:
                self.engine.turns.prefill(branch)
            else:
                release(self.engine.runner, branch)
                branch.handle = self.engine.turns.call(lambda: self.engine.pool.fork(twin.handle))
                branch.logits = twin.logits


def _with_greedy(settings, greedy):
    return SamplingSettings(greedy=greedy, seed=settings.seed, knobs=settings.knobs)
