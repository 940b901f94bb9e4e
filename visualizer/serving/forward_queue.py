"""Turns at the shared model: arrival order, and the single-token steps that wait together run as one batch.

Every forward pass of every user goes through one `ForwardQueue`. `exclusive()` holds the model
alone (a prefill, a lockstep pair); `step(model, cache, token_id)` asks for one new token on one
cache. Turns are served oldest first; when the oldest waiting turn is a step, every other
waiting step on the same model joins its forward pass (`kvcache.step_rows`), up to `max_batch`
rows and as long as the left padding stays under `MAX_PADDING_RATIO` of the real positions. So
with 30 attendees stepping at once the weights are read once per round instead of 30 times, and
a run to end, which queues again after each token, still lets everyone in between its tokens.
If a batched pass fails, its rows are stepped one by one, so one user's bad cache fails only
that user's step.
What is left out: batching prefills (prompts differ in length and are rare next to steps), and
any deadline or priority beyond arrival order.
"""

import collections
import contextlib
import threading

from ..engine import kvcache

DEFAULT_MAX_BATCH = 32  # rows in one batched step; a workshop room steps together
MAX_PADDING_RATIO = 2.0  # a batch holds at most this many positions (padding included) per real one


class _Turn:
    """One waiting request: a step (model, cache, token_id) or, with model None, an exclusive hold."""

    def __init__(self, model=None, cache=None, token_id=None):
        self.model, self.cache, self.token_id = model, cache, token_id
        self.taken = False  # a batch leader took this step into its forward pass
        self.done = False
        self.logits = None  # (vocab,) once done
        self.batch_rows = 1  # how many steps shared its forward pass
        self.error = None


class ForwardQueue:
    def __init__(self, max_batch=DEFAULT_MAX_BATCH):
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1 (got {max_batch})")
        self.max_batch = max_batch
        self._cond = threading.Condition(threading.Lock())
        self._waiting = collections.deque()  # turns not yet served, oldest first
        self._busy = False  # a forward pass or an exclusive hold is running
        self._owner = None  # the thread holding exclusive(), to refuse re-entry (it would deadlock)
        self.batches = 0  # step forward passes run (a batch of one included)
        self.batched_steps = 0  # steps they served

    @contextlib.contextmanager
    def exclusive(self):
        """Hold the model alone, after every turn that arrived earlier."""
        turn = _Turn()
        with self._cond:
            self._enqueue(turn)
            self._wait_for_head(turn)
            self._waiting.popleft()
            self._busy, self._owner = True, threading.get_ident()
        try:
            yield self
        finally:
            self._finish(())

    def step(self, model, cache, token_id):
        """One new token on `cache` (grown in place) -> (logits (vocab,) for the position after it,
        the number of steps that shared the forward pass, this one included)."""
        turn = _Turn(model, cache, token_id)
        with self._cond:
            self._enqueue(turn)
            self._wait_for_head(turn)
            batch = None if turn.done else self._take_batch(turn)
        if batch is not None:  # the oldest waiting turn leads: one forward pass for the whole batch
            self._run(batch)
        if turn.error is not None:
            raise turn.error
        return turn.logits, turn.batch_rows

    @property
    def waiting(self):
        """Turns queued and not yet served (a snapshot, for tests and stats)."""
        with self._cond:
            return len(self._waiting)  # a leader removes the steps it takes

    def stats(self):
        with self._cond:
            return {"batches": self.batches, "batched_steps": self.batched_steps}

    def _enqueue(self, turn):
        if self._owner == threading.get_ident():
            raise RuntimeError("ForwardQueue is not reentrant: this thread holds exclusive() already")
        self._waiting.append(turn)

    def _wait_for_head(self, turn):
        """Until this turn is the oldest and the model is free, or (a step) another leader ran it."""
        try:
            while not turn.taken and (self._busy or self._waiting[0] is not turn):
                self._cond.wait()
        except BaseException:
            if not turn.taken:  # never leave a hole in the queue: the next turn goes on
                self._waiting.remove(turn)
                self._cond.notify_all()
                raise
            # Taken: its cache is being written by the leader, so wait for the end below.
        while turn.taken and not turn.done:
            self._cond.wait()

    def _take_batch(self, head):
        batch, longest = [head], kvcache.length(head.cache)
        positions = longest + 1
        for turn in list(self._waiting)[1:]:
            if len(batch) == self.max_batch:
                break
            # Exclusive holds, other models and caches of another kind wait for their own turn.
            if turn.model is not head.model or not kvcache.can_batch([head.cache, turn.cache]):
                continue
            turn_length = kvcache.length(turn.cache)
            padded = (len(batch) + 1) * (max(longest, turn_length) + 1)
            if padded > MAX_PADDING_RATIO * (positions + turn_length + 1):
                continue  # one long cache among short ones: it goes in a later batch
            batch.append(turn)
            longest, positions = max(longest, turn_length), positions + turn_length + 1
        for turn in batch:
            self._waiting.remove(turn)
            turn.taken = True
        self._busy = True
        return batch

    def _run(self, batch):
        try:
            if len(batch) == 1:
                self._step_alone(batch[0])
                return
            try:
                rows = kvcache.step_rows(batch[0].model, [turn.cache for turn in batch],
                                         [turn.token_id for turn in batch])
            except Exception:  # the caches are untouched: find whose step fails, alone
                for turn in batch:
                    self._step_alone(turn)
            else:
                for turn, logits in zip(batch, rows):
                    turn.logits, turn.batch_rows = logits, len(batch)
        finally:
            self._finish(batch)

    @staticmethod
    def _step_alone(turn):
        try:
            turn.logits = kvcache.step(turn.model, turn.cache, [turn.token_id])[0]
        except Exception as error:
            turn.error = error

    def _finish(self, batch):
        with self._cond:
            for turn in batch:
                if turn.logits is None and turn.error is None:
                    turn.error = RuntimeError("the batched forward pass was interrupted")
                turn.done = True
            if batch:
                self.batches += 1
                self.batched_steps += len(batch)
            self._busy, self._owner = False, None
            self._cond.notify_all()
