"""The ZeroGPU wrapper, emulated on the CPU with the real model.

On a ZeroGPU Space each `@spaces.GPU` call runs in a worker process: arguments are copied in
and results copied out, so a cache that grew only inside the call is lost unless the wrapper
hands it back. The stand-in `spaces` module here (the real one needs Hugging Face's hardware)
copies the same way and counts calls; the wrapped forward runs on the CPU. Decoding through it
must equal decoding without it, and steps batched across users must share one call.
What is left out: real ZeroGPU hardware, its time quotas and its queue (see the README).
"""

import copy
import sys
import types

import pytest
import torch
from threads import queued_together

from visualizer.engine import kvcache
from visualizer.serving import zerogpu
from visualizer.engine.decoder import Decoder
from visualizer.serving.forward_queue import ForwardQueue
from visualizer.engine.sampling import SamplingSettings

TEXTS = ("The capital of France is", "Once upon a time, in a small village by the sea, there lived",
         "Write a haiku about tea:")
ZEROGPU = {zerogpu.ZEROGPU_ENV: "true"}


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
    monkeypatch.setattr(kvcache, "_forward", zerogpu.gpu_forward(kvcache._forward_here, ZEROGPU, device="cpu"))
    return calls


def test_off_zerogpu_the_forward_is_left_as_it_is():
    assert not zerogpu.on_zerogpu({}) and zerogpu.on_zerogpu(ZEROGPU)
    assert zerogpu.gpu_forward(kvcache._forward_here, {}) is kvcache._forward_here


def test_decoding_through_the_worker_boundary_equals_decoding_without_it(loaded, gpu_calls, monkeypatch):
    ids = loaded.tokenizer.encode(TEXTS[1])
    settings = SamplingSettings(temperature=0.8, top_k=50, seed=5)
    wrapped = Decoder(loaded, ids, settings)
    wrapped.start()
    taken = [wrapped.step().id for _ in range(6)]
    wrapped.undo()
    assert gpu_calls == [zerogpu.GPU_CALL_SECONDS] * 8  # prefill, six steps, the undo's re-feed
    assert kvcache.length(wrapped.cache) == len(ids) + 5
    monkeypatch.setattr(kvcache, "_forward", kvcache._forward_here)  # the same, without the boundary
    alone = Decoder(loaded, ids, settings)
    alone.start()
    assert [alone.step().id for _ in range(6)] == taken
    alone.undo()
    torch.testing.assert_close(wrapped.next_logits, alone.next_logits)


def test_steps_batched_across_users_share_one_gpu_call(loaded, gpu_calls):
    queue = ForwardQueue()
    decoders = [Decoder(loaded, loaded.tokenizer.encode(text), forwards=queue) for text in TEXTS]
    for decoder in decoders:
        decoder.start()
    lone = [kvcache.fork(decoder.cache) for decoder in decoders]
    before = len(gpu_calls)
    queued_together(queue, [decoder.step for decoder in decoders])  # all three wait, then one pass
    assert len(gpu_calls) == before + 1 and queue.stats()["batched_steps"] == len(decoders)
    assert all(decoder.records[-1].batch_rows == len(decoders) for decoder in decoders)
    for decoder, cache in zip(decoders, lone):
        expected = kvcache.step(loaded.model, cache, [decoder.branch.generated[-1]])[0]
        torch.testing.assert_close(decoder.next_logits, expected, rtol=1e-4, atol=2e-4)
        assert kvcache.length(decoder.cache) == kvcache.length(cache)
