"""Greedy and sampled side by side: two branches of one prompt, decoded in lockstep.

`Lockstep` prefills the prompt once, forks the cache into a batch of two rows (row 0 greedy,
row 1 with the given sampling settings), and each `step` lets every live branch pick from its
own logits row, then feeds both picks in ONE batched forward pass. Batching changes nothing:
each row sees exactly what a lone `Decoder` with the same settings would. When a branch stops
(eos or max tokens) its row leaves the batch and the other goes on alone. As in `Decoder`, the
cache is derived state: `evict` drops it and the next action rebuilds it from the token ids.
`first_divergence` finds where two id sequences part (greedy vs sampled, prompt A vs prompt B).
What is left out: undo/redo and forced tokens (see `decoder.py`), locking between users and
memory limits (see `sessions.py`), and padding (live rows always share a length).
"""

import time

from . import kvcache
from .branch import Branch, DecodeFinished
from .decoder import check_context, require_weights
from ..serving.forward_queue import ForwardQueue
from .limits import DEFAULT_NEW_TOKENS, DEFAULT_TOP_N, InputError
from .sampling import SamplingSettings

GREEDY, SAMPLED = 0, 1


def first_divergence(ids_a, ids_b):
    """The first index where the two sequences differ; None when they are identical.

    When one is a strict prefix of the other they part at the shorter one's length.
    """
    for index, (a, b) in enumerate(zip(ids_a, ids_b)):
        if a != b:
            return index
    return None if len(ids_a) == len(ids_b) else min(len(ids_a), len(ids_b))


class Lockstep:
    def __init__(self, loaded, prompt_ids, sampled_settings, max_new_tokens=DEFAULT_NEW_TOKENS,
                 top_n=DEFAULT_TOP_N, forwards=None):
        require_weights(loaded)
        if not prompt_ids:
            raise InputError("the prompt is empty: there is nothing to continue")
        check_context(loaded, len(prompt_ids), max_new_tokens)
        self.loaded = loaded
        self.prompt_ids = list(prompt_ids)
        tokenizer, eos_ids = loaded.tokenizer, loaded.tokenizer.eos_ids
        self._branches = (
            Branch(tokenizer, eos_ids, SamplingSettings(), max_new_tokens, top_n),
            Branch(tokenizer, eos_ids, sampled_settings, max_new_tokens, top_n),
        )
        # Turns at the model; a server passes the one all its users share. A pair holds it alone.
        self.forwards = forwards if forwards is not None else ForwardQueue()
        self.cache = None  # one batch row per live branch, in `rows` order
        self.rows = []  # branch index of each cache row
        self.next_logits = None  # (len(rows), vocab) logits for the position after each row's last id

    @property
    def branches(self):
        return self._branches

    @property
    def divergence(self):
        """Index among generated tokens where greedy and sampled first differ, or None."""
        return first_divergence(self._branches[GREEDY].generated, self._branches[SAMPLED].generated)

    @property
    def finished(self):
        return all(branch.stop for branch in self._branches)

    def ids(self, branch):
        return self.prompt_ids + self._branches[branch].generated

    def logits(self, branch):
        """(vocab,) logits for the branch's next position, or None once it has stopped."""
        self._ensure_cache()
        return self.next_logits[self.rows.index(branch)] if branch in self.rows else None

    def cache_length(self):
        return kvcache.length(self.cache)

    def nbytes(self):
        return kvcache.nbytes(self.cache) + sum(branch.nbytes() for branch in self._branches)

    def start(self):
        """Prefill (if not done yet); a preview record per branch (None for a stopped one)."""
        return self.preview()

    def preview(self):
        self._ensure_cache()
        return tuple(
            self._branches[b].preview(self.logits(b)) if b in self.rows else None for b in (GREEDY, SAMPLED)
        )

    def step(self):
        """Both live branches pick, one batched forward. Returns (greedy record, sampled record),
        None in the place of a branch that had already stopped."""
        self._ensure_cache()
        if not self.rows:
            raise DecodeFinished("both messages have ended: reset to go on")
        started = time.perf_counter()
        picks = [self._branches[b].choose(self.next_logits[r]) for r, b in enumerate(self.rows)]
        cache_before = self.cache_length()
        with self.forwards.exclusive():
            self.next_logits = kvcache.step(self.loaded.model, self.cache, [chosen for chosen, _ in picks])
        records = [None, None]  # each record's ms is the time of the whole paired step
        for b, (chosen, dist) in zip(self.rows, picks):
            records[b] = self._branches[b].commit(chosen, dist, False, cache_before, self.cache_length(), started,
                                                  batch_rows=len(picks))
        self._drop_stopped()
        return tuple(records)

    def run(self, max_steps=None):
        """Yield record pairs until both messages end or `max_steps` are taken."""
        taken = 0
        while not self.finished and (max_steps is None or taken < max_steps):
            yield self.step()
            taken += 1

    def reset(self):
        """Back to the prompt alone in both rows, generators reseeded."""
        generated = any(branch.generated for branch in self._branches)
        for branch in self._branches:
            branch.clear()
        if not generated or self.cache is None:
            self.evict()  # nothing kept worth cropping: the next action prefills the prompt
            return
        # Crop to the prompt less its last id and feed that id again: this restores the logits too.
        kvcache.crop(self.cache, self.cache_length() - (len(self.prompt_ids) - 1))
        with self.forwards.exclusive():
            self.next_logits = kvcache.step(self.loaded.model, self.cache, [self.prompt_ids[-1]] * len(self.rows))
        if len(self.rows) == 1:
            self.cache = kvcache.fork(self.cache, copies=2)
            self.next_logits = self.next_logits.repeat(2, 1)
        self.rows = [GREEDY, SAMPLED]

    def evict(self):
        """Drop the cache; the next action rebuilds it from the ids."""
        self.cache = None
        self.rows = []
        self.next_logits = None

    def _drop_stopped(self):
        keep = [r for r, b in enumerate(self.rows) if not self._branches[b].stop]
        if len(keep) == len(self.rows):
            return
        if not keep:
            self.evict()  # both ended: nothing left to feed
            return
        kvcache.keep_rows(self.cache, keep)
        self.next_logits = self.next_logits[keep]
        self.rows = [self.rows[r] for r in keep]

    def _ensure_cache(self):
        """Build the cache from the ids: the shared prefix once, forked, then each row's own tail."""
        live = [b for b in (GREEDY, SAMPLED) if not self._branches[b].stop]
        if self.cache is not None or not live:
            return
        rows = [self.ids(b) for b in live]
        shared = len(rows[0]) if len(rows) == 1 else first_divergence(*rows)
        shared = len(rows[0]) if shared is None else shared  # identical rows (e.g. a fresh start)
        with self.forwards.exclusive():
            logits, cache = kvcache.prefill(self.loaded.model, rows[0][:shared])
            if len(rows) > 1:
                cache = kvcache.fork(cache, copies=len(rows))
                logits = logits.unsqueeze(0).repeat(len(rows), 1)
                if shared < len(rows[0]):
                    logits = kvcache.extend(self.loaded.model, cache, [row[shared:] for row in rows])
            else:
                logits = logits.unsqueeze(0)
        self.cache, self.rows, self.next_logits = cache, live, logits

