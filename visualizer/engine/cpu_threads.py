"""Intra-op threads per thread on the CPU: one OpenMP pool in a process, the model thread's.

torch's CPU build runs its parallel ops on libgomp (OpenMP). Each thread that runs a parallel op
gets a pool of worker threads of its own, kept until that thread ends, and once a process has more
such workers than CPUs libgomp "throttles" all of them: a worker sleeps after ~100 spins instead of
~300,000, so each of a forward pass's hundreds of parallel regions wakes a sleeping thread. On this
project's 2-core CPU (SmolLM2, float32) one `Decoder.step` took 20.0 ms from the thread that had
loaded the model and 36.6 ms from a second thread, 19.6 ms once the first thread's pool was given
back; a server steps from its model thread after loading in the main thread, and its request
threads each made a pool of their own (the next-token preview's softmax over the vocabulary), so
every step of the server ran throttled.
- `set_this_thread(count)`: the calling thread's intra-op threads (OpenMP and MKL), leaving every
  other thread's as it was (`torch.set_num_threads` also changes the default of threads to come,
  and clears oneDNN's primitive cache; it is the fallback where the runtime is not found);
- `keep_serial()`: the calling thread runs its torch ops on itself alone from now on (request
  threads: their ops are one row of a vocabulary, where a pool saves nothing);
- `release_pool()`: the calling thread's pool gives its workers back (the thread that loaded the
  model, before the model thread steps); a later parallel op makes a new one.
The other two are no-ops where the OpenMP runtime is not found (other platforms, other builds).
Unthrottled, an idle worker spins ~300,000 times (~5 ms here) before it sleeps: after every step
it held a core that the browser beside the server needed (run to end on the page: 21 tokens a second
against 28 before this module). `app.py` sets GOMP_SPINCOUNT=1000 before torch loads libgomp: a
worker sleeps between a wide pass's regions (a two-thread pass pays for it: one row 26 ms against
22, 30 rows 83 against 76), but it gives the cores back to Gradio at once: an attendee's step while
40 runs go, p95 2.3-2.4x its time alone (three runs) against 2.5-3.5x (five) with 10,000 spins;
the page's run to end 27-30 tokens a second against 27; the server's lone steps (one thread) and a
room's round through the API (187-195 ms against 195-220) are no slower.
What is left out: inter-op threads (unused here) and GPU work (no intra-op threads).
"""

import ctypes
import threading
from pathlib import Path

import torch

OMP_PAUSE_SOFT = 1
_SERIAL = threading.local()


def _runtime():
    """(the loaded OpenMP runtime, torch's CPU library for MKL's thread setting) as ctypes handles, or None."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "/" in line}
    except OSError:
        return None, None
    torch_lib = str(Path(torch.__file__).parent / "lib")
    names = ("libgomp", "libiomp", "/libomp.", "/libomp-")
    # torch's own runtime first (another library may load a second copy); the first with the symbol.
    candidates = sorted((p for p in paths if any(name in p for name in names)),
                        key=lambda p: not p.startswith(torch_lib))
    openmp = next((lib for lib in map(ctypes.CDLL, candidates) if hasattr(lib, "omp_set_num_threads")), None)
    mkl = next((lib for lib in map(ctypes.CDLL, (p for p in paths if "libtorch_cpu" in p))
                if hasattr(lib, "MKL_Set_Num_Threads_Local")), None)
    return openmp, mkl


_OPENMP, _MKL = _runtime()


def set_this_thread(count):
    """The calling thread's ops use `count` intra-op threads (itself included); -> the count before."""
    before = torch.get_num_threads()  # also torch's own per-thread set-up, which would overwrite ours later
    if _OPENMP is None:  # no per-thread setting to be had: torch's process-wide one
        torch.set_num_threads(int(count))
        return before
    _OPENMP.omp_set_num_threads(int(count))
    if _MKL is not None:
        _MKL.MKL_Set_Num_Threads_Local(int(count))
    return before


def keep_serial():
    """From now on the calling thread runs its ops alone (once per thread; later calls cost nothing).
    Without the runtime, nothing: torch's process-wide setting would make the model thread serial too."""
    if _OPENMP is not None and not getattr(_SERIAL, "done", False):
        set_this_thread(1)
        _SERIAL.done = True


def release_pool():
    """The calling thread's OpenMP pool ends its workers (its next parallel op starts a new pool)."""
    if _OPENMP is not None and hasattr(_OPENMP, "omp_pause_resource_all"):
        _OPENMP.omp_pause_resource_all(OMP_PAUSE_SOFT)
