"""Load test: N simulated workshop attendees on one server, then each one replayed alone.

Launches `python app.py --host 127.0.0.1` as a subprocess on a free loopback port (its KV pool
set small with --budget, so rows are evicted and rebuilt during the run), measures one
session's /step alone (the baseline, median of 10), then starts N threads, each with its own
`gradio_client.Client` (its own session): /start its own conversation (half greedy, half sampled
with a per-attendee seed), then ACTIONS actions: /step, one /force (the second candidate of the
step just taken, forced at the next position), one /undo and one /run n=10, in a per-attendee
order. Every /step's latency is recorded. Afterwards each attendee's executed actions are
replayed alone, one at a time, and its final ids must be the same: by default in this process
on the engine's own Workspace (the calls /start etc. make, no server, no evictions) once the
server is stopped, or with --replay-on-server on the server, one fresh client at a time.
Prints a markdown table; exits 1 on any error or mismatch.
`python bench/load_test.py [--attendees 30] [--actions 20] [--budget 8MiB|server]
[--server-threads N] [--replay-on-server]`.
With a budget below the attendees' working set (8 MiB holds 2-3 of 30 caches), LRU misses on
nearly every action: each one pays a prefill rebuild, and that dominates the latencies.
Run it on a quiet machine (`uptime` load below 2): other processes on the cores skew latencies.
`tests/test_load.py` imports the attendee functions (the server itself is bench/app_process.py).
What is left out: the browser (the API path only) and traffic to anything but 127.0.0.1.
"""

import argparse
import contextlib
import json
import os
import platform
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_process import CACHE_DIR, AppServer, client, stats, step_ms  # noqa: E402

DEFAULT_BUDGET = "8MiB"
RUN_STEPS = 10
REFUSED = "memory for conversations is full"  # the one refusal a tiny pool may give: no tokens lost
SAMPLED = dict(temperature=0.8, top_k=50, top_p=0.95)
TOPICS = ("a lighthouse keeper", "a robot gardener", "a lost library", "the first bridge on Mars", "a quiet baker",
          "a mapmaker's apprentice", "a river that flows uphill", "a clockmaker in Prague", "an old ferry",
          "a mountain observatory")


@dataclass
class Attendee:
    index: int
    conversation: str  # JSON text for /start
    sampling: dict  # /start's temperature, top_k, top_p, seed (empty: greedy)
    actions: list  # planned actions: ("step",), ("force", None), ("undo",), ("run", n)


@dataclass
class Outcome:
    actions: list = field(default_factory=list)  # as executed (force with its id)
    ids: list = None  # final generated ids
    step_ms: list = field(default_factory=list)  # latency of each /step call
    error: str = None


def attendee(index, actions=20):
    """Attendee `index`: its own message; even ones greedy, odd ones sampled with their own seed;
    `actions` actions: steps with one force, one undo and one run placed by a per-attendee order."""
    topic = TOPICS[index % len(TOPICS)]
    message = f"Attendee {index}: write a long, detailed story about {topic}, with many small scenes."
    conversation = json.dumps([{"role": "user", "content": message}])
    sampling = {} if index % 2 == 0 else dict(SAMPLED, seed=1000 + index)
    return Attendee(index, conversation, sampling, plan_actions(index, actions))


def plan_actions(index, count):
    """count-3 steps, one force right after a step, one undo and one run n=10, at per-attendee places."""
    if count < 4:
        raise ValueError("an attendee needs at least 4 actions (a step, force, undo, run)")
    rng = random.Random(index)
    actions = [("step",)] * (count - 3)
    actions.insert(rng.randint(1, len(actions)), ("force", None))  # after the step whose candidate it takes
    for extra in (("undo",), ("run", RUN_STEPS)):
        places = [p for p in range(1, len(actions) + 1) if p == len(actions) or actions[p][0] != "force"]
        actions.insert(rng.choice(places), extra)
    return actions


class Player:
    """One attendee on one client: `start()` (/start its conversation), then `do(action)` per action.
    A force with no id forces the second candidate of the last step taken. When the message has
    ended, a step or force becomes an undo (so a replay of `outcome.actions` does the same)."""

    def __init__(self, api, person, outcome=None):
        self.api, self.person = api, person
        self.outcome = outcome or Outcome()
        self.payload = None  # the last answer
        self.last_step = None  # the last step record taken (for a force)

    def start(self):
        self.payload = self.api.predict(self.person.conversation, **self.person.sampling, api_name="/start")
        self.outcome.ids = self.payload["ids"]

    def do(self, action):
        kind = action[0]
        if self.payload["stop"] and kind in ("step", "force"):  # ended: another step would be refused
            action, kind = ("undo",), "undo"
        if kind == "step":
            began = time.perf_counter()
            self.payload = self.api.predict(api_name="/step")
            self.outcome.step_ms.append((time.perf_counter() - began) * 1000.0)
        elif kind == "force":
            token_id = action[1]
            if token_id is None:
                top = self.last_step["top"] if len(self.last_step["top"]) > 1 else self.last_step["top_raw"]
                token_id = top[1]["id"]
            self.payload = self.api.predict(token_id, api_name="/force")
            action = ("force", token_id)
        elif kind == "undo":
            self.payload = self.api.predict(api_name="/undo")
        elif kind == "run":
            self.payload = self.api.predict(action[1], api_name="/run")
        else:
            raise ValueError(f"unknown action {action!r}")
        self.last_step = self.payload["steps"][-1] if self.payload["steps"] else self.last_step
        self.outcome.actions.append(action)
        self.outcome.ids = self.payload["ids"]
        return self.payload


def play(api, person, actions, outcome=None):
    """/start, then `actions` on one client; -> Outcome (an error is recorded, not raised)."""
    player = Player(api, person, outcome)
    try:
        player.start()
        for action in actions:
            player.do(action)
    except Exception as error:  # counted and reported; the run goes on for the others
        player.outcome.error = f"attendee {person.index}: {type(error).__name__}: {error}"[:300]
    return player.outcome


def baseline_step_ms(url, steps=10, warmup=2):
    """Median /step latency of one session alone on the server."""
    api = client(url)
    try:
        api.predict(attendee(0).conversation, api_name="/start")
        for _ in range(warmup):
            api.predict(api_name="/step")
        times = [step_ms(api) for _ in range(steps)]
    finally:
        api.close()
    return statistics.median(times)


def run_together(url, people, join_timeout_s=600):
    """Every attendee in its own thread with its own client, all starting at once; -> Outcomes."""
    outcomes = [Outcome() for _ in people]
    barrier = threading.Barrier(len(people))
    clients = []

    def attend(person, outcome):
        try:
            api = client(url)
            clients.append(api)
        except Exception as error:
            outcome.error = f"attendee {person.index}: client: {type(error).__name__}: {error}"[:300]
            api = None
        try:
            barrier.wait(timeout=120)
        except threading.BrokenBarrierError:
            pass
        if api is not None:
            play(api, person, person.actions, outcome)

    threads = [threading.Thread(target=attend, args=pair, daemon=True) for pair in zip(people, outcomes)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + join_timeout_s
    for thread, outcome in zip(threads, outcomes):
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive() and outcome.error is None:
            outcome.error = "did not finish in time"
    for api in clients:
        api.close()
    return outcomes


class LocalApi:
    """What /start, /step, /force, /undo and /run do, called on a Workspace in this process (no HTTP):
    `predict` and `close` as on a gradio_client.Client. Use inside `local_engine()`."""

    def __init__(self, engine):
        from visualizer.engine.workspace import Workspace

        self.workspace = Workspace(engine.loaded, engine)

    def predict(self, *args, api_name, **kwargs):
        from visualizer.engine.payloads import decoder_payload, step_payload

        ws, name = self.workspace, api_name.strip("/")
        if name == "start":
            ws.set_conversation(args[0])
            ws.configure(ws.sampling_from_user(seed=kwargs.pop("seed", 0), **kwargs))
            ws.drop_decoder()
            ws.decoder().start()
            return decoder_payload(ws.loaded.name, ws.decoder(), [])
        decoder = ws.existing_decoder
        if name == "undo":
            record = decoder.undo()
            return dict(decoder_payload(ws.loaded.name, decoder, []), undone=step_payload(record) if record else None)
        records = {"step": lambda: [decoder.step()], "force": lambda: [decoder.force(args[0])],
                   "run": lambda: list(decoder.run(args[0]))}[name]()
        return decoder_payload(ws.loaded.name, decoder, records)

    def close(self):
        self.workspace.evict()


@contextlib.contextmanager
def local_engine(cache_dir=CACHE_DIR, threads=None):
    """SmolLM2 loaded here with an Engine of its own (default pool, no evictions, no scheduler);
    torch's thread count is put back on the way out."""
    import torch

    from visualizer.engine.engine import Engine
    from visualizer.engine.models import load_model

    previous_threads = torch.get_num_threads()
    try:
        if threads:
            torch.set_num_threads(threads)  # as the server ran: the same arithmetic
        loaded = load_model("smollm2", device="cpu", cache_dir=cache_dir, report=lambda message: None)
        yield Engine.create(loaded)
    finally:
        torch.set_num_threads(previous_threads)


def replay_alone(people, outcomes, url=None, threads=None):
    """Each attendee's executed actions again, one at a time; -> list of Outcomes. In this process
    through the same API functions (no server, no evictions), or with `url` on that server, one
    fresh client at a time."""
    def replay(make_api):
        alone = []
        for person, outcome in zip(people, outcomes):
            api = make_api(person)
            try:
                alone.append(play(api, person, outcome.actions))
            finally:
                api.close()
        return alone

    if url:
        return replay(lambda person: client(url))
    with local_engine(threads=threads) as engine:
        return replay(lambda person: LocalApi(engine))


def percentile(values, q):
    """The q-th percentile (q in 1..99) of a list of two or more values (statistics' exclusive method)."""
    return statistics.quantiles(values, n=100)[q - 1]


def run_load(attendees=30, actions=20, budget=DEFAULT_BUDGET, server_url=None, log=print, server_threads=None,
             replay_on_server=False):
    """The whole load test; -> dict of figures (see `table`). Launches its own server unless
    `server_url` is given. `budget`: LLM_VIZ_CACHE_BUDGET_BYTES for that server (None: its default);
    `server_threads`: OMP_NUM_THREADS for it (None: torch's default, one per core). The replay
    alone runs in this process once the server is stopped, or on the server if `replay_on_server`."""
    began = time.perf_counter()
    env = {"LLM_VIZ_CACHE_BUDGET_BYTES": budget} if budget else {}
    if server_threads:
        env.update(OMP_NUM_THREADS=str(server_threads), MKL_NUM_THREADS=str(server_threads))
    server = None if server_url else AppServer(env=env)
    try:
        url = server_url or server.start()
        log(f"server: {url} (budget {budget or 'default'})")
        baseline = baseline_step_ms(url)
        log(f"baseline step alone: {baseline:.1f} ms")
        people = [attendee(index, actions) for index in range(attendees)]
        together_began = time.perf_counter()
        outcomes = run_together(url, people)
        together_s = time.perf_counter() - together_began
        log(f"{attendees} attendees together: {together_s:.1f} s")
        api = client(url)
        figures_after_load = stats(api)
        api.close()
        if replay_on_server:
            replay_began = time.perf_counter()
            alone = replay_alone(people, outcomes, url=url)
    except BaseException:
        if server is not None:
            sys.stderr.write(server.log_tail())
        raise
    finally:
        if server is not None:
            server.stop()
    if not replay_on_server:
        replay_began = time.perf_counter()
        alone = replay_alone(people, outcomes, threads=server_threads)
    replay_s = time.perf_counter() - replay_began
    log(f"replayed alone ({'on the server' if replay_on_server else 'in this process'}): {replay_s:.1f} s")
    # A full pool refuses a step after it waited for room: the attendee stops there, its tokens kept.
    refused = [o for o in outcomes if o.error and REFUSED in o.error]
    errors = [o.error for o in outcomes if o.error and o not in refused] + \
        [f"replay: {o.error}" for o in alone if o.error]
    compared = [(p, o, a) for p, o, a in zip(people, outcomes, alone) if (o.error is None or o in refused)
                and a.error is None]
    step_ms = [ms for outcome in outcomes for ms in outcome.step_ms] or [float("nan")]
    p95 = percentile(step_ms, 95)
    return {
        "attendees": attendees, "actions": actions, "budget": budget or "server default",
        "threads": server_threads or "torch default", "replay": "server" if replay_on_server else "in-process",
        "errors": errors, "refused": len(refused), "identical": sum(1 for p, o, a in compared if o.ids == a.ids),
        "mismatched": [p.index for p, o, a in compared if o.ids != a.ids],
        "steps": sum(len(outcome.step_ms) for outcome in outcomes),
        "p50": percentile(step_ms, 50), "p95": p95, "max": max(step_ms),
        "baseline": baseline, "ratio": p95 / (attendees * baseline), "evictions": figures_after_load["evictions"],
        "steps_per_forward": figures_after_load["batched_steps"] / max(1, figures_after_load["batches"]),
        "together_s": together_s, "replay_s": replay_s, "wall_s": time.perf_counter() - began,
    }


def table(result):
    """The figures as a markdown table."""
    n = result["attendees"]
    verdict = lambda ok: "PASS" if ok else "MISS"  # noqa: E731
    rows = [
        ("attendees × actions", f"{n} × {result['actions']} (steps, 1 force, 1 undo, 1 run n={RUN_STEPS})", ""),
        ("KV-cache budget; server torch threads", f"{result['budget']}; {result['threads']}", ""),
        ("errors", str(len(result["errors"])), "0 " + verdict(not result["errors"])),
        ("attendees refused a step by a full KV pool (after waiting for room)", str(result["refused"]), ""),
        ("identical to alone-replay", f"{result['identical']}/{n}", f"{n}/{n} " + verdict(result["identical"] == n)),
        ("/step calls timed", str(result["steps"]), ""),
        ("step latency p50 / p95 / max", f"{result['p50']:.0f} / {result['p95']:.0f} / {result['max']:.0f} ms", ""),
        ("one step alone (median of 10)", f"{result['baseline']:.1f} ms", ""),
        (f"p95 / ({n} × one step)", f"{result['ratio']:.2f}", "≤ 1.00 " + verdict(result["ratio"] <= 1.0)),
        ("evictions (/stats, after the load)", str(result["evictions"]), "> 0 with a small budget"),
        ("steps per forward pass (/stats: batched across sessions)", f"{result['steps_per_forward']:.1f}", ""),
        (f"together / replay alone ({result['replay']})",
         f"{result['together_s']:.1f} s / {result['replay_s']:.1f} s", ""),
        ("wall time", f"{result['wall_s']:.1f} s", ""),
    ]
    lines = ["| measure | value | target |", "|---|---:|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def machine():
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {load:.2f}, "
            f"Python {platform.python_version()}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attendees", type=int, default=30)
    parser.add_argument("--actions", type=int, default=20, help="actions per attendee after /start (>= 4)")
    parser.add_argument("--budget", default=DEFAULT_BUDGET,
                        help="LLM_VIZ_CACHE_BUDGET_BYTES for the server (e.g. 8MiB); 'server': its default")
    parser.add_argument("--server-threads", type=int, default=None,
                        help="OMP_NUM_THREADS for the server (default: torch's, one per core)")
    parser.add_argument("--replay-on-server", action="store_true",
                        help="replay each attendee alone on the server (default: in this process, server stopped)")
    args = parser.parse_args(argv)
    print(machine())
    result = run_load(args.attendees, args.actions, None if args.budget == "server" else args.budget,
                      log=lambda line: print(line, file=sys.stderr, flush=True), server_threads=args.server_threads,
                      replay_on_server=args.replay_on_server)
    print(table(result))
    for error in result["errors"][:10]:
        print(f"- {error}")
    if result["mismatched"]:
        print(f"- attendees whose ids differ from their alone-replay: {result['mismatched']}")
    return 1 if result["errors"] or result["identical"] != args.attendees else 0


if __name__ == "__main__":
    sys.exit(main())
