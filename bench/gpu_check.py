"""GPU check for a lent GPU machine (no hub there): the notebook's model shape with random weights.

Builds `Qwen3ForCausalLM` from Qwen3-4B's public config with random bfloat16 weights (the cost of
Qwen/Qwen3-4B-Thinking-2507) and measures, in one run, every row of the GPU issue's table:
  1. the bare forward: a lone DynamicCache eager step (the old path) and the pooled step, eager and
     replayed from its CUDA graph, at 2048 tokens of context;
  2. `Decoder.step` at 64 / 512 / 2048 / 8192 tokens (pool, CUDA graphs, batched device records);
  3. GPU kernel time inside one step (torch.profiler);
  4. run to end, 128 greedy tokens: `Decoder.run` next to `generate` eager and `generate` with a
     static cache (torch.compile + CUDA graphs; its first call, the compile, timed apart);
  5. 30 sessions at 2048 tokens stepping at once through the server's scheduler, batched and one
     at a time: p50 / p95 step latency, tokens/s in all, rows per pass; and inside one 30-row pass
     the forward alone next to the whole batched step;
  6. correctness: batched probabilities equal lone ones (bf16 within 1e-3), greedy tokens equal a
     plain full forward's argmax at every step.
Prints a markdown table naming the card, with the targets; writes the numbers to $OUT/gpu.json.
`--tiny` smoke-tests the script on the CPU (a 2-layer model: its numbers mean nothing).
What is left out: real weights (only times and equalities mean something), several GPUs.
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from visualizer.engine.decoder import Decoder  # noqa: E402
from visualizer.engine.engine import Engine  # noqa: E402
from visualizer.engine.models import LoadedModel  # noqa: E402
from visualizer.engine.qwen_offline import load_qwen_offline  # noqa: E402
from visualizer.engine.sampling import SamplingSettings  # noqa: E402
from visualizer.engine.stepper import Advance, run_batch  # noqa: E402
from visualizer.serving.scheduler import Scheduler  # noqa: E402

from gpu_common import QWEN3_4B, TINY, build, sync, timed  # noqa: E402
from gpu_profile import breakdown, profile_ops  # noqa: E402

SAMPLED = SamplingSettings.sampled(seed=1, temperature=0.7, top_k=50, top_p=0.95)
RESULTS = {}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiny", action="store_true", help="a tiny model on the CPU (smoke test)")
    parser.add_argument("--budget", type=float, default=420, help="seconds; later sections are skipped past it")
    args = parser.parse_args()
    device = "cpu" if args.tiny or not torch.cuda.is_available() else "cuda"
    began = time.perf_counter()
    loaded = build_loaded(TINY if args.tiny else QWEN3_4B, device)
    card = torch.cuda.get_device_name(0) if device == "cuda" else "CPU (smoke test)"
    RESULTS["card"] = card
    engine = Engine.create(loaded, (2 if args.tiny else 16) * 2**30, graphs=device == "cuda")
    print(f"# {card}: Qwen3-4B shape ({loaded.model.config.num_hidden_layers} layers), random "
          f"{loaded.model.dtype}, torch {torch.__version__}\n", flush=True)
    sections = [("bare forward", bare_forward), ("decoder steps", decoder_steps), ("where time goes", where_time_goes),
                ("kernels", kernel_time),
                ("run to end", run_to_end), ("30 sessions", thirty_sessions), ("correctness", correctness),
                ("generate static", generate_static)]
    for name, section in sections:
        if time.perf_counter() - began > args.budget:
            print(f"- {name}: skipped (past the {args.budget:.0f} s budget)", flush=True)
            continue
        try:
            section(engine, loaded, device)
        except Exception as error:  # noqa: BLE001 - report and go on: one run must give every figure it can
            print(f"- {name}: FAILED {type(error).__name__}: {error}", flush=True)
            RESULTS[name] = f"failed: {error}"
        save()
    report(device)
    RESULTS["seconds"] = time.perf_counter() - began
    save()


def build_loaded(config_values, device):
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = build(config_values, device, dtype)
    return LoadedModel("qwen3-4b-random", "Qwen3-4B shape, random weights", load_qwen_offline(), model, device,
                       str(dtype).removeprefix("torch."), 40960)


def prompt(length, salt=0):
    return [(i * 7919 + salt * 104729) % 150000 + 10 for i in range(length)]


def capture_all(engine):
    while engine.runner.capture_pending():
        pass


def bare_forward(engine, loaded, device):
    from transformers import DynamicCache

    model, ids = loaded.model, prompt(2047)
    cache = DynamicCache(config=model.config)
    with torch.no_grad():
        model(input_ids=torch.tensor([ids], device=device), cache=cache, use_cache=True, logits_to_keep=1)

    def lone_step():
        with torch.no_grad():
            model(input_ids=torch.tensor([[5]], device=device), cache=cache, use_cache=True, logits_to_keep=1)
        cache.crop(-1)
    RESULTS["dynamic_cache_step_2048_ms"] = timed(lone_step, device)
    decoder = Decoder(engine, ids, max_new_tokens=64)
    decoder.start()
    runner, handle = engine.runner, decoder.branch.handle

    def pooled(graphs):
        def one():
            runner.graphs = graphs
            runner.step([handle], [5])
            engine.pool.truncate(handle, 2047)
        return one
    RESULTS["pool_step_eager_2048_ms"] = timed(pooled(False), device)
    runner.graphs = device == "cuda"
    pooled(runner.graphs)()  # queue its bucket
    capture_all(engine)
    RESULTS["pool_step_graph_2048_ms"] = timed(pooled(runner.graphs), device)
    decoder.evict()
    print(f"- bare forward @2048: DynamicCache eager {RESULTS['dynamic_cache_step_2048_ms']:.1f} ms, pooled eager "
          f"{RESULTS['pool_step_eager_2048_ms']:.1f} ms, pooled graph {RESULTS['pool_step_graph_2048_ms']:.1f} ms",
          flush=True)


def decoder_steps(engine, loaded, device):
    for length in (64, 512, 2048, 8192):
        decoder = Decoder(engine, prompt(length), SAMPLED, max_new_tokens=40)
        decoder.start()
        decoder.step()
        capture_all(engine)
        RESULTS[f"decoder_step_{length}_ms"] = timed(decoder.step, device, repeats=12)
        decoder.evict()
    print("- Decoder.step: " + ", ".join(f"@{n} {RESULTS[f'decoder_step_{n}_ms']:.1f} ms" for n in (64, 512, 2048, 8192)),
          flush=True)


def where_time_goes(engine, loaded, device):
    """Stage by stage for 1 row and for 30 rows at 2048 tokens, then the host operations that cost most."""
    one = Decoder(engine, prompt(2047), SAMPLED, max_new_tokens=40)
    many = [Decoder(engine, prompt(2047, salt=i), SAMPLED if i % 2 else None, 40) for i in range(30)]
    for decoder in [one] + many:
        decoder.start()
        decoder.step()
    with torch.no_grad():
        run_batch(engine.runner, [Advance(d.branch) for d in many])
    capture_all(engine)
    for name, branches in (("1 row", [one.branch]), ("30 rows", [d.branch for d in many])):
        stages = breakdown(engine, branches)
        RESULTS[f"breakdown {name}"] = stages
        print(f"- {name} @2048, stage by stage (ms): " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()), flush=True)
    out = os.environ.get("OUT")

    def batched_steps():
        with torch.no_grad():
            for _ in range(2):
                run_batch(engine.runner, [Advance(d.branch) for d in many])
    profile_ops(lambda: [one.step() for _ in range(3)], out and Path(out, "trace_one_row.json"))
    profile_ops(batched_steps, out and Path(out, "trace_30_rows.json"))
    for decoder in [one] + many:
        decoder.evict()


def kernel_time(engine, loaded, device):
    if device != "cuda":
        return
    from torch.profiler import ProfilerActivity, profile

    decoder = Decoder(engine, prompt(2048), SAMPLED, max_new_tokens=40)
    decoder.start()
    for _ in range(3):
        decoder.step()
    sync(device)
    with profile(activities=[ProfilerActivity.CUDA]) as profiler:
        for _ in range(5):
            decoder.step()
        sync(device)
    kernels = sum(event.self_device_time_total for event in profiler.key_averages()) / 1000 / 5
    RESULTS["kernel_ms_per_step_2048"] = kernels
    decoder.evict()
    print(f"- GPU kernel time inside one Decoder.step @2048: {kernels:.1f} ms", flush=True)


def run_to_end(engine, loaded, device, tokens=128):
    ids = prompt(64)
    decoder = Decoder(engine, ids, max_new_tokens=tokens)
    decoder.start()
    list(decoder.run(4))
    decoder.reset()
    sync(device)
    started = time.perf_counter()
    made = len(list(decoder.run()))
    sync(device)
    RESULTS["run_to_end_tok_s"] = made / (time.perf_counter() - started)
    decoder.evict()
    RESULTS["generate_eager_tok_s"] = generate_rate(loaded, ids, tokens, device)
    print(f"- run to end: Decoder.run {RESULTS['run_to_end_tok_s']:.1f} tok/s, generate eager "
          f"{RESULTS['generate_eager_tok_s']:.1f} tok/s", flush=True)


def generate_rate(loaded, ids, tokens, device, **options):
    input_ids = torch.tensor([ids], device=device)
    kwargs = dict(max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False, pad_token_id=0,
                  attention_mask=torch.ones_like(input_ids), **options)
    with torch.no_grad():
        sync(device)
        started = time.perf_counter()
        loaded.model.generate(input_ids, **kwargs)
        sync(device)
        first = time.perf_counter() - started
        started = time.perf_counter()
        loaded.model.generate(input_ids, **kwargs)
        sync(device)
    RESULTS.setdefault("generate_first_call_s", {})[options.get("cache_implementation", "dynamic")] = first
    return tokens / (time.perf_counter() - started)


def generate_static(engine, loaded, device):
    RESULTS["generate_static_tok_s"] = generate_rate(loaded, prompt(64), 128, device, cache_implementation="static")
    print(f"- generate static+compile: {RESULTS['generate_static_tok_s']:.1f} tok/s (first call "
          f"{RESULTS['generate_first_call_s']['static']:.0f} s)", flush=True)


def thirty_sessions(engine, loaded, device, sessions=30, steps=10):
    for label, max_batch in (("batched", 32), ("one_at_a_time", 1)):
        scheduler = Scheduler(engine.runner, max_batch=max_batch, chunk=512)
        served = Engine(loaded, engine.runner, scheduler)
        decoders = [Decoder(served, prompt(2047, salt=i), SAMPLED if i % 2 else None, steps + 2)
                    for i in range(sessions)]
        for decoder in decoders:
            decoder.start()
        latencies = []

        def attendee(decoder, count):
            for _ in range(count):
                began = time.perf_counter()
                decoder.step()
                latencies.append((time.perf_counter() - began) * 1000)

        def round_of(count):
            threads = [threading.Thread(target=attendee, args=(d, count)) for d in decoders]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        round_of(1)  # queues the buckets this load hits; the model thread captures them when idle
        while engine.runner.graph_progress()[0] < engine.runner.graph_progress()[1]:
            time.sleep(0.2)
        latencies.clear()
        before, started = scheduler.stats(), time.perf_counter()
        round_of(steps)
        wall = time.perf_counter() - started
        after = scheduler.stats()
        ordered = sorted(latencies)
        RESULTS[f"sessions_{label}"] = {
            "p50_ms": statistics.median(ordered), "p95_ms": ordered[int(0.95 * (len(ordered) - 1))],
            "tok_s": len(ordered) / wall,
            "rows_per_pass": (after["batched_steps"] - before["batched_steps"]) / max(1, after["batches"] - before["batches"])}
        if label == "batched":
            inside_one_pass(engine, decoders, device)
        for decoder in decoders:
            decoder.evict()
        scheduler.close()
        figures = RESULTS[f"sessions_{label}"]
        print(f"- 30 sessions @2048, {label}: p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms, "
              f"{figures['tok_s']:.0f} tok/s, {figures['rows_per_pass']:.1f} rows per pass", flush=True)


def inside_one_pass(engine, decoders, device):
    """One 30-row batched step, and its forward pass alone, on the same rows."""
    branches = [d.branch for d in decoders]

    def whole():
        with torch.no_grad():
            run_batch(engine.runner, [Advance(b) for b in branches])
        for branch in branches:
            branch.pop()
            engine.pool.truncate(branch.handle, len(branch.ids))

    def forward_only():
        with torch.no_grad():
            engine.runner.step([b.handle for b in branches], [5] * len(branches))
        for branch in branches:
            engine.pool.truncate(branch.handle, len(branch.ids))
    RESULTS["batched_step_30_ms"] = timed(whole, device)
    RESULTS["batched_forward_30_ms"] = timed(forward_only, device)
    print(f"- one 30-row pass: whole batched step {RESULTS['batched_step_30_ms']:.1f} ms, its forward alone "
          f"{RESULTS['batched_forward_30_ms']:.1f} ms", flush=True)


def correctness(engine, loaded, device):
    prompts = [prompt(60 + 13 * i, salt=i) for i in range(4)]
    batched = [Decoder(engine, p, SAMPLED if i % 2 else None, 12) for i, p in enumerate(prompts)]
    alone = [Decoder(engine, p, SAMPLED if i % 2 else None, 12) for i, p in enumerate(prompts)]
    worst = 0.0
    for decoder in batched:
        decoder.start()
    for _ in range(8):
        with torch.no_grad():
            records = run_batch(engine.runner, [Advance(d.branch) for d in batched])
        for record, decoder in zip(records, alone):
            lone = decoder.step()
            worst = max(worst, abs(record.prob - lone.prob), abs(record.raw_prob - lone.raw_prob))
    RESULTS["batched_vs_lone_max_prob_diff"] = worst
    greedy = Decoder(engine, prompts[0], None, 16)
    agree, ties = 0, 0
    for _ in range(16):
        greedy.start()
        pooled = greedy.branch.logits.clone()
        record = greedy.step()
        with torch.no_grad():
            full = loaded.model(torch.tensor([greedy.ids[:-1]], device=device)).logits[0, -1].float()
        if int(torch.argmax(full)) == record.id:
            agree += 1
        else:  # a near tie: the two tokens' logits closer than the two paths' rounding differences
            gap = abs(float(full[record.id] - full.max()))
            ties += gap <= 2 * float((full - pooled).abs().max())
    RESULTS["greedy_equals_full_forward"] = f"{agree}/16" + (f" ({ties} near ties)" if ties else "")
    for decoder in batched + alone + [greedy]:
        decoder.evict()
    print(f"- batched vs lone: max prob diff {worst:.2e}; greedy = full-forward argmax at {agree}/16 steps", flush=True)


def report(device):
    r = RESULTS
    get = lambda key, default=float("nan"): r.get(key, default) if isinstance(r.get(key), (int, float)) else default  # noqa: E731
    batched = r.get("sessions_batched") if isinstance(r.get("sessions_batched"), dict) else {}
    alone = r.get("sessions_one_at_a_time") if isinstance(r.get("sessions_one_at_a_time"), dict) else {}
    step = get("decoder_step_2048_ms")
    rows = [
        ("DynamicCache eager step @2048 (old path's forward)", f"{get('dynamic_cache_step_2048_ms'):.1f} ms", ""),
        ("pooled step @2048: eager / CUDA graph", f"{get('pool_step_eager_2048_ms'):.1f} / {get('pool_step_graph_2048_ms'):.1f} ms", ""),
        ("Decoder.step @64 / 512 / 2048 / 8192", " / ".join(f"{get(f'decoder_step_{n}_ms'):.1f}" for n in (64, 512, 2048, 8192)) + " ms",
         f"@2048 <= 10 ms: {verdict(step <= 10)}; {step / get('pool_step_graph_2048_ms'):.2f}x bare forward (<= 1.15: "
         f"{verdict(step <= 1.15 * get('pool_step_graph_2048_ms'))})"),
        ("GPU kernel time in one step @2048", f"{get('kernel_ms_per_step_2048'):.1f} ms", ""),
        ("run to end, 128 greedy tokens", f"{get('run_to_end_tok_s'):.1f} tok/s",
         f"{get('run_to_end_tok_s') / get('generate_static_tok_s'):.2f}x generate static (>= 0.9: "
         f"{verdict(get('run_to_end_tok_s') >= 0.9 * get('generate_static_tok_s'))})"),
        ("generate eager / static+compile", f"{get('generate_eager_tok_s'):.1f} / {get('generate_static_tok_s'):.1f} tok/s", ""),
        ("30 sessions @2048 batched: p50 / p95, tok/s, rows/pass",
         f"{batched.get('p50_ms', float('nan')):.0f} / {batched.get('p95_ms', float('nan')):.0f} ms, "
         f"{batched.get('tok_s', float('nan')):.0f} tok/s, {batched.get('rows_per_pass', float('nan')):.1f}",
         f"p95 <= 60: {verdict(batched.get('p95_ms', 1e9) <= 60)}; >= 1000 tok/s: {verdict(batched.get('tok_s', 0) >= 1000)}"),
        ("30 sessions one at a time: p50 / p95, tok/s",
         f"{alone.get('p50_ms', float('nan')):.0f} / {alone.get('p95_ms', float('nan')):.0f} ms, {alone.get('tok_s', float('nan')):.0f} tok/s", ""),
        ("one 30-row batched step / its forward", f"{get('batched_step_30_ms'):.1f} / {get('batched_forward_30_ms'):.1f} ms",
         f"<= 25 ms: {verdict(get('batched_step_30_ms') <= 25)}"),
        ("batched vs lone max prob diff", f"{get('batched_vs_lone_max_prob_diff'):.1e}",
         f"<= 1e-3: {verdict(get('batched_vs_lone_max_prob_diff') <= 1e-3)}"),
        ("greedy = full forward argmax", str(r.get("greedy_equals_full_forward")), ""),
    ]
    print(f"\n| measure ({r['card']}) | value | target |\n|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if device == "cuda":
        print(f"\npeak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")


def verdict(ok):
    return "PASS" if ok else "MISS"


def save():
    out = os.environ.get("OUT")
    if out:
        Path(out, "gpu.json").write_text(json.dumps(RESULTS, indent=1, default=str))


if __name__ == "__main__":
    main()
