"""One line of generated tokens: its settings, its seeded noise, its records, its place in the KV pool.

A `Branch` is what a step advances: the prompt, the chosen ids so far, the logits for the next
position (on the model's device), the pool handle holding their keys and values, and what is
needed to take a choice back exactly (the noise's state before each pick, a seed and a count, so
that undo followed by step draws the same token again). Choosing and feeding tokens for many branches at
once is `stepper.py`'s job; `decoder.py` (one branch) and `lockstep.py` (two) drive branches.
What is left out: beam search and anything that needs several candidates per position.
"""

from .errors import InputError, refuse
from .limits import check_seed
from .noise import Noise
from .sampling import SamplingSettings

STATE_BYTES = 128  # a (seed, draws) pair kept for undo: a tuple and two ints


class DecodeFinished(InputError):
    """A step was asked for after the message ended."""


class Branch:
    def __init__(self, tokenizer, prompt_ids, settings=None, max_new_tokens=256, top_n=10, device="cpu"):
        """`device`: where the logits are, and so the sampling generator (see `sampling.Noise`)."""
        if not prompt_ids:
            raise refuse("empty_prompt")
        self.tokenizer = tokenizer
        self.eos_ids = frozenset(tokenizer.eos_ids)
        self.prompt_ids = list(prompt_ids)
        self.settings = settings or SamplingSettings()
        self.max_new_tokens = max_new_tokens
        self.top_n = top_n
        self.device = device
        self.noise = Noise(self.settings.seed, device)
        self.generated = []  # chosen ids
        self.records = []  # one StepRecord per chosen id
        self._rng_before = []  # the noise's state (seed, draws) before each pick, for exact undo
        self._redo = []  # (StepRecord, the noise's state after it), newest last
        self._restored_forced = []  # forced flags of restored ids whose records are not rebuilt yet
        self.handle = None  # KV pool handle holding ids[:-0]: all ids fed so far
        self.logits = None  # (vocab,) float32 on the model's device: the next position's logits
        self.previous_logits = None  # the logits the last pick was made from, while the row holds it: a free undo

    @property
    def ids(self):
        return self.prompt_ids + self.generated

    @property
    def stop(self):
        """"eos", "max_tokens" or None: why this branch takes no more steps."""
        if self.generated and self.generated[-1] in self.eos_ids:
            return "eos"
        if len(self.generated) >= self.max_new_tokens:
            return "max_tokens"
        return None

    @property
    def ready(self):
        """Whether its keys and values are in the pool (else it must be rebuilt from its ids)."""
        return self.handle is not None and self.logits is not None

    def check_can_step(self):
        if self.stop:
            raise refuse("message_ended", DecodeFinished, reason=self.stop)

    def use_settings(self, settings):
        """New settings apply from the next pick; a new seed restarts the generator."""
        if settings.seed != self.settings.seed:
            self.noise = Noise(settings.seed, self.device)
        self.settings = settings

    def commit(self, record, sampled, vocab_size):
        """Keep a pick made by the stepper, once its token is in the pool. `sampled`: it was drawn
        (the generator moves past its noise); forced and greedy picks leave the generator alone."""
        self._rng_before.append(self.noise.state())
        if sampled:
            self.noise.consume(vocab_size, undoable=True)
        self.generated.append(record.id)
        self.records.append(record)
        self._redo.clear()

    def pop(self):
        """Take the last choice back; returns its record (None when nothing was generated)."""
        if not self.generated:
            return None
        record = self.records.pop()
        self.generated.pop()
        self._redo.append((record, self.noise.state()))
        state = self._rng_before.pop()
        if state is None:  # a restored pick, its state not saved: never more draws than tokens
            seed, draws = self.noise.state()
            state = (seed, min(draws, len(self.generated)))
        self._noise_back_to(state)
        return record

    def unpop(self):
        """Put back the last choice taken back; returns its record (None when nothing to redo)."""
        if not self._redo:
            return None
        record, rng_after = self._redo.pop()
        self._rng_before.append(self.noise.state())
        self._noise_back_to(rng_after)
        self.generated.append(record.id)
        self.records.append(record)
        return record

    def _noise_back_to(self, state):
        """The noise to a kept state; one of another seed than the settings' now (the seed was changed
        after that pick) starts the current seed instead: the settings shown apply to the next pick, as
        a new seed does when it is set (a page showed seed 9 and drew seed 7's tokens, found by hand)."""
        self.noise.set_state(state if state[0] == self.settings.seed else (self.settings.seed, 0))

    def clear(self):
        self.previous_logits = None
        self.generated.clear()
        self.records.clear()
        self._rng_before.clear()
        self._redo.clear()
        self._restored_forced.clear()
        self.noise = Noise(self.settings.seed, self.device)

    def restore(self, generated, forced=(), noise_state=None):
        """Earlier choices (a saved state): the ids now, their records when the pool row is rebuilt
        (`stepper.prefill(..., rebuild_records=True)`), and the noise's (seed, draws) when given (a
        state no pick of these could have made is refused first, InputError, nothing changed). The
        noise's states before each restored pick were not saved: undoing past them keeps it where it
        is, or at as many draws as tokens are left when it was past them (a branch never holds more
        draws than tokens: what bounds the work a saved state may ask for)."""
        if noise_state is not None:
            seed, draws = noise_state
            if not 0 <= draws <= len(generated):  # one draw at most per pick: a bound on the work to get there
                raise refuse("bad_saved_state")
            noise_state = (check_seed(seed), draws)
        self.clear()
        self.generated = list(generated)
        self._restored_forced = [bool(flag) for flag in forced] + [True] * (len(generated) - len(forced))
        self._rng_before = [None] * len(generated)
        if noise_state is not None:
            self.noise.set_state(noise_state)

    def was_forced(self, index):
        """Whether the `index`-th (1-based) restored id had been forced."""
        return self._restored_forced[index - 1]

    def restore_records(self, records):
        self.records = list(records)
        self._restored_forced = []

    def noise_state(self):
        """The noise's state, (seed, draws), to save outside the server."""
        return self.noise.state()

    def nbytes(self):
        """Memory held for exact undo (the noise's states and vectors, the last pick's logits) and the next
        logits, besides the pool."""
        states = STATE_BYTES * (len(self._rng_before) + len(self._redo))
        logits = sum(t.numel() * t.element_size() for t in (self.logits, self.previous_logits) if t is not None)
        return states + logits + self.noise.nbytes()
