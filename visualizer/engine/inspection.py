"""Inside the current step of a Decoder: the logit lens and the attention of the predicting position.

The inspected position is the one that predicts the next token: the last id fed to the decoder's
pool row (after N generated tokens, the N+1-th token is predicted there; the step's kept logits,
`decoder.branch.logits`, are that position's). `inspect(decoder, ...)` runs one probe pass for it
through `engine.turns.call` (the model thread: on a server it takes its turn like any step) and
returns an `Inspection`; `lens_payload` and `attention_payload` turn one into the plain dicts of
the CLI and API contract:
- lens: {"model", "prompt_tokens", "generated", "position", "chosen": {"id", "text"},
  "first_top_layer", "layers": [{"layer", "top": [{"id", "text", "prob"}], "chosen_prob",
  "chosen_rank"}], "final": [{"id", "text", "prob"}]}. Layer 0 is the embeddings, layer i the
  output of block i; "chosen" is the token the lens follows (the raw top-1, which greedy
  decoding takes unless a repetition penalty moves it; or a given target),
  "first_top_layer" the first layer where it is the top guess.
- attention: {"model", "prompt_tokens", "generated", "position", "tokens": [{"id", "text",
  "special", "part"}], "layers": [{"layer", "weights": [...]}]} with one weight per context position
  (the current one included), the mean over heads, each list summing to 1; layers numbered as
  transformers numbers `attentions` (0 = the first block); `heads=True` adds each head's list;
  `attention_row` gives one row for any layer / head choice, means over layers or heads included.
  A token's "part" is the role of the message it sits in ("system", "user", "assistant"),
  "generated" for tokens this decoder chose, or "other".
Nothing here runs per step: a caller asks for one inspection when a user does.
What is left out: positions other than the current one, and the sampler's stages (`stage_view.py`).
"""

from dataclasses import dataclass

from .errors import refuse
from .limits import as_int, check_top_n
from .probe import ProbeOptions, final_norm
from .records import token_text
from .tokens import token_records

ROLES = ("system", "user", "assistant")
TURN_MARKERS = ("<|im_start|>", "<|start_header_id|>")  # ChatML, Llama 3: the role's name comes next


@dataclass(frozen=True)
class Inspection:
    ids: tuple  # the context: prompt and generated ids, the inspected position last
    prompt_length: int
    probe: object  # probe.ProbeResult

    @property
    def position(self):
        return len(self.ids) - 1

    @property
    def generated(self):
        return len(self.ids) - self.prompt_length


def inspect(decoder, top=10, lens=True, attention=True, target=None, distributions=False):
    """One probe pass at the decoder's current position -> Inspection (rebuilds an evicted row first)."""
    options = ProbeOptions(top=check_top_n(top), lens=lens, attention=attention, target=target,
                           distributions=distributions)
    engine, branch = decoder.engine, decoder.branch
    if lens:
        try:
            final_norm(engine.loaded.model)
        except ValueError:
            raise refuse("no_lens", model=engine.loaded.name) from None
    if not branch.ready:
        decoder.start()
    ids = tuple(branch.ids)
    result = engine.turns.call(lambda: engine.runner.inspect(branch.handle, len(ids) - 1, ids[-1], options))
    return Inspection(ids, len(branch.prompt_ids), result)


def lens_payload(model_name, tokenizer, inspection):
    probe = inspection.probe
    text_of = lambda token_id: token_text(tokenizer, token_id)  # noqa: E731
    layers = [
        {"layer": layer, "top": [{"id": i, "text": text_of(i), "prob": p} for i, p in zip(ids, probs)],
         "chosen_prob": chosen_prob, "chosen_rank": chosen_rank}
        for layer, (ids, probs, chosen_prob, chosen_rank) in enumerate(zip(
            probe.top_ids.tolist(), probe.top_probs.tolist(), probe.target_probs.tolist(),
            probe.target_ranks.tolist()))
    ]
    first_top = next((entry["layer"] for entry in layers if entry["chosen_rank"] == 1), None)
    return dict(_context(model_name, inspection), chosen={"id": probe.target, "text": text_of(probe.target)},
                first_top_layer=first_top, layers=layers, final=layers[-1]["top"])


def attention_payload(model_name, tokenizer, inspection, layer=None, heads=False):
    """`layer`: one layer (InputError when out of range) or None for all; `heads`: add each head's weights."""
    attention = inspection.probe.attention
    layers = range(attention.shape[0]) if layer is None else [check_layer(layer, attention.shape[0])]
    rows = []
    for index in layers:
        row = {"layer": index, "weights": attention_row(inspection, index)}
        if heads:
            row["heads"] = attention[index].tolist()
        rows.append(row)
    return dict(_context(model_name, inspection), tokens=context_tokens(tokenizer, inspection), layers=rows)


def attention_row(inspection, layer=None, head=None):
    """The predicting position's weights over the context (one per position, summing to 1) in one
    layer, or the mean over layers (None), for one head, or the mean over heads (None)."""
    attention = inspection.probe.attention
    picked = attention if layer is None else attention[check_layer(layer, attention.shape[0])].unsqueeze(0)
    picked = picked.mean(dim=1) if head is None else picked[:, check_head(head, attention.shape[1])]
    return picked.mean(dim=0).tolist()


def context_tokens(tokenizer, inspection):
    """[{"id", "text", "special", "part"}] for every context position, the inspected one last."""
    records = token_records(tokenizer, list(inspection.ids))
    parts = token_parts(records, inspection.prompt_length)
    return [{"id": r.id, "text": r.text or r.display, "special": r.special, "part": part}
            for r, part in zip(records, parts)]


def token_parts(records, prompt_length):
    """TokenRecords -> the part each belongs to: a message role, "generated" or "other". A role starts
    at a turn marker whose next token names it (ChatML's `<|im_start|>system`, Llama 3's headers)."""
    parts, role = [], "other"
    for position, record in enumerate(records):
        if record.text in TURN_MARKERS:  # the name may take several tokens ("ass" + "istant")
            following = "".join(r.text for r in records[position + 1:position + 4]).strip().lower()
            role = next((name for name in ROLES if following.startswith(name)), role)
        parts.append("generated" if position >= prompt_length else role)
    return parts


def check_layer(value, num_layers):
    return _check_index(value, "layer", num_layers)


def check_head(value, num_heads):
    return _check_index(value, "head", num_heads)


def _check_index(value, name, count):
    index = as_int(value, name)
    if not 0 <= index < count:
        raise refuse("out_of_range", name=name, low=0, high=count - 1, value=index)
    return index


def _context(model_name, inspection):
    return {"model": model_name, "prompt_tokens": inspection.prompt_length, "generated": inspection.generated,
            "position": inspection.position}
