"""The transformers `Cache` a forward runs on over rows of KV-pool pages, its mask, and that forward.

`PageView.update` writes the new K/V in place (`index_copy_` into a flat token view) and returns the
rows' pages as [rows, kv_heads, pages * page_size, head_dim]; `build_mask` gives the matching 4D
additive mask (a 4D mask reaches the attention untouched in transformers 5.24, so the view needs no
other Cache method). Neither syncs with the host nor branches on tensor values: capturable.
What is left out: which pages a row has (the pool's block tables, `kvpool.py`).
"""

import torch
from transformers.cache_utils import Cache


def build_mask(starts, q, kv_len, dtype):
    """starts (N,) long, tokens already cached per row -> additive mask (N, 1, q, kv_len).

    Query i of row b sits at position starts[b] + i and sees keys 0..starts[b] + i; later keys,
    padding and stale slots get finfo(dtype).min. A padding row (start 0) still sees key 0 of the
    trash page, so no row is fully masked (sdpa would give NaN)."""
    keys = torch.arange(kv_len, device=starts.device)
    queries = torch.arange(q, device=starts.device)
    visible = keys.view(1, 1, -1) <= (starts.view(-1, 1, 1) + queries.view(1, -1, 1))
    zero = torch.zeros((), dtype=dtype, device=starts.device)
    hidden = torch.full((), torch.finfo(dtype).min, dtype=dtype, device=starts.device)
    return torch.where(visible, zero, hidden).unsqueeze(1)


class PageView(Cache):
    """The `cache=` of one forward over rows of pages.

    keys/values: per-layer page tensors; write_slots (rows * q,): page * page_size + offset of each
    new token; block_table (rows, pages), padded with TRASH_PAGE."""

    def __init__(self, keys, values, page_size, write_slots, block_table):
        super().__init__(layers=[])
        self.keys, self.values, self.page_size = keys, values, page_size
        self.write_slots, self.block_table = write_slots, block_table

    @property
    def kv_len(self):
        return self.block_table.shape[1] * self.page_size

    def update(self, key_states, value_states, layer_idx, *args, **kwargs):
        rows, heads, q, dim = key_states.shape
        return (self._write_and_read(self.keys[layer_idx], key_states, rows, heads, q, dim),
                self._write_and_read(self.values[layer_idx], value_states, rows, heads, q, dim))

    def _write_and_read(self, pages, states, rows, heads, q, dim):
        new = states.transpose(1, 2).reshape(rows * q, heads, dim)
        pages.view(-1, heads, dim).index_copy_(0, self.write_slots, new)
        read = pages.index_select(0, self.block_table.reshape(-1))
        return read.view(rows, self.kv_len, heads, dim).transpose(1, 2)


def forward_over(model, input_ids, starts, view, keep):
    """The model's forward over a PageView: input_ids (rows, q), starts (rows,) -> logits (rows, keep, V).
    Every tensor is on the model's device already; nothing here syncs with the host."""
    q = input_ids.shape[1]
    positions = starts.view(-1, 1) + torch.arange(q, device=starts.device)
    mask = build_mask(starts, q, view.kv_len, model.dtype)
    return model(input_ids=input_ids, position_ids=positions, attention_mask=mask, cache=view,
                 use_cache=True, logits_to_keep=keep).logits
