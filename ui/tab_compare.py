"""The Compare tab: greedy vs sampled, and prompt A vs prompt B; components (ids are a contract) and wiring.

Reads the Decoder tab's controls from `shared.controls` (the sampled branch draws with them), so
it is built after the Decoder tab. Opening the tab shows both branches' first distributions; the
A / B conversations start as the notebook's pair in the page's language (set on page load), or as this
browser last had them (kept on each edit), and either takes the Conversation tab's messages with one click (a
preset loaded there, an edit made there).
What is left out: handler logic (`compare_actions.py`).
"""

from types import SimpleNamespace

import gradio as gr

from visualizer.engine.conversation import MAX_JSON_CHARS, conversation_json

from .client_js import EDITORS_JS, clears_busy
from .compare_actions import CompareActions
from .gradio_bounds import engine_checks_bounds
from .presets import compare_pair
from .shared import PageSession


def build(ctx, shared):
    i18n = shared.i18n
    with gr.Tab(i18n("tab_compare"), id="compare", elem_id="compare-tab") as tab:
        gr.Markdown(i18n("intro_compare"), elem_classes="intro")
        with gr.Row(elem_classes="controls"):
            step = gr.Button(i18n("step"), variant="primary", elem_id="compare-step-btn", min_width=90)
            run = gr.Button(i18n("run"), elem_id="compare-run-btn", min_width=90)
            stop = gr.Button(i18n("stop"), variant="stop", elem_id="compare-stop-btn", min_width=90)
            reset = gr.Button(i18n("reset"), elem_id="compare-reset-btn", min_width=90)
        settings = gr.HTML(elem_id="compare-settings", js_on_load=None)
        divergence = gr.HTML(elem_id="compare-divergence", js_on_load=clears_busy("compare-charts"))
        status = gr.HTML(elem_id="compare-status", js_on_load=clears_busy("compare-charts", "compare-pair-charts"))
        with gr.Row(equal_height=False, elem_id="compare-charts"):
            with gr.Column(min_width=300):
                greedy_text = gr.HTML(elem_id="compare-greedy", label=i18n("compare_greedy"), show_label=True,
                                      container=True, js_on_load=None)
                greedy_chart = gr.HTML(elem_id="compare-greedy-chart", js_on_load=clears_busy("compare-charts"))
            with gr.Column(min_width=300):
                sampled_text = gr.HTML(elem_id="compare-sampled", label=i18n("compare_sampled"), show_label=True,
                                       container=True, js_on_load=None)
                sampled_chart = gr.HTML(elem_id="compare-sampled-chart", js_on_load=clears_busy("compare-charts"))
        with gr.Row(equal_height=False):
            a_default, b_default = compare_pair(ctx.forced_language or "en")
            with gr.Column(min_width=300):
                json_a = gr.Code(conversation_json(a_default), language="json", label=i18n("compare_a"),
                                 interactive=True, elem_id="compare-a-json", wrap_lines=True, max_lines=14)
                use_a = gr.Button(i18n("compare_use_current"), size="sm", elem_id="compare-a-use-btn")
            with gr.Column(min_width=300):
                json_b = gr.Code(conversation_json(b_default), language="json", label=i18n("compare_b"),
                                 interactive=True, elem_id="compare-b-json", wrap_lines=True, max_lines=14)
                use_b = gr.Button(i18n("compare_use_current"), size="sm", elem_id="compare-b-use-btn")
        with gr.Row(equal_height=True):
            pair_steps = gr.Slider(1, min(256, ctx.settings.max_new_tokens), value=48, step=1,
                                   label=i18n("compare_steps"), elem_id="compare-steps", scale=3)
            engine_checks_bounds(pair_steps)
            pair_button = gr.Button(i18n("run_both"), variant="primary", elem_id="compare-pair-btn", scale=1)
            # A Stop beside it: the tab's own was a screen above at 1366x768 (found by hand).
            pair_stop = gr.Button(i18n("stop"), variant="stop", elem_id="compare-pair-stop-btn", scale=1, min_width=90)
        pair_divergence = gr.HTML(elem_id="compare-pair-divergence", js_on_load=clears_busy("compare-pair-charts"))
        with gr.Row(equal_height=False, elem_id="compare-pair-charts"):
            with gr.Column(min_width=300):
                text_a = gr.HTML(elem_id="compare-a", label=i18n("compare_answer_a"), show_label=True, container=True,
                                 js_on_load=clears_busy("compare-pair-charts"))
                chart_a = gr.HTML(elem_id="compare-a-chart", js_on_load=None)
            with gr.Column(min_width=300):
                text_b = gr.HTML(elem_id="compare-b", label=i18n("compare_answer_b"), show_label=True, container=True,
                                 js_on_load=None)
                chart_b = gr.HTML(elem_id="compare-b-chart", js_on_load=None)

    ui = SimpleNamespace(greedy_chart=greedy_chart, sampled_chart=sampled_chart, greedy_text=greedy_text,
                         sampled_text=sampled_text, divergence=divergence, settings=settings, status=status,
                         json_a=json_a, json_b=json_b, pair_steps=pair_steps, text_a=text_a, text_b=text_b,
                         chart_a=chart_a, chart_b=chart_b, pair_divergence=pair_divergence)
    page = PageSession(ctx, shared)
    actions = CompareActions(ctx, page, ui)
    inputs = page.inputs()
    model = dict(shared.model_group, show_progress="hidden")
    runs = dict(shared.run_group, show_progress="hidden")
    lockstep_outputs = actions.lockstep_outputs()
    gr.on([step.click], actions.step, inputs=inputs, outputs=lockstep_outputs, trigger_mode="multiple", **model)
    gr.on([reset.click], actions.reset, inputs=inputs, outputs=lockstep_outputs, trigger_mode="multiple", **model)
    gr.on([tab.select], actions.show, inputs=inputs, outputs=lockstep_outputs, trigger_mode="always_last", **model)
    gr.on([run.click], actions.run, inputs=inputs, outputs=lockstep_outputs, trigger_mode="once", **runs)
    gr.on([pair_button.click], actions.pair, inputs=inputs | {json_a, json_b, pair_steps},
          outputs=actions.pair_outputs(), trigger_mode="once", js=EDITORS_JS, **runs)
    gr.on([stop.click, pair_stop.click], page.stop_handler(status), inputs={shared.token}, outputs=[status],
          show_progress="hidden", **shared.control_group)

    def defaults(values: dict, request: gr.Request):
        """A and B as this browser last had them (a reload lost a hand-edited A), else the notebook's pair."""
        saved = values.get(shared.saved_pair)
        if isinstance(saved, dict) and all(_fits(saved.get(name)) for name in ("a", "b")):
            return {json_a: saved["a"], json_b: saved["b"]}
        pair = compare_pair(ctx.language(request))
        return {json_a: conversation_json(pair[0]), json_b: conversation_json(pair[1])}

    def keep(values: dict):
        text_a, text_b = values.get(json_a), values.get(json_b)
        return {shared.saved_pair: {"a": text_a, "b": text_b}} if _fits(text_a) and _fits(text_b) else gr.skip()
    gr.on([shared.demo.load], defaults, inputs={shared.saved_pair}, outputs=[json_a, json_b], **shared.views_group)
    kept = dict(inputs={json_a, json_b}, outputs=[shared.saved_pair], js=EDITORS_JS, **shared.views_group)
    gr.on([json_a.input, json_b.input], keep, trigger_mode="always_last", **kept)
    for button, target in ((use_a, json_a), (use_b, json_b)):  # the Conversation tab's messages as A or B
        gr.on([button.click], current_conversation, inputs=[shared.conversation], outputs=[target],
              **shared.views_group).then(keep, **kept)
    return SimpleNamespace(tab=tab, **vars(ui))


def _fits(text):
    """A text an editor may hold and the browser keep (one cut by `EDITORS_JS` is longer)."""
    return isinstance(text, str) and len(text) <= MAX_JSON_CHARS


def current_conversation(messages):
    """The applied conversation as JSON for a box of Compare (nothing changes before the page has one)."""
    return conversation_json(messages) if isinstance(messages, list) and messages else gr.skip()
