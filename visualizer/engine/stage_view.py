"""The sampler pipeline stage by stage on a step's kept logits, as one plain payload (no forward pass).

`stage_view(tokenizer, logits, settings, ids, top)` runs `sampling.stages` with the settings as a
sampled step would use them, and lists every stage in `generate`'s order, knobs that are off
included (they pass the distribution on unchanged): raw softmax, then each knob of `knobs.py`
(repetition penalty, temperature, top-k, top-p, min-p), then the final distribution a draw uses.
`decoder_stage_view(decoder, settings, top)` does it on a Decoder's current position.
Payload: {"greedy", "tokens": [{"id", "text"}], "stages": [{"name", "value", "on", "probs", "cut",
"kept", "removed", "removed_mass", "entropy", "top"}]}:
- "tokens" are the columns every stage is shown on: the raw top `top` and the final top `top`
  (tokens still possible), most likely first under the raw softmax; "probs" and "cut" give each
  stage's value per column;
- "kept": tokens still possible after the stage; "removed": tokens this stage cut (not earlier
  ones); "removed_mass": the probability the cut tokens had just before it; "entropy" in bits;
- "top": the stage's own five most likely tokens.
"greedy" says the decoder picks the argmax (its warpers then do not run: the view shows what
sampling would do with these knobs).
What is left out: the draw itself (`sampling.pick_rows`), and knobs transformers has that the app
does not teach.
"""

from dataclasses import replace

import torch

from .knobs import KNOBS
from .records import token_text
from .sampling import entropy_bits, stages

STAGE_TOP = 5


def stage_view(tokenizer, logits, settings, ids, top=12):
    """logits (V,) float32 on any device -> the payload above."""
    sampled = replace(settings, greedy=False)
    steps = {name: (value, probs, cut) for name, value, probs, cut in stages(logits, sampled, ids)}
    sequence = [("raw", *steps["raw"])]
    for knob in KNOBS:  # an off knob passes the distribution before it on
        sequence.append((knob.name, *steps.get(knob.name, (None, *sequence[-1][2:]))))
    sequence.append(("final", None, *sequence[-1][2:]))
    raw, final = sequence[0][2], sequence[-1][2]
    k = min(top, raw.numel())
    final_top = [token_id for token_id in torch.topk(final, k).indices.tolist() if final[token_id] > 0]
    columns = list(dict.fromkeys(torch.topk(raw, k).indices.tolist() + final_top))
    columns.sort(key=lambda token_id: -float(raw[token_id]))
    index = torch.tensor(columns, device=raw.device)
    text = lambda token_id: token_text(tokenizer, token_id)  # noqa: E731
    return {
        "greedy": settings.greedy,
        "tokens": [{"id": token_id, "text": text(token_id)} for token_id in columns],
        "stages": [_stage(stage, previous, stage[0] in steps or stage[0] == "final", index, text)
                   for previous, stage in zip(sequence[:1] + sequence[:-1], sequence)],
    }


def decoder_stage_view(decoder, settings=None, top=12):
    """The stage view of a Decoder's next position from its kept logits (a row rebuilt if evicted)."""
    if not decoder.branch.ready:
        decoder.start()
    branch = decoder.branch
    return stage_view(branch.tokenizer, branch.logits, settings or branch.settings, branch.ids, top)


def _stage(stage, previous, on, index, text):
    name, value, after, cut_after = stage
    before, cut_before = previous[2], previous[3]
    removed = cut_after & ~cut_before
    own = torch.topk(after, min(STAGE_TOP, after.numel()))
    return {
        "name": name, "value": value, "on": on,
        "probs": after.index_select(0, index).tolist(), "cut": cut_after.index_select(0, index).tolist(),
        "kept": int((~cut_after).sum()), "removed": int(removed.sum()),
        "removed_mass": float(before[removed].sum()), "entropy": float(entropy_bits(after)),
        "top": [{"id": i, "text": text(i), "prob": p} for i, p in zip(own.indices.tolist(), own.values.tolist())],
    }
