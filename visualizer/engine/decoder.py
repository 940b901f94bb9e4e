"""The stepping engine: one conversation's decode state on the shared KV pool.

`Decoder` prefills the prompt once (in chunks), then each `step` is one forward pass over only the
new token, taken through the engine's turns (on a server, batched with other users' steps).
`force`, `undo`, `redo`, `run` and `reset` act on the same pool row; every action returns plain
`StepRecord`s. The pool row is derived state: `evict` gives it back and the next action rebuilds it
from the token ids, with the same results. `preview(settings)` shows the next position's
distribution under any settings without a forward pass (the logits are kept).
What is left out: memory limits and fairness between users (serving's), and the conversation
(`workspace.py` turns a conversation into prompt ids).
"""

from .branch import Branch
from .engine import check_context, require_weights
from .limits import DEFAULT_NEW_TOKENS, DEFAULT_TOP_N, check_token_id
from .stepper import Advance, Feed, preview_record, release, step_back


class Decoder:
    def __init__(self, engine, prompt_ids, settings=None, max_new_tokens=DEFAULT_NEW_TOKENS, top_n=DEFAULT_TOP_N):
        require_weights(engine.loaded)
        check_context(engine.loaded, len(prompt_ids), max_new_tokens)
        self.engine = engine
        self.branch = Branch(engine.tokenizer, prompt_ids, settings, max_new_tokens, top_n, engine.pool.device)

    @property
    def prompt_ids(self):
        return self.branch.prompt_ids

    @property
    def ids(self):
        return self.branch.ids

    @property
    def generated(self):
        return self.branch.generated

    @property
    def records(self):
        return self.branch.records

    @property
    def stop(self):
        return self.branch.stop

    def cache_length(self):
        return self.engine.pool.length(self.branch.handle) if self.branch.handle is not None else 0

    def nbytes(self):
        pool = self.engine.pool.nbytes(self.branch.handle) if self.branch.handle is not None else 0
        return pool + self.branch.nbytes()

    def start(self):
        """Prefill (if not done yet) and return a preview record of the next position."""
        return self.preview()

    def preview(self, settings=None):
        self._ensure_ready()
        return preview_record(self.branch, settings)

    def step(self, interactive=True):
        """One token. `interactive=False` (a run to the end) lets a server serve clicks first."""
        return self._advance(None, interactive)

    def force(self, token_id):
        return self._advance(check_token_id(token_id, self.engine.vocab_size), True)

    def run(self, max_steps=None):
        """Yield records until the message ends or `max_steps` are taken."""
        taken = 0
        while not self.stop and (max_steps is None or taken < max_steps):
            yield self.step(interactive=False)
            taken += 1

    def undo(self):
        """Take back the last token. Returns its record, or None. The last token's undo is free (the logits
        it was picked from are kept); undoing further feeds the last kept id again (one forward pass)."""
        record = self.branch.pop()
        if record is not None and not step_back(self.engine.runner, self.branch):
            self._rewind()
        return record

    def redo(self):
        """Put back the last undone token with its record and generator state."""
        record = self.branch.unpop()
        if record is not None and self.branch.ready:
            self._feed(record.id, keep=len(self.branch.ids) - 1)
        return record

    def reset(self):
        """Back to the prompt alone, generator reseeded."""
        dropped = bool(self.branch.generated)
        self.branch.clear()
        if dropped:
            self._rewind()

    def use_settings(self, settings=None, top_n=None, max_new_tokens=None):
        """New sampling settings apply from the next pick; top_n and max_new_tokens change what is
        shown and where the message stops. None of them discards a token."""
        if settings is not None:
            self.branch.use_settings(settings)
        if top_n is not None:
            self.branch.top_n = top_n
        if max_new_tokens is not None:
            check_context(self.engine.loaded, len(self.prompt_ids), max_new_tokens)
            self.branch.max_new_tokens = max_new_tokens

    def restore(self, generated, forced=(), noise_state=None):
        """Earlier choices (a saved state) back in one pass over the ids: the pool row, every
        record and the noise's current state."""
        self.branch.restore(generated, forced, noise_state)
        self.engine.turns.prefill(self.branch, rebuild_records=True)
        if noise_state is not None and noise_state[1]:  # the saved count reached here, not on the model thread
            self.branch.noise.peek(self.branch.logits.shape[-1])

    def evict(self):
        """Give the pool row back; the next action rebuilds it from the ids."""
        release(self.engine.runner, self.branch)

    def _advance(self, forced, interactive):
        self.branch.check_can_step()
        self._ensure_ready()
        return self.engine.turns.advance([Advance(self.branch, forced)], interactive)[0]

    def _rewind(self):
        """The row holds one id more than the ids now: drop two and feed the last kept id again,
        which restores the logits too."""
        if self.branch.ready:
            self._feed(self.branch.ids[-1], keep=len(self.branch.ids) - 1)

    def _feed(self, token_id, keep):
        try:
            self.engine.turns.advance([Feed(self.branch, token_id, keep)])
        except Exception:
            self.evict()  # the row's length is now unknown: rebuild it from the ids next time
            raise

    def _ensure_ready(self):
        if not self.branch.ready:
            self.engine.turns.prefill(self.branch)
