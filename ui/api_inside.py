"""API endpoints for inside the current step, for gradio_client, in the CLI's JSON shapes.

/lens (top = 10) -> the logit lens and /attention (layer = None: all) -> the attention of the
position that predicts the next token of this client's decoder (after its /start and /step
calls), as `python -m visualizer lens|attention --json` prints them (`engine/inspection.py`).
Each runs one probe pass on the model thread, in the model's concurrency group. They never create
a session: without one they answer "session expired: call /start"; a session belongs to the client
cookie that created it (as in `api.py`). Bad input raises `gr.Error` with one line.
What is left out: the sampler's stage view (the UI's), positions other than the current one.
"""

import gradio as gr

from visualizer.engine.errors import refuse
from visualizer.engine.inspection import attention_payload, check_layer, inspect, lens_payload

from .api import _answer as answer


def register(ctx):
    """Add /lens and /attention to the gr.Blocks being built (with the other endpoints, before any tab)."""
    endpoints = InsideEndpoints(ctx)
    group = dict(concurrency_id="model", concurrency_limit=ctx.settings.concurrency_limit)
    gr.api(endpoints.lens, api_name="lens", **group)
    gr.api(endpoints.attention, api_name="attention", **group)
    return endpoints


class InsideEndpoints:
    def __init__(self, ctx):
        self.ctx = ctx

    def lens(self, top: int = 10, request: gr.Request = None) -> dict:
        """Each layer's top `top` guesses at the next token, the raw top-1's probability and rank per
        layer: {"model", "prompt_tokens", "generated", "position", "chosen", "first_top_layer", "layers", "final"}."""
        loaded = self.ctx.loaded
        return self._inspect(request, lambda decoder: lens_payload(
            loaded.name, loaded.tokenizer, inspect(decoder, top=top, attention=False)))

    def attention(self, layer: int | None = None, request: gr.Request = None) -> dict:
        """The predicting position's attention over the context, mean over heads, one layer or all:
        {"model", "prompt_tokens", "generated", "position", "tokens", "layers": [{"layer", "weights"}]}."""
        loaded = self.ctx.loaded

        def payload(decoder):
            if layer is not None:  # checked before the pass, not after it
                check_layer(layer, loaded.model.config.get_text_config().num_hidden_layers)
            return attention_payload(loaded.name, loaded.tokenizer, inspect(decoder, lens=False), layer=layer)
        return self._inspect(request, payload)

    def _inspect(self, request, payload):
        def act():
            with self.ctx.session(request, self.ctx.client_cookie(request)) as session:
                decoder = session.workspace.existing_decoder
                if decoder is None:
                    raise refuse("no_decoder")
                return payload(decoder)
        return answer(act)
