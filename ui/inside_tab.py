"""The Inside-the-step tab: its components (element ids are a contract) and their wiring to `InsideActions`.

Top to bottom: the button and the inspected position; the logit lens (heatmap #lens-chart and its
notes); the attention (layer and head pickers, heat-coloured chips #attention-chips beside the bar
list #attention-bars); the sampler's stages (#stage-view) under their own knobs (#stage-top-k, ...:
one per knob of `engine/knobs.py`, for this view only). Nothing is computed per step of a run:
the probe pass runs when the button is pressed or the tab is opened; the pickers redraw from the
kept inspection; a stage knob redraws the stages from the step's kept logits (no forward pass).
Needs the Decoder tab built first (its controls are in `shared.controls`: the session follows them).
`build_inside_tab(ctx, shared)` is a builder for `layout.TAB_BUILDERS`.
What is left out: handler logic (`inside_actions.py`) and HTML (`lens_chart.py`,
`attention_views.py`, `stage_views.py`).
"""

from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from visualizer.engine.knobs import KNOBS

from .decoding_controls import knob_control
from .inside_actions import ALL, MEAN, InsideActions
from .shared import PageSession

CSS = (Path(__file__).resolve().parent.parent / "static" / "inside.css").read_text(encoding="utf-8")
# A phone scrolls the heatmap sideways rather than squeezing 7 columns of text into 300 pixels.
PLOT_CSS = "<style>#lens-chart { overflow-x: auto !important; } #lens-chart > * { min-width: 680px; }</style>"


def build_inside_tab(ctx, shared):
    i18n = shared.i18n
    layers, heads = _model_shape(ctx.loaded)
    html = dict(css_template=CSS, js_on_load=None)
    with gr.Tab(i18n("tab_inside"), id="inside", elem_id="inside-tab") as tab:
        gr.Markdown(i18n("intro_inside"), elem_classes="intro")
        with gr.Row():
            look = gr.Button(i18n("inside_look"), variant="primary", elem_id="inside-look-btn", scale=0, min_width=300)
        status = gr.HTML(elem_id="inside-status", **html)
        gr.Markdown(i18n("lens_title"))
        lens_plot = gr.Plot(elem_id="lens-chart", show_label=False)
        lens_notes = gr.HTML(elem_id="lens-notes", head=PLOT_CSS, **html)
        gr.Markdown(i18n("attention_title"))
        gr.Markdown(i18n("attention_explain"), elem_classes="hint")
        with gr.Row():
            # Counted from 1 as the lens's rows (0: the embeddings); the values are the API's indices, from 0.
            layer = gr.Dropdown([(i18n("attention_all_layers"), ALL)] + [(str(n + 1), n) for n in range(layers)],
                                value=ALL, label=i18n("attention_layer"), elem_id="attention-layer", min_width=200)
            head = gr.Dropdown([(i18n("attention_mean_heads"), MEAN)] + [(str(n + 1), n) for n in range(heads)],
                               value=MEAN, label=i18n("attention_head"), elem_id="attention-head", min_width=200)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                attention = gr.HTML(elem_id="attention-chips", **html)
            with gr.Column(scale=2, min_width=320):
                bars = gr.HTML(elem_id="attention-bars", **html)
        gr.Markdown(i18n("stages_title"))
        gr.Markdown(i18n("stages_explain"), elem_classes="hint")
        with gr.Accordion(i18n("stages_knobs"), open=True, elem_id="stage-knobs"):
            with gr.Row():
                knobs = {knob.name: _stage_knob(knob, ctx.loaded.vocab_size, i18n) for knob in KNOBS}
        stages = gr.HTML(elem_id="stage-view", **html)
        # Inside the tab: a State between two tabs is a child of gr.Tabs, and the next tab's button was
        # drawn twice once it was opened (Gradio counts the tabs' places among all the children).
        kept = gr.State(None, time_to_live=3600)

    ui = SimpleNamespace(tab=tab, lens_plot=lens_plot, lens_notes=lens_notes, attention=attention, bars=bars,
                         stages=stages, status=status, layer=layer, head=head, knobs=knobs, kept=kept)
    page = PageSession(ctx, shared)
    actions = InsideActions(ctx, page, ui)
    model = dict(shared.model_group, show_progress="minimal")
    look_outputs = [status, lens_plot, lens_notes, attention, bars, stages, kept, *knobs.values()]
    gr.on([look.click, tab.select], actions.look, inputs=page.inputs() | {layer, head}, outputs=look_outputs,
          trigger_mode="always_last", **model)
    gr.on([layer.input, head.input], actions.pick_attention, inputs={kept, layer, head},
          outputs=[attention, bars, status], trigger_mode="always_last", **shared.views_group)
    gr.on([control.input for control in knobs.values()], actions.redraw_stages,
          inputs=page.inputs() | set(knobs.values()) | {kept}, outputs=[stages, status], trigger_mode="always_last",
          **model)
    return ui


def _stage_knob(knob, vocab, i18n):
    """One knob of the table for the stage view: its own element id (#stage-top-k), always usable."""
    return knob_control(knob, vocab, label=i18n(knob.name), elem_id=f"stage-{knob.elem_id}", min_width=160)


def _model_shape(loaded):
    """(layers, attention heads) of the loaded model; (0, 0) when it is tokenizer-only."""
    if not loaded.has_weights:
        return 0, 0
    config = loaded.model.config.get_text_config()
    return config.num_hidden_layers, config.num_attention_heads
