"""The KV cache behind four named operations: prefill, step, crop and fork.

Each operation is a plain function over a transformers `DynamicCache` (`extend` is the
several-tokens-per-row form of step, `step_rows` the several-caches form), so each is testable
on its own and the decoder never touches cache internals. Logits come back as float32 on the
CPU, where picking happens (so a pick is the same on any device).
What is left out: static and quantized caches (`step_rows` refuses to batch those; the forward
queue steps them one by one).
"""

import copy
import inspect
from functools import lru_cache

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from ..serving.zerogpu import gpu_forward


def prefill(model, ids, cache=None):
    """ids: list[int] (T,) -> (logits (vocab,) for the position after the last id, cache of length +T)."""
    cache = cache if cache is not None else DynamicCache(config=model.config)
    return extend(model, cache, [ids])[0], cache


def step(model, cache, token_ids):
    """One forward pass over one new token per batch row: token_ids (B,) -> logits (B, vocab)."""
    return extend(model, cache, [[token_id] for token_id in token_ids])


def extend(model, cache, rows):
    """Feed several new ids per batch row in one forward pass: rows (B, S), equal lengths ->
    logits (B, vocab) for the position after each row's last id; the cache grows by S."""
    input_ids = torch.tensor(rows, dtype=torch.long, device=model.device)
    return _forward(model, input_ids, cache)


def step_rows(model, caches, token_ids):
    """One forward pass for several separate caches (one user each, any lengths), one new token
    each: caches (N,), token_ids (N,) -> logits (N, vocab); every cache grows by one, in place.

    The caches are left-padded into one batch with the padding masked out, so the weights are
    read once for all N rows. Logits equal N separate steps up to float rounding (the batched
    matrix products sum in another order), not bit for bit. The caches are written back only
    after the forward pass succeeded: on an error they are as they were. Check `can_batch` first.
    """
    if len(caches) == 1:
        return step(model, caches[0], token_ids)
    if not can_batch(caches):
        raise ValueError("these caches cannot share a forward pass (see can_batch)")
    lengths = [length(cache) for cache in caches]
    longest = max(lengths)
    merged = DynamicCache(config=model.config)
    for index, layers in enumerate(zip(*(cache.layers for cache in caches))):
        merged.layers[index].lazy_initialization(layers[0].keys, layers[0].values)
        merged.layers[index].keys = _left_padded([layer.keys for layer in layers], longest)
        merged.layers[index].values = _left_padded([layer.values for layer in layers], longest)
    attention_mask = torch.zeros(len(caches), longest + 1, dtype=torch.long, device=model.device)
    for row, row_length in enumerate(lengths):
        attention_mask[row, longest - row_length:] = 1
    # Each row's new token sits at its own position, not at the padded batch's.
    position_ids = torch.tensor(lengths, dtype=torch.long, device=model.device).unsqueeze(1)
    input_ids = torch.tensor([[token_id] for token_id in token_ids], dtype=torch.long, device=model.device)
    logits = _forward(model, input_ids, merged, attention_mask=attention_mask, position_ids=position_ids)
    for row, (cache, row_length) in enumerate(zip(caches, lengths)):
        start = longest - row_length  # padding before, then the row's old positions and the new one
        for layer, merged_layer in zip(cache.layers, merged.layers):
            # clone(): a view would keep the whole batch alive and hide its size from nbytes().
            layer.keys = merged_layer.keys[row:row + 1, :, start:].clone()
            layer.values = merged_layer.values[row:row + 1, :, start:].clone()
    return logits


def crop(cache, tokens_to_remove):
    """Drop the last `tokens_to_remove` positions of every layer, in place."""
    if tokens_to_remove > 0:
        # transformers >= 5.20 takes a negative count: "remove this many".
        cache.crop(-tokens_to_remove)


def fork(cache, copies=1):
    """A new cache with the same content; with copies > 1, batch rows repeated (B*copies, ...)."""
    forked = copy.deepcopy(cache)
    if copies > 1:
        forked.batch_repeat_interleave(copies)
    return forked


def keep_rows(cache, rows):
    """Keep only the given batch rows, in place (a finished branch leaves a lockstep batch)."""
    cache.batch_select_indices(torch.tensor(rows, dtype=torch.long))


def length(cache):
    return 0 if cache is None else cache.get_seq_length()


def nbytes(cache):
    """Bytes held by the cache's tensors, measured from the tensors themselves."""
    if cache is None:
        return 0
    total = 0
    for layer in cache.layers:
        for tensor in (getattr(layer, "keys", None), getattr(layer, "values", None)):
            if isinstance(tensor, torch.Tensor):
                total += tensor.numel() * tensor.element_size()
    return total


def can_batch(caches):
    """Whether `step_rows` can batch these caches: plain dynamic layers holding one row each,
    the same number of layers, dtype and device."""
    layers = [cache.layers for cache in caches]
    if any(len(each) != len(layers[0]) for each in layers):
        return False
    first = layers[0][0].keys if layers[0] and type(layers[0][0]) is DynamicLayer else None
    return first is not None and all(
        type(layer) is DynamicLayer and layer.is_initialized and layer.keys.shape[0] == 1
        and layer.keys.dtype == first.dtype and layer.keys.device == first.device
        for each in layers for layer in each)


def _left_padded(tensors, longest):
    """(1, heads, length_i, dim) each -> (N, heads, longest, dim), zeros before each row's positions."""
    batch = tensors[0].new_zeros((len(tensors), tensors[0].shape[1], longest, tensors[0].shape[3]))
    for row, tensor in enumerate(tensors):
        batch[row, :, longest - tensor.shape[2]:] = tensor[0]
    return batch


def _forward_here(model, input_ids, cache, **inputs):
    """inputs: optional attention_mask (B, past + S) and position_ids (B, S) for padded batches."""
    with torch.no_grad():
        # logits_to_keep=1: a long prefill would otherwise build (T, vocab) logits it never uses.
        outputs = model(input_ids=input_ids, use_cache=True, logits_to_keep=1,
                        **{_cache_kwarg(type(model)): cache}, **inputs)
    return outputs.logits[:, -1, :].float().cpu()


# On a ZeroGPU Space each forward runs inside @spaces.GPU; elsewhere this is _forward_here itself.
_forward = gpu_forward(_forward_here)


@lru_cache(maxsize=None)
def _cache_kwarg(model_class):
    # transformers 5.24 renamed `past_key_values` to `cache`; the old name is removed in 5.40.
    parameters = inspect.signature(model_class.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"
