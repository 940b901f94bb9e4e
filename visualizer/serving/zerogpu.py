"""Hugging Face ZeroGPU support: run forward passes inside `@spaces.GPU` when on such a Space.

On ZeroGPU the GPU exists only inside functions decorated with `spaces.GPU`, run in a worker
process; caches must live on the CPU between calls. `gpu_forward(function)` wraps the one
forward function of `kvcache.py` so that, there, it moves the cache to the GPU, runs, and
moves it back. Anywhere else (a laptop, a CPU or dedicated-GPU Space) it returns the function
unchanged and the cache stays where the model is.
Several users' steps batched by `kvcache.step_rows` share one GPU call.
What is left out: keeping caches on the GPU between calls (ZeroGPU takes the GPU back after each).
"""

import os

ZEROGPU_ENV = "SPACES_ZERO_GPU"  # set by Hugging Face on ZeroGPU hardware
GPU_CALL_SECONDS = 20  # the longest single call we ask ZeroGPU for (a long prefill)
GPU_DEVICE = "cuda"


def on_zerogpu(environ=os.environ):
    return bool(environ.get(ZEROGPU_ENV))


def gpu_forward(function, environ=os.environ, device=GPU_DEVICE):
    """function(model, input_ids, cache, **tensor_inputs) -> logits; wrapped for ZeroGPU, else unchanged.
    `device` is where the call runs (tests emulate the worker on the CPU)."""
    if not on_zerogpu(environ):
        return function
    import spaces  # present on Spaces; only imported there

    @spaces.GPU(duration=GPU_CALL_SECONDS)
    def on_gpu(model, input_ids, cache, **inputs):
        _move_cache(cache, device)
        logits = function(model, input_ids.to(device), cache, **{name: t.to(device) for name, t in inputs.items()})
        _move_cache(cache, "cpu")
        # The call may run in another process: hand the grown cache back explicitly.
        return logits, cache

    def forward(model, input_ids, cache, **inputs):
        logits, grown = on_gpu(model, input_ids, cache, **inputs)
        cache.layers = grown.layers
        return logits

    return forward


def _move_cache(cache, device):
    for layer in cache.layers:
        if getattr(layer, "keys", None) is not None:
            layer.keys, layer.values = layer.keys.to(device), layer.values.to(device)
