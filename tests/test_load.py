"""A small load test: 6 attendees at once on `python app.py` with a KV pool that holds about two of them.

Checked: no call fails, but for a step refused after waiting for room in the full pool (the attendee
stops there, its tokens kept); every attendee's ids equal a replay of the actions it made, alone (so
sessions are isolated and evicted rows rebuild to the same state); and rows were in fact evicted.
The same code as `bench/load_test.py` (30 attendees × 20 actions, with latency figures), smaller.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import load_test  # noqa: E402

pytestmark = pytest.mark.load

ATTENDEES = 6
ACTIONS = 8
TINY_BUDGET = "8MiB"  # 176 tokens of SmolLM2: an attendee's row is ~60-90 tokens, so idle rows get evicted
# One torch thread in the server and in the replay (the same arithmetic in both): two threads on two
# shared cores slow down many times over as soon as anything else runs on the machine.
THREADS = 1


def test_attendees_are_isolated_and_evicted_caches_rebuild_the_same():
    result = load_test.run_load(ATTENDEES, ACTIONS, TINY_BUDGET, log=lambda line: None, server_threads=THREADS)
    summary = load_test.table(result)
    assert result["errors"] == [], summary
    assert result["identical"] == ATTENDEES, (result["mismatched"], summary)
    assert result["steps"] > 0
    assert result["evictions"] > 0, summary
