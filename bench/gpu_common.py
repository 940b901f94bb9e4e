"""What the GPU checks share: Qwen3-4B's shape, a random-weight model built in place, and timing.

`build(config, device, dtype)` makes a `Qwen3ForCausalLM` initialised directly in `dtype` on
`device` (no float32 copy of 4B weights); `timed(function, device)` is the median of synced calls.
What is left out: real weights (there is no model hub on the GPU machine).
"""

import statistics
import time

import torch

# Qwen3-4B's public config (the notebook's Qwen3-4B-Thinking-2507 has the same shapes).
QWEN3_4B = dict(hidden_size=2560, intermediate_size=9728, num_hidden_layers=36, num_attention_heads=32,
                num_key_value_heads=8, head_dim=128, vocab_size=151936, max_position_embeddings=40960,
                rope_theta=1_000_000.0, tie_word_embeddings=True, rms_norm_eps=1e-6)
TINY = dict(QWEN3_4B, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=16)


def build(config_values, device, dtype):
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = Qwen3ForCausalLM(Qwen3Config(**config_values)).eval()
    finally:
        torch.set_default_dtype(default)
    model.set_attn_implementation("sdpa")
    return model


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timed(function, device, repeats=10):
    """Median milliseconds of `function()` (after one warm-up call), the device synced around each."""
    function()
    times = []
    for _ in range(repeats):
        sync(device)
        started = time.perf_counter()
        function()
        sync(device)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)
