"""What every decode state runs on: the loaded model, its KV pool and runner, and turns at the model.

`Engine.create(loaded, ...)` builds the one `KVPool` (sized by a byte budget) and `ModelRunner` for
a model. Decoders, lockstep pairs and workspaces take an Engine (a required argument: nothing
makes a private one behind the caller's back) and reach the model only through `engine.turns`:
- `advance(items, interactive=True)`: the `stepper.Advance` / `Feed` items in one forward pass (a
  server may add other users' items to that pass, and serve clicks before the tokens of runs,
  which pass interactive=False) -> a record per Advance;
- `prefill(branch, rebuild_records=False)`: (re)build a branch's pool row from its ids, in chunks
  (and the records of its generated ids, after a restore);
- `call(function)`: run `function()` while holding the model alone (an on-demand special pass).
`DirectTurns` runs each request at once in the caller's thread (the CLI, tests, benchmarks); the
web server passes `serving.scheduler.Scheduler`, which queues, batches and interleaves them.
What is left out: queueing, fairness and memory policy between users (that is serving's).
"""

import threading

import torch

from . import stepper
from .forward import ModelRunner
from .kvpool import KVPool
from .errors import refuse

PREFILL_CHUNK = 512  # prompt tokens per forward pass when (re)building a row
DEFAULT_POOL_BYTES = 2 * 2**30


class Engine:
    def __init__(self, loaded, runner, turns=None):
        self.loaded = loaded
        self.runner = runner
        self.turns = turns if turns is not None else DirectTurns(runner)

    @classmethod
    def create(cls, loaded, pool_bytes=DEFAULT_POOL_BYTES, graphs=False, max_batch=32, device_call=None,
               turns=None):
        """Engine over a new pool of `pool_bytes` for `loaded` (a LoadedModel with weights)."""
        require_weights(loaded)
        model = loaded.model
        pool_device = "cpu" if device_call is not None else model.device
        pool = KVPool.sized(model.config, pool_bytes, dtype=model.dtype, device=pool_device)
        runner = ModelRunner(model, pool, graphs=graphs, max_batch=max_batch, device_call=device_call)
        return cls(loaded, runner, turns(runner) if callable(turns) else turns)

    @property
    def pool(self):
        return self.runner.pool

    @property
    def tokenizer(self):
        return self.loaded.tokenizer

    @property
    def vocab_size(self):
        return self.loaded.vocab_size


class DirectTurns:
    """Each request runs at once, in the caller's thread, alone (a lock keeps threads apart)."""

    def __init__(self, runner, chunk=PREFILL_CHUNK):
        self.runner = runner
        self.chunk = chunk
        self._lock = threading.Lock()

    def advance(self, items, interactive=True):
        with self._lock, torch.no_grad():
            return stepper.run_batch(self.runner, items)

    def prefill(self, branch, rebuild_records=False):
        with self._lock, torch.no_grad():
            job = stepper.Prefill(self.runner, branch, self.chunk, rebuild_records)
            try:
                while not job.next_chunk():
                    pass
            except BaseException:
                job.cancel()
                raise

    def call(self, function):
        with self._lock, torch.no_grad():
            return function()


def require_weights(loaded):
    if not loaded.has_weights:
        raise refuse("needs_weights", model=loaded.name)


def check_context(loaded, prompt_length, max_new_tokens):
    if prompt_length + max_new_tokens > loaded.context_length:
        raise refuse("context_exceeded", count=prompt_length, new=max_new_tokens, limit=loaded.context_length)
