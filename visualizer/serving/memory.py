"""The server process's own memory: what it holds (RSS), and giving freed memory back to the system.

The KV pool is one preallocated budget; what else grows with a room is host memory that glibc's
allocator keeps after it is freed: with its default dynamic mmap threshold the heap never shrinks,
so RSS stays at its peak (seen: 2.9 GiB after the caches had dropped to 2 MB).
`tune_allocator()` fixes the mmap threshold at 32 MiB (glibc's largest: bigger blocks are mapped and
unmapped whole) and the trim threshold at 16 MiB, and `give_back()` trims the heap; the server
calls it when it goes idle. (A 128 KiB threshold, tried first, mapped every step's larger blocks
anew, the rows' keys and values read for attention among them, and the kernel zeroed each page
again: a cost that grows with the context. Run to end in the browser fell from 18.7 to 14.7
tokens/s over 256 tokens; 32 MiB keeps it at 0.87-0.94x, and the RSS still comes back after load.)
`rss_bytes()` reads /proc/self/statm. `freeze_startup_objects()` takes what start-up made out of the
garbage collector's full passes, and `defer_full_collections()` stops those passes from running by
themselves: they scan every object alive, and a room's step records grow into hundreds of thousands
of objects (a pass took 374 ms with 40 runs of ~400 tokens, every thread stopped meanwhile); the
janitor runs them with `collect_fully()` when `FullCollections` says: in its first idle round after
any work, and every `FULL_COLLECTION_MAX_S` however busy the server is. Young objects are still
collected as usual, and reference counting frees everything else the moment it is dropped: what
waits for a full pass is only cyclic garbage that outlived two young collections (hundreds of
objects a minute under load).
What is left out: other allocators and platforms (these are no-ops off glibc).
"""

import ctypes
import ctypes.util
import gc
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 2**20
TRIM_THRESHOLD_BYTES = 16 * 2**20
FULL_COLLECTION_MAX_S = 600.0  # a server that is never idle still runs a full collection this often
NEVER = 2**31 - 1  # a threshold the collector's counter does not reach


def _libc():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "mallopt") else None


_LIBC = _libc()


def tune_allocator():
    """Fixed thresholds: blocks of 32 MiB and more are mapped on their own (unmapped when freed)."""
    if _LIBC is not None:
        _LIBC.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        _LIBC.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)


def give_back():
    """Return the heap's free pages to the system (malloc_trim)."""
    if _LIBC is not None and hasattr(_LIBC, "malloc_trim"):
        _LIBC.malloc_trim(0)


def rss_bytes(pid="self"):
    """Resident set size of a process (this one by default), from /proc; 0 where there is none."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def freeze_startup_objects():
    """Collect once, then move every object alive (modules, the model's Python objects, the UI) to the
    collector's permanent generation: a full collection scans only what was made since. Without it,
    each full collection during 40 runs stopped the server for 160-360 ms (an attendee's step waiting
    behind one took 590 ms)."""
    gc.collect()
    gc.freeze()


def defer_full_collections():
    """Full collections only when `collect_fully()` asks (young generations as before)."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, NEVER)


class FullCollections:
    """When the janitor runs a full collection: once the server goes idle after work, and every
    `max_s` at most. `due(activity, idle, now)` -> True when it is time (and counts it as done)."""

    def __init__(self, now, max_s=FULL_COLLECTION_MAX_S):
        self.after, self.at, self.max_s = None, now, max_s  # the activity and time of the last one

    def due(self, activity, idle, now):
        if (idle and activity != self.after) or now - self.at >= self.max_s:
            self.after, self.at = activity, now
            return True
        return False


def collect_fully():
    """One full collection (every generation); -> objects it freed."""
    return gc.collect()
