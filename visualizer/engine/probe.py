"""The probe pass: one position of a KV pool row fed again, with its hidden states and attention weights.

`probe_forward(model, token_id, position, view, options)` runs the model on one token at
`position` of a row whose keys and values are already in the pool (the `PageView` reads the row's
pages; its one write goes to the trash page, so the pool is left exactly as it was). The query
sees keys 0..position, as the step that fed it did. It runs with eager attention (the only
implementation that returns weights), switched on for this pass and back afterwards, and reduces
everything on the model's device to a few small CPU tensors (`ProbeResult`):
- the logit lens: hidden state `i` at that position (`i` = 0 is the embeddings, `i` = L the last
  block's output) through the model's final norm and output head -> each layer's top-k tokens and
  the target token's probability and rank. In transformers' decoders the last hidden state is
  already normed, so the last row is taken from the pass's own logits: it is the step's raw
  distribution;
- the attention of that position over every position 0..position: (layers, heads, position + 1),
  each row summing to 1.
It is a pure function of its arguments (no pool bookkeeping), so the same code runs in place or
inside a ZeroGPU call on staged pages (`device_probe`). `forward.ModelRunner.inspect` calls it.
Two ways to get the weights were measured (bench/inside_bench.py, SmolLM2-135M on a 2-core CPU):
this eager re-feed, and a sdpa re-feed that records each layer's query and scores it against the
cached keys. Both need the forward (the query is not cached, and the lens needs the hidden states);
they agree within 2e-6 and cost about the same (at 2048 tokens 66 vs 72 ms, next to a 57 ms step),
so only the re-feed is kept: its weights are transformers' own. The lens adds about 30 ms there
(one pass through the 49k-row output head per layer).
What is left out: tuned lenses, several positions at once, attention of models the pool refuses
(sliding windows), and models whose final norm is not called `norm`, `final_layernorm` or `ln_f`.
"""

import contextlib
from dataclasses import dataclass

import torch

from .page_view import PageView, build_mask


@dataclass(frozen=True)
class ProbeOptions:
    top: int = 10  # tokens kept per lens layer
    lens: bool = True
    attention: bool = True
    target: int = None  # the token the lens follows; None: the last layer's top-1 (the raw argmax)
    distributions: bool = False  # also return every layer's full distribution (tests, research)


@dataclass(frozen=True)
class ProbeResult:
    """CPU tensors. Lens rows: hidden state index 0 (embeddings) .. L (last block)."""
    target: int = None
    top_ids: torch.Tensor = None  # (L + 1, top) long
    top_probs: torch.Tensor = None  # (L + 1, top) float32
    target_probs: torch.Tensor = None  # (L + 1,) float32
    target_ranks: torch.Tensor = None  # (L + 1,) long, 1 = top
    attention: torch.Tensor = None  # (L, heads, position + 1) float32, transformers' layer numbering
    distributions: torch.Tensor = None  # (L + 1, V) float32 when asked for


@contextlib.contextmanager
def eager_attention(model, needed=True):
    """The model on eager attention for the block (weights are only returned by eager), then back."""
    before = model.config._attn_implementation
    switch = needed and before != "eager"
    if switch:
        model.set_attn_implementation("eager")
    try:
        yield
    finally:
        if switch:
            model.set_attn_implementation(before)


@torch.no_grad()
def probe_forward(model, token_id, position, view, options):
    """One pass of `token_id` at `position` over `view` (a PageView of the row) -> ProbeResult."""
    device = model.device
    starts = torch.tensor([position], device=device)
    mask = build_mask(starts, 1, view.kv_len, model.dtype)
    with eager_attention(model, options.attention):
        out = model(input_ids=torch.tensor([[token_id]], device=device), position_ids=starts.view(1, 1),
                    attention_mask=mask, cache=view, use_cache=True, logits_to_keep=1,
                    output_hidden_states=options.lens, output_attentions=options.attention)
    result = {}
    if options.lens:
        result.update(_lens(model, out.hidden_states, out.logits[0, -1], options))
    if options.attention:
        rows = torch.stack([layer[0, :, -1, :position + 1] for layer in out.attentions])
        result["attention"] = rows.float().cpu()
    return ProbeResult(**result)


def device_probe(model, staged, options):
    """Pure, for a ZeroGPU call: staged pages (see `forward.stage`) -> ProbeResult on the CPU."""
    device = model.device
    keys, values = staged["keys"].to(device), staged["values"].to(device)
    view = PageView(list(keys), list(values), staged["page_size"], staged["write_slots"].to(device),
                    staged["block_table"].to(device))
    return probe_forward(model, int(staged["input_ids"][0, 0]), int(staged["starts"][0]), view, options)


def final_norm(model):
    decoder = model.get_decoder()
    for name in ("norm", "final_layernorm", "ln_f"):
        norm = getattr(decoder, name, None)
        if norm is not None:
            return norm
    raise ValueError(f"{type(model).__name__} has no final norm this logit lens knows")


def _lens(model, hidden_states, logits, options):
    """Every hidden state through the final norm and the output head (the last one is normed
    already: its row is the pass's own logits) -> top tokens, target probability and rank."""
    inner = torch.stack([state[0, -1] for state in hidden_states[:-1]])
    head = model.get_output_embeddings()
    lens_logits = torch.cat([head(final_norm(model)(inner)).float(), logits.float().unsqueeze(0)])
    probs = torch.softmax(lens_logits, dim=-1)
    target = int(torch.argmax(probs[-1])) if options.target is None else options.target
    target_probs = probs[:, target]
    top = torch.topk(probs, min(options.top, probs.shape[-1]), dim=-1)
    return {
        "target": target,
        "top_ids": top.indices.cpu(), "top_probs": top.values.cpu(),
        "target_probs": target_probs.cpu(),
        "target_ranks": ((probs > target_probs.unsqueeze(1)).sum(dim=1) + 1).cpu(),
        "distributions": probs.cpu() if options.distributions else None,
    }
