"""The server process's memory helpers (visualizer/serving/memory.py) that can be checked in-process.

`defer_full_collections` is checked against CPython's own thresholds (they do run a full pass on the same
allocations). What is left out: RSS after load and the allocator's thresholds (bench/hardening.py measures them
on a running server).
"""

import gc

from visualizer.serving.memory import FullCollections, collect_fully, defer_full_collections, freeze_startup_objects


def test_freezing_takes_every_live_object_out_of_full_collections():
    alive = len(gc.get_objects())
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() >= alive * 0.9  # the collection run first may free a few
        assert len(gc.get_objects()) < alive * 0.1  # what a full collection still scans
    finally:
        gc.unfreeze()


def _full_collections_while(make):
    """How many full collections the collector ran by itself while `make()` ran."""
    seen = []
    callback = lambda phase, info: seen.append(info["generation"]) if phase == "start" else None  # noqa: E731
    gc.callbacks.append(callback)
    try:
        kept = make()
    finally:
        gc.callbacks.remove(callback)
    del kept
    return seen.count(2)


def test_deferred_full_collections_do_not_run_by_themselves_and_young_ones_still_do():
    grow = lambda: [[n] for n in range(400_000)]  # noqa: E731 - containers that survive, as a room's records do
    thresholds = gc.get_threshold()
    try:
        assert _full_collections_while(grow) >= 1  # CPython's own thresholds: the pass that paused the server
        defer_full_collections()
        seen = []
        gc.callbacks.append(lambda phase, info: seen.append(info["generation"]) if phase == "start" else None)
        try:
            assert _full_collections_while(grow) == 0
        finally:
            gc.callbacks.pop()
        assert 0 in seen  # young collections go on
        cycle = []
        cycle.append(cycle)
        del cycle
        assert collect_fully() >= 1  # a full pass on request frees cyclic garbage
    finally:
        gc.set_threshold(*thresholds)


def test_a_full_collection_is_due_when_the_server_goes_idle_after_work_and_every_max_s():
    collections = FullCollections(now=0.0, max_s=600)
    assert collections.due((5, 0), idle=False, now=30) is False  # busy
    assert collections.due((9, 0), idle=True, now=60) is True  # idle after work
    assert collections.due((9, 0), idle=True, now=90) is False  # still idle, nothing new to collect
    assert collections.due((12, 0), idle=False, now=120) is False
    assert collections.due((99, 3), idle=False, now=660) is True  # busy for 600 s: one pass anyway
    assert collections.due((99, 3), idle=True, now=690) is False  # idle, but collected since that work
