"""The server process's memory helpers (visualizer/serving/memory.py) that can be checked in-process.

What is left out: RSS after load and the allocator's thresholds (bench/hardening.py measures them
on a running server).
"""

import gc

from visualizer.serving.memory import freeze_startup_objects


def test_freezing_takes_every_live_object_out_of_full_collections():
    alive = len(gc.get_objects())
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() >= alive * 0.9  # the collection run first may free a few
        assert len(gc.get_objects()) < alive * 0.1  # what a full collection still scans
    finally:
        gc.unfreeze()
