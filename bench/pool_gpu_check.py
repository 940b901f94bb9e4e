"""GPU check of the paged KV pool and its runner, for a lent GPU machine (no hub access there).

`check(model, device)` on one prompt of 2047 tokens forked into 32 rows (full pages shared):
  a. a pooled 32-row step, and a graph replay, run under torch.cuda.set_sync_debug_mode("error");
  b. CUDA graphs captured for the buckets seen (1, 4 and 32 rows) replay what the eager path gives
     (bf16: max |diff| and argmax, near ties aside), and a pooled row equals a lone DynamicCache row;
  c. step times at 2048 keys per row (2047 cached + 1 new): graph replay for 1 and 30 rows, the eager
     pooled step for 1 and 30 rows, one lone DynamicCache step; a markdown table naming the card.
Run: `python bench/pool_gpu_check.py` (Qwen3-4B's shapes, random bf16, about
9 GB of weights); `--cpu --tiny` is a CPU smoke test, where the graph capture is replaced by rerunning
the static step (the same code path without the graph). Needs transformers >= 5.24 (forward's `cache=`).
What is left out: real weights (only equalities and times mean something), multi-GPU models.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import transformers

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gpu_common import QWEN3_4B, TINY, build, sync, timed  # noqa: E402
from visualizer.engine.forward import ModelRunner  # noqa: E402
from visualizer.engine.graphs import StaticStep, StepGraphs  # noqa: E402
from visualizer.engine.kvpool import KVPool  # noqa: E402

CONTEXT = 2047  # cached tokens per row; the step's new token makes 2048 keys = 128 pages of 16
ROWS = 32
TIMED_ROWS = 30
BF16_TOLERANCE = 0.1  # max |logit diff| allowed between two paths (random-weight logits have std ~1)


class EagerGraph:
    """On the CPU, where nothing can be captured: replay reruns the static step into its output."""

    def __init__(self, static, model):
        self.static, self.model = static, model
        self.logits = static.run(model)

    def replay(self):
        self.logits.copy_(self.static.run(self.model))


@torch.no_grad()
def capture_on_cpu(self, rows, pages):
    static = StaticStep(self.pool, rows, pages)
    graph = EagerGraph(static, self.model)
    return static, graph, graph.logits


def compare(name, expected, got, failures):
    """Max |diff| and argmax agreement (rows whose top two logits are closer than the diff are ties)."""
    diff = (expected - got).abs().max().item()
    top = expected.topk(2, dim=-1).values
    decided = (top[:, 0] - top[:, 1]) > 2 * diff
    same = (expected.argmax(-1) == got.argmax(-1)) | ~decided
    ok = diff <= BF16_TOLERANCE and bool(same.all())
    print(f"- {name}: max |diff| {diff:.3e}, argmax equal {int(same.sum())}/{len(same)} -> {'ok' if ok else 'FAIL'}")
    if not ok:
        failures.append(name)


def check(model, device):
    device = torch.device(device)
    vocab, failures = model.config.vocab_size, []
    pool = KVPool(model.config, num_pages=2 * (CONTEXT // 16 + 1) + ROWS + 16, page_size=16,
                  dtype=model.dtype, device=device)
    runner = ModelRunner(model, pool, graphs=True, max_batch=ROWS)
    if device.type != "cuda":  # the graph path without capture (see EagerGraph)
        StepGraphs._capture = capture_on_cpu
        runner.graphs, runner._graphs = True, StepGraphs(model, pool, ROWS)
    generator = torch.Generator().manual_seed(0)
    prompt = torch.randint(1, vocab, (CONTEXT,), generator=generator).tolist()
    first = pool.new()
    for begin in range(0, CONTEXT, 512):
        runner.extend(first, prompt[begin:begin + 512])
    rows = [first] + [pool.fork(first) for _ in range(ROWS - 1)]
    short = [pool.new() for _ in range(3)]
    for handle, n in zip(short, (20, 37, 50)):
        runner.extend(handle, prompt[:n])
    lone = transformers.DynamicCache(config=model.config)
    with torch.no_grad():
        model(input_ids=torch.tensor([prompt], device=device), cache=lone, use_cache=True, logits_to_keep=1)

    def step(handles, tokens, graphs):
        runner.graphs = graphs
        logits = runner.step(handles, tokens)
        for handle in handles:
            pool.truncate(handle, pool.length(handle) - 1)
        return logits

    def tokens_for(count):
        return torch.randint(1, vocab, (count,), generator=generator).to(device)

    print(f"## pooled KV check on {torch.cuda.get_device_name() if device.type == 'cuda' else 'CPU'}, "
          f"{model.config.num_hidden_layers} layers, {model.dtype}, transformers {transformers.__version__}\n")
    # a. no host sync inside a pooled step (eager now: nothing is captured yet)
    tokens = tokens_for(ROWS)  # made before: a copy from pageable host memory is a sync
    without_sync("a. eager pooled 32-row step", lambda: step(rows, tokens, graphs=True), device, failures)

    # b. capture the buckets seen (a step queues its bucket first), then replay == eager
    cases = [("1 row", rows[:1]), ("3 short rows", short), (f"{TIMED_ROWS} rows", rows[:TIMED_ROWS])]
    needed = set()
    for _, handles in cases:
        step(handles, tokens_for(len(handles)), graphs=True)
        needed.add(runner._graphs.bucket(len(handles), max(len(pool.block_table(h)) for h in handles)))
    started = time.perf_counter()
    while needed - set(runner._graphs.captured) - runner._graphs.failed:
        runner.capture_pending()
    print(f"- b. captured {sorted(runner._graphs.captured)} in {time.perf_counter() - started:.1f} s, "
          f"failed {sorted(runner._graphs.failed) or 'none'}")
    for name, handles in cases:
        tokens = tokens_for(len(handles))
        compare(f"b. graph replay vs eager, {name}", step(handles, tokens, False), step(handles, tokens, True),
                failures)
    tokens = tokens_for(ROWS)
    without_sync("a. graph replay of 32 rows", lambda: step(rows, tokens, graphs=True), device, failures)
    token = tokens_for(1)

    def lone_step():
        with torch.no_grad():
            logits = model(input_ids=token.view(1, 1), cache=lone, use_cache=True, logits_to_keep=1).logits
        lone.crop(-1)
        return logits[:, -1].float()

    compare("b. pooled row vs lone DynamicCache", lone_step(), step(rows[:1], token, graphs=True), failures)

    # c. times
    repeats = 20 if device.type == "cuda" else 3
    one, many = tokens_for(1), tokens_for(TIMED_ROWS)
    table = [("graph replay, 1 row", lambda: step(rows[:1], one, True)),
             (f"graph replay, {TIMED_ROWS} rows", lambda: step(rows[:TIMED_ROWS], many, True)),
             ("eager pooled, 1 row", lambda: step(rows[:1], one, False)),
             (f"eager pooled, {TIMED_ROWS} rows", lambda: step(rows[:TIMED_ROWS], many, False)),
             ("lone DynamicCache, 1 row", lone_step)]
    print(f"\n| step at {CONTEXT + 1} keys per row | ms (median of {repeats}) |\n|---|---:|")
    for name, function in table:
        print(f"| {name} | {timed(function, device, repeats):.2f} |")
    print(f"\n{'FAILED: ' + ', '.join(failures) if failures else 'all checks passed'}")
    return not failures



def without_sync(label, run, device, failures):
    """Run `run()` under sync_debug_mode('error') on CUDA and print whether it synced with the host."""
    checked = "ok" if device.type == "cuda" else "ran (no CUDA: syncs not checked)"
    if device.type == "cuda":
        torch.cuda.set_sync_debug_mode("error")
    try:
        run()
        print(f"- {label} under sync_debug_mode('error'): {checked}")
    except RuntimeError as error:
        print(f"- {label} under sync_debug_mode('error'): FAIL {error}")
        failures.append(f"sync in {label}")
    finally:
        if device.type == "cuda":
            torch.cuda.set_sync_debug_mode("default")

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cpu", action="store_true", help="run on the CPU (no graphs: emulated)")
    parser.add_argument("--tiny", action="store_true", help="a tiny config instead of Qwen3-4B's shapes")
    args = parser.parse_args()
    if tuple(int(part) for part in transformers.__version__.split(".")[:2]) < (5, 24):
        sys.exit(f"transformers {transformers.__version__} found; >= 5.24 needed (forward takes cache=)")
    device = "cpu" if args.cpu or not torch.cuda.is_available() else "cuda"
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    model = build(TINY if args.tiny else QWEN3_4B, device, dtype)
    sys.exit(0 if check(model, device) else 1)


if __name__ == "__main__":
    main()
