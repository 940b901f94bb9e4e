"""The Room tab: join by code or link, answer a step, watch the projector view, and the instructor's controls.

`build_room_tab(ctx, shared)` lays the tab out inside the current gr.Tabs (a layout's tab builder).
From `shared` (the layout's `ui.shared.Shared`, any object, or None) it reads, when there:
`conversation` (the applied conversation) and `controls.knobs` temperature / top_k / top_p (a room
opens on their values: it follows the instructor's conversation and settings), `demo` and `i18n`;
what is missing gets a control of its own in the instructor panel. A page opened with ?room=CODE
joins that room and selects this tab (through the gr.Tabs it sits in); a watching page's address is
?room=CODE&watch=1, so a reload watches it again, the instructor key typed in that tab put back.
Element ids (a contract): #room-code, #room-join-btn, #room-answer, #room-histogram,
#room-reveal-btn, #room-commit-btn; also #room-watch-btn, #room-answer-btn, #room-seed,
#room-sample-btn, #room-key, #room-open-btn, #room-mode, #room-projector, #room-banner,
#room-model-chart, #room-chips, #room-timeline, #room-attendee-view, #room-status, #room-guess-row (the
answer box: shown in a guessing step), #room-draw-row (the seed and draw button: in a sampling step;
neither after Reveal).
Events are wired by name (`RoomHandlers` returns {name: value}). Opening a room and committing run
the model and queue in the "model" group; every other event is light and skips the queue (one
plain request, `api_room.LIGHT`), the 1 s gr.Timer included: started when this browser joins or
watches a room, it redraws the views only when the room changed. No room event draws Gradio's progress
overlay. "Full screen" lays the projector view (step controls, banner with the join link's QR code, charts,
chips, timeline) over the page.
What is left out: handler logic (`room_handlers.py`), the API (`api_room.py`), styling (static/room.css).
"""

import inspect
from types import SimpleNamespace

import gradio as gr
from gradio.context import get_blocks_context

from visualizer.engine.conversation import conversation_json
from visualizer.engine.knobs import KNOB_BY_NAME

from .api_room import LIGHT
from .decoding_controls import knob_control
from .gradio_bounds import engine_checks_bounds
from .presets import default_name, preset
from .room_handlers import RoomHandlers
from .texts import TEXTS

TICK_SECONDS = 1.0
OUTPUTS = ("status", "code", "seed", "banner", "histogram", "model_chart", "chips", "timeline", "attendee_view",
           "my_chart", "seen", "phase", "mode", "joined", "watching", "timer", "projector", "attendee", "instructor",
           "export", "guess_row", "draw_row", "answer")
KNOB_NAMES = ("temperature", "top_k", "top_p")
DOWNLOAD_JS = """
(payload) => {
  if (!payload || !payload.text) return;
  const type = payload.name.endsWith('.csv') ? 'text/csv' : 'application/json';
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([payload.text], {type: type + ';charset=utf-8'}));
  link.download = payload.name;
  document.body.appendChild(link);
  link.click();
  setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 2000);
}
"""
# Joined (by typing the code, or by a link on load): the address becomes the room's link, so a reload joins
# again (a page that joined by code was out of the room after a reload, found by hand; the room knows the
# browser by its cookie), and on a phone the page scrolls to the step and its answer box (they were a
# screen below the intro and the join row, found by hand).
JOINED_LINK_JS = """
(code) => {
  let tries = 0;
  const whenShown = () => {  // joined: the attendee's view shows (drawn just after this runs; a failed join: never)
    if (!code) return;
    const view = document.querySelector('#room-attendee-view .room-attendee');
    if (!view || view.offsetParent === null) {
      if (++tries < 30) setTimeout(whenShown, 100);
      return;
    }
    const url = new URL(window.location.href);
    url.searchParams.set('room', code);
    url.searchParams.delete('watch');
    window.history.replaceState(null, '', url);
    if (window.innerWidth < 700) document.getElementById('room-attendee').scrollIntoView({block: 'start'});
  };
  whenShown();
}
"""
# Watching (the instructor's room, or a projector): the address becomes ?room=CODE&watch=1, so a reload shows
# the room again; the instructor key typed in this tab is kept for the tab's life (sessionStorage) and put
# back after a reload (a reload left the instructor on an empty tab, code and key to type again, found by hand).
WATCHING_LINK_JS = """
() => {
  let tries = 0;
  const whenShown = () => {
    const code = document.querySelector('#room-banner .room-big-code');
    if (!code || code.offsetParent === null) {
      if (++tries < 30) setTimeout(whenShown, 100);
      return;
    }
    const url = new URL(window.location.href);
    url.searchParams.set('room', code.textContent.trim());
    url.searchParams.set('watch', '1');
    window.history.replaceState(null, '', url);
  };
  whenShown();
}
"""
KEY_STORE = "llm-viz-room-key"
KEEP_KEY_JS = "(key) => { sessionStorage.setItem(%r, key || ''); }" % KEY_STORE
KEPT_KEY_JS = "() => sessionStorage.getItem(%r) || ''" % KEY_STORE
PROJECTOR_ON_JS = "() => { document.body.classList.add('room-projector-only'); }"
PROJECTOR_OFF_JS = "() => { document.body.classList.remove('room-projector-only'); }"


def build_room_tab(ctx, shared=None):
    """The tab and its events; no tab when the app has no room store (`ctx.rooms` None)."""
    if ctx.rooms is None:
        return None
    i18n = getattr(shared, "i18n", None) or _i18n(ctx)
    handlers = RoomHandlers(ctx)
    with gr.Tab(i18n("tab_room"), id="room", elem_id="room-tab") as tab:
        parts = _components(ctx, shared, i18n)
    if isinstance(tab.parent, gr.Tabs):  # a ?room= link selects this tab, even from a phone's overflow menu
        parts["tabs"] = tab.parent
    demo = getattr(shared, "demo", None) or get_blocks_context().root_block
    _wire_events(handlers, parts, demo, ctx.settings.concurrency_limit)
    return SimpleNamespace(**parts)


def _components(ctx, shared, i18n):
    c = {}
    gr.Markdown(i18n("room_intro"), elem_classes="intro")
    with gr.Row(elem_classes="room-entry", equal_height=True):
        c["code"] = gr.Textbox(placeholder=i18n("room_code"), show_label=False, container=False, elem_id="room-code",
                               max_lines=1, max_length=16, scale=2, min_width=160)
        c["join_btn"] = gr.Button(i18n("room_join"), variant="primary", elem_id="room-join-btn", scale=1,
                                  min_width=110)
        c["watch_btn"] = gr.Button(i18n("room_watch"), elem_id="room-watch-btn", scale=1, min_width=110)
    c["status"] = gr.HTML(elem_id="room-status")
    _attendee_panel(ctx, c, i18n)
    _projector_panel(c, i18n)
    with gr.Accordion(i18n("room_instructor"), open=False, elem_id="room-instructor") as c["instructor"]:
        c["key"] = gr.Textbox(type="password", label=i18n("room_key"), elem_id="room-key", max_lines=1)
        for name, component in _settings_inputs(shared, i18n, ctx.loaded.vocab_size).items():
            c[name] = component
        c["open_btn"] = gr.Button(i18n("room_open"), variant="primary", elem_id="room-open-btn")
        with gr.Row():
            c["json_btn"] = gr.Button(i18n("room_export_json"), size="sm", elem_id="room-export-json-btn")
            c["csv_btn"] = gr.Button(i18n("room_export_csv"), size="sm", elem_id="room-export-csv-btn")
            c["close_btn"] = gr.Button(i18n("room_close"), size="sm", variant="stop", elem_id="room-close-btn")
    c["export"] = gr.JSON(visible="hidden", elem_id="room-export")
    c["seen"], c["phase"], c["joined"], c["watching"] = gr.State(-1), gr.State(None), gr.State(False), gr.State(False)
    c["timer"] = gr.Timer(TICK_SECONDS, active=False)
    return c


def _attendee_panel(ctx, c, i18n):
    """The text so far, the answer box (a guessing step) or the seed and draw button (a sampling step),
    and after Reveal the model's chart."""
    with gr.Column(visible=False, elem_id="room-attendee") as c["attendee"]:
        c["attendee_view"] = gr.HTML(elem_id="room-attendee-view")
        # One of the two rows, by the step's mode, and neither once answers are closed (Reveal, the end):
        # a draw in a guessing step, or any answer after Reveal, was refused only after the click.
        with gr.Row(equal_height=True, elem_id="room-guess-row") as c["guess_row"]:
            c["answer"] = gr.Textbox(label=i18n("room_answer"), placeholder=i18n("room_answer_placeholder"),
                                     elem_id="room-answer", max_lines=1, max_length=ctx.settings.room_answer_chars,
                                     scale=3, min_width=200)
            c["answer_btn"] = gr.Button(i18n("room_answer_btn"), variant="primary", elem_id="room-answer-btn",
                                        scale=1, min_width=120)
        with gr.Row(equal_height=True, visible=False, elem_id="room-draw-row") as c["draw_row"]:
            c["seed"] = gr.Number(None, label=i18n("room_seed"), precision=0, minimum=0, elem_id="room-seed", scale=3,
                                  min_width=200)
            engine_checks_bounds(c["seed"])
            c["sample_btn"] = gr.Button(i18n("room_sample_btn"), elem_id="room-sample-btn", scale=1, min_width=120)
        c["my_chart"] = gr.Plot(visible=False, show_label=False, elem_id="room-my-chart")


def _projector_panel(c, i18n):
    """The step's controls (refused without the instructor key), then the view the room reads."""
    with gr.Column(visible=False, elem_id="room-projector") as c["projector"]:
        with gr.Row(equal_height=True, elem_classes="room-controls"):
            c["mode"] = gr.Radio([(i18n("room_mode_guess"), "guess"), (i18n("room_mode_sample"), "sample")],
                                 value="guess", label=i18n("room_mode"), elem_id="room-mode", min_width=280)
            c["reveal_btn"] = gr.Button(i18n("room_reveal"), elem_id="room-reveal-btn", min_width=110)
            c["how"] = gr.Radio([(i18n("room_commit_greedy"), "greedy"), (i18n("room_commit_top"), "top"),
                                 (i18n("room_commit_token"), "token")], value="greedy",
                                label=i18n("room_commit_choice"), elem_id="room-commit-choice", scale=3)
            c["token"] = gr.Textbox(label=i18n("room_commit_token_label"), elem_id="room-commit-token", max_lines=1,
                                    min_width=120)
            c["commit_btn"] = gr.Button(i18n("room_commit"), variant="primary", elem_id="room-commit-btn",
                                        min_width=150)
            c["projector_btn"] = gr.Button(i18n("room_projector_only"), elem_id="room-projector-btn", min_width=110)
        c["exit_btn"] = gr.Button(i18n("room_projector_exit"), size="sm", elem_id="room-projector-exit")
        c["banner"] = gr.HTML(elem_id="room-banner")
        with gr.Row(equal_height=False, elem_classes="room-charts"):
            c["histogram"] = gr.Plot(show_label=False, elem_id="room-histogram", min_width=340)
            c["model_chart"] = gr.Plot(show_label=False, elem_id="room-model-chart", min_width=340)
        with gr.Row(equal_height=False, elem_classes="room-bottom"):
            c["chips"] = gr.HTML(elem_id="room-chips", min_width=300)
            c["timeline"] = gr.Plot(show_label=False, elem_id="room-timeline", min_width=340)


def _settings_inputs(shared, i18n, vocab):
    """The conversation and knobs a room opens on: the main layout's when `shared` has them, else our own."""
    inputs = {"conversation": getattr(shared, "conversation", None)}
    knobs = getattr(getattr(shared, "controls", None), "knobs", None) or {}
    if inputs["conversation"] is None:
        inputs["conversation"] = gr.Code(conversation_json(preset(default_name("en"))), language="json",
                                         label=i18n("room_conversation"), interactive=True,
                                         elem_id="room-conversation", lines=6, max_lines=12, wrap_lines=True)
    own = {name: knobs.get(name) or getattr(shared, name, None) for name in KNOB_NAMES}
    if any(component is None for component in own.values()):
        with gr.Row():
            for name in KNOB_NAMES:
                if own[name] is None:
                    knob = KNOB_BY_NAME[name]
                    own[name] = knob_control(knob, vocab, label=i18n(knob.name), elem_id=f"room-{knob.elem_id}")
    return {**inputs, **own}


def _wire_events(handlers, c, demo, model_limit):
    model = dict(concurrency_id="model", concurrency_limit=model_limit)
    wire = lambda triggers, method, names, group=LIGHT, **options: _wire(  # noqa: E731
        triggers, method, [c[n] for n in names], c, group, **options)
    wire([c["open_btn"].click], handlers.open_room, ["key", "conversation", *KNOB_NAMES], model).then(
        None, js=WATCHING_LINK_JS)
    wire([c["join_btn"].click, c["code"].submit], handlers.join, ["code", "seed"]).then(
        None, [c["code"]], None, js=JOINED_LINK_JS)
    wire([c["watch_btn"].click], handlers.watch, ["code", "joined"]).then(None, js=WATCHING_LINK_JS)
    c["key"].change(None, [c["key"]], None, js=KEEP_KEY_JS)
    demo.load(None, None, [c["key"]], js=KEPT_KEY_JS)
    wire([c["answer_btn"].click, c["answer"].submit], handlers.answer, ["code", "answer", "watching"])
    wire([c["sample_btn"].click], handlers.sample, ["code", "seed", "watching"])
    wire([c["mode"].input], handlers.set_mode, ["code", "key", "mode", "joined"])
    wire([c["reveal_btn"].click], handlers.reveal, ["code", "key", "joined"])
    wire([c["commit_btn"].click], handlers.commit, ["code", "key", "how", "token", "joined"], model)
    wire([c["close_btn"].click], handlers.close_room, ["code", "key"])
    for button, kind in ((c["json_btn"], "json"), (c["csv_btn"], "csv")):
        export = lambda code, key, request=None, kind=kind: handlers.export(code, key, kind, request)  # noqa: E731
        wire([button.click], export, ["code", "key"]).then(None, [c["export"]], None, js=DOWNLOAD_JS)
    wire([c["timer"].tick], handlers.tick, ["code", "joined", "watching", "seen", "phase", "status"],
         trigger_mode="once")
    c["projector_btn"].click(None, js=PROJECTOR_ON_JS)
    c["exit_btn"].click(None, js=PROJECTOR_OFF_JS)
    tabs = ("tabs",) if "tabs" in c else ()
    _wire([demo.load], _selecting(handlers.join_from_link, bool(tabs)), [], c, LIGHT, extra=tabs).then(
        None, [c["code"]], None, js=JOINED_LINK_JS)


def _selecting(join_from_link, select):
    """The page load's join, also selecting this tab when a link joined a room."""
    def on_load(request=None):
        views = join_from_link(request=request)
        if views and select:
            views["tabs"] = gr.Tabs(selected="room")
        return views
    return on_load


def _wire(triggers, method, inputs, parts, group, extra=(), **options):
    """`method(*values, request=...)` -> {name: value} as a Gradio event on `triggers` (private)."""
    outputs = [parts[name] for name in OUTPUTS + tuple(extra)]

    def run(*args):
        *values, request = args
        views = {parts[name]: value for name, value in method(*values, request=request).items()}
        return views or [gr.skip()] * len(outputs)  # Gradio reads an empty dict as one value

    positional = inspect.Parameter.POSITIONAL_ONLY
    run.__signature__ = inspect.Signature(
        [inspect.Parameter(f"input_{i}", positional) for i in range(len(inputs))]
        + [inspect.Parameter("request", positional, annotation=gr.Request)])
    run.__annotations__ = {"request": gr.Request}  # how Gradio finds the parameter to pass the request in
    run.__name__ = getattr(method, "__name__", "room_event")
    # No Gradio progress overlay: it covered the status line and the charts on every page at each event
    # (a flicker on each phone at each answer); the status line says what goes on.
    return gr.on(triggers, run, inputs, outputs, api_visibility="private", show_progress="hidden", **group,
                 **options)


def _i18n(ctx):
    if ctx.forced_language:
        return gr.I18n(**{code: TEXTS[ctx.forced_language] for code in TEXTS})
    return gr.I18n(**TEXTS)
