"""Inside-the-step benchmark: the logit lens and the attention of one step, next to the step itself.

On the default model (SmolLM2-135M, float32 on the CPU), for prompts of 64, 512 and 2048 tokens,
the best of `--repeats` after a warm-up (the fastest run: on a shared machine the others measure
its neighbours), each way measured interleaved with the others:
- step: one `Decoder.step` (the pooled forward of one token, sdpa);
- probe, lens + attention: `inspection.inspect` (one eager re-feed of the last id with hidden
  states and attention weights, reduced to top-k and per-head rows) - the way the engine keeps;
- probe, lens only (sdpa, hidden states) and attention only (eager, weights);
- query + cached keys: the other way measured: a sdpa re-feed whose attention function records
  each layer's query and the pool's keys, then softmax(q k^T / sqrt(d) + mask) per layer;
  checked equal to the probe's weights;
- stage view: `stage_view.decoder_stage_view` with every knob on (no forward pass).
Prints a markdown table, the machine and its load average.
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from visualizer.engine.decoder import Decoder  # noqa: E402
from visualizer.engine.engine import Engine  # noqa: E402
from visualizer.engine.inspection import inspect  # noqa: E402
from visualizer.engine.kvpool import TRASH_PAGE  # noqa: E402
from visualizer.engine.page_view import PageView, build_mask  # noqa: E402
from visualizer.engine.models import CACHE_ENV, load_model  # noqa: E402
from visualizer.engine.sampling import SamplingSettings  # noqa: E402
from visualizer.engine.stage_view import decoder_stage_view  # noqa: E402

FILLER = "The lighthouse keeper counted the ships that passed, one by one, and wrote each name down. "
ALL_KNOBS = SamplingSettings.sampled(repetition_penalty=1.2, temperature=0.8, top_k=40, top_p=0.9, min_p=0.05)
_RECORDED = []


def recording_sdpa(module, query, key, value, attention_mask, **kwargs):
    """sdpa, keeping the query and the keys it was given (the pool's pages, gathered)."""
    _RECORDED.append((module, query, key, attention_mask))
    return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)


AttentionInterface.register("recording_sdpa", recording_sdpa)


def query_and_cached_keys(engine, decoder):
    """The second way: capture each layer's query in a sdpa pass, score it against the cached keys."""
    model, pool, branch = engine.loaded.model, engine.pool, decoder.branch
    position, token = len(branch.ids) - 1, branch.ids[-1]
    table = torch.tensor([pool.block_table(branch.handle)])
    view = PageView(pool.keys, pool.values, pool.page_size, torch.tensor([TRASH_PAGE * pool.page_size]), table)
    starts = torch.tensor([position])
    before = model.config._attn_implementation
    _RECORDED.clear()
    model.set_attn_implementation("recording_sdpa")
    try:
        with torch.no_grad():
            model(input_ids=torch.tensor([[token]]), position_ids=starts.view(1, 1),
                  attention_mask=build_mask(starts, 1, view.kv_len, model.dtype), cache=view, use_cache=True,
                  logits_to_keep=1)
    finally:
        model.set_attn_implementation(before)
    rows = []
    for module, query, key, mask in _RECORDED:
        keys = key.repeat_interleave(module.num_key_value_groups, dim=1)
        scores = torch.matmul(query, keys.transpose(2, 3)) * module.scaling + mask
        rows.append(torch.softmax(scores.float(), dim=-1)[0, :, -1, :position + 1])
    return torch.stack(rows)


def timed(function):
    began = time.perf_counter()
    result = function()
    return (time.perf_counter() - began) * 1000.0, result


def measure(engine, tokenizer, length, repeats):
    ids = tokenizer.encode(FILLER * (length // 16 + 1))[:length]
    decoder = Decoder(engine, ids, max_new_tokens=repeats + 4)
    decoder.start()
    ways = {
        "step": lambda: decoder.step(),
        "lens + attention": lambda: inspect(decoder, top=10),
        "lens only": lambda: inspect(decoder, top=10, attention=False),
        "attention only": lambda: inspect(decoder, lens=False),
        "query + cached keys": lambda: engine.turns.call(lambda: query_and_cached_keys(engine, decoder)),
        "stage view": lambda: decoder_stage_view(decoder, ALL_KNOBS),
    }
    for function in ways.values():  # warm-up
        function()
    times = {name: [] for name in ways}
    for _ in range(repeats):
        for name, function in ways.items():
            times[name].append(timed(function)[0])
    probe = inspect(decoder, top=10).probe.attention
    other = engine.turns.call(lambda: query_and_cached_keys(engine, decoder))
    gap = float((probe - other).abs().max())
    return {name: min(values) for name, values in times.items()}, gap


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--lengths", default="64,512,2048")
    args = parser.parse_args()
    cache_dir = os.environ.get(CACHE_ENV) or ROOT / ".cache" / "models"
    loaded = load_model("smollm2", cache_dir=cache_dir, report=lambda message: None)
    engine = Engine.create(loaded)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}; {loaded.name}, {loaded.dtype} "
          f"on {loaded.device}\n")
    rows = [(length, *measure(engine, loaded.tokenizer, length, args.repeats))
            for length in map(int, args.lengths.split(","))]
    names = list(rows[0][1])
    print("| prompt tokens | " + " | ".join(f"{name} (ms)" for name in names) + " | max gap, two ways |")
    print("|---:|" + "---:|" * (len(names) + 1))
    for length, times, gap in rows:
        print(f"| {length} | " + " | ".join(f"{times[name]:.1f}" for name in names) + f" | {gap:.1e} |")


if __name__ == "__main__":
    main()
