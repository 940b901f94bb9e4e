"""The KV cache behind four named operations: prefill, step, crop and fork.

Each operation is a plain function over a transformers `DynamicCache` (`extend` is the
several-tokens-per-row form of step), so each is testable on its own and the decoder never
touches cache internals. Logits come back as float32 on the CPU,
where picking happens (so a pick is the same on any device).
What is left out: static and quantized caches, and padding (batched rows always share a length).
"""

import copy
import inspect
from functools import lru_cache

import torch
from transformers import DynamicCache

from .zerogpu import gpu_forward


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


def _forward_here(model, input_ids, cache):
    with torch.no_grad():
        # logits_to_keep=1: a long prefill would otherwise build (T, vocab) logits it never uses.
        outputs = model(input_ids=input_ids, use_cache=True, logits_to_keep=1, **{_cache_kwarg(type(model)): cache})
    return outputs.logits[:, -1, :].float().cpu()


# On a ZeroGPU Space each forward runs inside @spaces.GPU; elsewhere this is _forward_here itself.
_forward = gpu_forward(_forward_here)


@lru_cache(maxsize=None)
def _cache_kwarg(model_class):
    # transformers 5.24 renamed `past_key_values` to `cache`; the old name is removed in 5.40.
    parameters = inspect.signature(model_class.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"
