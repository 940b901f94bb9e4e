"""The stepping engine: one conversation's decode state on a KV cache.

`Decoder` prefills the prompt once, then each `step` is one forward pass over only the new
token. `force`, `undo`, `redo`, `run` and `reset` act on the same cache; every action returns
plain `StepRecord`s. The cache is derived state: `evict` drops it and the next action rebuilds
it from the token ids in one forward pass, with the same results.
What is left out: memory limits between users (see `sessions.py`); turns at the model are
`forward_queue.py`'s.
"""

import time

from . import kvcache
from .branch import Branch
from ..serving.forward_queue import ForwardQueue
from .limits import DEFAULT_NEW_TOKENS, DEFAULT_TOP_N, InputError, check_token_id


def require_weights(loaded):
    if not loaded.has_weights:
        raise InputError(f"decoding needs model weights: {loaded.name} is loaded tokenizer-only ({loaded.note})")


def check_context(loaded, prompt_length, max_new_tokens):
    if prompt_length + max_new_tokens > loaded.context_length:
        raise InputError(
            f"the prompt ({prompt_length} tokens) plus {max_new_tokens} new tokens exceeds "
            f"the model's context of {loaded.context_length} tokens"
        )


class Decoder:
    def __init__(self, loaded, prompt_ids, settings=None, max_new_tokens=DEFAULT_NEW_TOKENS, top_n=DEFAULT_TOP_N,
                 forwards=None):
        require_weights(loaded)
        if not prompt_ids:
            raise InputError("the prompt is empty: there is nothing to continue")
        check_context(loaded, len(prompt_ids), max_new_tokens)
        self.loaded = loaded
        self.prompt_ids = list(prompt_ids)
        self.branch = Branch(loaded.tokenizer, loaded.tokenizer.eos_ids, settings, max_new_tokens, top_n)
        # Turns at the model; a server passes the one all its users share (batched steps).
        self.forwards = forwards if forwards is not None else ForwardQueue()
        self.cache = None
        self.next_logits = None  # (vocab,) logits for the position after the last id

    @property
    def ids(self):
        return self.prompt_ids + self.branch.generated

    @property
    def records(self):
        return self.branch.records

    @property
    def stop(self):
        return self.branch.stop

    def cache_length(self):
        return kvcache.length(self.cache)

    def nbytes(self):
        return kvcache.nbytes(self.cache) + self.branch.nbytes()

    def start(self):
        """Prefill (if not done yet) and return a preview record of the first position."""
        self._ensure_cache()
        return self.preview()

    def preview(self):
        self._ensure_cache()
        return self.branch.preview(self.next_logits)

    def step(self):
        return self._advance(forced_id=None, forced=False)

    def force(self, token_id):
        return self._advance(check_token_id(token_id, self.loaded.vocab_size), forced=True)

    def replay(self, ids, forced_flags=None):
        """Re-apply earlier choices (e.g. after a server restart), one forward pass each;
        `forced_flags` says which were forced, so the records read as they did."""
        flags = list(forced_flags or []) + [True] * (len(ids) - len(forced_flags or []))
        for token_id, was_forced in zip(ids, flags):
            if self.stop:
                break
            self._advance(check_token_id(token_id, self.loaded.vocab_size), bool(was_forced))

    def run(self, max_steps=None):
        """Yield records until the message ends or `max_steps` are taken."""
        taken = 0
        while not self.stop and (max_steps is None or taken < max_steps):
            yield self.step()
            taken += 1

    def undo(self):
        """Take back the last token (crop the cache). Returns its record, or None."""
        record = self.branch.pop()
        if record is not None:
            self._rewind(tokens_to_drop=1)
        return record

    def redo(self):
        """Put back the last undone token with its record and generator state."""
        record = self.branch.unpop()
        if record is not None and self.cache is not None:
            self.next_logits, _ = self._step_forward(record.id)
        return record

    def reset(self):
        """Back to the prompt alone, generator reseeded."""
        dropped = len(self.branch.generated)
        self.branch.clear()
        if dropped:
            self._rewind(tokens_to_drop=dropped)

    def use_settings(self, settings):
        self.branch.use_settings(settings)

    def evict(self):
        """Drop the cache; the next action rebuilds it from the ids."""
        self.cache = None
        self.next_logits = None

    def _advance(self, forced_id, forced):
        self._ensure_cache()
        started = time.perf_counter()
        rng_before = self.branch.generator.get_state()
        chosen, dist = self.branch.choose(self.next_logits, forced_id)
        cache_before = self.cache_length()
        try:
            logits, batch_rows = self._step_forward(chosen)
            record = self.branch.commit(chosen, dist, forced, cache_before, self.cache_length(), started, batch_rows)
        except Exception:
            # A step that fails half-way leaves no trace: the next pick is the one it would have been,
            # and the cache (whose length is now unknown) is rebuilt from the ids.
            self.branch.generator.set_state(rng_before)
            self.evict()
            raise
        self.next_logits = logits
        return record

    def _rewind(self, tokens_to_drop):
        if self.cache is None:
            return
        # Crop one more than dropped and feed the last kept id again: that restores the logits too.
        kvcache.crop(self.cache, tokens_to_drop + 1)
        self.next_logits, _ = self._step_forward(self.ids[-1])

    def _step_forward(self, token_id):
        """-> (logits (vocab,) after `token_id`, how many users' steps shared the forward pass)."""
        try:
            return self.forwards.step(self.loaded.model, self.cache, token_id)
        except Exception:
            self.evict()  # after a failed forward (undo, redo) the cache's length is unknown
            raise

    def _ensure_cache(self):
        if self.cache is None:
            with self.forwards.exclusive():
                self.next_logits, self.cache = kvcache.prefill(self.loaded.model, self.ids)
