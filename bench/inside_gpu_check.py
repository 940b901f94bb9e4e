"""GPU check of the probe pass (logit lens + attention) next to pooled steps on CUDA graphs, for a lent GPU.

On a random model of Qwen3-4B's shapes (bf16, no hub access needed), one pool row of 512 prompt
tokens on a runner with CUDA graphs:
  a. the probe (`ModelRunner.inspect`) after a captured step: its last lens row equals the step's
     logits, its attention equals an eager `output_attentions=True` recompute of the whole sequence
     (bf16 tolerances), rows sum to 1, and the row's pages are bit-identical before and after;
  b. the attention implementation is back to sdpa and the next step still replays its graph and
     equals an eager step on a fork of the row;
  c. times (median of 10): graph step, eager step, probe (lens + attention), attention only, lens only.
Run: `python bench/inside_gpu_check.py` (about 9 GB of weights); `--tiny` is a CPU smoke test.
What is left out: real weights (only equalities and times mean something).
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
from visualizer.engine.kvpool import KVPool  # noqa: E402
from visualizer.engine.probe import ProbeOptions  # noqa: E402

PROMPT = 512
TOLERANCE = {torch.bfloat16: 3e-2, torch.float32: 1e-5}  # probabilities and attention weights


def check(model, device, failures):
    vocab, tolerance = model.config.vocab_size, TOLERANCE[model.dtype]
    pool = KVPool(model.config, 2 * (PROMPT // 16) + 16, page_size=16, dtype=model.dtype, device=device)
    runner = ModelRunner(model, pool, graphs=device.type == "cuda", max_batch=4)
    ids = torch.randint(1, vocab, (PROMPT,), generator=torch.Generator().manual_seed(0)).tolist()
    handle = pool.new()
    runner.extend(handle, ids)
    logits = runner.step([handle], [ids[-1]])[0]  # eager: its bucket goes to the front of the queue
    ids.append(ids[-1])
    runner.capture_pending()
    logits = runner.step([handle], [7])[0]  # replayed
    ids.append(7)

    def expect(name, ok, detail=""):
        print(f"- {name}: {'ok' if ok else 'FAIL'} {detail}")
        if not ok:
            failures.append(name)

    table = pool.block_table(handle)
    before = [keys[table].clone() for keys in pool.keys]
    probe = runner.inspect(handle, len(ids) - 1, ids[-1], ProbeOptions(top=5, distributions=True))
    gap = (probe.distributions[-1] - torch.softmax(logits.float(), -1).cpu()).abs().max().item()
    expect("a. last lens row = the step's softmax", gap <= tolerance, f"(max gap {gap:.1e})")
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            reference = model(torch.tensor([ids], device=device), output_attentions=True).attentions
    finally:
        model.set_attn_implementation("sdpa")
    reference = torch.stack([layer[0, :, -1].float().cpu() for layer in reference])
    gap = (probe.attention - reference).abs().max().item()
    expect("a. attention = eager output_attentions", gap <= tolerance, f"(max gap {gap:.1e})")
    sums = (probe.attention.sum(-1) - 1).abs().max().item()
    expect("a. attention rows sum to 1", sums <= tolerance, f"(max gap {sums:.1e})")
    same = all(torch.equal(keys[table], old) for keys, old in zip(pool.keys, before))
    expect("a. the row's pages are untouched", same)
    expect("b. attention implementation restored", model.config._attn_implementation == "sdpa")
    fork = pool.fork(handle)
    replayed = runner.step([handle], [11])[0]
    runner.graphs = False
    eager = runner.step([fork], [11])[0]
    runner.graphs = device.type == "cuda"
    gap = (replayed - eager).abs().max().item()
    expect("b. the next step replays and equals eager", gap <= 0.1 and int(replayed.argmax()) == int(eager.argmax()),
           f"(max |logit gap| {gap:.1e}, captured {runner.graph_progress()[0]} buckets)")
    pool.free(fork)

    def step(graphs):
        runner.graphs = graphs and device.type == "cuda"
        runner.step([handle], [5])
        pool.truncate(handle, pool.length(handle) - 1)

    position = pool.length(handle) - 1
    rows = {
        "graph step": lambda: step(True),
        "eager step": lambda: step(False),
        "probe: lens + attention": lambda: runner.inspect(handle, position, 5, ProbeOptions(top=10)),
        "probe: attention only": lambda: runner.inspect(handle, position, 5, ProbeOptions(lens=False)),
        "probe: lens only": lambda: runner.inspect(handle, position, 5, ProbeOptions(attention=False)),
    }
    print(f"\n| {PROMPT + 3} tokens, {torch.cuda.get_device_name() if device.type == 'cuda' else 'CPU'} | ms |")
    print("|---|---:|")
    for name, function in rows.items():
        print(f"| {name} | {timed(function, device):.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a 2-layer model on the CPU (smoke test)")
    args = parser.parse_args()
    device = torch.device("cpu" if args.tiny else "cuda")
    dtype = torch.float32 if args.tiny else torch.bfloat16
    model = build(TINY if args.tiny else QWEN3_4B, device, dtype)
    layers = model.config.num_hidden_layers
    print(f"## probe check: {layers} layers, {dtype}, transformers {transformers.__version__}\n")
    failures = []
    check(model, device, failures)
    print(f"\n{'FAILED: ' + ', '.join(failures) if failures else 'all checks passed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
