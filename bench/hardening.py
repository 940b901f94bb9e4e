"""The hardening issue's figures, full size, on one `python app.py` (loopback only): `python bench/hardening.py`.

1. long runs: an attendee's idle /step time, then its /step p95 while 40 clients each run
   /run 1024 (API), and how many steps each run makes after its job is cancelled; the attendee is
   timed twice, as gradio_client sees it (it polls for answers every 50 ms) and as a page reading
   the queue's event stream does (`QueueClient`: the server's own latency), their clicks alternating;
2. long prompts: the attendee's /step p95 while three ~8,000-token conversations are /start-ed;
3. memory: RSS at start, after 3 rounds of 40 clients (/start + 10 steps each, then close), and
   after a 60 s idle (the janitor gives freed memory back), next to the KV budget plus the model;
and RSS per attendee. Prints a markdown table with the targets. `--quick`: smaller counts.
What is left out: browsers (tests/test_browser*.py drive those), traffic to anything but 127.0.0.1.
"""

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_process import AppServer, QueueClient, client, rss, settle, stats, step_ms  # noqa: E402

STORY = json.dumps([{"role": "user", "content": "Write a long story about a lighthouse keeper."}])
MIB = 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 runs, one long prompt, 2 rounds of 10")
    args = parser.parse_args()
    runs, prompts, rounds, per_round = (8, 1, 2, 10) if args.quick else (40, 3, 3, 40)
    with AppServer(env={"LLM_VIZ_CREATIONS_PER_MINUTE": "1000"}) as server:
        attendee, page = client(server.url), QueueClient(server.url)
        attendee.predict(STORY, api_name="/start")
        page.predict(STORY, api_name="/start")
        figures = {"rss_start": rss(server)}  # the model's weights are read in: the server as it serves
        figures["idle_ms"] = statistics.median(step_ms(attendee) for _ in range(10))
        figures["page_idle_ms"] = statistics.median(step_ms(page) for _ in range(10))
        figures.update(long_runs(server, attendee, runs, page))
        figures.update(long_prompts(server, attendee, prompts))
        figures.update(memory_rounds(server, rounds, per_round))
        figures["pool_capacity"] = stats(attendee)["pool_capacity_bytes"]
        attendee.close()
    print(table(figures, runs, prompts, rounds, per_round))


def p95(values):
    return statistics.quantiles(values, n=20)[-1]


def long_runs(server, attendee, count, page, clicks=20):
    runners = [client(server.url) for _ in range(count)]
    jobs = []
    for runner in runners:
        runner.predict(STORY, None, None, None, 0, 1024, api_name="/start")
        jobs.append(runner.submit(1024, api_name="/run"))
    while min(len(job.outputs()) for job in jobs) < 2:
        time.sleep(0.1)
    busy, page_busy = [], []
    for _ in range(clicks):
        busy.append(step_ms(attendee))
        page_busy.append(step_ms(page))
    for job in jobs:
        job.cancel()  # returns once the server has the cancel
    cancelled = stats(attendee)["batched_steps"]
    settle(attendee)
    after = stats(attendee)["batched_steps"] - cancelled  # the steps in flight when the cancels came
    for runner in runners:
        runner.close()
    return {"runs_p95_ms": p95(busy), "runs_max_ms": max(busy), "page_runs_p95_ms": p95(page_busy),
            "page_runs_median_ms": statistics.median(page_busy), "steps_after_cancel": after / count}


def long_prompts(server, attendee, count, clicks=10):
    digits = " ".join(f"{n} {n * 7 % 97}" for n in range(1100))  # SmolLM2 reads digits one by one: ~7,700 tokens
    conversation = json.dumps([{"role": "user", "content": f"Sum these: {digits}"}])
    readers = [client(server.url) for _ in range(count)]
    threads = [threading.Thread(target=reader.predict, args=(conversation,), kwargs={"api_name": "/start"})
               for reader in readers]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    busy = [step_ms(attendee) for _ in range(clicks)]
    for thread in threads:
        thread.join()
    tokens = client(server.url).predict(conversation, api_name="/tokens")["count"]
    for reader in readers:
        reader.close()
    return {"prompts_p95_ms": p95(busy), "prompt_tokens": tokens}


def memory_rounds(server, rounds, per_round):
    before, peak = rss(server), 0
    for _ in range(rounds):
        def attend():
            api = client(server.url)
            api.predict(STORY, api_name="/start")
            for _ in range(10):
                api.predict(api_name="/step")
            api.close()
        threads = [threading.Thread(target=attend) for _ in range(per_round)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        peak = max(peak, rss(server))
    loaded = rss(server)
    time.sleep(75)  # idle: closed pages' rows go back, the janitor (every 30 s) returns free memory
    figures = stats(client(server.url))
    return {"rss_before_rounds": before, "rss_peak": peak, "rss_after_load": loaded, "rss_after_idle": rss(server),
            "pool_after_idle": figures["pool_bytes"], "sessions_after_idle": figures["sessions"]}


def table(f, runs, prompts, rounds, per_round):
    model = 135e6 * 4  # SmolLM2-135M in float32
    verdict = lambda ok: "PASS" if ok else "MISS"  # noqa: E731
    rows = [
        ("one /step alone (median of 10), gradio_client", f"{f['idle_ms']:.0f} ms", ""),
        (f"/step p95 / max while {runs} clients run /run 1024, gradio_client",
         f"{f['runs_p95_ms']:.0f} / {f['runs_max_ms']:.0f} ms ({f['runs_p95_ms'] / f['idle_ms']:.1f}x)",
         f"p95 <= 3x alone: {verdict(f['runs_p95_ms'] <= 3 * f['idle_ms'])}"),
        ("the same read off the event stream (QueueClient): alone / median / p95 while the runs go",
         f"{f['page_idle_ms']:.0f} / {f['page_runs_median_ms']:.0f} / {f['page_runs_p95_ms']:.0f} ms "
         f"({f['page_runs_p95_ms'] / f['page_idle_ms']:.1f}x)",
         f"p95 <= 3x alone: {verdict(f['page_runs_p95_ms'] <= 3 * f['page_idle_ms'])}"),
        ("steps per run made after the jobs were cancelled", f"{f['steps_after_cancel']:.2f}",
         f"<= 1: {verdict(f['steps_after_cancel'] <= 1)}"),
        (f"/step p95 while {prompts} prompts of {f['prompt_tokens']} tokens are read", f"{f['prompts_p95_ms']:.0f} ms",
         f"<= 2 s: {verdict(f['prompts_p95_ms'] <= 2000)}"),
        ("RSS at start / before the rounds / peak / after them / after 75 s idle",
         " / ".join(f"{f[k] / MIB:.0f}" for k in ("rss_start", "rss_before_rounds", "rss_peak", "rss_after_load",
                                                  "rss_after_idle")) + " MiB",
         f"peak <= 1.5x (pool {f['pool_capacity'] / MIB:.0f} MiB + model): "
         f"{verdict(f['rss_peak'] <= 1.5 * (f['pool_capacity'] + model))}; idle within 20% of start: "
         f"{verdict(f['rss_after_idle'] <= 1.2 * f['rss_start'])}"),
        ("after the idle: KV rows still held, sessions kept (their tokens)",
         f"{f['pool_after_idle'] / MIB:.0f} MiB, {f['sessions_after_idle']}", ""),
        (f"RSS per attendee ({rounds} rounds of {per_round})",
         f"{(f['rss_peak'] - f['rss_before_rounds']) / per_round / MIB:.1f} MiB", ""),
    ]
    return "\n".join(["| measure | value | target |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows])


if __name__ == "__main__":
    main()
