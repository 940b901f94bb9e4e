"""A small load test: 6 attendees at once on `python app.py` with a tiny KV-cache budget.

Checked: no call fails, every attendee's final ids equal a replay of its actions alone (so sessions
are isolated and evicted caches rebuild to the same state), and caches were in fact evicted.
The same code as `bench/load_test.py` (30 attendees × 20 actions, with latency figures), smaller.
"""

import pytest

from bench import load_test

pytestmark = pytest.mark.load

ATTENDEES = 6
ACTIONS = 8
TINY_BUDGET = "1MiB"  # a session's cache is ~2-3 MB here: every idle cache gets evicted
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
