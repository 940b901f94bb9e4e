"""Handlers of the Inside-the-step tab: each calls the engine once and returns the tab's views.

Every handler is `f(values: dict, request)` -> {component: value}, as in the other tabs:
- `look` (the button, or opening the tab): opens this page's session (`shared.PageSession`),
  takes the workspace's decoder and runs one probe pass at its current position
  (`inspection.inspect`: logit lens and attention together), and draws the lens, the attention
  and the sampler's stages under the Decoder's settings (the stage knobs are set to them). The
  inspection is kept in the tab's gr.State (CPU tensors, this page only) for the pickers.
- `pick_attention` (layer or head picker): redraws the attention from the kept inspection; no
  session, no model.
- `redraw_stages` (a stage knob moved): the stage view of the decoder's kept logits under the
  stage knobs' values: no forward pass, and the Decoder's own settings are left alone.
Errors become the tab's status line (`PageSession.answer`).
What is left out: layout and wiring (`inside_tab.py`), HTML and figures (the view modules).
"""

from dataclasses import replace

import gradio as gr

from visualizer.engine.inspection import attention_row, context_tokens, inspect, lens_payload
from visualizer.engine.knobs import KNOBS
from visualizer.engine.stage_view import decoder_stage_view
from visualizer.engine.tokens import visible_whitespace

from .attention_views import attention_bars_html, attention_chips_html, showing_label
from .lens_chart import lens_figure, lens_notes_html
from .stage_views import stages_html
from .views import esc

LENS_TOP = 6  # guesses per layer in the heatmap (a phone shows 6 narrow columns)
STAGE_TOP = 8  # the raw and the final top tokens are the stage view's columns
ALL, MEAN = "all", "mean"  # picker values: every layer (their mean), the mean over heads


class InsideActions:
    def __init__(self, ctx, page, ui):
        """`ui`: the tab's components (lens_plot, lens_notes, attention, bars, stages, status, layer,
        head, knobs: {knob name: control}, kept: the gr.State)."""
        self.ctx, self.page, self.ui = ctx, page, ui

    def look(self, values: dict, request: gr.Request):
        texts, ui, loaded = self.ctx.texts(request), self.ui, self.ctx.loaded

        def act():
            with self.page.open(values, request) as session:
                decoder = session.workspace.decoder()
                inspection = inspect(decoder, top=LENS_TOP)
                settings = decoder.branch.settings
                stages = decoder_stage_view(decoder, settings, STAGE_TOP)
            kept = {"inspection": inspection, "tokens": context_tokens(loaded.tokenizer, inspection)}
            lens = lens_payload(loaded.name, loaded.tokenizer, inspection)
            knob_values = {ui.knobs[knob.name]: _knob_value(settings, knob) for knob in KNOBS}
            return {
                ui.status: position_html(kept["tokens"], inspection, texts, ended=decoder.stop == "eos"),
                ui.lens_plot: lens_figure(lens, texts), ui.lens_notes: lens_notes_html(lens, texts),
                **self._attention(kept, values.get(ui.layer), values.get(ui.head), texts),
                ui.stages: stages_html(stages, texts), ui.kept: kept, **knob_values,
            }
        return self.page.answer(request, ui.status, act)

    def pick_attention(self, values: dict, request: gr.Request):
        kept = values.get(self.ui.kept)
        if not kept:
            return {}
        texts = self.ctx.texts(request)
        return self.page.answer(request, self.ui.status, lambda: self._attention(
            kept, values.get(self.ui.layer), values.get(self.ui.head), texts))

    def redraw_stages(self, values: dict, request: gr.Request):
        texts, ui = self.ctx.texts(request), self.ui

        def act():
            with self.page.open(values, request) as session:
                workspace = session.workspace
                decoder = workspace.decoder()
                chosen = workspace.sampling_from_user(
                    greedy=False, **{name: values.get(control) for name, control in ui.knobs.items()})
                view = decoder_stage_view(decoder, replace(chosen, greedy=decoder.branch.settings.greedy), STAGE_TOP)
                ended = decoder.stop == "eos"
            kept = values.get(ui.kept)
            if not kept:
                return {ui.stages: stages_html(view, texts)}
            # The position's line again: an earlier refusal of a knob stayed over the redrawn rows.
            return {ui.stages: stages_html(view, texts),
                    ui.status: position_html(kept["tokens"], kept["inspection"], texts, ended=ended)}
        return self.page.answer(request, ui.status, act)

    def _attention(self, kept, layer, head, texts):
        layer, head = (None if layer in (ALL, None) else layer), (None if head in (MEAN, None) else head)
        weights = attention_row(kept["inspection"], layer, head)
        label = showing_label(layer, head, len(weights), texts)
        return {self.ui.attention: attention_chips_html(kept["tokens"], weights, label, texts),
                self.ui.bars: attention_bars_html(kept["tokens"], weights, texts)}


def position_html(tokens, inspection, texts, ended=False):
    """Which position is inspected: its index, its token, the answer's token it predicts (`ended`: the
    answer ended with that token, so what comes after the end marker)."""
    token = f"«{visible_whitespace(tokens[-1]['text'])}»"
    line = texts["inside_position_ended" if ended else "inside_position"].format(
        position=inspection.position, token=token, next=inspection.generated + 1, prompt=inspection.prompt_length)
    return f'<div class="inside-status" data-position="{inspection.position}">{esc(line)}</div>'


def _knob_value(settings, knob):
    value = settings.get(knob.name)
    return gr.update(value=knob.off if value is None else value)
