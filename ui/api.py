"""Named API endpoints for gradio_client, per client session, answering in the CLI's JSON shapes.

/tokens (conversation JSON -> tokens), /start (conversation + sampling -> prompt; resets this
session's decoder), /step, /force (token id), /undo, /run (n steps); /stats (undocumented) gives the store's figures. Bad input raises
`gr.Error` with one line; the client sees it as an error with that message.
What is left out: streaming over the API (/run returns when its n steps are done).
"""

import gradio as gr

from visualizer.engine.decoder import Decoder
from visualizer.engine.limits import InputError, check_max_new_tokens, check_steps, check_top_n
from visualizer.engine.payloads import decoder_payload, step_payload, tokens_payload
from visualizer.engine.sampling import SamplingSettings

from . import context
from .decoder_handlers import prompt_ids


def api_tokens(conversation: str, add_generation_prompt: bool = True, request: gr.Request = None) -> dict:
    """Conversation JSON -> {"model", "text", "count", "tokens": [{"id", "text", "special"}]}."""
    return _guarded(lambda: tokens_payload(context.current().loaded, conversation, None, add_generation_prompt))


def api_start(conversation: str, temperature: float | None = None, top_k: int | None = None,
              top_p: float | None = None, seed: int = 0, max_new_tokens: int = 256, top: int = 10,
              request: gr.Request = None) -> dict:
    """Start (or restart) this session's decoder on a conversation; greedy unless a temperature is given."""
    def start():
        ctx = context.current()
        settings = SamplingSettings.from_user(ctx.loaded.vocab_size, temperature, top_k, top_p, seed)
        ids = prompt_ids(conversation, True, False)
        decoder = Decoder(ctx.loaded, ids, settings, check_max_new_tokens(max_new_tokens), check_top_n(top),
                          forwards=ctx.store.forwards)
        with ctx.store.use(context.session_key(request)) as session:
            session.states["decoder"] = decoder
            decoder.start()
            return decoder_payload(decoder, [])
    return _guarded(start)


def api_step(request: gr.Request = None) -> dict:
    """One forward pass; the payload's steps hold this step."""
    return _with_decoder(request, lambda decoder: decoder_payload(decoder, [decoder.step()]))


def api_force(token_id: int, request: gr.Request = None) -> dict:
    """Append `token_id` as the next token (its record keeps the model's probabilities)."""
    return _with_decoder(request, lambda decoder: decoder_payload(decoder, [decoder.force(token_id)]))


def api_undo(request: gr.Request = None) -> dict:
    """Take back the last token; "undone" holds its step (null when there was none)."""
    def undo(decoder):
        record = decoder.undo()
        return dict(decoder_payload(decoder, []), undone=step_payload(record) if record else None)
    return _with_decoder(request, undo)


def api_run(n: int = 16, request: gr.Request = None) -> dict:
    """Up to n steps (fewer if the message ends)."""
    return _with_decoder(request, lambda decoder: decoder_payload(decoder, list(decoder.run(check_steps(n)))))


def api_stats() -> dict:
    """Server-wide figures: sessions, cache bytes, evictions, dropped, batches, batched steps (for load tests)."""
    return context.current().store.stats()


ENDPOINTS = {"tokens": api_tokens, "start": api_start, "step": api_step, "force": api_force, "undo": api_undo,
             "run": api_run}
UNDOCUMENTED_ENDPOINTS = {"stats": api_stats}


def _with_decoder(request, action):
    def act():
        with context.current().store.use(context.session_key(request)) as session:
            decoder = session.states.get("decoder")
            if decoder is None:
                raise InputError("no decoder in this session: call /start first")
            return action(decoder)
    return _guarded(act)


def _guarded(action):
    try:
        return action()
    except InputError as error:
        raise gr.Error(str(error), print_exception=False) from None
