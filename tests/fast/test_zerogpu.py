"""The ZeroGPU path, emulated on the CPU: the runner's pure device forward through a worker boundary.

On a ZeroGPU Space each `@spaces.GPU` call runs in a worker process: arguments are copied in and
results copied out, so nothing the call mutates reaches the caller. The stand-in `spaces` module
here (the real one needs Hugging Face's hardware) copies the same way and counts calls; the
wrapped forward runs on the CPU. Pooled steps through it must equal steps without it, and a
multi-row step must be one call.
What is left out: real ZeroGPU hardware, its time quotas and its queue (see the README).
"""

import copy
import random
import sys
import types

import pytest
import torch
from tiny import VOCAB, tiny_llama, tiny_qwen3

from visualizer.engine.forward import ModelRunner, device_forward
from visualizer.engine.kvpool import KVPool, PoolFull
from visualizer.serving import zerogpu

ZEROGPU = {zerogpu.ZEROGPU_ENV: "true"}
PAGE = 8


def worker_boundary(calls):
    """A stand-in `spaces` module whose GPU decorator copies what crosses the process boundary."""
    def gpu(duration):
        def decorate(function):
            def call(model, *args, **kwargs):  # the weights are shared with the worker, not copied
                calls.append(duration)
                result = function(model, *copy.deepcopy(args), **copy.deepcopy(kwargs))
                return copy.deepcopy(result)
            return call
        return decorate
    return types.SimpleNamespace(GPU=gpu)


@pytest.fixture
def gpu_calls(monkeypatch):
    calls = []
    monkeypatch.setitem(sys.modules, "spaces", worker_boundary(calls))
    return calls


def test_off_zerogpu_the_function_is_left_as_it_is():
    assert not zerogpu.on_zerogpu({}) and zerogpu.on_zerogpu(ZEROGPU)
    assert zerogpu.gpu_forward(device_forward, {}) is device_forward
    assert zerogpu.gpu_call({})(device_forward) is device_forward


@pytest.mark.parametrize("build", [tiny_llama, tiny_qwen3])
def test_steps_through_the_worker_boundary_equal_steps_without_it(build, gpu_calls):
    model, rng = build(), random.Random(1)
    plain = ModelRunner(model, KVPool(model.config, 64, page_size=PAGE))
    wrapped = ModelRunner(model, KVPool(model.config, 64, page_size=PAGE),
                          device_call=zerogpu.gpu_call(ZEROGPU))
    prompts = [[rng.randrange(1, VOCAB) for _ in range(n)] for n in (5, 19, 16)]
    handles = {runner: [runner.pool.new() for _ in prompts] for runner in (plain, wrapped)}
    outputs = {plain: [], wrapped: []}

    def both(call):
        """Run call(runner, its handles) on both runners, keep what each returns."""
        for runner in (plain, wrapped):
            outputs[runner].append(call(runner, handles[runner]))

    for row, ids in enumerate(prompts):  # a prefill chunk, then one on top of it with keep > 1
        both(lambda runner, own: runner.extend(own[row], ids[:-3]))
        both(lambda runner, own: runner.extend(own[row], ids[-3:], keep=3))
    assert len(gpu_calls) == 2 * len(prompts)
    for _ in range(9):  # three rows of different lengths in each step, across page boundaries
        tokens = [rng.randrange(1, VOCAB) for _ in prompts]
        both(lambda runner, own: runner.step(own, tokens))
    assert len(gpu_calls) == 2 * len(prompts) + 9  # one call per multi-row step
    # Fork, undo into the shared page (copy on write), step parent and child: through the boundary too.
    for runner in (plain, wrapped):
        parent = handles[runner][2]
        handles[runner].append(runner.pool.fork(parent))
        runner.pool.truncate(parent, runner.pool.length(parent) - 2)  # 25 -> 23: inside a shared page
    both(lambda runner, own: runner.step([own[2]], [7]))
    assert wrapped.pool.block_table(handles[wrapped][2])[2] != wrapped.pool.block_table(handles[wrapped][3])[2]
    both(lambda runner, own: runner.step([own[3]], [8]))
    for a, b in zip(outputs[plain], outputs[wrapped]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    for a, b in zip(plain.pool.keys + plain.pool.values, wrapped.pool.keys + wrapped.pool.values):
        for p, w in zip(handles[plain], handles[wrapped]):  # the cached K/V themselves agree
            slots_p = plain.pool.write_slots(p, 0, plain.pool.length(p))
            slots_w = wrapped.pool.write_slots(w, 0, wrapped.pool.length(w))
            torch.testing.assert_close(a.flatten(0, 1)[slots_p], b.flatten(0, 1)[slots_w], rtol=0, atol=1e-5)


def test_a_failed_call_leaves_the_pool_as_it_was(gpu_calls):
    model = tiny_llama()
    pool = KVPool(model.config, 4, page_size=PAGE)  # 3 usable pages
    runner = ModelRunner(model, pool, device_call=zerogpu.gpu_call(ZEROGPU))
    handle = pool.new()
    runner.extend(handle, list(range(1, PAGE + 2)))  # 2 pages
    state = (pool.block_table(handle), pool.length(handle), pool.free_pages)
    with pytest.raises(IndexError):
        runner.step([handle], [VOCAB + 1])  # fails inside the worker
    with pytest.raises(PoolFull):
        runner.extend(handle, [1] * (2 * PAGE))  # refused before any call
    assert (pool.block_table(handle), pool.length(handle), pool.free_pages) == state
    assert len(gpu_calls) == 2
