"""What the tabs share, and the one way a handler reaches this page's session.

`Shared` is the namespace every tab builder gets with the app context: the page token (issued by
the page load into a hidden component: the secret that proves an event comes from this page), the
applied conversation (a hidden component, so the browser holds it across server restarts), the
template switches, the two browser-kept states, the decoding controls (set by the Decoder tab,
read by Compare) and the concurrency groups. A new tab reads what it needs from here and may add
its own components for later tabs.

`PageSession.open(values, request)` opens the request's session with its turn held and brings the
workspace in line with the page: conversation, template, decoding settings; and, when the session
is fresh (server restarted, session expired or evicted), puts back the tokens the browser saved
before any action runs. `saved_decoding(...)` is what the browser keeps afterwards; it never
replaces saved tokens with fewer unless the action itself changed the tokens.
What is left out: components of a tab (the tab modules) and rendering (the view modules).
"""

import contextlib
import logging
from dataclasses import dataclass, field

import gradio as gr

from visualizer.engine.errors import InputError
from visualizer.engine.workspace import TemplateOptions

from .views import error_html

LOG = logging.getLogger(__name__)
VIEWS_CONCURRENCY = 8  # text and token views in flight at once (no forward pass)
CONTROL_CONCURRENCY = 16  # Stop and other light session events


@dataclass
class Shared:
    demo: gr.Blocks
    i18n: gr.I18n
    token: gr.Textbox  # hidden: this page's session secret
    conversation: gr.JSON  # hidden: the applied conversation (a list of messages)
    add_generation_prompt: gr.Checkbox  # rendered by the Conversation tab
    thinking: gr.Checkbox
    saved_conversation: gr.BrowserState  # {"messages", "add_generation_prompt", "thinking"}
    saved_decoding: gr.BrowserState  # {"snapshot": Workspace.snapshot(), "settings": {elem id: value}}
    saved_pair: gr.BrowserState  # {"a": text, "b": text}: Compare's A and B as last typed
    model_group: dict  # event kwargs of events that run the model
    run_group: dict  # ... of the events that run the model for many tokens (runs): slots of their own
    views_group: dict  # event kwargs of light events (text views, conversation edits)
    control_group: dict  # event kwargs of Stop-like events (never behind model events)
    controls: object = None  # decoding_controls.DecodingControls, made by the Decoder tab
    extra: dict = field(default_factory=dict)  # components a tab offers to later tabs, by name


class PageSession:
    """Opens this page's session for a handler; see the module docstring."""

    def __init__(self, ctx, shared, holds_the_controls=False):
        """`holds_the_controls`: the tab of `shared.controls` (the Decoder): its refusals of them need not say
        whose they are; another tab's say they are the Decoder's."""
        self.ctx = ctx
        self.shared = shared
        self.holds_the_controls = holds_the_controls

    def inputs(self):
        """The components every session event reads."""
        shared = self.shared
        base = {shared.token, shared.conversation, shared.add_generation_prompt, shared.thinking,
                shared.saved_decoding}
        return base | (shared.controls.inputs() if shared.controls else set())

    @contextlib.contextmanager
    def open(self, values, request, sync=True):
        """The session (created if missing) with its turn held, its workspace in line with `values`."""
        shared = self.shared
        with self.ctx.session(request, values.get(shared.token), create=True) as session:
            if sync:
                self.sync(session, values)
            yield session

    @contextlib.contextmanager
    def existing(self, values, request):
        """The session only if it exists (a run's later tokens: a dropped session ends the run);
        not a click of the page (a run's tokens and end, a Stop's flag: see `Session.waiting_clicks`)."""
        with self.ctx.session(request, values.get(self.shared.token), create=False, click=False) as session:
            yield session

    def sync(self, session, values):
        shared, workspace = self.shared, session.workspace
        if values.get(shared.conversation) is not None:  # None: the page has not restored it yet
            workspace.set_conversation(values.get(shared.conversation))
        workspace.set_template(TemplateOptions(add_generation_prompt=bool(values.get(shared.add_generation_prompt)),
                                               thinking=bool(values.get(shared.thinking))))
        if shared.controls is not None:
            try:
                workspace.configure(*shared.controls.read(values, workspace))
            except InputError as error:  # said as the Decoder tab's setting (Compare and Inside follow it)
                error.decoder_setting = True
                raise
        if not session.data.get("restored") and workspace.messages is not None:
            session.data["restored"] = True
            saved = values.get(shared.saved_decoding)
            snapshot = saved.get("snapshot") if isinstance(saved, dict) else None
            try:
                if snapshot and workspace.restore(snapshot):
                    session.data["view"] = "step"
            except InputError as error:  # a snapshot from another server or model: start afresh
                LOG.info("saved tokens not restored: %s", error)

    def saved_decoding(self, workspace, values, tokens_changed):
        """What the browser keeps: the workspace's snapshot and the controls' values."""
        saved = values.get(self.shared.saved_decoding)
        saved = saved if isinstance(saved, dict) else {}
        snapshot = workspace.snapshot()
        if not tokens_changed and "decoder" not in snapshot and isinstance(saved.get("snapshot"), dict) \
                and saved["snapshot"].get("decoder"):
            snapshot = saved["snapshot"]  # tokens of another conversation: kept until an action replaces them
        settings = self.shared.controls.saved(values) if self.shared.controls else {}
        return {"snapshot": snapshot, "settings": settings}

    def stop_handler(self, status):
        """Stop: raise this page's stop flag (and note how many tokens the decoder had then); a run of the
        page reads the flag before each token, in its own session turn, so no token starts after it."""
        def stop(values: dict, request: gr.Request):
            def act():
                with self.existing(values, request) as session:
                    decoder = session.workspace.existing_decoder
                    session.data.update(stop=True, stop_at=len(decoder.generated) if decoder else None)
                return gr.skip()
            return self.answer(request, status, act)
        return stop

    def answer(self, request, status, action):
        """Run `action()` -> {component: value}; an InputError becomes an error line in `status`.
        Nothing to change comes back as gr.skip() (an empty dict would be taken as a value)."""
        texts = self.ctx.texts(request)
        try:
            return action() or gr.skip()
        except InputError as error:
            line = self.ctx.error_text(error, request)
            if getattr(error, "decoder_setting", False) and not self.holds_the_controls:
                line = texts["error_decoder_setting"].format(error=line)
            return {status: error_html(line, texts)}
        except Exception:  # noqa: BLE001 - one session's failure must not take the page down
            LOG.exception("session action failed")
            return {status: error_html(texts["internal_error"], texts)}
