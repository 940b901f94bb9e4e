"""The Decoder tab: its components (element ids are a contract) and their wiring to `DecoderActions`.

Layout for a projector (1366x768): the Step / Undo buttons, the status line and the next-token
chart in the left column, above the fold; the step panel, the generated text and the decoding
controls on the right; the output panel and the timeline below. On a phone the columns stack.
Wiring: Step, Undo, Force and the chart's rows use trigger_mode="multiple" (every click is done;
the session's FIFO keeps their order), and so does Step ×10 (a click while it runs adds ten steps);
moving a sampling control re-warps the shown distribution (trigger_mode="always_last"); opening the
tab shows the preview at once; Stop runs outside the model's concurrency group so it is never queued
behind model events.
What is left out: handler logic (`decoder_actions.py`), the controls themselves (`decoding_controls.py`).
"""

from types import SimpleNamespace

import gradio as gr

from .client_js import APPEND_JS, APPEND_TEMPLATE, chart_js, clears_busy
from .decoder_actions import DecoderActions
from .decoding_controls import DecodingControls
from .shared import PageSession


def build(ctx, shared):
    i18n = shared.i18n
    with gr.Tab(i18n("tab_decoder"), id="decoder", elem_id="decoder-tab") as tab:
        with gr.Row(equal_height=False, elem_id="decoder-main"):
            with gr.Column(scale=3, min_width=330, elem_classes="stage"):
                with gr.Row(elem_classes="controls"):
                    step = gr.Button(i18n("step"), variant="primary", elem_id="step-btn", min_width=90)
                    burst = gr.Button(i18n("step10"), elem_id="step10-btn", min_width=90)
                    run = gr.Button(i18n("run"), elem_id="run-btn", min_width=90)
                    stop = gr.Button(i18n("stop"), variant="stop", elem_id="stop-btn", min_width=90)
                    undo = gr.Button(i18n("undo"), elem_id="undo-btn", min_width=90)
                    reset = gr.Button(i18n("reset"), elem_id="reset-btn", min_width=90)
                status = gr.HTML(elem_id="decoder-status", js_on_load=clears_busy("next-token-chart"))
                chart = gr.HTML(elem_id="next-token-chart", js_on_load=chart_js("next-token-chart"))
                gr.Markdown(i18n("keyboard"), elem_classes="hint")
            with gr.Column(scale=2, min_width=300, elem_classes="side"):
                stats = gr.HTML(elem_id="step-stats", js_on_load=None)
                generated = gr.HTML(label=i18n("generated"), show_label=True, container=True, elem_id="generated-text",
                                    html_template=APPEND_TEMPLATE, js_on_load=APPEND_JS, max_height=260,
                                    autoscroll=True)
                controls = DecodingControls(ctx, i18n)
                candidates = gr.Radio([], label=i18n("candidates"), elem_id="candidates")
                force = gr.Button(i18n("force"), elem_id="force-btn")
                with gr.Row(elem_classes="typed"):
                    typed = gr.Textbox(label=i18n("force_text"), max_lines=1, elem_id="force-text", scale=3,
                                       min_width=160)
                    typed_button = gr.Button(i18n("force_typed"), elem_id="force-typed-btn", scale=2, min_width=120)
        gr.Markdown(i18n("intro_decoder"), elem_classes="intro")
        with gr.Row(equal_height=False):
            with gr.Column(min_width=320):  # columns of 320 px at least: stacked on a phone
                output_panel = gr.HTML(elem_id="output-panel", js_on_load=None)
            with gr.Column(min_width=320):
                timeline = gr.HTML(elem_id="timeline-chart", js_on_load=None)
    shared.controls = controls

    ui = SimpleNamespace(chart=chart, candidates=candidates, generated=generated, output_panel=output_panel,
                         stats=stats, timeline=timeline, status=status, typed=typed)
    page = PageSession(ctx, shared, holds_the_controls=True)
    actions = DecoderActions(ctx, page, ui)
    inputs, outputs = page.inputs(), actions.outputs()
    model = dict(shared.model_group, show_progress="hidden")
    runs = dict(shared.run_group, show_progress="hidden")  # however many runs go on, clicks keep their slots
    for triggers, handler, extra in (
        ([step.click], actions.step, set()),
        ([undo.click], actions.undo, set()),
        ([reset.click], actions.reset, set()),
        ([force.click], actions.force_candidate, {candidates}),
        ([typed_button.click, typed.submit], actions.force_typed, {typed}),
        ([chart.click], actions.force_bar, set()),
    ):
        gr.on(triggers, handler, inputs=inputs | extra, outputs=outputs, trigger_mode="multiple", **model)
    gr.on([run.click], actions.run, inputs=inputs, outputs=outputs, trigger_mode="once", **runs)
    gr.on([burst.click], actions.burst, inputs=inputs, outputs=outputs, trigger_mode="multiple", **runs)
    gr.on([stop.click], page.stop_handler(status), inputs={shared.token}, outputs=[status], trigger_mode="multiple",
          show_progress="hidden", **shared.control_group)
    gr.on([tab.select, controls.max_new.input], actions.show, inputs=inputs, outputs=outputs,
          trigger_mode="always_last", **model)
    knob_outputs = outputs + [c for c in controls.knob_inputs() if c is not controls.mode]
    gr.on([c.input for c in controls.knob_inputs()] + [controls.top_n.input], actions.rewarp, inputs=inputs,
          outputs=knob_outputs, trigger_mode="always_last", **model)

    def restore_controls(values: dict):
        """Page load: the controls as this browser left them."""
        return controls.restore((values.get(shared.saved_decoding) or {}).get("settings"))
    gr.on([shared.demo.load], restore_controls, inputs={shared.saved_decoding}, outputs=controls.components(),
          **shared.views_group)
    return SimpleNamespace(tab=tab, controls=controls, **vars(ui))
