"""The attention of the predicting position, as HTML: heat-coloured token chips and a bar list of the top positions.

Pure functions of the context's tokens (`inspection.context_tokens`: id, text, special, part) and
one weight per token (`inspection.attention_row` for the picked layer and head). Chips are shaded
by weight relative to the strongest position (square root, so weak positions stay visible next to
an attention sink); the part a token belongs to (system prompt, user, assistant, generated so far)
is its underline colour, special markers have a dashed frame, the predicting position a ring; a
chip's tooltip gives its position and exact weight. Every token text is escaped.
What is left out: the pickers (the tab's), the lens and the sampler views.
"""

from visualizer.engine.tokens import visible_whitespace

from .views import esc

PARTS = ("system", "user", "assistant", "generated")
TOP_POSITIONS = 12
DARK_FROM = 0.55  # shade above which a chip's text turns white


def showing_label(layer, head, count, texts):
    """"Layer 3 · Mean over heads · 52 tokens" for layer index 2; layer / head None mean "all layers" / "mean over
    heads". Layers and heads are counted from 1, as the logit lens's rows (0: the embeddings; 12: after layer 12;
    attention layer 12 was lens row 13 when both counted from 0)."""
    layer_text = texts["attention_all_layers"] if layer is None else texts["attention_layer_n"].format(layer=layer + 1)
    head_text = texts["attention_mean_heads"] if head is None else texts["attention_head_n"].format(head=head + 1)
    return texts["attention_showing"].format(layer=layer_text, head=head_text, count=count)


def attention_chips_html(tokens, weights, label, texts):
    strongest = max(weights) or 1.0
    chips = []
    for position, (token, weight) in enumerate(zip(tokens, weights)):
        shade = (weight / strongest) ** 0.5
        classes = ["chip", f"part-{token['part']}"]
        classes += ["special"] * token["special"] + ["current"] * (position == len(weights) - 1)
        classes += ["dark"] * (shade > DARK_FROM)
        tip = f"#{position} · {visible_whitespace(token['text'])} · {weight:.2%}"
        chips.append(f'<span class="{" ".join(classes)}" style="--heat:{shade:.3f}" data-weight="{weight:.5f}" '
                     f'title="{esc(tip)}">{esc(visible_whitespace(token["text"]) or "∅")}</span>')
        if "\n" in token["text"]:
            chips.append('<span class="break"></span>')
    return (f'<div class="attention"><div class="showing">{esc(label)}</div>{legend_html(texts)}'
            f'<div class="chips">{"".join(chips)}</div></div>')


def attention_bars_html(tokens, weights, texts, count=TOP_POSITIONS):
    order = sorted(range(len(weights)), key=lambda position: -weights[position])[:count]
    strongest = weights[order[0]] or 1.0
    rows = []
    for position in order:
        token = tokens[position]
        part = texts["part_special"] if token["special"] else texts[f"part_{token['part']}"]
        rows.append(
            f'<div class="bar-row part-{token["part"]}" data-position="{position}">'
            f'<span class="pos">#{position}</span>'
            f'<code class="tok">{esc(visible_whitespace(token["text"]) or "∅")}</code>'
            f'<span class="bar"><i style="width:{100 * weights[position] / strongest:.1f}%"></i></span>'
            f'<b class="pct">{weights[position]:.1%}</b><small class="part">{esc(part)}</small></div>')
    return (f'<div class="attention-bars"><div class="bars-title">{esc(texts["attention_top"])}</div>'
            f'{"".join(rows)}<p class="note">{esc(texts["attention_sink"])}</p></div>')


def legend_html(texts):
    items = [f'<span class="key part-{part}">{esc(texts["part_" + part])}</span>' for part in PARTS]
    items.append(f'<span class="key special">{esc(texts["part_special"])}</span>')
    items.append(f'<span class="key current">{esc(texts["part_current"])}</span>')
    return f'<div class="legend">{"".join(items)}</div>'
