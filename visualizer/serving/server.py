"""The serving side of one loaded model: its engine on a fair scheduler, and the session store.

`Server(loaded, settings)` builds the KV pool (the settings' budget), the model runner (CUDA graphs
when on a GPU and allowed), the `Scheduler` as the engine's turns, and a `SessionStore` whose
sessions each hold a `Workspace` on that engine. When the pool is full, the scheduler asks the
store to give back idle sessions' pool rows. On a ZeroGPU Space the forward passes run inside
`@spaces.GPU` (`zerogpu.py`) and the pool lives on the CPU. A tokenizer-only model gets no engine:
its workspaces render and tokenize, and decoding says it needs weights.
A janitor thread sweeps idle sessions every `JANITOR_S` and, when nothing ran since its last round,
runs the garbage collector's full pass and gives freed host memory back to the system; a server
that never goes idle gets the full pass every `FULL_COLLECTION_MAX_S` (`memory.py`).
What is left out: HTTP, the UI and languages (`ui/`).
"""

import threading
import time

from ..engine.engine import Engine
from ..engine.workspace import DecodeOptions, Workspace
from .memory import FullCollections, collect_fully, give_back, rss_bytes, tune_allocator
from .scheduler import Scheduler
from .sessions import SessionStore
from .zerogpu import gpu_call, on_zerogpu


JANITOR_S = 30.0


class Server:
    def __init__(self, loaded, settings):
        tune_allocator()
        self.loaded = loaded
        self.settings = settings
        self.engine = None
        if loaded.has_weights:
            self.engine = Engine.create(
                loaded, settings.cache_budget_bytes, graphs=settings.graphs, max_batch=settings.max_batch,
                device_call=gpu_call() if on_zerogpu() else None,
                turns=lambda runner: Scheduler(runner, settings.max_batch, settings.prefill_chunk,
                                               settings.max_prefill_tokens, on_pool_full=self._make_room))
        self.store = SessionStore(settings, self.new_workspace)
        self._stopping = threading.Event()
        self._janitor = threading.Thread(target=self._tidy, name="janitor", daemon=True)
        self._janitor.start()

    @property
    def scheduler(self):
        return self.engine.turns if self.engine is not None else None

    def new_workspace(self):
        options = DecodeOptions(max_new_tokens=min(DecodeOptions.max_new_tokens, self.settings.max_new_tokens))
        return Workspace(self.loaded, self.engine, options=options, max_new_tokens_limit=self.settings.max_new_tokens)

    def stats(self):
        figures = self.store.stats()
        figures["rss_bytes"] = rss_bytes()
        if self.engine is not None:
            pool = self.engine.pool
            figures.update(self.scheduler.stats(), pool_bytes=pool.used_bytes,
                           pool_capacity_bytes=pool.capacity_pages * pool.page_bytes)
        return figures

    def close(self):
        self._stopping.set()
        if self.scheduler is not None:
            self.scheduler.close()

    def _tidy(self):
        last, collections = None, FullCollections(time.monotonic())
        while not self._stopping.wait(JANITOR_S):
            self.store.sweep()
            stats = self.scheduler.stats() if self.scheduler is not None else {}
            activity = (stats.get("batches"), stats.get("prefill_chunks"))
            idle = activity == last  # nothing ran since the last round
            if collections.due(activity, idle, time.monotonic()):
                collect_fully()
            if idle:  # give freed memory back
                if self.engine is not None:
                    self.engine.pool.release_free_memory()
                give_back()
            last = activity

    def _make_room(self, full):
        """On a full pool: idle sessions give their rows back until the request would fit."""
        pool = self.engine.pool
        needed = getattr(full, "needed", None)
        self.store.evict_idle(enough=lambda: needed is not None and pool.free_pages >= needed)
