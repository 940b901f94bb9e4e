"""The paged KV pool and its runner: pooled forwards must equal per-row DynamicCache forwards.

Tiny random Llama and Qwen3 models (tests/fast/tiny.py) under sdpa and eager, float32, pages of 8 tokens
so every test crosses page boundaries. References run each row alone on its own DynamicCache.
What is left out: CUDA graphs proper (the static-buffer path runs here without capture; the GPU
check is bench/pool_gpu_check.py) and the ZeroGPU boundary (tests/test_zerogpu.py).
"""

import copy
import math
import random

import pytest
import torch
from tiny import VOCAB, tiny_llama, tiny_qwen3
from transformers import DynamicCache

from visualizer.engine import graphs
from visualizer.engine.forward import ModelRunner
from visualizer.engine.graphs import StaticStep, StepGraphs, packed_inputs
from visualizer.engine.kvpool import TRASH_PAGE, KVPool, PoolFull

TOL = 1e-4
PAGE = 8
CASES = [(build, attn) for build in (tiny_llama, tiny_qwen3) for attn in ("sdpa", "eager")]
IDS = [f"{build.__name__}-{attn}" for build, attn in CASES]


@pytest.fixture(params=CASES, ids=IDS)
def model(request):
    build, attn = request.param
    return build(attn)


def make(model, pages=128):
    pool = KVPool(model.config, num_pages=pages, page_size=PAGE)
    return pool, ModelRunner(model, pool)


def ref_forward(model, cache, ids, keep=1):
    """One row alone on its own DynamicCache -> logits (keep, V) of its last positions."""
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids]), cache=cache, use_cache=True, logits_to_keep=keep).logits[0]


def new_ref(model):
    return DynamicCache(config=model.config)


def rand_ids(rng, n):
    return [rng.randrange(1, VOCAB) for _ in range(n)]


def prefill(runner, handle, ids, chunk=512):
    """The caller's chunking of a long prompt -> logits (V,) after the last id."""
    for begin in range(0, len(ids), chunk):
        logits = runner.extend(handle, ids[begin:begin + chunk])[-1]
    return logits


def close(a, b):
    return (a - b).abs().max().item() <= TOL


def snapshot(pool, handles):
    return (list(pool.refs), pool.free_pages, [(pool.block_table(h), pool.length(h)) for h in handles])


def test_rows_of_different_lengths_join_and_leave(model):
    rng = random.Random(2)
    pool, runner = make(model)
    free_at_start = pool.free_pages
    refs = {}  # handle -> its own DynamicCache

    def join(n):
        ids = rand_ids(rng, n)
        handle, ref = pool.new(), new_ref(model)
        assert close(prefill(runner, handle, ids), ref_forward(model, ref, ids)[-1])
        assert pool.length(handle) == n and len(pool.block_table(handle)) == math.ceil(n / PAGE)
        refs[handle] = ref
        return handle

    first, second = join(5), join(17)
    join(1)
    for round_ in range(12):
        if round_ == 3:
            join(30)
        if round_ == 5:
            pool.free(second)
            del refs[second]
        if round_ == 8:
            join(2)
            pool.free(first)
            del refs[first]
        handles = list(refs)
        rng.shuffle(handles)  # row order must not matter
        tokens = rand_ids(rng, len(handles))
        got = runner.step(handles, tokens)
        assert got.shape == (len(handles), VOCAB) and got.dtype == torch.float32
        for row, (handle, token) in enumerate(zip(handles, tokens)):
            assert close(got[row], ref_forward(model, refs[handle], [token])[-1]), (round_, handle)
            assert pool.length(handle) == refs[handle].get_seq_length()
    for handle in list(refs):
        pool.free(handle)
    assert pool.free_pages == free_at_start and pool.used_bytes == 0


def test_token_ids_may_be_a_tensor_on_the_model_device(model):
    pool, runner = make(model)
    a, b = pool.new(), pool.new()
    runner.extend(a, [5, 6, 7])
    runner.extend(b, [8] * 11)
    as_list = runner.step([a, b], [9, 10])
    pool.truncate(a, 3)
    pool.truncate(b, 11)
    assert torch.equal(runner.step([a, b], torch.tensor([9, 10], device=model.device)), as_list)


def test_chunked_extend_equals_one_shot_prefill(model):
    rng = random.Random(3)
    pool, runner = make(model)
    ids = rand_ids(rng, 70)
    one, chunked = pool.new(), pool.new()
    whole = prefill(runner, one, ids)
    assert close(whole, prefill(runner, chunked, ids, chunk=13))  # chunk edges fall mid-page
    assert close(whole, ref_forward(model, new_ref(model), ids)[-1])
    for store in pool.keys + pool.values:  # the cached K/V themselves agree
        flat = store.view(-1, pool.kv_heads, pool.head_dim)
        slots_one, slots_chunked = pool.write_slots(one, 0, 70), pool.write_slots(chunked, 0, 70)
        assert close(flat[slots_one], flat[slots_chunked])
    token = rand_ids(rng, 1)[0]
    got = runner.step([one, chunked], [token, token])
    assert close(got[0], got[1])
    more, ref = rand_ids(rng, 20), new_ref(model)  # an extend on top of existing pages
    ref_forward(model, ref, ids + [token])
    assert close(prefill(runner, one, more, chunk=6), ref_forward(model, ref, more)[-1])


def test_keep_returns_the_logits_of_a_full_forward(model):
    rng = random.Random(4)
    pool, runner = make(model)
    head, tail = rand_ids(rng, 11), rand_ids(rng, 9)
    handle = pool.new()
    runner.extend(handle, head)
    full = ref_forward(model, new_ref(model), head + tail, keep=0)  # every position's logits
    got = runner.extend(handle, tail, keep=len(tail))
    assert got.shape == (len(tail), VOCAB) and close(got, full[-len(tail):])
    with pytest.raises(ValueError):
        runner.extend(handle, [1, 2], keep=3)


def test_undo_then_step_equals_original(model):
    rng = random.Random(5)
    pool, runner = make(model)
    handle, other = pool.new(), pool.new()
    runner.extend(handle, rand_ids(rng, PAGE))  # exactly one full page
    runner.extend(other, rand_ids(rng, 11))
    free_before = pool.free_pages
    t1, t2, t3 = rand_ids(rng, 3)
    l1 = runner.step([handle, other], [t1, t3])[0]  # a new page
    l2 = runner.step([handle, other], [t2, t3])[0]
    pool.truncate(handle, pool.length(handle) - 1)  # undo t2
    assert close(runner.step([handle], [t2])[0], l2)
    pool.truncate(handle, PAGE)  # undo t1 and t2: back to one page, the second one is freed
    assert len(pool.block_table(handle)) == 1 and pool.free_pages == free_before
    assert close(runner.step([other, handle], [t3, t1])[1], l1)
    assert close(runner.step([handle], [t2])[0], l2)
    pool.truncate(handle, pool.length(handle) - 2)  # the app's rewind: crop one more, re-feed
    assert close(runner.step([handle], [t1])[0], l1)
    with pytest.raises(ValueError):
        pool.truncate(handle, pool.length(handle) + 1)


def test_fork_shares_full_pages_and_copies_the_partial_one(model):
    rng = random.Random(6)
    pool, runner = make(model)
    free_at_start = pool.free_pages
    ids = rand_ids(rng, 2 * PAGE + 3)
    parent, ref_parent = pool.new(), new_ref(model)
    runner.extend(parent, ids)
    ref_forward(model, ref_parent, ids)
    child, ref_child = pool.fork(parent), copy.deepcopy(ref_parent)
    shared, copied = pool.block_table(parent), pool.block_table(child)
    assert copied[:2] == shared[:2] and copied[2] != shared[2] and pool.length(child) == len(ids)
    assert [pool.refs[p] for p in shared] == [2, 2, 1] and pool.free_pages == free_at_start - 4
    assert pool.nbytes(parent) == pool.nbytes(child) == 2 * pool.page_bytes
    assert pool.used_bytes == 4 * pool.page_bytes
    for _ in range(10):  # both grow past the shared pages, in the same steps
        a, b = rand_ids(rng, 2)
        got = runner.step([child, parent], [b, a])
        assert close(got[0], ref_forward(model, ref_child, [b])[-1])
        assert close(got[1], ref_forward(model, ref_parent, [a])[-1])
    assert pool.block_table(child)[:2] == shared[:2]  # still shared
    pool.free(parent)
    assert all(pool.refs[p] == 1 for p in shared[:2]) and pool.nbytes(child) == 4 * pool.page_bytes
    token = rand_ids(rng, 1)[0]
    assert close(runner.step([child], [token])[0], ref_forward(model, ref_child, [token])[-1])
    pool.free(child)
    assert pool.free_pages == free_at_start


def test_write_after_undo_into_a_shared_page_copies_it(model):
    rng = random.Random(7)
    pool, runner = make(model)
    ids = rand_ids(rng, 2 * PAGE)  # page aligned: the fork shares every page, copies none
    parent, ref = pool.new(), new_ref(model)
    runner.extend(parent, ids)
    ref_forward(model, ref, ids)
    child = pool.fork(parent)
    assert pool.block_table(child) == pool.block_table(parent)
    pool.truncate(parent, 2 * PAGE - 1)  # the parent's last page is still the child's too
    assert pool.can_hold({parent: 1}) and pool._pages_needed({parent: 1}) == 1  # one copy on write
    runner.step([parent], rand_ids(rng, 1))  # must copy the page, not overwrite the child's token
    assert pool.block_table(parent)[1] != pool.block_table(child)[1]
    token = rand_ids(rng, 1)[0]
    assert close(runner.step([child], [token])[0], ref_forward(model, ref, [token])[-1])


def test_pool_full_and_failed_forwards_leave_everything_as_it_was():
    model, rng = tiny_llama(), random.Random(8)
    pool, runner = make(model, pages=5)  # 4 usable pages
    a, b = pool.new(), pool.new()
    runner.extend(a, rand_ids(rng, 2 * PAGE))  # 2 full pages
    runner.extend(b, rand_ids(rng, 12))  # 2 pages: the pool is full
    c = pool.fork(a)  # shares a's full pages, needs no page
    pool.truncate(a, 2 * PAGE - 1)  # a's next write needs a copy of a shared page
    state = snapshot(pool, [a, b, c])
    assert not pool.can_hold({b: 1, a: 1}) and pool.can_hold({b: 4})
    for attempt in (lambda: runner.step([b, a], [1, 2]), lambda: runner.extend(b, [1] * 5),
                    lambda: runner.step([c], [3]), lambda: pool.fork(b)):
        with pytest.raises(PoolFull):
            attempt()
        assert snapshot(pool, [a, b, c]) == state
    pool.free(c)  # now a can copy its page on write; a bad token id makes the forward itself fail
    state = snapshot(pool, [a, b])
    with pytest.raises(IndexError):
        runner.step([b, a], [1, VOCAB + 5])
    assert snapshot(pool, [a, b]) == state
    with pytest.raises(ValueError):
        runner.step([a, a], [1, 2])
    assert runner.step([b, a], [1, 2]).shape == (2, VOCAB)


def test_pages_are_zeroed_when_first_handed_out():
    """Pages start as torch.empty (never touched: the resident size grows with use); garbage there can
    be NaN, which would poison attention even masked, so a page is zeroed the first time it is used."""
    model = tiny_qwen3()
    pool, runner = make(model, pages=16)
    assert pool.pages_zeroed == 0 and not pool.keys[0][TRASH_PAGE].any()
    for store in pool.keys + pool.values:
        store[1:].fill_(float("nan"))  # what uninitialised memory may hold
    handle = pool.new()
    res = pool.reserve([handle], 3)
    assert pool.pages_zeroed == 1 and not pool.keys[1][pool.block_table(handle)[0]].any()
    pool.rollback(res)
    logits = runner.extend(handle, [5, 6, 7])  # 3 of the page's 8 slots written, the rest masked zeros
    assert torch.isfinite(logits).all() and pool.pages_zeroed == 1  # the same page, not zeroed twice
    runner.extend(handle, list(range(1, 20)))
    pool.free(handle)
    zeroed = pool.pages_zeroed
    other = pool.new()
    assert torch.isfinite(runner.extend(other, [9] * 20)).all() and pool.pages_zeroed == zeroed  # reused


def test_static_step_path_equals_eager_path(model):
    """The CUDA-graph path without the capture: padded buckets, static buffers, mask inside."""
    rng = random.Random(9)
    pool, runner = make(model)
    handles = [pool.new() for _ in range(3)]
    for handle, n in zip(handles, (4, 9, 20)):
        runner.extend(handle, rand_ids(rng, n))
    tokens = rand_ids(rng, 3)
    eager = runner.step(handles, tokens)
    for handle in handles:
        pool.truncate(handle, pool.length(handle) - 1)
    static = StaticStep(pool, rows=4, pages=8)
    reservation = pool.reserve(handles, 1)
    static.load(packed_inputs(pool, reservation, [0] * 3, 4, 8), torch.tensor(tokens))
    with torch.no_grad():
        padded = static.run(model)
    pool.commit(reservation)
    assert close(eager, padded[:3, -1]) and torch.isfinite(padded).all()


def test_graph_buckets_queue_and_failed_captures_fall_back_to_eager(caplog):
    model = tiny_llama()
    pool = KVPool(model.config, num_pages=64, page_size=16)
    assert graphs.batch_buckets(32) == [1, 2, 4, 8, 16, 32] and graphs.batch_buckets(5) == [1, 2, 4, 8]
    assert [graphs.pages_bucket(p) for p in (1, 4, 5, 8, 9, 64, 65, 97, 128, 129, 193)] == \
        [4, 4, 8, 8, 16, 64, 96, 128, 128, 192, 256]  # powers of two, and 1.5x them past 64 pages
    runner = ModelRunner(model, pool, graphs=True)  # on the CPU: no graphs
    assert not runner.graphs and not runner.capture_pending() and runner.graph_progress() == (0, 0)
    step_graphs = StepGraphs(model, pool, max_batch=8)
    captured, total = step_graphs.progress()
    assert captured == 0 and total == 4 * 9 and step_graphs.pending[0] == (1, 4)  # 4 batch x 9 buckets, 4..256 pages
    assert step_graphs.bucket(3, 9) == (4, 16) and step_graphs.bucket(9, 1) is None
    assert step_graphs.lookup((4, 16)) is None and step_graphs.pending[0] == (4, 16)
    assert step_graphs.progress() == (0, total)
    assert step_graphs.capture_next()  # no CUDA here: the capture fails, that bucket stays eager
    assert (4, 16) in step_graphs.failed and "capture failed" in caplog.text
    assert step_graphs.lookup((4, 16)) is None and (4, 16) not in step_graphs.pending
    assert step_graphs.progress() == (0, total - 1)


def test_sizes_and_budget():
    model = tiny_qwen3()
    pool = KVPool.sized(model.config, budget_bytes=10_000_000, page_size=16)
    page_bytes = 2 * 2 * 16 * 2 * 16 * 4  # K and V, 2 layers, 16 tokens, 2 KV heads, head_dim 16, fp32
    assert pool.page_bytes == page_bytes and pool.bytes_per_token == page_bytes // 16
    assert pool.capacity_pages == 10_000_000 // page_bytes == pool.num_pages - 1 == pool.free_pages
    with pytest.raises(ValueError, match="at least 2"):
        KVPool.sized(model.config, budget_bytes=page_bytes + 1)
    handle = pool.new()
    assert pool.can_hold({handle: 17}) and not pool.can_hold({handle: 16 * pool.capacity_pages + 1})
    with pytest.raises(PoolFull):
        pool.reserve([handle], 16 * pool.capacity_pages + 1)
    pool.commit(pool.reserve([handle], 17))
    assert pool.length(handle) == 17 and pool.nbytes(handle) == pool.used_bytes == 2 * page_bytes


class EagerGraph:
    """Stands in for a captured CUDA graph on the CPU: replay reruns the static step into the same
    output tensor, as a real replay overwrites its static output."""

    def __init__(self, static, model):
        self.static, self.model = static, model
        self.logits = static.run(model)

    def replay(self):
        self.logits.copy_(self.static.run(self.model))


def test_the_runners_graph_path_equals_its_eager_path(model, monkeypatch):
    """The runner's whole graph path (bucket lookup, pending captures, packed load, copy out), with
    the capture replaced by EagerGraph so that it runs on the CPU."""
    def capture(self, rows, pages):
        static = StaticStep(self.pool, rows, pages)
        graph = EagerGraph(static, self.model)
        return static, graph, graph.logits

    monkeypatch.setattr(StepGraphs, "_capture", torch.no_grad()(capture))
    rng = random.Random(10)
    pool, runner = make(model)
    runner.graphs, runner._graphs = True, StepGraphs(model, pool, max_batch=8)
    handles = [pool.new() for _ in range(3)]
    for handle, n in zip(handles, (4, 9, 31)):
        runner.extend(handle, rand_ids(rng, n))
    for rows in (handles, handles[:1], handles):
        tokens = rand_ids(rng, len(rows))
        runner.graphs = False
        eager = runner.step(rows, tokens)
        for handle in rows:
            pool.truncate(handle, pool.length(handle) - 1)
        runner.graphs = True
        bucket = runner._graphs.bucket(len(rows), max(len(pool.block_table(h)) for h in rows))
        if bucket not in runner._graphs.captured:
            runner.step(rows, tokens)  # not captured yet: eager, and the bucket goes first in line
            assert runner._graphs.pending[0] == bucket
            for handle in rows:
                pool.truncate(handle, pool.length(handle) - 1)
            assert runner.capture_pending() and bucket in runner._graphs.captured
        replayed = runner.step(rows, tokens)
        assert close(eager, replayed)
    held = runner.step(handles, rand_ids(rng, 3))
    copy_of_held = held.clone()
    runner.step(handles, rand_ids(rng, 3))  # the next replay overwrites the static output...
    assert torch.equal(held, copy_of_held)  # ...not what an earlier step returned


def test_free_pages_give_their_memory_back_and_read_finite_when_reused():
    from types import SimpleNamespace

    from visualizer.serving.memory import rss_bytes

    # 1 layer, 8 KV heads of 128: a page's K (or V) slice is 16 x 8 x 128 x 4 = 64 KiB, whole OS pages.
    config = SimpleNamespace(num_hidden_layers=1, num_key_value_heads=8, head_dim=128, hidden_size=1024,
                             num_attention_heads=8)
    pool = KVPool(config, num_pages=2048, page_size=16)  # 256 MiB, untouched
    handles = [pool.new() for _ in range(4)]
    reservation = pool.reserve(handles, 16 * 400)  # 1,600 pages written: 200 MiB
    pool.commit(reservation)
    for tensor in pool.keys + pool.values:
        tensor[1:1601].fill_(1.5)
    held = rss_bytes()
    for handle in handles:
        pool.free(handle)
    assert pool.release_free_memory() == 1600 and pool.release_free_memory() == 0
    assert held - rss_bytes() > 150 * 2**20  # most of the 200 MiB went back to the system
    handle = pool.new()
    pool.commit(pool.reserve([handle], 16))
    page = pool.block_table(handle)[0]
    assert torch.isfinite(pool.keys[0][page]).all() and pool.keys[0][page].abs().max() <= 1.5
