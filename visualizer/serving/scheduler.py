"""Turns at the shared model: one model thread, fair turns, steps of many users in one forward pass.

Every forward pass of every user goes through one `Scheduler` (it is the engine's `turns` on a
server). Request threads hand in work and wait; a dedicated model thread does it:
- `advance(items, interactive)`: single-token work (`stepper.Advance` / `Feed`). All waiting
  advance turns share one batch, clicks (interactive) before the tokens of runs, up to `max_batch`
  rows; a run to the end queues again after every token, so it never holds the model between
  tokens and any number of runs delay a click by about one batch.
- `prefill(branch)`: a prompt is fed `chunk` tokens per turn; after each chunk it goes to the back
  of the queue, so a long prompt delays others by one chunk, not by its whole length. The prompt
  tokens waiting to be prefilled are capped server-wide (`max_prefill_tokens`): past that a new
  prompt is refused with a clear message instead of queueing behind minutes of work.
- `call(function)`: anything else that needs the model alone (a fork, an on-demand special pass).
When the KV pool is full, `on_pool_full(pages)` (the session store's eviction of idle sessions)
gets a chance to make room and the turn is tried once more; then it fails with a one-line error.
When the model thread has nothing to do it captures pending CUDA graphs (`runner.capture_pending`).
What is left out: priorities beyond clicks-before-runs, and preemption of a turn already running.
"""

import collections
import logging
import threading
from concurrent.futures import Future

import torch

from ..engine import stepper
from ..engine.kvpool import PoolFull
from ..engine.errors import InputError, refuse

LOG = logging.getLogger(__name__)
DEFAULT_CHUNK = 256
DEFAULT_MAX_PREFILL_TOKENS = 65_536


class ServerBusy(InputError):
    """The server cannot take this work now; the message says to try again."""


class _Turn:
    def __init__(self, kind, work, interactive=True, tokens=0):
        self.kind = kind  # "advance" | "prefill" | "call"
        self.work = work  # items | stepper.Prefill | function
        self.interactive = interactive
        self.tokens = tokens  # prompt tokens still to prefill
        self.future = Future()

    @property
    def rows(self):
        return len(self.work) if self.kind == "advance" else 0


class Scheduler:
    def __init__(self, runner, max_batch=32, chunk=DEFAULT_CHUNK, max_prefill_tokens=DEFAULT_MAX_PREFILL_TOKENS,
                 on_pool_full=None):
        self.runner = runner
        self.max_batch = max_batch
        self.chunk = chunk
        self.max_prefill_tokens = max_prefill_tokens
        self.on_pool_full = on_pool_full or (lambda pages: None)
        self._cond = threading.Condition()
        self._queue = collections.deque()  # turns not yet (fully) served, oldest first
        self._prefill_tokens = 0
        self._closed = False
        self.batches = 0  # advance forward passes run
        self.batched_steps = 0  # advance turns they served
        self.prefill_chunks = 0
        self._thread = threading.Thread(target=self._loop, name="model", daemon=True)
        self._thread.start()

    # The engine's turns.
    def advance(self, items, interactive=True):
        return self._submit(_Turn("advance", list(items), interactive))

    def prefill(self, branch, rebuild_records=False):
        tokens = len(branch.ids)
        with self._cond:
            if self._prefill_tokens and self._prefill_tokens + tokens > self.max_prefill_tokens:
                raise refuse("prefill_busy", ServerBusy)
            self._prefill_tokens += tokens
        try:
            job = self._submit(_Turn("call", lambda: stepper.Prefill(self.runner, branch, self.chunk, rebuild_records)))
            return self._submit(_Turn("prefill", job, tokens=tokens))
        finally:
            with self._cond:
                self._prefill_tokens -= tokens

    def call(self, function):
        return self._submit(_Turn("call", function))

    # Figures.
    @property
    def waiting(self):
        with self._cond:
            return len(self._queue)

    def stats(self):
        with self._cond:
            return {"batches": self.batches, "batched_steps": self.batched_steps,
                    "prefill_chunks": self.prefill_chunks, "waiting": len(self._queue),
                    "prefill_tokens_waiting": self._prefill_tokens}

    def close(self):
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=30)

    # The model thread.
    def _submit(self, turn):
        with self._cond:
            if self._closed:
                raise RuntimeError("the scheduler is closed")
            self._queue.append(turn)
            self._cond.notify_all()
        try:
            return turn.future.result()
        except BaseException:
            # The waiting thread gave up (its client went away): a turn not started yet is dropped.
            with self._cond:
                if turn in self._queue and not turn.future.running():
                    self._queue.remove(turn)
                    turn.future.cancel()
            raise

    def _loop(self):
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    if self._capture_pending():
                        continue
                    self._cond.wait()
                if self._closed and not self._queue:
                    return
                batch = self._take()
            self._serve(batch)

    def _capture_pending(self):
        """Capture one pending CUDA graph without holding the queue (new work is let in)."""
        capture = getattr(self.runner, "capture_pending", None)
        if capture is None:
            return False
        self._cond.release()
        try:
            return bool(capture())
        except Exception:  # a capture failure only costs speed
            LOG.exception("CUDA graph capture failed")
            return False
        finally:
            self._cond.acquire()

    def _take(self):
        """The next turns to serve together (queue lock held)."""
        head = self._queue[0]
        if head.kind != "advance":
            self._queue.popleft()
            return [head]
        waiting = [turn for turn in self._queue if turn.kind == "advance"]
        waiting.sort(key=lambda turn: not turn.interactive)  # stable: clicks first, then runs, each by arrival
        batch, rows = [], 0
        for turn in waiting:
            if batch and rows + turn.rows > self.max_batch:
                continue
            batch.append(turn)
            rows += turn.rows
        for turn in batch:
            self._queue.remove(turn)
        return batch

    def _serve(self, batch):
        head = batch[0]
        if head.kind == "advance":
            self._serve_advance(batch)
        elif head.kind == "prefill":
            self._serve_prefill_chunk(head)
        else:
            self._resolve(head, lambda: self._with_room(head.work))

    def _serve_advance(self, batch):
        live = [turn for turn in batch if turn.future.set_running_or_notify_cancel()]
        if not live:
            return
        items = [item for turn in live for item in turn.work]
        try:
            results = self._with_room(lambda: stepper.run_batch(self.runner, items))
        except BaseException as error:  # noqa: BLE001 - delivered to the waiting threads
            if len(live) == 1:
                live[0].future.set_exception(error)
                return
            for turn in live:  # find whose work fails: each alone
                self._resolve(turn, lambda turn=turn: self._with_room(lambda: stepper.run_batch(self.runner, turn.work)))
            return
        with self._cond:
            self.batches += 1
            self.batched_steps += len(live)
        at = 0
        for turn in live:
            turn.future.set_result(results[at:at + len(turn.work)])
            at += len(turn.work)

    def _serve_prefill_chunk(self, turn):
        if not turn.future.running() and not turn.future.set_running_or_notify_cancel():
            turn.work.cancel()  # its requester gave up before the first chunk
            return
        try:
            done = self._with_room(turn.work.next_chunk)
        except BaseException as error:  # noqa: BLE001
            turn.work.cancel()
            turn.future.set_exception(error)
            return
        with self._cond:
            self.prefill_chunks += 1
            if not done:
                self._queue.append(turn)  # to the back: others go between chunks
                self._cond.notify_all()
                return
        turn.future.set_result(None)

    def _resolve(self, turn, function):
        if not turn.future.running() and not turn.future.set_running_or_notify_cancel():
            return
        try:
            turn.future.set_result(function())
        except BaseException as error:  # noqa: BLE001
            turn.future.set_exception(error)

    def _with_room(self, function):
        """Run `function` under no_grad; on a full pool, let the store evict idle sessions, try once more."""
        with torch.no_grad():
            try:
                return function()
            except PoolFull as full:
                self.on_pool_full(full)
                try:
                    return function()
                except PoolFull:
                    raise refuse("pool_full", ServerBusy) from None

