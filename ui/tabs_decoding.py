"""The Decoder and Compare tabs: components, element ids (a contract) and their wiring.

Model events share one concurrency group ("model") so the number in flight is bounded; the
forward passes themselves take turns in the session store's forward queue (steps waiting
together share one batched pass).
What is left out: handler logic (decoder_handlers.py, compare_handlers.py).
"""

import inspect
from types import SimpleNamespace

import gradio as gr

from visualizer.engine.limits import DEFAULT_NEW_TOKENS, DEFAULT_TOP_N, MAX_NEW_TOKENS, MAX_TEMPERATURE, MAX_TOP_N
from visualizer.engine.limits import MIN_TEMPERATURE
from ui.presets import COMPARE_PAIR, preset
from visualizer.engine.conversation import conversation_json

from . import compare_handlers, decoder_handlers


def with_request(handler, count):
    """`handler(*inputs, request=...)` as Gradio must see it: Gradio passes the request only to a
    positional parameter annotated gr.Request, never to one after `*inputs` (all browsers would
    then share the "anonymous" session and get English). -> a function of `count` inputs, then
    the request."""
    if inspect.isgeneratorfunction(handler):
        def wrapper(*args):
            yield from handler(*args[:-1], request=args[-1])
    else:
        def wrapper(*args):
            return handler(*args[:-1], request=args[-1])
    positional = inspect.Parameter.POSITIONAL_ONLY
    wrapper.__signature__ = inspect.Signature(
        [inspect.Parameter(f"input_{index}", positional) for index in range(count)]
        + [inspect.Parameter("request", positional, annotation=gr.Request)])
    wrapper.__annotations__ = {"request": gr.Request}
    wrapper.__name__ = wrapper.__qualname__ = handler.__name__
    wrapper.__doc__ = handler.__doc__
    return wrapper


def build_decoding_tabs(i18n, text_tabs, settings, decoder_state):
    """`decoder_state`: the gr.BrowserState the Decoder tab saves its tokens in (made outside the tabs)."""
    model_group = dict(concurrency_id="model", concurrency_limit=settings.concurrency_limit, api_visibility="private")
    with gr.Tab(i18n("tab_decoder"), id="decoder"):
        gr.Markdown(i18n("intro_decoder"), elem_classes="intro")
        with gr.Row():
            mode = gr.Radio([(i18n("greedy"), "greedy"), (i18n("sampling"), "sampling")], value="greedy",
                            label=i18n("mode"), scale=2)
            temperature = gr.Slider(MIN_TEMPERATURE, MAX_TEMPERATURE, value=0.7, step=0.01, label=i18n("temperature"))
            top_k = gr.Number(50, label=i18n("top_k"), precision=0, minimum=0)
            top_p = gr.Slider(0.01, 1.0, value=0.95, step=0.01, label=i18n("top_p"))
            seed = gr.Number(0, label=i18n("seed"), precision=0, minimum=0)
            max_new = gr.Number(min(DEFAULT_NEW_TOKENS, settings.max_new_tokens), label=i18n("max_new_tokens"),
                                precision=0, minimum=1, maximum=min(MAX_NEW_TOKENS, settings.max_new_tokens))
            top_n = gr.Slider(3, MAX_TOP_N, value=DEFAULT_TOP_N, step=1, label=i18n("top_n"), min_width=190)
        with gr.Row(elem_classes="controls"):
            step_button = gr.Button(i18n("step"), variant="primary", elem_id="step-btn")
            burst_button = gr.Button(i18n("step10"), elem_id="step10-btn")
            run_button = gr.Button(i18n("run"), elem_id="run-btn")
            stop_button = gr.Button(i18n("stop"), variant="stop", elem_id="stop-btn")
            undo_button = gr.Button(i18n("undo"), elem_id="undo-btn")
            reset_button = gr.Button(i18n("reset"), elem_id="reset-btn")
        gr.Markdown(i18n("keyboard"), elem_classes="hint")
        status = gr.HTML(elem_id="decoder-status")
        stats = gr.HTML(elem_id="step-stats")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chart = gr.Plot(elem_id="next-token-chart", show_label=False)
            with gr.Column(scale=2):
                candidates = gr.Radio([], label=i18n("candidates"), elem_id="candidates")
                force_button = gr.Button(i18n("force"), elem_id="force-btn")
                typed = gr.Textbox(label=i18n("force_text"), max_lines=1, elem_id="force-text")
                typed_button = gr.Button(i18n("force_typed"), size="sm", elem_id="force-typed-btn")
        generated = gr.HTML(elem_id="generated-text", label=i18n("generated"), show_label=True, container=True)
        with gr.Row(equal_height=False):
            output_panel = gr.HTML(elem_id="output-panel")
            timeline = gr.Plot(elem_id="timeline-chart", show_label=False)

    inputs = [text_tabs.messages, text_tabs.add_generation_prompt, text_tabs.thinking, mode, temperature, top_k,
              top_p, seed, max_new, top_n]
    outputs = [chart, candidates, generated, output_panel, stats, timeline, status, decoder_state]
    n = len(inputs)
    step_button.click(with_request(decoder_handlers.step, n), inputs, outputs, **model_group)
    burst_button.click(with_request(decoder_handlers.step_burst, n), inputs, outputs, **model_group)
    run_event = run_button.click(with_request(decoder_handlers.run_to_end, n), inputs, outputs, **model_group)
    stop_button.click(None, cancels=[run_event])
    undo_button.click(with_request(decoder_handlers.undo, n), inputs, outputs, **model_group)
    reset_button.click(with_request(decoder_handlers.reset, n), inputs, outputs, **model_group)
    force_typed = with_request(decoder_handlers.force_typed, n + 1)
    force_button.click(with_request(decoder_handlers.force_candidate, n + 1), [candidates] + inputs, outputs,
                       **model_group)
    typed_button.click(force_typed, [typed] + inputs, outputs, **model_group)
    typed.submit(force_typed, [typed] + inputs, outputs, **model_group)

    compare = _build_compare_tab(i18n, text_tabs, inputs, model_group)
    return SimpleNamespace(inputs=inputs, outputs=outputs, decoder_state=decoder_state, mode=mode,
                           temperature=temperature, top_k=top_k, top_p=top_p, seed=seed, max_new=max_new,
                           top_n=top_n, compare=compare)


def _build_compare_tab(i18n, text_tabs, inputs, model_group):
    with gr.Tab(i18n("tab_compare"), id="compare"):
        gr.Markdown(i18n("intro_compare"), elem_classes="intro")
        with gr.Row(elem_classes="controls"):
            step_button = gr.Button(i18n("step"), variant="primary", elem_id="compare-step-btn")
            run_button = gr.Button(i18n("run"), elem_id="compare-run-btn")
            stop_button = gr.Button(i18n("stop"), variant="stop")
            reset_button = gr.Button(i18n("reset"), elem_id="compare-reset-btn")
        divergence = gr.HTML(elem_id="compare-divergence")
        with gr.Row(equal_height=False):
            with gr.Column():
                greedy_chart = gr.Plot(show_label=False, elem_id="compare-greedy-chart")
                greedy_text = gr.HTML(elem_id="compare-greedy", label=i18n("compare_greedy"), show_label=True,
                                      container=True)
            with gr.Column():
                sampled_chart = gr.Plot(show_label=False, elem_id="compare-sampled-chart")
                sampled_text = gr.HTML(elem_id="compare-sampled", label=i18n("compare_sampled"), show_label=True,
                                       container=True)
        with gr.Row(equal_height=False):
            json_a = gr.Code(conversation_json(preset(COMPARE_PAIR[0])), language="json", label=i18n("compare_a"),
                             interactive=True, elem_id="compare-a-json", wrap_lines=True)
            json_b = gr.Code(conversation_json(preset(COMPARE_PAIR[1])), language="json", label=i18n("compare_b"),
                             interactive=True, elem_id="compare-b-json", wrap_lines=True)
        with gr.Row():
            pair_steps = gr.Slider(1, 256, value=48, step=1, label=i18n("compare_steps"))
            pair_button = gr.Button(i18n("run_both"), variant="primary", elem_id="compare-pair-btn")
        pair_divergence = gr.HTML(elem_id="compare-pair-divergence")
        with gr.Row(equal_height=False):
            text_a = gr.HTML(elem_id="compare-a", label=i18n("compare_a"), show_label=True, container=True)
            text_b = gr.HTML(elem_id="compare-b", label=i18n("compare_b"), show_label=True, container=True)

    outputs = [greedy_chart, sampled_chart, greedy_text, sampled_text, divergence]
    n = len(inputs)
    step_button.click(with_request(compare_handlers.lockstep_step, n), inputs, outputs, **model_group)
    run_event = run_button.click(with_request(compare_handlers.lockstep_run, n), inputs, outputs, **model_group)
    stop_button.click(None, cancels=[run_event])
    reset_button.click(with_request(compare_handlers.lockstep_reset, n), inputs, outputs, **model_group)
    pair_button.click(compare_handlers.pair_run,
                      [json_a, json_b, pair_steps, text_tabs.add_generation_prompt, text_tabs.thinking],
                      [text_a, text_b, pair_divergence], **model_group)
    return SimpleNamespace(greedy_text=greedy_text, sampled_text=sampled_text, divergence=divergence)
