"""One paged KV pool shared by every session: pages, block tables, reservations, fork, undo, eviction.

Per layer, keys and values are tensors [num_pages, page_size, kv_heads, head_dim]. A session is an
int handle owning a block table (page ids) and a length. Page 0 is the trash page: never handed
out; padding rows and padding block-table entries point at it, so a padded batch writes nowhere
live. Pages are reference counted: `fork` shares the full pages and copies the partial last one,
and a write into a page still shared (after `truncate` moved a length back into it) copies the page
first (copy on write). `truncate` is undo, `free` is eviction. A reservation of new positions is
all or nothing (`PoolFull` leaves every table, length and free page as it was).

Memory: on the CPU the pages are `torch.empty` (nothing is touched at creation, so the resident
size grows with use and never passes the budget) and a page is zeroed the first time it is handed
out: masked garbage can be NaN, and NaN times a zero attention weight still poisons sdpa. A reused
page holds finite old values, which the mask hides. `release_free_memory()` hands the memory of
free pages back to the system (`host_pages.discard`: they read as zeros, or keep finite old values
at their edges, when next used), so after a busy hour the server shrinks again; the server calls it
when idle. On CUDA everything is zeroed at creation and the pool keeps its memory.
Reads always gather the rows' pages (`index_select`). Reading a single row's consecutive pages as a
plain slice (no copy), with an allocator preferring consecutive pages, was tried and measured on
this 2-core CPU (random SmolLM2-135M-shaped Llama, fp32, sdpa, one row at 2047 cached + 1 new token,
median step of 30): slice 52.2 ms vs gather 48.1 ms with 1 thread, 48.5 vs 46.7 ms with 2 (a lone
DynamicCache step: 50.3 / 48.0 ms). The slice did not help on this CPU (why was not
investigated; a GPU was not measured), so both were dropped: pages come off a plain free stack.
The bookkeeping (tables, lengths, reference counts, free pages) is guarded by one lock, so an idle
session's rows can be freed from any thread; forward passes run from one thread at a time (the
server's model thread), and no handle in a forward is freed meanwhile (its session is in use).

A forward reads and writes the pages through `page_view.PageView`.

Why not transformers' continuous batching cache (`generation/continuous_batching`, 5.24):
full-vocab logits never leave its step (reduced to a token id by `_sample`, model_runner.py:195-248);
the next input is always the sampled token (no forced tokens, requests.py:223-225); a request runs to
EOS in a background loop, so a per-click step is a new request that re-prefills up to a page
(scheduler.py:78-83, cache_allocator.py:273); there is no truncate (undo) and no copy on write
(position_offset only grows, input_outputs.py:387-391), and fork exists only at prefill end
(scheduler.py:153-157). For sdpa/eager it packs rows into one sequence with a block-diagonal mask,
O(N^2 L) for N decode rows. Borrowed as ideas only: trash page, index_copy_ write + gather read,
refcounted pages, lazily captured graphs sharing one memory pool.
What is left out: sliding-window and linear-attention layers (refused), prefix caching (pages are
shared by fork only), offloading, quantized pages, flash-attention paged kernels.
"""

import functools
import threading
from dataclasses import dataclass

import torch

from .host_pages import can_discard, discard, page_aligned_empty

TRASH_PAGE = 0


class PoolFull(RuntimeError):
    """Not enough free pages; the pool and every handle are left as they were. `needed`: the pages
    the refused request wanted (None when unknown)."""

    def __init__(self, message, needed=None):
        super().__init__(message)
        self.needed = needed


def _locked(method):
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    return guarded


@dataclass
class Reservation:
    """Positions [start, start + n_new) made writable for each handle; tables_before for rollback."""
    handles: list
    starts: list
    n_new: int
    tables_before: list


def kv_shape(config):
    """(layers, kv_heads, head_dim) of a full-attention decoder config."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    if any(kind != "full_attention" for kind in getattr(text, "layer_types", None) or ()):
        raise ValueError("the KV pool handles full-attention layers only")
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
    return text.num_hidden_layers, text.num_key_value_heads, head_dim


class KVPool:
    """The pages of every session; a session is an int handle (see the module docstring)."""

    def __init__(self, config, num_pages, page_size=16, dtype=torch.float32, device="cpu"):
        if num_pages < 2:
            raise ValueError("a KV pool needs at least 2 pages (one is the trash page)")
        self.num_layers, self.kv_heads, self.head_dim = kv_shape(config)
        self.num_pages, self.page_size = num_pages, page_size
        self.dtype, self.device = dtype, torch.device(device)
        shape = (num_pages, page_size, self.kv_heads, self.head_dim)
        on_cuda = self.device.type == "cuda"
        make = (lambda: torch.zeros(shape, dtype=dtype, device=self.device)) if on_cuda else \
            (lambda: page_aligned_empty(shape, dtype))
        self.keys = [make() for _ in range(self.num_layers)]
        self.values = [make() for _ in range(self.num_layers)]
        self.refs = [0] * num_pages
        self.refs[TRASH_PAGE] = 1  # never handed out, never freed
        self._free = list(range(num_pages - 1, TRASH_PAGE, -1))  # pop() hands out low ids first
        self._zeroed = bytearray([1 if on_cuda else 0]) * num_pages
        self._resident = bytearray(num_pages)  # CPU pages whose memory may be held (handed out since released)
        self.pages_zeroed = 0  # pages zeroed on first hand-out (CPU), for tests and stats
        self._zero(TRASH_PAGE)
        self._tables, self._lengths = {}, {}
        self._next_handle = 0
        self._lock = threading.RLock()

    @classmethod
    def sized(cls, config, budget_bytes, page_size=16, dtype=torch.float32, device="cpu"):
        """As many pages as fit budget_bytes, plus the trash page."""
        layers, kv_heads, head_dim = kv_shape(config)
        page_bytes = 2 * layers * page_size * kv_heads * head_dim * dtype.itemsize
        pages = int(budget_bytes) // page_bytes
        if pages < 2:
            raise ValueError(f"a KV budget of {int(budget_bytes)} bytes holds {pages} pages of {page_bytes} "
                             "bytes; at least 2 are needed")
        return cls(config, pages + 1, page_size, dtype, device)

    # ---- sizes ----
    @property
    def page_bytes(self):
        return 2 * self.num_layers * self.page_size * self.kv_heads * self.head_dim * self.dtype.itemsize

    @property
    def bytes_per_token(self):
        return self.page_bytes // self.page_size

    @property
    def capacity_pages(self):
        return self.num_pages - 1

    @property
    def free_pages(self):
        return len(self._free)

    @property
    def used_bytes(self):
        return (self.capacity_pages - len(self._free)) * self.page_bytes

    @_locked
    def nbytes(self, handle):
        """Bytes this handle holds; a page shared by k handles counts page_bytes / k."""
        return round(sum(self.page_bytes / self.refs[page] for page in self._tables[handle]))

    # ---- handles ----
    @_locked
    def new(self):
        handle = self._next_handle
        self._next_handle += 1
        self._tables[handle], self._lengths[handle] = [], 0
        return handle

    @_locked
    def length(self, handle):
        return self._lengths[handle]

    @_locked
    def block_table(self, handle):
        return list(self._tables[handle])

    @_locked
    def free(self, handle):
        """Evict: give the handle's pages back (shared ones only lose a reference)."""
        for page in self._tables.pop(handle):
            self._release(page)
        del self._lengths[handle]

    @_locked
    def truncate(self, handle, length):
        """Undo: move the length back; pages past the new end go back to the pool."""
        if not 0 <= length <= self._lengths[handle]:
            raise ValueError(f"cannot truncate to {length} (length {self._lengths[handle]})")
        table = self._tables[handle]
        for page in table[self._pages_for(length):]:
            self._release(page)
        del table[self._pages_for(length):]
        self._lengths[handle] = length

    @_locked
    def fork(self, handle):
        """A new handle with the same content: full pages shared, the partial last page copied."""
        length, table = self._lengths[handle], self._tables[handle]
        full = length // self.page_size
        partial = length % self.page_size != 0
        if partial and not self._free:
            raise PoolFull("no free page for the fork's partial last page", needed=1)
        child = self.new()
        for page in table[:full]:
            self.refs[page] += 1
        self._tables[child] = table[:full]
        if partial:
            self._tables[child].append(self._copy_of(table[full]))
        self._lengths[child] = length
        return child

    # ---- reservations (one forward) ----
    @_locked
    def can_hold(self, extra_tokens_per_handle):
        """Would a reservation of {handle: extra tokens} fit in the free pages?"""
        return self._pages_needed(extra_tokens_per_handle) <= len(self._free)

    @_locked
    def reserve(self, handles, n_new):
        """Make positions [length, length + n_new) of each handle writable by it alone (fresh pages,
        copies of shared ones). All or nothing: PoolFull changes nothing. Lengths change at commit."""
        if len(set(handles)) != len(handles):
            raise ValueError("a handle appears twice in one forward")
        needed = self._pages_needed({handle: n_new for handle in handles})
        if needed > len(self._free):
            raise PoolFull(f"need {needed} free KV pages, {len(self._free)} left", needed=needed)
        before = [list(self._tables[handle]) for handle in handles]
        for handle in handles:
            table, length = self._tables[handle], self._lengths[handle]
            for index in self._shared_in_range(handle, n_new):  # copy on write
                copy = self._copy_of(table[index])
                self._release(table[index])
                table[index] = copy
            while len(table) < self._pages_for(length + n_new):
                table.append(self._take())
        return Reservation(list(handles), [self._lengths[h] for h in handles], n_new, before)

    @_locked
    def write_slots(self, handle, start, count):
        """Flat slot ids (page * page_size + offset) of positions [start, start + count)."""
        table, size = self._tables[handle], self.page_size
        return [table[pos // size] * size + pos % size for pos in range(start, start + count)]

    @_locked
    def commit(self, reservation):
        for handle, start in zip(reservation.handles, reservation.starts):
            self._lengths[handle] = start + reservation.n_new

    @_locked
    def rollback(self, reservation):
        """After a failed forward: tables as before the reservation (written slots lie past the length)."""
        for handle, before in zip(reservation.handles, reservation.tables_before):
            if handle in self._tables:
                for page in before:
                    self.refs[page] += 1
                for page in self._tables[handle]:
                    self._release(page)
                self._tables[handle] = before

    # ---- pages ----
    def _pages_for(self, length):
        return -(-length // self.page_size)

    def _shared_in_range(self, handle, n_new):
        table, length = self._tables[handle], self._lengths[handle]
        last = min(self._pages_for(length + n_new), len(table))
        return [i for i in range(length // self.page_size, last) if self.refs[table[i]] > 1]

    def _pages_needed(self, extra_tokens_per_handle):
        needed = 0
        for handle, extra in extra_tokens_per_handle.items():
            fresh = self._pages_for(self._lengths[handle] + extra) - len(self._tables[handle])
            needed += max(0, fresh) + len(self._shared_in_range(handle, extra))
        return needed

    @_locked
    def release_free_memory(self):
        """Give the memory of free pages back to the system (CPU pools); -> pages released."""
        if self.device.type != "cpu" or not can_discard():
            return 0
        released = [page for page in self._free if self._resident[page]]
        for page in released:
            for tensor in self.keys + self.values:
                discard(tensor[page])
            self._resident[page] = 0
        return len(released)

    def _take(self):
        page = self._free.pop()
        self.refs[page] = 1
        self._resident[page] = 1
        if not self._zeroed[page]:
            self._zero(page)
            self.pages_zeroed += 1
        return page

    def _zero(self, page):
        for layer in range(self.num_layers):
            self.keys[layer][page].zero_()
            self.values[layer][page].zero_()
        self._zeroed[page] = 1

    def _copy_of(self, page):
        copy = self._take()
        for layer in range(self.num_layers):
            self.keys[layer][copy].copy_(self.keys[layer][page])
            self.values[layer][copy].copy_(self.values[layer][page])
        return copy

    def _release(self, page):
        self.refs[page] -= 1
        if self.refs[page] == 0:
            self._free.append(page)
