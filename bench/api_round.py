"""30 clients press Step at the same moment, through the API: how long the round takes next to one step alone.

On one `python app.py` (loopback): one client's /step alone (median of 10), then 30 clients, each
with its own session and prompt, /step together behind a barrier, five rounds; the round's time is
its slowest client's. Twice in the same run, rounds alternating: with gradio_client clients and with
`QueueClient`s (the queue's event stream read as a page does, without gradio_client's 50 ms polling).
Prints the median round, its ratio to one step alone, and the steps per forward pass the server made
(/stats). `python bench/api_round.py [--clients 30]`.
What is left out: browsers, and anything but 127.0.0.1.
"""

import argparse
import statistics
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_process import AppServer, QueueClient, client, stats, step_ms  # noqa: E402
from load_test import attendee  # noqa: E402

TARGET = 5.0  # a round of 30 <= 5 x one step alone


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with AppServer() as server:
        kinds = {"gradio_client": client, "event stream (QueueClient)": QueueClient}
        alone, apis = {}, {}
        for name, make in kinds.items():
            alone[name] = make(server.url)
            alone[name].predict(attendee(0).conversation, api_name="/start")
            alone[name].predict(api_name="/step")
            apis[name] = [make(server.url) for _ in range(args.clients)]
            for index, api in enumerate(apis[name]):
                api.predict(attendee(index).conversation, api_name="/start")
        one = {name: statistics.median(step_ms(alone[name]) for _ in range(10)) for name in kinds}
        first = alone["gradio_client"]
        before = stats(first)
        rounds = {name: [] for name in kinds}
        for _ in range(args.rounds):
            for name in kinds:
                rounds[name].append(round_of(apis[name]))
        after = stats(first)
        for api in [api for group in apis.values() for api in group] + list(alone.values()):
            api.close()
    rows = (after["batched_steps"] - before["batched_steps"]) / max(1, after["batches"] - before["batches"])
    print("| client | one /step alone | round of %d pressing Step together (median of %d) | round / alone |"
          % (args.clients, args.rounds))
    print("|---|---:|---:|---:|")
    for name in kinds:
        middle = statistics.median(rounds[name])
        print(f"| {name} | {one[name]:.0f} ms | {middle:.0f} ms | {middle / one[name]:.1f}x "
              f"(target <= {TARGET:g}: {'PASS' if middle <= TARGET * one[name] else 'MISS'}) |")
    print(f"\nsteps per forward pass: {rows:.1f}")


def round_of(apis):
    barrier, done = threading.Barrier(len(apis)), []

    def press(api):
        barrier.wait()
        done.append(step_ms(api))
    threads = [threading.Thread(target=press, args=(api,)) for api in apis]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return max(done)


if __name__ == "__main__":
    main()
