"""Engine benchmark: the KV-cache decoder against the plain ways of running the same model.

Measured in one run on the default model (SmolLM2-135M, float32 on the CPU):
(a) one `Decoder.step` on the KV pool at prompt lengths 64, 512 and 2048 (median of 10 after a
    warm-up), interleaved with the bare pooled forward inside it and a two-row `Lockstep` step,
    next to a full recompute without cache (the notebook's `use_cache=False` loop: `model(input_ids)`
    over the whole sequence, median of 3);
(b) run-to-end tokens/s: `Decoder.start` + `run` of 128 greedy tokens next to
    `model.generate(do_sample=False, max_new_tokens=128)` on the same prompt (two alternating
    rounds, the faster of each);
(c) N sessions stepping together (N = 4, 16, 30; prompts of 64 to 256 tokens, half greedy, half
    sampled): one batched step over all N (`stepper.run_batch`, what the server's scheduler runs:
    picks, one forward pass, records) next to one lone `Decoder.step` and to N lone steps,
    alternating, median of 5.
Prints markdown tables, the targets with PASS/MISS, and the machine. `--quick`: a smaller run.
The allocator runs as in the server (`serving/memory.tune_allocator`), for every side alike.
Run it on a quiet machine: other processes on the cores skew every number.
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from visualizer.engine.decoder import Decoder  # noqa: E402
from visualizer.engine.engine import Engine  # noqa: E402
from visualizer.engine.lockstep import Lockstep  # noqa: E402
from visualizer.engine.models import CACHE_ENV, load_model  # noqa: E402
from visualizer.engine.sampling import SamplingSettings  # noqa: E402
from visualizer.engine.stepper import Advance, run_batch  # noqa: E402
from visualizer.serving.memory import tune_allocator  # noqa: E402

FILLER = "The lighthouse keeper counted the ships that passed, one by one, and wrote each name down. "
STORY = "Write a long, detailed story about a lighthouse keeper who finds a message in a bottle."
STEP_TARGET = 1.5  # step@2048 <= 1.5 x step@64
RUN_TARGET = 0.85  # run-to-end tokens/s >= 0.85 x generate's
SESSIONS_TARGET = 3.0  # one batched step of 30 sessions <= 3 x one lone step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter prompts, fewer repeats, 32 tokens")
    args = parser.parse_args()
    lengths = (64, 512) if args.quick else (64, 512, 2048)
    steps, recomputes, new_tokens, rounds = (5, 2, 32, 1) if args.quick else (10, 3, 128, 2)

    tune_allocator()  # glibc's thresholds as the server sets them: large temporaries are not mapped anew each step
    began, others_before = time.perf_counter(), cpu_seconds_of_others()
    cache_dir = os.environ.get(CACHE_ENV) or ROOT / ".cache" / "models"
    loaded = load_model("smollm2", cache_dir=cache_dir, report=lambda message: None)
    print(machine())
    print(f"model: {loaded.name}, {loaded.dtype} on {loaded.device}\n")

    engine = Engine.create(loaded)
    rows = [step_times(engine, loaded, length, steps, recomputes) for length in lengths]
    print("| prompt tokens | Decoder.step (ms) | its forward (ms) | lockstep step, 2 rows (ms) "
          "| full recompute (ms) | recompute / step |")
    print("|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['length']} | {row['step']:.1f} | {row['forward']:.1f} | {row['lockstep']:.1f} "
              f"| {row['recompute']:.1f} | {row['recompute'] / row['step']:.1f}x |")

    print("\n| sessions stepping together | one lone step (ms) | N lone steps (ms) | one batched step (ms) "
          "| batched / one lone |")
    print("|---:|---:|---:|---:|---:|")
    together = {}
    for sessions in (4, 16) if args.quick else (4, 16, 30):
        one, lone, batched = sessions_together(engine, loaded, sessions, repeats=3 if args.quick else 5)
        together[sessions] = (one, batched)
        print(f"| {sessions} | {one:.0f} | {lone:.0f} | {batched:.0f} | {batched / one:.1f}x |")

    run, generate = run_to_end(engine, loaded, new_tokens, rounds)
    print("\n| run to end (greedy) | tokens | seconds | tokens/s |")
    print("|---|---:|---:|---:|")
    for name, (tokens, seconds) in (("Decoder.start + run", run), ("model.generate(do_sample=False)", generate)):
        print(f"| {name} | {tokens} | {seconds:.2f} | {tokens / seconds:.1f} |")

    print("\n| target | measured | result |")
    print("|---|---|---|")
    first, last = rows[0], rows[-1]
    ratio = last["step"] / first["step"]
    print(f"| step@{last['length']} <= {STEP_TARGET} x step@{first['length']} | "
          f"{last['step']:.1f} ms / {first['step']:.1f} ms = {ratio:.2f}x | {verdict(ratio <= STEP_TARGET)} |")
    run_rate, generate_rate = run[0] / run[1], generate[0] / generate[1]
    share = run_rate / generate_rate
    print(f"| run-to-end >= {RUN_TARGET} x generate tokens/s | "
          f"{run_rate:.1f} / {generate_rate:.1f} = {share:.2f}x | {verdict(share >= RUN_TARGET)} |")
    most = max(together)
    one, batched = together[most]
    print(f"| {most} sessions stepping together <= {SESSIONS_TARGET} x one lone step | "
          f"{batched:.0f} ms / {one:.0f} ms = {batched / one:.2f}x | {verdict(batched <= SESSIONS_TARGET * one)} |")
    wall = time.perf_counter() - began
    others = (cpu_seconds_of_others() - others_before) / (wall * (os.cpu_count() or 1))
    print(f"\ntotal {wall:.0f} s; other processes used {others:.0%} of the CPUs meanwhile")
    if others > 0.10:
        print("warning: the machine was busy during the run: these numbers are not reliable")


def step_times(engine, loaded, length, steps, recomputes):
    """Median ms of a Decoder.step, of its bare pooled forward, of a lockstep step, of a full recompute."""
    ids = prompt_of_length(loaded, length)
    decoder = Decoder(engine, ids, SamplingSettings(), max_new_tokens=2 * steps + 4)
    decoder.branch.eos_ids = frozenset()  # a benchmark runs on, whatever the model would say
    lockstep = Lockstep.greedy_vs_sampled(engine, ids, SamplingSettings.sampled(seed=0), max_new_tokens=steps + 4)
    for branch in lockstep.branches:
        branch.eos_ids = frozenset()
    decoder.start()
    lockstep.start()
    decoder.step()  # warm-up
    lockstep.step()

    def forward():
        with torch.no_grad():
            engine.runner.step([decoder.branch.handle], [decoder.ids[-1]])
        engine.pool.truncate(decoder.branch.handle, len(decoder.ids))
    # Interleaved, so that a burst of load elsewhere hits all three alike.
    actions = {"step": decoder.step, "forward": forward, "lockstep": lockstep.step}
    times = {name: [] for name in actions}
    for _ in range(steps):
        for name, action in actions.items():
            times[name].append(elapsed_ms(action))
    row = {"length": length, **{name: statistics.median(values) for name, values in times.items()}}

    # The notebook's loop without a cache: every new token reads the whole sequence again.
    input_ids = torch.tensor([ids], dtype=torch.long)
    times = []
    for _ in range(recomputes):
        started = time.perf_counter()
        with torch.no_grad():
            logits = loaded.model(input_ids=input_ids, use_cache=False).logits[:, -1, :]
        times.append((time.perf_counter() - started) * 1000.0)
        input_ids = torch.cat([input_ids, logits.argmax(dim=-1, keepdim=True)], dim=1)
    row["recompute"] = statistics.median(times)
    decoder.evict()
    lockstep.evict()
    return row


def sessions_together(engine, loaded, sessions, repeats):
    """Median ms of one lone Decoder.step, of `sessions` lone steps, and of one batched step over them all
    (each rewound after, so every repeat steps the same positions)."""
    decoders = [Decoder(engine, prompt_of_length(loaded, 64 + 192 * i // max(1, sessions - 1)),
                        SamplingSettings.sampled(seed=i) if i % 2 else SamplingSettings(), 8)
                for i in range(sessions)]
    for decoder in decoders:
        decoder.branch.eos_ids = frozenset()
        decoder.start()

    def rewind():
        for decoder in decoders:
            decoder.undo()

    def batched():
        with torch.no_grad():
            run_batch(engine.runner, [Advance(d.branch) for d in decoders])
    one, lone, together = [], [], []
    for _ in range(repeats):  # alternating, so that load elsewhere hits all alike
        one.append(elapsed_ms(decoders[0].step))
        decoders[0].undo()
        lone.append(elapsed_ms(lambda: [d.step() for d in decoders]))
        rewind()
        together.append(elapsed_ms(batched))
        rewind()
    for decoder in decoders:
        decoder.evict()
    return statistics.median(one), statistics.median(lone), statistics.median(together)


def run_to_end(engine, loaded, new_tokens, rounds):
    """(tokens, seconds) for Decoder.start + run and for model.generate, same prompt, greedy;
    the two alternate for `rounds` rounds and each keeps its fastest (the least disturbed)."""
    tokenizer = loaded.tokenizer
    ids = tokenizer.encode(tokenizer.render([{"role": "user", "content": STORY}]))
    input_ids = torch.tensor([ids], dtype=torch.long)
    options = dict(attention_mask=torch.ones_like(input_ids), do_sample=False, max_new_tokens=new_tokens,
                   eos_token_id=list(tokenizer.eos_ids), pad_token_id=tokenizer.eos_ids[0])

    def run():
        decoder = Decoder(engine, ids, SamplingSettings(), max_new_tokens=new_tokens)
        decoder.start()
        made = sum(1 for _ in decoder.run())  # an early eos counts what it made
        decoder.evict()
        return made

    def generate():
        with torch.no_grad():
            return loaded.model.generate(input_ids, **options).shape[1] - len(ids)

    list(Decoder(engine, ids, SamplingSettings(), max_new_tokens=4).run())  # warm-up of both paths
    with torch.no_grad():
        loaded.model.generate(input_ids, **{**options, "max_new_tokens": 4})
    best = {run: None, generate: None}
    for _ in range(rounds):
        for action in best:
            started = time.perf_counter()
            made = action()
            result = (made, time.perf_counter() - started)
            if best[action] is None or result[0] / result[1] > best[action][0] / best[action][1]:
                best[action] = result
    return best[run], best[generate]


def prompt_of_length(loaded, length):
    """Exactly `length` ids: a rendered conversation padded with filler, cut (not a well-formed chat)."""
    tokenizer = loaded.tokenizer
    content = "Summarize this log. " + FILLER * (length // 8 + 8)
    ids = tokenizer.encode(tokenizer.render([{"role": "user", "content": content}]))
    assert len(ids) >= length, (len(ids), length)
    return ids[:length]


def elapsed_ms(action):
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000.0


def machine():
    model_name = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model_name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import transformers

    return (f"machine: {model_name}; {os.cpu_count()} cores; torch {torch.__version__} with "
            f"{torch.get_num_threads()} threads; transformers {transformers.__version__}; "
            f"load average at start {load_average()}")


def cpu_seconds_of_others():
    """CPU seconds the whole machine has spent busy, less this process's own."""
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0
    busy = sum(fields[:8]) - fields[3] - fields[4]  # user..steal, less idle and iowait
    own = os.times()
    return busy / os.sysconf("SC_CLK_TCK") - own.user - own.system


def load_average():
    try:
        return "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "unknown"


def verdict(passed):
    return "PASS" if passed else "MISS"


if __name__ == "__main__":
    main()
