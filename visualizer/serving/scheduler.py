"""Turns at the shared model: one model thread, fair turns, steps of many users in one forward pass.

Every forward pass of every user goes through one `Scheduler` (it is the engine's `turns` on a
server). Request threads hand in work and wait; a dedicated model thread does it:
- `advance(items, interactive)`: single-token work (`stepper.Advance` / `Feed`). Waiting advance
  turns share one batch: every click (interactive) up to `max_batch` rows, then the tokens of runs:
  with clicks in the batch, as many as keep it predicted within CLICK_BATCH_FACTOR times a one-row
  step (none on a 2-core CPU, a few on a GPU); in a batch of runs alone, `cost.run_rows`, steered
  by the times such batches took so that one lasts about RUN_BATCH_FACTOR one-row steps, with
  RUN_BATCH_LEAST rows at least (`batch_cost.py`); QUIET_RUN_BATCH_FACTOR when nobody clicked for
  CLICKS_RECENT_S (runs nobody steps beside go faster; the first click after waits one longer batch).
  A run to the end queues again after every token, so it never holds the model between tokens.
  When fewer clicks wait than the last batch with clicks had (a room pressing Step together: their
  steps reach the model thread spread over tens of ms), the model thread waits for the rest, a
  batch's time at most; when steps keep arriving, or fewer run tokens wait than the last batch had,
  it waits a little (a tenth of a batch's time per arrival, half a batch's time at most); so a room
  shares one pass instead of splitting into small batches, and a lone click after a lone click (an
  attendee stepping among runs) does not wait.
- `prefill(branch)`: a prompt is fed `chunk` tokens per turn; after each chunk it goes to the back
  of the queue, and a click waiting goes before the next chunk (one batch of clicks at most: then
  the chunk goes, so clicks that never stop coming cannot starve a prompt), so a long prompt delays a
  click by at most the chunk in flight, not by its whole length. The prompt tokens waiting to be
  prefilled are capped server-wide (`max_prefill_tokens`): past that a new prompt is refused with a
  clear message instead of queueing behind minutes of work.
- `call(function)`: anything else that needs the model alone (a fork, an on-demand special pass).
When the KV pool is full, `on_pool_full(error)` (the session store's eviction of idle sessions)
gets a chance to make room and the turn is tried once more; if the rows in use still fill the pool,
the turn waits (retried every `ROOM_RETRY_S`, other work going on) for sessions to go idle and
give their rows back, up to `room_wait_s`; then it fails with a one-line error.
When the model thread has nothing to do it captures pending CUDA graphs (`runner.capture_pending`).
`stats()` counts batches, the steps they served, prompt chunks and, for the last click served, the
advance batches that ran while it waited (`last_click_wait`: 1 at most when clicks go first).
On the CPU the server's narrow passes (a few rows) run on one intra-op thread (`runner.narrow_threads`,
see engine/forward.py): the server shares its cores with Gradio's threads and, on a laptop, the browser.
The model thread holds the process's one OpenMP pool: request threads keep serial (engine/cpu_threads.py).
What is left out: priorities beyond clicks-before-runs, and preemption of a turn already running.
"""

import collections
import logging
import threading
import time
from concurrent.futures import Future

import torch

from ..engine import stepper
from ..engine.errors import InputError, refuse
from ..engine.kvpool import PoolFull
from .batch_cost import BatchCost

LOG = logging.getLogger(__name__)
DEFAULT_CHUNK = 128
DEFAULT_MAX_PREFILL_TOKENS = 65_536
GATHER_S = 0.002  # how long a smaller batch than the last waits for the rest of its users
RUN_BATCH_FACTOR = 2.0  # a batch of runs' tokens lasts about this many lone steps: what a click may wait for
QUIET_RUN_BATCH_FACTOR = 4.0  # ... when nobody clicked for CLICKS_RECENT_S (runs go faster)
CLICKS_RECENT_S = 60.0
RUN_BATCH_LEAST = 2  # a batch of runs takes this many rows at least, however long
CLICK_BATCH_FACTOR = 1.05  # a batch with clicks takes run tokens within this (rows nearly free on a GPU: a few join)
SERVER_NARROW_THREADS = 1  # intra-op threads of the server's narrow CPU passes (forward.py's docstring)
ROOM_RETRY_S = 0.05  # a turn waiting for room in the KV pool is tried again this often
ROOM_WAIT_S = 20.0  # ... for at most this long


class _NoRoom(Exception):
    """The pool is full of rows in use: the turn waits and is tried again."""


class ServerBusy(InputError):
    """The server cannot take this work now; the message says to try again."""


class _Turn:
    def __init__(self, kind, work, interactive=True, tokens=0):
        self.kind = kind  # "advance" | "prefill" | "call"
        self.work = work  # items | stepper.Prefill | function
        self.interactive = interactive
        self.tokens = tokens  # prompt tokens still to prefill
        self.future = Future()
        self.passed_over = 0  # batches of clicks served while this (non-advance) turn was the oldest
        self.not_before = 0.0  # a turn waiting for room is not tried again before this (monotonic) time
        self.room_deadline = None  # ... and fails after this one
        self.queued_after = 0  # advance batches run before this turn was queued

    @property
    def rows(self):
        return len(self.work) if self.kind == "advance" else 0


class Scheduler:
    def __init__(self, runner, max_batch=32, chunk=DEFAULT_CHUNK, max_prefill_tokens=DEFAULT_MAX_PREFILL_TOKENS,
                 on_pool_full=None, gather_s=GATHER_S, room_wait_s=ROOM_WAIT_S):
        self.runner = runner
        runner.narrow_threads = SERVER_NARROW_THREADS
        self.max_batch = max_batch
        self.chunk = chunk
        self.max_prefill_tokens = max_prefill_tokens
        self.on_pool_full = on_pool_full or (lambda pages: None)
        self._cond = threading.Condition()
        self._queue = collections.deque()  # turns not yet (fully) served, oldest first
        self._prefill_tokens = 0
        self._closed = False
        self.gather_s = gather_s
        self.room_wait_s = room_wait_s
        self.cost = BatchCost()  # advance batches' times: rows within a time, the last batch, a typical one
        self.last_clicks = 0  # clicks (rows) in the last batch that had any
        self.last_click_at = time.monotonic()  # when it ran (start-up counts: the first click is quick)
        self.last_click_wait = 0  # advance batches that ran while the last served click waited
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
                    "prefill_tokens_waiting": self._prefill_tokens, "last_click_wait": self.last_click_wait}

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
            turn.queued_after = self.batches
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
                while not self._ready() and not self._closed:
                    if self._queue:  # only turns waiting for room: until the first may be tried again
                        self._cond.wait(max(0.0, min(t.not_before for t in self._queue) - time.monotonic()))
                    elif not self._capture_pending():
                        self._cond.wait()
                if self._closed and not self._queue:
                    return
                if not self._ready():
                    continue
                self._gather()
                batch = self._take()
            self._serve(batch)

    def _ready(self):
        now = time.monotonic()
        return [turn for turn in self._queue if turn.not_before <= now]

    def _gather(self):
        """Wait (queue lock held, released while waiting) while more advance rows are coming. Clicks
        waiting are counted apart from run tokens: fewer clicks than the last batch with clicks had
        (a room stepping together, whose steps reach the model thread spread over tens of ms) wait for
        the rest, a batch's time at most; otherwise rows wait while they keep arriving (two or more
        clicks, or fewer run tokens than the last batch had): a tenth of a batch's time per arrival,
        half a batch's time in all (each at least gather_s). A lone click after a lone click (or before
        any) does not wait."""
        start = time.monotonic()
        batch_s = self.cost.typical_s
        per_arrival, most = max(self.gather_s, 0.1 * batch_s), max(self.gather_s, 0.5 * batch_s)
        deadline, seen = start, (False, 0)
        while self._ready()[0].kind == "advance" and not self._closed:
            advances = [turn for turn in self._ready() if turn.kind == "advance"]
            waiting = sum(turn.rows for turn in advances)
            clicks = sum(turn.rows for turn in advances if turn.interactive)
            counted, last = (clicks, self.last_clicks) if clicks else (waiting, self.cost.last_rows)
            room = bool(clicks) and clicks < self.last_clicks
            now = time.monotonic()
            if (bool(clicks), counted) > seen:
                if room:
                    deadline = start + max(self.gather_s, batch_s)
                elif counted > 1 or counted < last:
                    deadline = min(start + most, now + per_arrival)
                else:
                    deadline = now
                seen = (bool(clicks), counted)
            if waiting >= self.max_batch or now >= deadline:
                return
            self._cond.wait(deadline - now)

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
        """The next turns to serve together (queue lock held): a click (an interactive advance) waiting
        goes before anything else, but the oldest turn, when it is a prompt chunk or a call, lets one
        batch go first at most (clicks that keep coming cannot starve a prompt); otherwise the oldest
        turn decides."""
        ready = self._ready()
        oldest = ready[0]
        head = oldest if oldest.passed_over else \
            next((turn for turn in ready if turn.kind == "advance" and turn.interactive), oldest)
        if head.kind != "advance":
            self._queue.remove(head)
            head.passed_over = 0
            return [head]
        if oldest.kind != "advance":
            oldest.passed_over += 1
        waiting = [turn for turn in ready if turn.kind == "advance"]
        waiting.sort(key=lambda turn: not turn.interactive)  # stable: clicks first, then runs, each by arrival
        if waiting[0].interactive:
            for_runs = self.cost.rows_within(CLICK_BATCH_FACTOR, self.max_batch)
        else:
            steered = self.cost.run_rows(self._run_factor()) or self.max_batch
            for_runs = min(self.max_batch, max(RUN_BATCH_LEAST, steered))
        batch, rows = [], 0
        for turn in waiting:
            limit = self.max_batch if turn.interactive else max(for_runs, 1 if not batch else 0)
            if batch and rows + turn.rows > limit:
                continue
            batch.append(turn)
            rows += turn.rows
        for turn in batch:
            self._queue.remove(turn)
        return batch

    def _run_factor(self):
        recent = time.monotonic() - self.last_click_at < CLICKS_RECENT_S
        return RUN_BATCH_FACTOR if recent else QUIET_RUN_BATCH_FACTOR

    def _serve(self, batch):
        head = batch[0]
        if head.kind == "advance":
            self._serve_advance(batch)
        elif head.kind == "prefill":
            self._serve_prefill_chunk(head)
        else:
            self._resolve(head, lambda: self._with_room(head.work))

    def _serve_advance(self, batch):
        live = [turn for turn in batch if turn.future.running() or turn.future.set_running_or_notify_cancel()]
        if not live:
            return
        items = [item for turn in live for item in turn.work]
        started = time.monotonic()
        try:
            results = self._with_room(lambda: stepper.run_batch(self.runner, items))
        except BaseException as error:  # noqa: BLE001 - delivered to the waiting threads
            if len(live) == 1:
                self._fail_or_wait(live[0], error)
                return
            for turn in live:  # find whose work fails: each alone
                try:
                    turn.future.set_result(self._with_room(lambda turn=turn: stepper.run_batch(self.runner, turn.work)))
                except BaseException as alone:  # noqa: BLE001
                    self._fail_or_wait(turn, alone)
            return
        with self._cond:
            self.batches += 1
            self.batched_steps += len(live)
            ended = time.monotonic()
            seconds = ended - started
            self.cost.add(len(items), seconds)
            clicks = sum(turn.rows for turn in live if turn.interactive)
            if clicks:
                self.last_clicks, self.last_click_at = clicks, ended
                self.last_click_wait = max(self.batches - 1 - turn.queued_after for turn in live if turn.interactive)
            else:
                self.cost.steer_runs(len(items), seconds, self._run_factor(), RUN_BATCH_LEAST)
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
            if not self._fail_or_wait(turn, error):
                turn.work.cancel()
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
            self._fail_or_wait(turn, error)

    def _fail_or_wait(self, turn, error):
        """A turn that found no room waits in the queue (until its deadline); any other error is its
        answer. -> True when it waits."""
        now = time.monotonic()
        if isinstance(error, _NoRoom):
            if turn.room_deadline is None:
                turn.room_deadline = now + self.room_wait_s
            if now < turn.room_deadline:
                with self._cond:
                    turn.not_before = now + ROOM_RETRY_S
                    self._queue.appendleft(turn)
                    self._cond.notify_all()
                return True
            error = refuse("pool_full", ServerBusy)
        turn.future.set_exception(error)
        return False

    def _with_room(self, function):
        """Run `function` under no_grad; on a full pool, let the store evict idle sessions and try once
        more; still full: _NoRoom (the turn waits)."""
        with torch.no_grad():
            try:
                return function()
            except PoolFull as full:
                self.on_pool_full(full)
                try:
                    return function()
                except PoolFull:
                    raise _NoRoom() from None

