"""30 clients press Step at the same moment, through the API: how long the round takes next to one step alone.

On one `python app.py` (loopback): one client's /step alone (median of 10), then 30 clients, each
with its own session and prompt, /step together behind a barrier, five rounds; the round's time is
its slowest client's. Prints the median round, its ratio to one step alone, and the steps per
forward pass the server made (/stats). `python bench/api_round.py [--clients 30]`.
What is left out: browsers, and anything but 127.0.0.1.
"""

import argparse
import statistics
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_process import AppServer, client, stats, step_ms  # noqa: E402
from load_test import attendee  # noqa: E402

TARGET = 5.0  # a round of 30 <= 5 x one step alone


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with AppServer() as server:
        alone = client(server.url)
        alone.predict(attendee(0).conversation, api_name="/start")
        alone.predict(api_name="/step")
        one = statistics.median(step_ms(alone) for _ in range(10))
        apis = [client(server.url) for _ in range(args.clients)]
        for index, api in enumerate(apis):
            api.predict(attendee(index).conversation, api_name="/start")
        before = stats(alone)
        rounds = [round_of(apis) for _ in range(args.rounds)]
        after = stats(alone)
        for api in apis + [alone]:
            api.close()
    rows = (after["batched_steps"] - before["batched_steps"]) / max(1, after["batches"] - before["batches"])
    middle = statistics.median(rounds)
    print(f"| measure | value |\n|---|---|\n| one /step alone | {one:.0f} ms |\n"
          f"| {args.clients} clients press Step together: the round (median of {args.rounds}) | {middle:.0f} ms |\n"
          f"| round / one step alone | {middle / one:.1f}x (target <= {TARGET:g}: "
          f"{'PASS' if middle <= TARGET * one else 'MISS'}) |\n| steps per forward pass | {rows:.1f} |")


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
