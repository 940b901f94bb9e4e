"""CUDA graphs for single-token pooled steps, one per (batch bucket, pages bucket), captured lazily.

A step of B rows whose longest row needs P pages runs on the graph of (smallest batch bucket >= B,
smallest pages bucket >= P: powers of two from 4, and 1.5 times a power of two above 64): its inputs go into that bucket's static buffers
(one packed int64 tensor, filled by one host-to-device copy), padding rows point at the trash page,
and the mask is built inside the graph from the static row starts. Buckets are captured one at a
time by `capture_next()` (the caller's model thread, when idle), from a list of likely buckets; a
step whose bucket is not captured yet runs eager and moves its bucket to the front of that list.
All graphs share one memory pool (they never run concurrently: one thread drives the runner).
What is left out: multi-token (extend) graphs, buckets above MAX_GRAPH_KEYS keys (those stay eager:
the shared pool would keep their activations for good), torch.compile.
"""

import logging

import torch

from .kvpool import TRASH_PAGE
from .page_view import PageView, forward_over

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32)
MIN_PAGES_BUCKET = 4
LIKELY_CONTEXT = 4096  # tokens: the buckets queued up front cover rows up to this long
MAX_GRAPH_KEYS = 32 * 4096  # batch bucket x pages bucket x page size above which a step stays eager

log = logging.getLogger(__name__)


def batch_buckets(max_batch):
    """The buckets up to the first one that holds max_batch rows."""
    buckets = [b for b in BATCH_BUCKETS if b < max_batch]
    return buckets + [b for b in BATCH_BUCKETS if b >= max_batch][:1]


def pages_bucket(pages):
    """The smallest bucket holding `pages`: powers of two, and from 64 pages (1024 tokens) on also
    1.5 times a power of two, so a row just past a boundary gathers at most a third more than it needs."""
    power = max(MIN_PAGES_BUCKET, 1 << max(0, pages - 1).bit_length())
    between = 3 * power // 4
    return between if power > 64 and pages <= between else power


def packed_inputs(pool, reservation, ids, rows, pages, pin=False):
    """Host int64 tensor [ids (rows*q) | starts (rows) | write slots (rows*q) | block table (rows*pages)]
    for a reservation, padded to `rows` rows and `pages` pages with the trash page."""
    q, size = reservation.n_new, pool.page_size
    padding = rows - len(reservation.handles)
    ids = list(ids) + [0] * (padding * q)
    starts = list(reservation.starts) + [0] * padding
    slots, table = [], []
    for handle, start in zip(reservation.handles, reservation.starts):
        slots += pool.write_slots(handle, start, q)
        own = pool.block_table(handle)
        table += own + [TRASH_PAGE] * (pages - len(own))
    slots += [TRASH_PAGE * size + i % size for i in range(padding * q)]
    table += [TRASH_PAGE] * (padding * pages)
    return torch.tensor(ids + starts + slots + table, dtype=torch.long, pin_memory=pin)


def unpack(packed, rows, q, pages):
    """-> input_ids (rows, q), starts (rows,), write slots (rows*q,), block table (rows, pages): views."""
    ids, starts, slots, table = packed.split([rows * q, rows, rows * q, rows * pages])
    return ids.view(rows, q), starts, slots, table.view(rows, pages)


class StaticStep:
    """Static buffers of one bucket and the capturable forward over them."""

    def __init__(self, pool, rows, pages):
        self.rows, self.pages = rows, pages
        self.packed = torch.zeros(rows * 3 + rows * pages, dtype=torch.long, device=pool.device)
        self.input_ids, self.starts, slots, table = unpack(self.packed, rows, 1, pages)
        self.view = PageView(pool.keys, pool.values, pool.page_size, slots, table)

    def load(self, packed, token_ids=None):
        """Copy a step's packed host inputs in (and token ids already on the device, if given)."""
        self.packed.copy_(packed, non_blocking=True)
        if token_ids is not None:
            self.input_ids[:len(token_ids), 0].copy_(token_ids, non_blocking=True)

    def run(self, model):
        return forward_over(model, self.input_ids, self.starts, self.view, keep=1)


class StepGraphs:
    def __init__(self, model, pool, max_batch):
        self.model, self.pool = model, pool
        self.batch_buckets = batch_buckets(max_batch)
        most = pages_bucket(-(-LIKELY_CONTEXT // pool.page_size))
        likely_pages = sorted({pages_bucket(pages) for pages in range(1, most + 1)})
        self.pending = [(b, p) for p in likely_pages for b in self.batch_buckets if self._fits((b, p))]
        self.captured = {}  # bucket -> (StaticStep, CUDAGraph, static logits)
        self.failed = set()
        self._memory_pool = None

    def bucket(self, rows, pages):
        """The bucket a step of `rows` rows and `pages` pages would use, or None (stays eager)."""
        fitting = [b for b in self.batch_buckets if b >= rows]
        bucket = (fitting[0], pages_bucket(pages)) if fitting else None
        return bucket if bucket and self._fits(bucket) else None

    def lookup(self, bucket):
        """The captured graph of a bucket, or None after queueing it at the front of the pending list."""
        if bucket in self.captured or bucket in self.failed:
            return self.captured.get(bucket)
        if bucket in self.pending:
            self.pending.remove(bucket)
        self.pending.insert(0, bucket)
        return None

    def capture_next(self):
        """Capture the first pending bucket; -> whether more remain."""
        if self.pending:
            bucket = self.pending.pop(0)
            try:
                self.captured[bucket] = self._capture(*bucket)
            except Exception as error:  # noqa: BLE001 - that bucket runs eager from now on
                log.warning("CUDA graph capture failed for bucket %s (runs eager): %s", bucket, error)
                self.failed.add(bucket)
        return bool(self.pending)

    def progress(self):
        return len(self.captured), len(self.captured) + len(self.pending)

    def _fits(self, bucket):
        return bucket[0] * bucket[1] * self.pool.page_size <= MAX_GRAPH_KEYS

    @torch.no_grad()
    def _capture(self, rows, pages):
        static = StaticStep(self.pool, rows, pages)  # all rows on the trash page: writes nowhere live
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):  # warm-up outside the graph (lazy inits, cuBLAS workspaces)
                static.run(self.model)
        torch.cuda.current_stream().wait_stream(side)
        if self._memory_pool is None:
            self._memory_pool = torch.cuda.graph_pool_handle()
        graph = torch.cuda.CUDAGraph()
        # thread_local: other threads (the UI copying results, say) may use CUDA during the capture.
        with torch.cuda.graph(graph, pool=self._memory_pool, capture_error_mode="thread_local"):
            logits = static.run(self.model)
        return static, graph, logits
