"""Handlers of the Compare tab: greedy vs sampled in lockstep, and conversation A vs B.

Greedy vs sampled runs both branches of one `Lockstep` (one batched forward per step);
A vs B runs two greedy `Decoder`s side by side. Both report where the outputs first diverge.
What is left out: more than two branches; sampling settings come from the Decoder tab.
"""

import logging

import gradio as gr

from ui.charts import next_token_figure
from visualizer.engine.decoder import Decoder
from visualizer.engine.limits import InputError, check_max_new_tokens, check_steps, check_top_n
from visualizer.engine.lockstep import Lockstep, first_divergence
from ui.views import divergence_html, generated_chips_html, status_html

from . import context
from .decoder_handlers import prompt_ids, sampling_settings

LOG = logging.getLogger(__name__)


def _lockstep(session, messages, add_gen, thinking, mode, temperature, top_k, top_p, seed, max_new, top_n):
    ctx = context.current()
    settings = sampling_settings("sampling", temperature, top_k, top_p, seed)
    ids, max_new, top_n = prompt_ids(messages, add_gen, thinking), check_max_new_tokens(max_new), check_top_n(top_n)
    key = (ids, settings, max_new, top_n)
    if session.data.get("lockstep_key") != key or "lockstep" not in session.states:
        lockstep = Lockstep(ctx.loaded, ids, settings, max_new, top_n, forwards=ctx.store.forwards)
        lockstep.start()
        session.states["lockstep"], session.data["lockstep_key"] = lockstep, key
    return session.states["lockstep"]


def _lockstep_outputs(lockstep, texts):
    greedy, sampled = lockstep.branches
    divergence = lockstep.divergence
    figures = [
        next_token_figure(branch.records[-1], texts, title=texts[name]) if branch.records else gr.skip()
        for branch, name in ((greedy, "compare_greedy"), (sampled, "compare_sampled"))
    ]
    return (
        *figures,
        generated_chips_html(greedy.records, texts, divergence),
        generated_chips_html(sampled.records, texts, divergence),
        divergence_html(divergence, greedy.records, sampled.records, texts),
    )


def _lockstep_act(action, inputs, request):
    ctx, texts = context.current(), context.texts(request)
    try:
        with ctx.store.use(context.session_key(request)) as session:
            lockstep = _lockstep(session, *inputs)
            action(lockstep)
            finished = all(branch.stop for branch in lockstep.branches)
            return _lockstep_outputs(lockstep, texts), finished
    except InputError as error:
        return (gr.skip(),) * 4 + (status_html(f"{texts['error']}: {error}", "error"),), True
    except Exception as error:  # keep other sessions and this conversation alive
        LOG.exception("lockstep action failed")
        return (gr.skip(),) * 4 + (status_html(f"{texts['error']}: {type(error).__name__}", "error"),), True


def lockstep_step(*inputs, request: gr.Request = None):
    return _lockstep_act(lambda lockstep: lockstep.step(), inputs, request)[0]


def lockstep_reset(*inputs, request: gr.Request = None):
    return _lockstep_act(lambda lockstep: lockstep.reset(), inputs, request)[0]


def lockstep_run(*inputs, request: gr.Request = None):
    """Stream both branches to their ends, releasing the session between steps."""
    finished = False
    while not finished:
        outputs, finished = _lockstep_act(lambda lockstep: lockstep.step(), inputs, request)
        yield outputs


def pair_run(json_a, json_b, steps, add_gen, thinking, request: gr.Request = None):
    """Greedy decoding of conversations A and B, side by side, until `steps` tokens or both end."""
    ctx, texts = context.current(), context.texts(request)
    try:
        steps = check_steps(steps)
        decoders = [
            Decoder(ctx.loaded, prompt_ids(json_a, add_gen, thinking), max_new_tokens=steps, forwards=ctx.store.forwards),
            Decoder(ctx.loaded, prompt_ids(json_b, add_gen, thinking), max_new_tokens=steps, forwards=ctx.store.forwards),
        ]
    except InputError as error:
        yield gr.skip(), gr.skip(), status_html(f"{texts['error']}: {error}", "error")
        return
    key = context.session_key(request)
    with ctx.store.use(key) as session:
        session.states["compare_a"], session.states["compare_b"] = decoders
    while not all(decoder.stop for decoder in decoders):
        with ctx.store.use(key):
            for decoder in decoders:
                if not decoder.stop:
                    decoder.step()
        divergence = first_divergence(decoders[0].branch.generated, decoders[1].branch.generated)
        yield (
            generated_chips_html(decoders[0].records, texts, divergence),
            generated_chips_html(decoders[1].records, texts, divergence),
            divergence_html(divergence, decoders[0].records, decoders[1].records, texts),
        )
