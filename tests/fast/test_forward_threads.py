"""How many intra-op threads a CPU forward of the ModelRunner uses (engine/forward.py).

A pass of a few tokens runs on `narrow_threads` (the scheduler sets 1 while other turns wait; all
threads when None); a wide pass (a batch of rows, a prompt chunk) on all. The thread count is faked (monkeypatched), so the test runs alike on any
machine; the logits are the same either way (against the same rows stepped together).
What is left out: the speed (bench/hardening.py and bench/browser_bench.py measure it).
"""

import torch
from tiny import tiny_llama

from visualizer.engine import forward
from visualizer.engine.kvpool import KVPool


def test_narrow_cpu_passes_run_on_narrow_threads_and_wide_ones_on_all(monkeypatch):
    """With narrow_threads 1, one or a few tokens: one intra-op thread during the forward, the setting
    restored after; four tokens or more (a batch of rows, a prompt chunk): every thread; with None,
    every pass on every thread. Same logits either way."""
    model = tiny_llama("sdpa")
    pool = KVPool(model.config, num_pages=64, page_size=8)
    runner = forward.ModelRunner(model, pool)
    rows = [pool.new() for _ in range(4)]
    for handle in rows:
        runner.extend(handle, [5, 6, 7])
    threads, seen = {"count": 2}, []
    real_forward = forward.forward_over
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads["count"])

    def set_this_thread(count):  # cpu_threads.set_this_thread: -> the count before
        before, threads["count"] = threads["count"], count
        return before
    monkeypatch.setattr(forward, "set_this_thread", set_this_thread)
    monkeypatch.setattr(forward, "forward_over", lambda *args: seen.append(threads["count"]) or real_forward(*args))
    runner.narrow_threads = 1
    one = runner.step(rows[:1], [9])
    three = runner.step(rows[1:], [9, 9, 9])
    for handle in rows:
        pool.truncate(handle, 3)
    four = runner.step(rows, [9, 9, 9, 9])
    runner.extend(rows[0], [1, 2, 3, 4, 5])
    assert seen == [1, 1, 2, 2] and threads["count"] == 2
    runner.narrow_threads = None
    runner.step(rows[:1], [9])
    assert seen[-1] == 2 and threads["count"] == 2
    assert (torch.cat([one, three]) - four).abs().max().item() <= 1e-4
