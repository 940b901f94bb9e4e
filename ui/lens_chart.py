"""The logit lens as a plotly heatmap (layers x guesses, token text in the cells) and its one-line summary.

Pure functions of the engine's lens payload (`engine/inspection.py`). Rows are layers, the
embeddings (0) at the bottom and the real output at the top, so depth reads upwards. The first
column follows one token (the final top guess) through the layers: its probability and rank; then
each layer's top guesses left to right. Cells are coloured by probability; the followed token is in
bold wherever it appears, and the first layer where it is the top guess has a bold "◀" label. Token
texts are escaped for plotly (it reads tags such as <b> in text, and decodes only a few entities)
with whitespace made visible, and long tokens are shortened in the cell (full in the hover).
What is left out: the attention and the sampler views (`attention_views.py`, `stage_views.py`).
"""

import plotly.graph_objects as go

from visualizer.engine.tokens import visible_whitespace

from .stage_views import percent
from .views import esc

CELL_CHARS = 11
ROW_PX = 27
COLORSCALE = [[0.0, "#f8fafc"], [0.25, "#c7d2fe"], [0.6, "#6366f1"], [1.0, "#312e81"]]
_FONT = dict(family="system-ui, Segoe UI, Roboto, sans-serif", size=15)


def lens_figure(lens, texts):
    layers = lens["layers"]
    chosen = lens["chosen"]["id"]
    first = lens["first_top_layer"]
    followed = plot_text(f"«{short_token(lens['chosen']['text'])}» p · #")
    columns = [followed] + [f"{texts['lens_guess']} {index + 1}" for index in range(len(layers[0]["top"]))]
    figure = go.Figure(go.Heatmap(
        z=[[layer["chosen_prob"]] + [entry["prob"] for entry in layer["top"]] for layer in layers],
        x=columns, y=[_row_label(layer, first) for layer in layers],
        text=[[_followed_cell(layer)] + [_cell(entry, chosen) for entry in layer["top"]] for layer in layers],
        customdata=[[plot_text(visible_whitespace(lens["chosen"]["text"]))]
                    + [plot_text(visible_whitespace(entry["text"])) for entry in layer["top"]] for layer in layers],
        texttemplate="%{text}", textfont=dict(size=14),
        hovertemplate=f"{plot_text(texts['lens_layer'])} %{{y}}<br>%{{customdata}}: %{{z:.1%}}<extra></extra>",
        colorscale=COLORSCALE, zmin=0, zmax=1, showscale=False, xgap=2, ygap=2,
    ))
    figure.add_vline(x=0.5, line=dict(color="#f59e0b", width=3))
    figure.update_layout(
        font=_FONT, template="plotly_white", height=90 + ROW_PX * len(layers),
        margin=dict(l=10, r=10, t=36, b=10),
        xaxis=dict(side="top", tickfont=dict(size=13), fixedrange=True),
        yaxis=dict(type="category", automargin=True, fixedrange=True, tickfont=dict(size=14),
                   title=dict(text=plot_text(texts["lens_axis"]), font=dict(size=13))),
    )
    return figure


def lens_notes_html(lens, texts):
    """Which token the lens follows and the first layer where it is the top guess, what a row is,
    and the warning that early layers are noisy."""
    token = f"«{visible_whitespace(lens['chosen']['text'])}»"
    last = len(lens["layers"]) - 1
    if lens["first_top_layer"] is None or lens["first_top_layer"] == last:
        summary = texts["lens_never"].format(token=token)
    else:
        summary = texts["lens_following"].format(token=token, layer=lens["first_top_layer"], last=last)
    first = "" if lens["first_top_layer"] is None else lens["first_top_layer"]
    return (f'<div class="inside-notes" data-first-top="{first}">'
            f'<p class="summary">{esc(summary)}</p><p>{esc(texts["lens_explain"])}</p>'
            f'<p class="note">⚠ {esc(texts["lens_note"])}</p></div>')


def _row_label(layer, first):
    return f"<b>◀ {layer['layer']}</b>" if layer["layer"] == first else str(layer["layer"])


def _followed_cell(layer):
    """"84% #1"; below 0.1% only the rank ("#220"): the colour says it is close to zero."""
    rank = f"#{layer['chosen_rank']}"
    return rank if layer["chosen_prob"] < 0.001 else plot_text(f"{percent(layer['chosen_prob'])} {rank}")


def _cell(entry, chosen):
    shown = plot_text(short_token(entry["text"]))
    return f"<b>{shown}</b>" if entry["id"] == chosen else shown


def short_token(text):
    """Whitespace made visible, cut to CELL_CHARS characters."""
    text = visible_whitespace(text) or "∅"
    return text if len(text) <= CELL_CHARS else text[:CELL_CHARS - 1] + "…"


def plot_text(text):
    """Text shown as is by plotly: its tag-like markup and the entities it decodes made inert."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
