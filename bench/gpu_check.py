"""GPU check for a lent GPU machine (no hub access there): the notebook's model shape, random weights.

Builds `Qwen3ForCausalLM` from Qwen3-4B's public config with random bfloat16 weights (same
shapes and cost as Qwen/Qwen3-4B-Thinking-2507) and measures, in one run:
  1. step time with KV cache at 64 and 2048 tokens of context;
  2. greedy-vs-sampled in lockstep (one batched forward per step) vs two separate decoders;
  3. 30 sessions stepping at once (threads through one shared ForwardQueue), p50/p95/max step
     latency, with steps batched across sessions and one at a time (max_batch=1).
Prints a markdown table naming the card. `--tiny` runs a tiny config on the CPU (a smoke test).
What is left out: real weights (outputs are meaningless; only timing is measured).
"""

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from visualizer.engine.decoder import Decoder  # noqa: E402
from visualizer.serving.forward_queue import ForwardQueue  # noqa: E402
from visualizer.engine.lockstep import Lockstep  # noqa: E402
from visualizer.engine.qwen_offline import load_qwen_offline  # noqa: E402
from visualizer.engine.sampling import SamplingSettings  # noqa: E402

QWEN3_4B = dict(hidden_size=2560, intermediate_size=9728, num_hidden_layers=36, num_attention_heads=32,
                num_key_value_heads=8, head_dim=128, vocab_size=151936, max_position_embeddings=40960,
                rope_theta=1_000_000.0, tie_word_embeddings=True, rms_norm_eps=1e-6)
TINY = dict(QWEN3_4B, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=16)
SAMPLED = SamplingSettings(temperature=0.7, top_k=50, top_p=0.95, seed=1)


def build(config_values, device, dtype):
    from transformers import Qwen3Config, Qwen3ForCausalLM

    with torch.device(device):
        model = Qwen3ForCausalLM(Qwen3Config(**config_values)).to(dtype).eval()
    tokenizer = load_qwen_offline()
    return SimpleNamespace(model=model, tokenizer=tokenizer, name="Qwen3-4B shape, random bf16", has_weights=True,
                           vocab_size=config_values["vocab_size"], context_length=40960, note="")


def prompt(length):
    return [(i * 7919) % 150000 for i in range(length)]


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def step_ms(loaded, length, device, steps=8):
    decoder = Decoder(loaded, prompt(length), max_new_tokens=steps + 2)
    decoder.start()
    decoder.step()  # warm-up
    times = []
    for _ in range(steps):
        sync(device)
        started = time.perf_counter()
        decoder.step()
        sync(device)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def lockstep_vs_separate(loaded, device, steps=16):
    lockstep = Lockstep(loaded, prompt(64), SAMPLED, max_new_tokens=steps + 1)
    lockstep.start()
    sync(device)
    started = time.perf_counter()
    for _ in range(steps):
        lockstep.step()
    sync(device)
    batched = (time.perf_counter() - started) * 1000 / steps
    decoders = [Decoder(loaded, prompt(64), SamplingSettings(), steps + 1), Decoder(loaded, prompt(64), SAMPLED, steps + 1)]
    for decoder in decoders:
        decoder.start()
    sync(device)
    started = time.perf_counter()
    for _ in range(steps):
        for decoder in decoders:
            decoder.step()
    sync(device)
    return batched, (time.perf_counter() - started) * 1000 / steps


def many_sessions(loaded, sessions, steps, max_batch):
    queue, latencies = ForwardQueue(max_batch), []
    decoders = [Decoder(loaded, prompt(64 + i), max_new_tokens=steps + 1, forwards=queue) for i in range(sessions)]
    for decoder in decoders:
        decoder.start()

    def attendee(decoder):
        for _ in range(steps):
            started = time.perf_counter()
            decoder.step()
            latencies.append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=attendee, args=(d,)) for d in decoders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ordered = sorted(latencies)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))], ordered[-1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiny", action="store_true", help="tiny model on the CPU (smoke test)")
    args = parser.parse_args()
    device = "cpu" if args.tiny or not torch.cuda.is_available() else "cuda"
    card = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    loaded = build(TINY if args.tiny else QWEN3_4B, device, torch.float32 if args.tiny else torch.bfloat16)
    at64, at2048 = step_ms(loaded, 64, device), step_ms(loaded, 2048, device)
    batched, separate = lockstep_vs_separate(loaded, device)
    steps = 3 if args.tiny else 10
    one_by_one = many_sessions(loaded, sessions=30, steps=steps, max_batch=1)
    batched_sessions = many_sessions(loaded, sessions=30, steps=steps, max_batch=30)
    print(f"| measure ({card}, {'tiny' if args.tiny else 'Qwen3-4B shape, bf16'}) | value |\n|---|---|")
    print(f"| step @64 ctx | {at64:.1f} ms |\n| step @2048 ctx | {at2048:.1f} ms (x{at2048 / at64:.2f}) |")
    print(f"| lockstep greedy+sampled, per step | {batched:.1f} ms |")
    print(f"| two separate decoders, per step pair | {separate:.1f} ms (x{separate / batched:.2f}) |")
    for label, (p50, p95, worst) in (("one at a time", one_by_one), ("batched", batched_sessions)):
        print(f"| 30 sessions stepping at once, {label}: p50 / p95 / max | {p50:.0f} / {p95:.0f} / {worst:.0f} ms |")


if __name__ == "__main__":
    main()
