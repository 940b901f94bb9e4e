"""Where the time of one step goes on a GPU: stage by stage, and torch.profiler's CPU view.

`breakdown(engine, branches)` runs the stages of `stepper.run_batch` one by one with a device sync
after each (pick, summary, forward, records and commit, next noise), so each stage's time is its
own, host and device together; `profile_ops(function, out)` prints the host operations that cost
the most inside `function` and writes a Chrome trace to `out`. Both are for bench/gpu_check.py.
What is left out: kernel-level analysis (ncu), which the lease's time rarely allows.
"""

import time
from pathlib import Path

import torch

from visualizer.engine.records import step_records, summarize
from visualizer.engine.stepper import Advance, _fields, _pick


def breakdown(engine, branches, repeats=5):
    """-> {stage: median ms} for one batched step of `branches` (each rewound after)."""
    stages = {}
    for _ in range(repeats):
        marks = [("start", _now())]
        with torch.no_grad():
            advances = [Advance(branch) for branch in branches]
            chosen, scores, logits, sampled = _pick(advances)
            marks.append(("pick", _now()))
            summary = summarize(logits, scores, chosen, 10, sampled=sampled).cpu()
            marks.append(("summary to host", _now()))
            before = [engine.pool.length(b.handle) for b in branches]
            new_logits = engine.runner.step([b.handle for b in branches], chosen)
            marks.append(("forward", _now()))
            fields = [_fields(b, None, length, len(branches), 0.0) for b, length in zip(branches, before)]
            records = step_records(branches[0].tokenizer, summary, fields)
            for branch, record, row in zip(branches, records, new_logits):
                branch.commit(record, not branch.settings.greedy, logits.shape[-1])
                branch.logits = row
            marks.append(("records and commit", _now()))
            for branch in branches:
                if not branch.settings.greedy:
                    branch.noise.peek(logits.shape[-1])
            marks.append(("next noise (serial)", _now()))
        for (_, earlier), (name, later) in zip(marks, marks[1:]):
            stages.setdefault(name, []).append((later - earlier) * 1000)
        for branch in branches:  # rewind: the same step again next time
            branch.pop()
            engine.pool.truncate(branch.handle, len(branch.ids))
    return {name: sorted(times)[len(times) // 2] for name, times in stages.items()}


def profile_ops(function, out, rows=12):
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with profile(activities=activities) as profiler:
        function()
        _now()
    print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows), flush=True)
    if out:
        profiler.export_chrome_trace(str(Path(out)))


def _now():
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter()
