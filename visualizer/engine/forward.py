"""ModelRunner: the model's forward over rows of a KVPool, one call per step or prefill chunk.

`step(handles, token_ids)` feeds one new token to each row (each at its own position) in one
forward and returns the next-token logits of every row; `extend(handle, ids, keep)` feeds a chunk
of ids to one row and returns the logits of its last `keep` positions. Both are all or nothing: on
PoolFull or any error every length, table and page is as before. Three ways to run a forward:
- eager: index tensors go to the device in one host-to-device copy (pinned on CUDA, so a step
  issued behind GPU-side sampling does not sync) and the model runs on a PageView of the pool;
- CUDA graphs (graphs=True on CUDA): single-token steps replay a graph of their bucket once it is
  captured (see graphs.py; `capture_pending()` captures one bucket when the caller is idle);
- device_call (ZeroGPU): the pool stays on the CPU and the GPU exists only inside
  `device_call(device_forward)`, which may run in another process (arguments and results copied).
  `device_forward` is pure: it gets the rows' pages staged into a small local pool (block tables
  remapped), runs, and returns the logits and the new K/V of the written slots, which the runner
  writes into the CPU pool. Each call ships the rows' whole pages: the price of ZeroGPU.
`inspect(handle, position, token_id, options)` is a read-only probe pass (hidden states, attention
weights: see probe.py) at a position the row already holds; the pool is left as it was.
On the CPU a pass of fewer than `WIDE_PASS_TOKENS` tokens runs on `narrow_threads` intra-op
threads of the calling thread (None, the default: all of them; `cpu_threads.set_this_thread`); the
server's scheduler sets 1. Measured on this 2-core CPU (SmolLM2, oneDNN's packed weights,
`cpu_linear.py`): a lone step takes 20 ms on two threads and 27-28 on one, but beside a browser on
the same machine (the laptop of a workshop) one thread runs faster: 26-28 tokens a second on the
page against 15-16 with two (`bench/browser_bench.py`, stop 20): a second thread waits at every
parallel region for a core the browser holds. Wider passes use every thread.
The runner is not thread-safe: one thread drives it (the scheduler's model thread).
What is left out: sampling (the caller picks from the logits), multi-row extends,
models spread over several devices (the pool lives on one).
"""

import contextlib

import torch

from .cpu_threads import set_this_thread
from .graphs import StepGraphs, packed_inputs, unpack
from .kvpool import TRASH_PAGE, Reservation
from .page_view import PageView, forward_over
from .probe import device_probe, probe_forward

WIDE_PASS_TOKENS = 4  # CPU passes of this many tokens or more use every intra-op thread


class ModelRunner:
    def __init__(self, model, pool, graphs=False, max_batch=32, device_call=None):
        if pool.dtype != model.dtype:
            raise ValueError(f"the KV pool is {pool.dtype} but the model is {model.dtype}")
        wanted = "cpu" if device_call is not None else model.device.type
        if pool.device.type != wanted:
            raise ValueError(f"the KV pool is on {pool.device.type}; this runner needs it on {wanted}")
        self.model, self.pool, self.max_batch = model, pool, max_batch
        self.narrow_threads = None  # intra-op threads of a narrow CPU pass (None: all; see the docstring)
        self.remote = device_call(device_forward) if device_call is not None else None
        self.remote_probe = device_call(device_probe) if device_call is not None else None
        self.graphs = bool(graphs) and pool.device.type == "cuda" and self.remote is None
        self._graphs = StepGraphs(model, pool, max_batch) if self.graphs else None

    def step(self, handles, token_ids):
        """handles (B,), token_ids: list[int] or a LongTensor (B,) -> logits (B, V) float32 (on the
        model's device; on the CPU with device_call). Every row grows by one."""
        handles = list(handles)
        if not handles or len(token_ids) != len(handles):
            raise ValueError(f"{len(handles)} handles and {len(token_ids)} token ids")
        return self._forward(handles, token_ids, keep=1)[:, -1]

    def extend(self, handle, ids, keep=1):
        """ids: list[int] fed to one row -> logits (keep, V) float32 of its last `keep` positions."""
        ids = list(ids)
        if not 1 <= keep <= len(ids):
            raise ValueError(f"keep must be 1..{len(ids)}, not {keep}")
        return self._forward([handle], ids, keep)[0]

    def inspect(self, handle, position, token_id, options):
        """Feed `token_id` again at `position` (< the row's length) with probe.ProbeOptions -> ProbeResult.
        Read-only: its one write goes to the trash page (on ZeroGPU, to a staged copy)."""
        if not 0 <= position < self.pool.length(handle):
            raise ValueError(f"position {position} is not in the row (length {self.pool.length(handle)})")
        if self.remote_probe is not None:
            staged, _ = stage(self.pool, Reservation([handle], [position], 1, []), [token_id], keep=1)
            return self.remote_probe(self.model, staged, options)
        device = self.model.device
        table = torch.tensor([self.pool.block_table(handle)], device=device)
        trash = torch.tensor([TRASH_PAGE * self.pool.page_size], device=device)
        view = PageView(self.pool.keys, self.pool.values, self.pool.page_size, trash, table)
        return probe_forward(self.model, token_id, position, view, options)

    def capture_pending(self):
        """Capture one pending CUDA graph bucket; -> whether more remain (False without graphs)."""
        return self._graphs.capture_next() if self.graphs else False

    def graph_progress(self):
        """(captured, total) buckets, for a progress display; (0, 0) without graphs."""
        return self._graphs.progress() if self.graphs else (0, 0)

    @torch.no_grad()
    def _forward(self, handles, ids, keep):
        q = len(ids) // len(handles)
        reservation = self.pool.reserve(handles, q)
        try:
            if self.remote is not None:
                logits = self._remote_forward(reservation, ids, keep)
            else:
                logits = self._replay(reservation, ids) if q == 1 and self.graphs else None
                if logits is None:
                    with self._threads(len(handles) * q):
                        logits = self._eager(reservation, ids, keep)
        except BaseException:
            self.pool.rollback(reservation)
            raise
        self.pool.commit(reservation)
        return logits

    def _threads(self, tokens):
        """On the CPU, `narrow_threads` intra-op threads for a narrow pass (see the module docstring)."""
        narrow = self.narrow_threads
        if (self.model.device.type != "cpu" or tokens >= WIDE_PASS_TOKENS or narrow is None
                or narrow >= torch.get_num_threads()):
            return contextlib.nullcontext()
        return _intra_op_threads(narrow)

    def _split_ids(self, ids):
        """-> (host ids list, device tensor or None): ids already on the model's device skip the host."""
        if isinstance(ids, torch.Tensor) and ids.device == self.model.device:
            return [0] * len(ids), ids.to(torch.long)
        return (ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)), None

    def _eager(self, reservation, ids, keep):
        pool, rows, q = self.pool, len(reservation.handles), reservation.n_new
        pages = max(len(pool.block_table(handle)) for handle in reservation.handles)
        host_ids, device_ids = self._split_ids(ids)
        on_cuda = self.model.device.type == "cuda"
        packed = packed_inputs(pool, reservation, host_ids, rows, pages, pin=on_cuda)
        input_ids, starts, slots, table = unpack(packed.to(self.model.device, non_blocking=True), rows, q, pages)
        if device_ids is not None:
            input_ids = device_ids.view(rows, q)
        view = PageView(pool.keys, pool.values, pool.page_size, slots, table)
        return forward_over(self.model, input_ids, starts, view, keep).float()

    def _replay(self, reservation, ids):
        """The step on its bucket's captured graph -> logits (B, 1, V), or None (not captured: eager)."""
        rows = len(reservation.handles)
        pages = max(len(self.pool.block_table(handle)) for handle in reservation.handles)
        bucket = self._graphs.bucket(rows, pages)
        captured = self._graphs.lookup(bucket) if bucket else None
        if captured is None:
            return None
        static, graph, logits = captured
        host_ids, device_ids = self._split_ids(ids)
        static.load(packed_inputs(self.pool, reservation, host_ids, *bucket, pin=self.pool.device.type == "cuda"),
                    device_ids)
        graph.replay()
        return logits[:rows].to(torch.float32, copy=True)  # the static output is overwritten next replay

    def _remote_forward(self, reservation, ids, keep):
        pool = self.pool
        staged, real_slots = stage(pool, reservation, ids, keep)
        logits, new_keys, new_values = self.remote(self.model, staged)
        for layer in range(pool.num_layers):
            pool.keys[layer].view(-1, pool.kv_heads, pool.head_dim).index_copy_(0, real_slots, new_keys[layer])
            pool.values[layer].view(-1, pool.kv_heads, pool.head_dim).index_copy_(0, real_slots, new_values[layer])
        return logits


@contextlib.contextmanager
def _intra_op_threads(count):
    threads = set_this_thread(count)  # this thread's alone (cpu_threads.py)
    try:
        yield
    finally:
        set_this_thread(threads)


def stage(pool, reservation, ids, keep):
    """The CPU side of a device_call forward: the rows' pages copied into a small local pool (local
    page 0 = a zero trash page, block tables remapped) -> (staged dict, the real write slots)."""
    handles, q, size = reservation.handles, reservation.n_new, pool.page_size
    tables = [pool.block_table(handle) for handle in handles]
    used = list(dict.fromkeys(page for table in tables for page in table))
    local = {page: index + 1 for index, page in enumerate(used)}
    pages = max(map(len, tables))
    table = torch.tensor([[local[p] for p in t] + [TRASH_PAGE] * (pages - len(t)) for t in tables])
    slots = [slot for handle, start in zip(handles, reservation.starts) for slot in pool.write_slots(handle, start, q)]
    local_slots = torch.tensor([local[slot // size] * size + slot % size for slot in slots])
    shape = (pool.num_layers, len(used) + 1, size, pool.kv_heads, pool.head_dim)
    keys, values = torch.zeros(shape, dtype=pool.dtype), torch.zeros(shape, dtype=pool.dtype)
    index = torch.tensor(used, dtype=torch.long)
    for layer in range(pool.num_layers):
        torch.index_select(pool.keys[layer], 0, index, out=keys[layer, 1:])
        torch.index_select(pool.values[layer], 0, index, out=values[layer, 1:])
    ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
    staged = {"input_ids": torch.tensor(ids, dtype=torch.long).view(len(handles), q),
              "starts": torch.tensor(reservation.starts, dtype=torch.long), "write_slots": local_slots,
              "block_table": table, "keys": keys, "values": values, "page_size": size, "keep": keep}
    return staged, torch.tensor(slots)


@torch.no_grad()
def device_forward(model, staged):
    """Pure: staged inputs (CPU tensors, see `stage`) -> (logits (rows, keep, V) float32, new keys and
    new values (layers, written slots, kv_heads, head_dim)), all on the CPU. Runs on the model's device."""
    device = model.device
    keys, values = staged["keys"].to(device), staged["values"].to(device)
    slots, table = staged["write_slots"].to(device), staged["block_table"].to(device)
    view = PageView(list(keys), list(values), staged["page_size"], slots, table)
    logits = forward_over(model, staged["input_ids"].to(device), staged["starts"].to(device), view, staged["keep"])
    layers, heads, dim = keys.shape[0], keys.shape[3], keys.shape[4]
    new_keys = keys.view(layers, -1, heads, dim)[:, slots]
    new_values = values.view(layers, -1, heads, dim)[:, slots]
    return logits.float().cpu(), new_keys.cpu(), new_values.cpu()
