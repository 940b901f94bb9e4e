"""Hugging Face ZeroGPU support: run forward passes inside `@spaces.GPU` when on such a Space.

On ZeroGPU the GPU exists only inside functions decorated with `spaces.GPU`, run in a worker
process: arguments are copied in, results copied out, and nothing the function mutates is seen by
the caller. So the KV pool lives on the CPU and the engine's forward there is a pure function
(`visualizer.engine.forward.device_forward`: the rows' pages in, logits and the new K/V out).
`gpu_forward(function)` wraps such a function in `@spaces.GPU`; `gpu_call()` is the `device_call`
the serving layer hands to the engine's runner:

    runner = ModelRunner(model, pool, device_call=gpu_call() if on_zerogpu() else None)

Anywhere else (a laptop, a CPU or dedicated-GPU Space) `gpu_forward` returns the function unchanged,
and the runner is built without a device_call, so the pool stays on the model's device.
Several users' steps batched into one runner step share one GPU call.
What is left out: keeping KV pages on the GPU between calls (ZeroGPU takes the GPU back after each).
"""

import os

ZEROGPU_ENV = "SPACES_ZERO_GPU"  # set by Hugging Face on ZeroGPU hardware
GPU_CALL_SECONDS = 20  # the longest single call we ask ZeroGPU for (a long prefill chunk)


def on_zerogpu(environ=os.environ):
    return bool(environ.get(ZEROGPU_ENV))


def gpu_forward(function, environ=os.environ):
    """A pure function(model, ...) -> the same, run inside `@spaces.GPU` on ZeroGPU; else unchanged."""
    if not on_zerogpu(environ):
        return function
    import spaces  # present on Spaces; only imported there

    return spaces.GPU(duration=GPU_CALL_SECONDS)(function)


def gpu_call(environ=os.environ):
    """The runner's device_call: function -> gpu_forward(function)."""
    return lambda function: gpu_forward(function, environ)
