"""One batched step for many branches: pick on the device, one forward pass, records from one small copy.

`run_batch(runner, items)` takes `Advance`s (pick the next token of a branch: sampled, greedy or
forced, then feed it) and `Feed`s (cut a row back and feed a known token: the rewind after an undo, a redo) for any
number of branches of any users, and does, in order:
1. stack the advancing rows' logits and run each row's sampling pipeline (`sampling.warp_rows`),
   pick every row's token (`sampling.pick_rows`), and summarize every record (`records.summarize`),
   all on the logits' device;
2. one forward pass over all rows (`runner.step`), fed with the picked ids where they are (no host
   round trip between picking and feeding), and beside it (a second CUDA stream) the records'
   summary and its one small copy to the host;
3. while the device runs that pass, build the records on the host and draw the next noise of the
   sampled branches (`Noise.peek`), so neither sits on the critical path of a GPU step. On the CPU
   the noise is drawn on the calling thread (0.25 ms a row of 49,152 here): a worker thread beside
   it would start an OpenMP pool of its own, and every forward after would run slower (cpu_threads.py).
Nothing is committed to a branch until the forward pass succeeded: a failed batch leaves every
branch as it was (pool rows included, see `ModelRunner.step`).
`prefill(runner, branch, chunk)` (re)builds a branch's pool row from its ids, `chunk` tokens per
forward pass.
What is left out: deciding which items share a batch (the turns: `engine.py`, `serving/scheduler.py`).
"""

import time
from dataclasses import dataclass

import torch

from .records import step_records, summarize
from .sampling import pick_rows, to_device, warp_rows


@dataclass
class Advance:
    branch: object  # Branch, ready (its logits and pool row are there) and not stopped
    forced: int = None  # a token id to take instead of picking


@dataclass
class Feed:
    branch: object  # Branch whose pool row is cut back to `keep` positions, then fed `token_id`
    token_id: int
    keep: int  # positions of the row kept (the rewind after an undo drops the rest)


def run_batch(runner, items):
    """-> one entry per item: the new StepRecord of an Advance, None for a Feed."""
    started = time.perf_counter()
    advances = [item for item in items if isinstance(item, Advance)]
    feeds = [item for item in items if isinstance(item, Feed)]
    order = advances + feeds  # rows as fed
    handles = [item.branch.handle for item in order]
    if len(set(handles)) != len(handles) or None in handles:
        raise ValueError("each item needs its own branch with a pool row")
    whole = {id(feed): runner.pool.length(feed.branch.handle) == feed.keep for feed in feeds}  # nothing cut: a redo
    for feed in feeds:
        runner.pool.truncate(feed.branch.handle, feed.keep)
    before = [runner.pool.length(handle) for handle in handles]
    fed = [feed.token_id for feed in feeds]  # a list: the runner packs it with the other inputs
    if advances:
        chosen, scores, logits, sampled = _pick(advances)
        picked = _event(chosen.device)
        # The picks stay on the device: no host round trip between picking and feeding them.
        fed = torch.cat([chosen, to_device(fed, chosen.device)]) if fed else chosen
    new_logits = runner.step(handles, fed)
    if advances:
        try:
            # The records' summary runs beside the forward pass (on a GPU: another stream), then one small copy.
            summary, ready = _summary_beside(picked, logits, scores, chosen, sampled,
                                             max(a.branch.top_n for a in advances))
            if ready is not None:
                ready.synchronize()
            ms = (time.perf_counter() - started) * 1000.0
            fields = [_fields(advance.branch, advance.forced, length, len(order), ms)
                      for advance, length in zip(advances, before)]
            records = step_records(advances[0].branch.tokenizer, summary, fields)
        except BaseException:
            for handle, length in zip(handles, before):  # the rows are fed, the picks not kept: undo the rows
                runner.pool.truncate(handle, length)
            raise
        vocab = logits.shape[-1]
        for advance, record in zip(advances, records):
            sampled = advance.forced is None and not advance.branch.settings.greedy
            advance.branch.commit(record, sampled, vocab)
    for row, item in enumerate(order):
        # The logits of the row's last position stay for `step_back` (a Feed that cut its row has none).
        kept = isinstance(item, Advance) or whole[id(item)]
        item.branch.previous_logits = item.branch.logits if kept else None
        item.branch.logits = new_logits[row]
    if advances:
        for advance in advances:  # the next draw's noise, while a GPU is busy with this pass (a kernel each)
            if not advance.branch.settings.greedy and not advance.branch.stop:
                advance.branch.noise.peek(vocab)
    return [item.branch.records[-1] if isinstance(item, Advance) else None for item in items]


class Prefill:
    """Put all of a branch's ids into a fresh pool row, `chunk` ids per forward pass, then set its
    next logits. Each `next_chunk()` is one pass (a scheduler serves other users between them) and
    returns True once the row is complete; a failed chunk changes nothing and may be tried again.
    With `rebuild_records`, the records of the generated ids come out of the same passes (after a
    restore, their distributions are the prompt's logits at their positions). `cancel()` gives the
    row back if the work is abandoned half-way."""

    def __init__(self, runner, branch, chunk, rebuild_records=False):
        release(runner, branch)
        self.runner, self.branch, self.chunk, self.rebuild_records = runner, branch, chunk, rebuild_records
        self.ids = branch.ids
        self.handle = runner.pool.new()
        self.records = []

    @property
    def fed(self):
        return self.runner.pool.length(self.handle)

    def next_chunk(self):
        begin = self.fed
        end = min(begin + self.chunk, len(self.ids))
        first = len(self.branch.prompt_ids) - 1  # the logits at position first + i picked generated[i]
        keep = end - max(begin, first) if self.rebuild_records else 1
        logits = self.runner.extend(self.handle, self.ids[begin:end], keep=max(keep, 1))
        if self.rebuild_records and keep > 0:
            self.records += _rebuilt(self.branch, logits, range(max(begin, first), end))
        if end < len(self.ids):
            return False
        self.branch.handle, self.branch.logits = self.handle, logits[-1]
        self.branch.previous_logits = logits[-2] if len(logits) > 1 and self.branch.generated else None
        if self.rebuild_records:
            self.branch.restore_records(self.records[:len(self.branch.generated)])
        return True

    def cancel(self):
        if self.branch.handle != self.handle:
            self.runner.pool.free(self.handle)


def release(runner, branch):
    """Give the branch's pool row back (evicted: the next action rebuilds it from the ids)."""
    if branch.handle is not None:
        runner.pool.free(branch.handle)
    branch.handle, branch.logits, branch.previous_logits = None, None, None


def step_back(runner, branch):
    """After `branch.pop()`: cut its row back to its ids and put back the logits the popped pick was made
    from, with no forward pass, when they were kept (`previous_logits`); -> whether it could (else the
    caller feeds the last id again). One step back is free; the one before costs a forward pass."""
    if branch.previous_logits is None or not branch.ready or runner.pool.length(branch.handle) != len(branch.ids) + 1:
        return False
    runner.pool.truncate(branch.handle, len(branch.ids))
    branch.logits, branch.previous_logits = branch.previous_logits, None
    return True


def preview_record(branch, settings=None):
    """The record of the next position under `settings` (default: the branch's), nothing chosen:
    no forward pass, only the branch's kept logits through the pipeline."""
    settings = settings or branch.settings
    logits = branch.logits.unsqueeze(0)
    scores = warp_rows(logits, [settings], [branch.ids])
    chosen = torch.full((1,), -1, dtype=torch.long, device=logits.device)
    summary = summarize(logits, scores, chosen, branch.top_n).cpu()
    fields = dict(top_n=branch.top_n, max_new_tokens=branch.max_new_tokens, index=0, forced=False,
                  greedy=settings.greedy, cache_before=0, cache_after=0, ms=0.0, batch_rows=1)
    return step_records(branch.tokenizer, summary, [fields])[0]


def _rebuilt(branch, logits, positions):
    """Records of the generated ids chosen at `positions` (logits rows), as the steps made them."""
    prompt, ids = len(branch.prompt_ids), branch.ids
    # The logits at position p drew ids[p + 1], the (p - prompt + 2)-th generated id.
    rows = [(row, position - prompt + 2) for row, position in enumerate(positions) if position + 1 < len(ids)]
    if not rows:
        return []
    index = torch.tensor([row for row, _ in rows], device=logits.device)
    picked = logits.index_select(0, index)
    scores = warp_rows(picked, [branch.settings] * len(rows), [ids[:prompt + i - 1] for _, i in rows])
    chosen = torch.tensor([ids[prompt + i - 1] for _, i in rows], device=logits.device)
    summary = summarize(picked, scores, chosen, branch.top_n).cpu()
    fields = [dict(top_n=branch.top_n, max_new_tokens=branch.max_new_tokens, index=i, forced=branch.was_forced(i),
                   greedy=branch.settings.greedy, cache_before=prompt + i - 1, cache_after=prompt + i, ms=0.0,
                   batch_rows=1) for _, i in rows]
    return step_records(branch.tokenizer, summary, fields)


def _pick(advances):
    for advance in advances:
        advance.branch.check_can_step()
    logits = torch.stack([a.branch.logits for a in advances])
    vocab = logits.shape[-1]
    settings = [a.branch.settings for a in advances]
    scores = warp_rows(logits, settings, [a.branch.ids for a in advances])
    greedy = [s.greedy for s in settings]
    forced = [a.forced for a in advances]
    noise = [a.branch.noise.peek(vocab) if not g and f is None else None for a, g, f in zip(advances, greedy, forced)]
    sampled = torch.softmax(scores, dim=-1)
    return pick_rows(scores, greedy, forced, noise, sampled), scores, logits, sampled


def _event(device):
    """A CUDA event recorded now on the current stream (None elsewhere)."""
    if device.type != "cuda":
        return None
    event = torch.cuda.Event()
    event.record()
    return event


_SIDE_STREAMS = {}


def _summary_beside(picked, logits, scores, chosen, sampled, top_n):
    """`records.summarize` on a second CUDA stream that waits only for the picks (`picked`), so it runs
    while the forward pass runs; its result copied to pinned host memory. -> (host tensor, event to
    wait on); on the CPU: (the summary, None)."""
    if picked is None:
        return summarize(logits, scores, chosen, top_n, sampled=sampled), None
    side = _SIDE_STREAMS.setdefault(logits.device, torch.cuda.Stream(logits.device))
    side.wait_event(picked)
    with torch.cuda.stream(side):
        for tensor in (logits, scores, chosen, sampled):
            tensor.record_stream(side)  # made on the main stream, read here: not reused before this is done
        summary = summarize(logits, scores, chosen, top_n, sampled=sampled)
        host = torch.empty(summary.shape, dtype=summary.dtype, pin_memory=True)
        host.copy_(summary, non_blocking=True)
        done = torch.cuda.Event()
        done.record(side)
    return host, done


def _fields(branch, forced, cache_before, rows, ms):
    return dict(top_n=branch.top_n, max_new_tokens=branch.max_new_tokens, index=len(branch.generated) + 1,
                forced=forced is not None, greedy=branch.settings.greedy, cache_before=cache_before,
                cache_after=cache_before + 1, ms=ms, batch_rows=rows)
