"""Handlers of the Decoder tab: step, step ×10, run to end (streamed), force, undo, reset.

Every handler takes the conversation and the sampling controls, finds (or starts) this
session's Decoder in the session store, acts, and returns the same bundle of outputs:
(chart, candidate picker, generated chips, output panel, stats, timeline, status, saved state).
A decoder is rebuilt when the prompt or its limits change; sampling settings apply from the next
step. Errors become a status line; the conversation is never touched.
What is left out: the Compare tab (compare_handlers.py) and the HTTP API (api.py).
"""

import base64
import logging
import time

import gradio as gr

from ui.charts import candidate_label, chart_candidates, next_token_figure, timeline_figure
from visualizer.engine.conversation import parse_conversation
from visualizer.engine.decoder import Decoder
from visualizer.engine.limits import InputError, check_max_new_tokens, check_top_n
from visualizer.engine.sampling import SamplingSettings
from visualizer.engine.template import render_conversation
from ui.views import generated_chips_html, output_panel_html, stats_html, status_html, stop_message

from . import context
from .conversation_handlers import render_options

STEP_BURST = 10
LOG = logging.getLogger(__name__)


def sampling_settings(mode, temperature, top_k, top_p, seed):
    vocab = context.current().loaded.vocab_size
    return SamplingSettings.from_user(vocab, temperature, top_k, top_p, seed, greedy=(mode != "sampling"))


def prompt_ids(messages, add_generation_prompt, thinking):
    tokenizer = context.current().loaded.tokenizer
    rendered = render_conversation(tokenizer, parse_conversation(messages), add_generation_prompt, **render_options(thinking))
    return tokenizer.encode(rendered.text)


def session_decoder(session, messages, add_gen, thinking, mode, temperature, top_k, top_p, seed, max_new, top_n):
    """This session's Decoder for these inputs: reused when the prompt and limits match."""
    ctx = context.current()
    settings = sampling_settings(mode, temperature, top_k, top_p, seed)
    ids, max_new, top_n = prompt_ids(messages, add_gen, thinking), check_max_new_tokens(max_new), check_top_n(top_n)
    decoder = session.states.get("decoder")
    if decoder is None or (decoder.prompt_ids, decoder.branch.max_new_tokens, decoder.branch.top_n) != (ids, max_new, top_n):
        decoder = Decoder(ctx.loaded, ids, settings, max_new, top_n, forwards=ctx.store.forwards)
        session.states["decoder"] = decoder
    decoder.use_settings(settings)
    return decoder


def decoder_outputs(decoder, texts, message="", kind="info", tokens_per_s=None):
    """The Decoder tab's outputs for the current state of `decoder`."""
    record = decoder.records[-1] if decoder.records else decoder.preview()
    ids, tokenizer = decoder.branch.generated, decoder.loaded.tokenizer
    if not message and decoder.stop:
        message, kind = stop_message(decoder.stop, texts), "done"
    elif not message and record.is_preview:
        message = texts["preview"]
    choices = [(candidate_label(c), c.id) for c in chart_candidates(record)]
    return (
        next_token_figure(record, texts),
        gr.update(choices=choices, value=None),
        generated_chips_html(decoder.records, texts),
        output_panel_html(ids, tokenizer.decode(ids), tokenizer.decode(ids, skip_special_tokens=True), texts),
        stats_html(record, len(decoder.prompt_ids), texts, tokens_per_s, (len(ids), decoder.branch.max_new_tokens)),
        timeline_figure(decoder.records, texts),
        status_html(message, kind),
        saved_state(decoder),
    )


def saved_state(decoder):
    """What the browser keeps so a reload or a server restart loses nothing."""
    return {
        "prompt": list(decoder.prompt_ids),
        "generated": list(decoder.branch.generated),
        "forced": [r.forced for r in decoder.records],
        "rng": base64.b64encode(decoder.branch.generator_state()).decode("ascii"),
    }


def restore(saved, *inputs, request: gr.Request = None):
    """On page load: replay the saved tokens into this session's decoder (a reload or a server
    restart lands here). Nothing saved: nothing to do (no prefill for every page load)."""
    if not isinstance(saved, dict) or not saved.get("generated"):
        return (gr.skip(),) * 8

    def action(decoder, texts):
        if saved.get("prompt") != decoder.prompt_ids or decoder.records:
            return None
        generated = saved.get("generated") or []
        decoder.replay(generated, saved.get("forced"))
        if saved.get("rng"):
            decoder.branch.restore_generator(base64.b64decode(saved["rng"]))
        return None
    return _act(action, inputs, request)[0]


def error_outputs(texts, message):
    return (gr.skip(),) * 6 + (status_html(f"{texts['error']}: {message}", "error"), gr.skip())


def _act(action, inputs, request, rate=None):
    """Run `action(decoder, texts)` under the session's lock; -> (outputs bundle, finished).
    `finished` is True when the message ended or the action failed."""
    ctx, texts = context.current(), context.texts(request)
    try:
        with ctx.store.use(context.session_key(request)) as session:
            decoder = session_decoder(session, *inputs)
            message = action(decoder, texts) or ""
            return decoder_outputs(decoder, texts, message, tokens_per_s=rate and rate()), bool(decoder.stop)
    except InputError as error:
        return error_outputs(texts, error), True
    except Exception as error:  # one session's failure must not take the others down
        LOG.exception("decoder action failed")
        return error_outputs(texts, f"internal error ({type(error).__name__}); the conversation is kept"), True


def preview(*inputs, request: gr.Request = None):
    """The current state (the first position's distribution before any step)."""
    return _act(lambda decoder, texts: None, inputs, request)[0]


def step(*inputs, request: gr.Request = None):
    return _act(lambda decoder, texts: decoder.step() and None, inputs, request)[0]


def step_burst(*inputs, request: gr.Request = None):
    return _act(lambda decoder, texts: list(decoder.run(STEP_BURST)) and None, inputs, request)[0]


def undo(*inputs, request: gr.Request = None):
    return _act(lambda decoder, texts: decoder.undo() and None, inputs, request)[0]


def reset(*inputs, request: gr.Request = None):
    return _act(lambda decoder, texts: decoder.reset(), inputs, request)[0]


def force_candidate(token_id, *inputs, request: gr.Request = None):
    """Force a candidate at the position the chart shows: it replaces that step's choice."""
    def action(decoder, texts):
        if token_id is None:
            raise InputError("pick a candidate first")
        if decoder.records:
            decoder.undo()
        decoder.force(token_id)
    return _act(action, inputs, request)[0]


def force_typed(typed, *inputs, request: gr.Request = None):
    """Force a typed token (its text, or its id as digits) at the position the chart shows."""
    def action(decoder, texts):
        token_id = typed_token_id(decoder.loaded.tokenizer, typed)
        if decoder.records:
            decoder.undo()
        decoder.force(token_id)
    return _act(action, inputs, request)[0]


def typed_token_id(tokenizer, typed):
    typed = (typed or "")[:200]
    if typed.strip().isdigit():
        return int(typed.strip())
    ids = tokenizer.encode(typed) if typed else []
    if len(ids) != 1:
        raise InputError(f"{typed!r:.40} is {len(ids)} tokens {ids[:8]}: force one token at a time")
    return ids[0]


def run_to_end(*inputs, request: gr.Request = None):
    """Stream one token per update. The session lock and the model are released between
    tokens, so other users' steps interleave; a Stop or a closed tab ends the loop."""
    started, taken = time.perf_counter(), []

    def one_token(decoder, texts):
        if not decoder.stop:
            taken.append(decoder.step())

    key, finished = context.session_key(request), False
    while not finished:
        if taken and context.current().store.get(key) is None:
            return  # the tab was closed: demo.unload dropped the session, so stop
        outputs, finished = _act(one_token, inputs, request, rate=lambda: len(taken) / (time.perf_counter() - started))
        yield outputs
