"""Named API endpoints for gradio_client, per client session, answering in the CLI's JSON shapes.

/tokens (conversation JSON -> tokens; no session), /start (conversation + sampling knobs -> the
prompt; creates or restarts this client's session), /step, /force (token id), /undo, /run (n steps,
streamed: an answer every RUN_ANSWER_S with the steps since the last, so a long run costs the same
per token and forty runs do not flood the server with messages; the last answer holds all of them;
cancelling the job stops it before its next step: see `http.CancelHook`). `/start`'s parameters
are the contract's (conversation, temperature, top_k, top_p, seed, max_new_tokens, top) followed
by every other knob of `engine/knobs.py`, so a new knob reaches the API without touching this file.
A session belongs to the client cookie it was created with (gradio_client keeps it from /config);
/step and the rest never create one: without a session they answer "session expired: call /start".
Every limit is the server's (max new tokens included). Bad input raises `gr.Error` with one line.
/stats (undocumented) gives server figures.
What is left out: the UI (the tab modules), other areas' endpoints (registered by their modules).
"""

import inspect
import logging
import time

import gradio as gr

from visualizer.engine.knobs import KNOB_BY_NAME, KNOBS
from visualizer.engine.errors import InputError, refuse
from visualizer.engine.limits import DEFAULT_NEW_TOKENS, check_steps
from visualizer.engine.payloads import decoder_payload, step_payload, tokens_payload

CONTRACT_KNOBS = ("temperature", "top_k", "top_p")  # /start's positions 2-4, before seed, max_new_tokens, top
RUN_ANSWER_S = 0.5  # /run answers at most this often while it runs
LOG = logging.getLogger(__name__)


def register(ctx):
    """Add the endpoints to the gr.Blocks being built (call first: names are taken in order)."""
    endpoints = Endpoints(ctx)
    group = dict(concurrency_id="model", concurrency_limit=ctx.settings.concurrency_limit)
    gr.api(endpoints.tokens, api_name="tokens", concurrency_id="views", concurrency_limit=8)
    for name in ("start", "step", "force", "undo"):
        gr.api(getattr(endpoints, name), api_name=name, **group)
    # Runs have slots of their own: however many run, a click always finds a free one.
    gr.api(endpoints.run, api_name="run", concurrency_id="runs", concurrency_limit=ctx.settings.concurrency_limit)
    gr.api(endpoints.stats, api_name="stats", api_visibility="undocumented", concurrency_limit=None)
    return endpoints


class Endpoints:
    def __init__(self, ctx):
        self.ctx = ctx
        self.start = _start_signature(self._start)

    def tokens(self, conversation: str, add_generation_prompt: bool = True) -> dict:
        """Conversation JSON -> {"model", "text", "count", "tokens": [{"id", "text", "special"}]}."""
        def act():
            workspace = self.ctx.server.new_workspace()
            workspace.set_conversation(conversation)
            workspace.set_template(type(workspace.template)(add_generation_prompt=bool(add_generation_prompt)))
            loaded = self.ctx.loaded
            return tokens_payload(loaded.name, loaded.tokenizer, workspace.prompt().text)
        return _answer(act)

    def _start(self, request, conversation, seed=0, max_new_tokens=None, top=10, **knobs):
        # None: the server's default (256, or its cap when lower).
        new_tokens = min(DEFAULT_NEW_TOKENS, self.ctx.settings.max_new_tokens) if max_new_tokens is None \
            else max_new_tokens

        def act():
            with self._session(request, create=True) as session:
                workspace = session.workspace
                workspace.set_conversation(conversation)
                sampling = workspace.sampling_from_user(seed=seed, **knobs)
                workspace.configure(sampling, top, new_tokens)
                workspace.drop_decoder()
                decoder = workspace.decoder()
                decoder.start()
                return decoder_payload(self.ctx.loaded.name, decoder, [])
        return _answer(act)

    def step(self, request: gr.Request) -> dict:
        """One forward pass; the payload's steps hold this step."""
        return self._act(request, lambda decoder: [decoder.step()])

    def force(self, token_id: int, request: gr.Request) -> dict:
        """Append `token_id` as the next token (its record keeps the model's probabilities)."""
        return self._act(request, lambda decoder: [decoder.force(token_id)])

    def undo(self, request: gr.Request) -> dict:
        """Take back the last token; "undone" holds its step (null when there was none)."""
        def act():
            with self._session(request) as session:
                decoder = self._decoder(session)
                record = decoder.undo()
                return dict(decoder_payload(self.ctx.loaded.name, decoder, []),
                            undone=step_payload(record) if record else None)
        return _answer(act)

    def run(self, n: int = 16, request: gr.Request = None) -> dict:  # Gradio reads the type of each answer here
        """Up to n steps (fewer if the message ends), streamed: each answer holds the steps since the
        last one, the last answer all of them."""
        try:
            n = check_steps(n, self.ctx.settings.max_new_tokens)
        except InputError as error:
            raise gr.Error(str(error), print_exception=False) from None
        records, decoder, shown, last_answer = [], None, 0, time.monotonic()
        stopped = False
        while len(records) < n and not stopped:
            def one(first=decoder is None):
                with self._session(request) as session:
                    if first:  # a cancel of an earlier run does not stop this one
                        session.data["stop"] = False
                    decoder = self._decoder(session)
                    if not decoder.stop and not session.data.get("stop"):
                        records.append(decoder.step(interactive=False))
                    return decoder, session.data.get("stop")
            decoder, stopped = _answer(one)
            if decoder.stop or len(records) == n:
                break
            if time.monotonic() - last_answer >= RUN_ANSWER_S:  # each answer: the steps since the last one
                yield decoder_payload(self.ctx.loaded.name, decoder, records[shown:])
                shown, last_answer = len(records), time.monotonic()
        yield decoder_payload(self.ctx.loaded.name, decoder, records)

    def stats(self) -> dict:
        """Server-wide figures: sessions, pool bytes, evictions, batches (for load tests)."""
        return self.ctx.server.stats()

    def _act(self, request, action):
        def act():
            with self._session(request) as session:
                decoder = self._decoder(session)
                return decoder_payload(self.ctx.loaded.name, decoder, action(decoder))
        return _answer(act)

    def _session(self, request, create=False):
        return self.ctx.session(request, self.ctx.client_cookie(request), create=create)

    @staticmethod
    def _decoder(session):
        decoder = session.workspace.existing_decoder
        if decoder is None:
            raise refuse("no_decoder")
        return decoder


def _answer(action):
    """The action's answer; bad input -> one-line error; anything else -> a one-line "internal error"
    (logged), the session kept as it was."""
    try:
        return action()
    except InputError as error:
        raise gr.Error(str(error), print_exception=False) from None
    except Exception as error:  # noqa: BLE001 - one session's failure must not reach the client as a traceback
        LOG.exception("API action failed")
        raise gr.Error(f"internal error ({type(error).__name__}); your session is kept", print_exception=False) \
            from None


def _start_signature(implementation):
    """/start as Gradio documents it: the contract's parameters, then every other knob, then the request."""
    knob_names = list(CONTRACT_KNOBS) + [knob.name for knob in KNOBS if knob.name not in CONTRACT_KNOBS]

    def start(*args):
        *values, request = args
        named = dict(zip(parameters, values))
        knobs = {name: named.pop(name) for name in knob_names}
        return implementation(request, **named, **knobs)

    optional_number = float | None
    param = inspect.Parameter
    fixed = [param("conversation", param.POSITIONAL_OR_KEYWORD, annotation=str)]
    fixed += [param(name, param.POSITIONAL_OR_KEYWORD, default=None,
                    annotation=int | None if KNOB_BY_NAME[name].kind is int else optional_number)
              for name in CONTRACT_KNOBS]
    fixed += [param("seed", param.POSITIONAL_OR_KEYWORD, default=0, annotation=int),
              param("max_new_tokens", param.POSITIONAL_OR_KEYWORD, default=None, annotation=int | None),
              param("top", param.POSITIONAL_OR_KEYWORD, default=10, annotation=int)]
    fixed += [param(name, param.POSITIONAL_OR_KEYWORD, default=None,
                    annotation=int | None if KNOB_BY_NAME[name].kind is int else optional_number)
              for name in knob_names if name not in CONTRACT_KNOBS]
    parameters = [p.name for p in fixed]
    start.__signature__ = inspect.Signature(fixed + [param("request", param.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request)],
                                            return_annotation=dict)
    start.__annotations__ = {p.name: p.annotation for p in start.__signature__.parameters.values()} | {"return": dict}
    start.__doc__ = ("Start (or restart) this session's decoder on a conversation; greedy unless a temperature "
                     "is given. Knobs: " + ", ".join(knob_names) + ".")
    start.__name__ = "start"
    return start
