"""One line of generated tokens: its settings, its own seeded generator, its records.

A `Branch` decides the next token from a row of logits (sampled, greedy or forced) and keeps
what is needed to take a choice back exactly: the generator's state before each pick, so that
undo followed by step draws the same token again. Caches and forward passes are not its
business: `decoder.py` (one branch) and `lockstep.py` (two branches, one batch) drive them.
What is left out: beam search and anything that needs several candidates per position.
"""

import time

import torch

from .limits import InputError
from .records import step_record
from .sampling import SamplingSettings, distribution, new_generator, pick


class DecodeFinished(InputError):
    """A step was asked for after the message ended."""


class Branch:
    def __init__(self, tokenizer, eos_ids, settings=None, max_new_tokens=256, top_n=10):
        self.tokenizer = tokenizer
        self.eos_ids = frozenset(eos_ids)
        self.settings = settings or SamplingSettings()
        self.max_new_tokens = max_new_tokens
        self.top_n = top_n
        self.generator = new_generator(self.settings.seed)
        self.generated = []  # chosen ids
        self.records = []  # one StepRecord per chosen id
        self._rng_before = []  # generator state before each pick, for exact undo
        self._redo = []  # (StepRecord, generator state after it), newest last

    @property
    def stop(self):
        return self.records[-1].stop if self.records else None

    def use_settings(self, settings):
        """New settings apply from the next pick; a new seed restarts the generator."""
        if settings.seed != self.settings.seed:
            self.generator = new_generator(settings.seed)
        self.settings = settings

    def choose(self, logits, forced_id=None):
        """logits (vocab,) -> (chosen id, Distribution). Raises DecodeFinished after a stop."""
        if self.stop:
            raise DecodeFinished(f"the message has ended ({self.stop}): undo or reset to go on")
        dist = distribution(logits, self.settings)
        self._pending_rng = self.generator.get_state()
        chosen = forced_id if forced_id is not None else pick(dist, self.settings, self.generator)
        return chosen, dist

    def commit(self, chosen, dist, forced, cache_before, cache_after, started, batch_rows=1):
        """Record the pick made by the last `choose`, once its token is in the cache; `batch_rows`:
        the rows of the forward pass that fed it."""
        stop = "eos" if chosen in self.eos_ids else None
        if stop is None and len(self.generated) + 1 >= self.max_new_tokens:
            stop = "max_tokens"
        record = step_record(
            self.tokenizer, dist, chosen, self.top_n,
            index=len(self.generated) + 1, forced=forced, greedy=self.settings.greedy,
            cache_before=cache_before, cache_after=cache_after,
            ms=(time.perf_counter() - started) * 1000.0, stop=stop, batch_rows=batch_rows,
        )
        self.generated.append(chosen)
        self.records.append(record)
        self._rng_before.append(self._pending_rng)
        self._redo.clear()
        return record

    def preview(self, logits):
        """The distribution for the next position, with nothing chosen (a record with id -1)."""
        dist = distribution(logits, self.settings)
        return step_record(
            self.tokenizer, dist, -1, self.top_n, index=0, forced=False, greedy=self.settings.greedy,
            cache_before=0, cache_after=0, ms=0.0,
        )

    def pop(self):
        """Take the last choice back; returns its record (None when nothing was generated)."""
        if not self.generated:
            return None
        record = self.records.pop()
        self.generated.pop()
        self._redo.append((record, self.generator.get_state()))
        self.generator.set_state(self._rng_before.pop())
        return record

    def unpop(self):
        """Put back the last choice taken back; returns its record (None when nothing to redo)."""
        if not self._redo:
            return None
        record, rng_after = self._redo.pop()
        self._rng_before.append(self.generator.get_state())
        self.generator.set_state(rng_after)
        self.generated.append(record.id)
        self.records.append(record)
        return record

    def generator_state(self):
        """The generator's state as bytes (about 5 KB), to save outside the server."""
        return bytes(self.generator.get_state().tolist())

    def restore_generator(self, state):
        """Undo `generator_state`; a state of the wrong size is refused (InputError)."""
        current = self.generator.get_state()
        if len(state) != current.numel():
            raise InputError("the saved sampling state does not fit this server")
        self.generator.set_state(torch.tensor(list(state), dtype=torch.uint8))

    def clear(self):
        self.generated.clear()
        self.records.clear()
        self._rng_before.clear()
        self._redo.clear()
        self.generator = new_generator(self.settings.seed)

    def nbytes(self):
        """Memory held for exact undo (generator states), besides the records."""
        return sum(state.numel() for state in self._rng_before) + sum(s.numel() for _, s in self._redo)
