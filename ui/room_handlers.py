"""Handlers of the Room tab: each calls the server's `RoomStore` once and returns the views that changed.

`RoomHandlers(ctx)` methods take component values (and the request, for the attendee's cookie, the
language and the join link) and return a dict {output name: value}; `room_tab.py` maps the names to
components. Output names: status, code, seed, banner, histogram, model_chart, chips, timeline,
attendee_view, answer, my_chart, seen (the room version shown), phase ([step, mode, revealed] shown), mode, joined,
watching, timer, projector, attendee, instructor (the accordion), export. Errors become a status
line in the user's language and change nothing else.
`tick` (the 1 s timer) returns nothing while the room's version is the one shown, so an idle room
costs one small request per second and browser, and no redraw.
What is left out: components and wiring (`room_tab.py`), HTML and figures (`room_views.py`, `room_charts.py`).
"""

import secrets

import gradio as gr

from visualizer.engine.errors import InputError
from visualizer.engine.tokens import visible_whitespace
from visualizer.serving.room_export import room_csv, room_json

from .room_charts import answer_figures, timeline_figure
from .room_views import attendee_html, banner_html, chips_html
from .views import error_html, shows_error, status_html

MAX_SEED = 9999  # a seed given to an attendee who has none (any seed may be typed)


class RoomHandlers:
    def __init__(self, ctx):
        self.ctx = ctx

    @property
    def rooms(self):
        return self.ctx.rooms

    # The instructor.
    def open_room(self, key, conversation, temperature, top_k, top_p, request=None):
        def act(texts):
            opened = self.rooms.open(key, conversation, temperature, top_k, top_p, self.ctx.address(request))
            code = opened["code"]
            return {**self._views(code, False, True, request), "code": code, "watching": True,
                    "instructor": gr.Accordion(open=False),
                    "status": status_html(texts["room_opened_message"].format(code=code), "done")}
        return self._act(act, request)

    def set_mode(self, code, key, mode, joined, request=None):
        def act(texts):
            state = self.rooms.set_mode(code, key, mode, self.ctx.address(request))
            message = texts["room_mode_message"].format(step=state["step"], mode=texts[f"room_mode_{state['mode']}"])
            return {**self._views(code, joined, True, request), "status": status_html(message)}
        return self._act(act, request)

    def reveal(self, code, key, joined, request=None):
        def act(texts):
            state = self.rooms.reveal(code, key, self.ctx.address(request))
            return {**self._views(code, joined, True, request),
                    "status": status_html(texts["room_revealed_message"].format(step=state["step"]))}
        return self._act(act, request)

    def commit(self, code, key, how, token, joined, request=None):
        def act(texts):
            state = self.rooms.commit(code, key, token if how == "token" else how, self.ctx.address(request))
            last = state["committed_tokens"][-1]
            message = texts["room_committed_message"].format(token=quoted(last["text"]), step=state["step"])
            return {**self._views(code, joined, True, request), "status": status_html(message, "done")}
        return self._act(act, request)

    def close_room(self, code, key, request=None):
        def act(texts):
            self.rooms.close(code, key, self.ctx.address(request))
            return {"status": status_html(texts["room_closed_message"].format(code=code.strip().upper())),
                    "timer": gr.Timer(active=False), "projector": gr.Column(visible=False),
                    "attendee": gr.Column(visible=False), "joined": False, "watching": False}
        return self._act(act, request)

    def export(self, code, key, kind, request=None):
        """The room as a JSON or CSV text for the page to save (nothing is written on the server)."""
        def act(texts):
            exported = self.rooms.export(code, key, self.ctx.address(request))
            text = room_csv(exported) if kind == "csv" else room_json(exported)
            return {"export": {"name": f"room-{exported['code']}.{kind}", "text": text}}
        views = self._act(act, request)
        views.setdefault("export", None)  # a refused export must not download the previous one again
        return views

    # Attendees and watchers.
    def join(self, code, seed, request=None):
        def act(texts):
            joined = self.rooms.join(code, self.ctx.attendee(request))
            return {**self._views(joined["code"], True, False, request), "code": joined["code"], "joined": True,
                    "seed": seed if seed is not None else secrets.randbelow(MAX_SEED) + 1,
                    "status": status_html(texts["room_joined_message"].format(code=joined["code"]), "done")}
        return self._act(act, request)

    def join_from_link(self, request=None):
        """Page load: a ?room=CODE link joins that room at once; ?room=CODE&watch=1 (a watching page
        reloaded) watches it again."""
        params = getattr(request, "query_params", None) or {}
        code = params.get("room")
        if not code:
            return {}
        views = self.watch(code, False, request) if params.get("watch") == "1" else self.join(code, None, request)
        return {**views, "code": code.strip().upper()[:16]}

    def watch(self, code, joined, request=None):
        def act(texts):
            state = self.rooms.state(code)
            return {**self._views(state["code"], joined, True, request), "code": state["code"], "watching": True,
                    "status": status_html(texts["room_watching_message"].format(code=state["code"]))}
        return self._act(act, request)

    def answer(self, code, typed, watching, request=None):
        def act(texts):
            answer = self.rooms.answer(code, self.ctx.attendee(request), typed)
            message = texts["room_answer_message"].format(step=answer["step"], token=quoted(answer["text"]))
            return {**self._views(code, True, watching, request), "status": status_html(message, "done")}
        return self._act(act, request)

    def sample(self, code, seed, watching, request=None):
        def act(texts):
            drawn = self.rooms.sample(code, self.ctx.attendee(request), seed)
            message = texts["room_answer_message"].format(step=drawn["step"], token=quoted(drawn["text"]))
            return {**self._views(code, True, watching, request), "status": status_html(message, "done")}
        return self._act(act, request)

    def tick(self, code, joined, watching, seen, phase, status=None, request=None):
        """The timer: fresh views when the room changed since `seen`, else nothing; an error in the status
        line is cleared once the room moved to another step, mode or phase (`phase`: the one shown): it was
        about the last; so is the answer box once the step moved on (the last guess stayed in it). Other
        lines stay: a tick sent before a Commit's answer came would wipe its "Committed «X»: step N is open"
        (found by hand); a room closed hides the answer rows that can no longer answer."""
        if not code or not (joined or watching):
            return {"timer": gr.Timer(active=False)}
        try:
            version = self.rooms.state(code)["version"]
            if version == seen:
                return {}
            views = self._views(code, joined, watching, request)
            if phase is not None and views["phase"] != phase and shows_error(status):
                views["status"] = ""
            if joined and phase is not None and views["phase"][0] != phase[0]:
                views["answer"] = ""  # the last step's guess is not this step's
            return views
        except InputError as error:
            texts = self.ctx.texts(request)
            views = {"status": error_html(self.ctx.error_text(error, request), texts), "timer": gr.Timer(active=False)}
            if error.code in ("room_closed", "room_not_found"):
                views.update(guess_row=gr.Row(visible=False), draw_row=gr.Row(visible=False))
            return views

    # Inside.
    def _views(self, code, joined, watching, request):
        """Every view of the room for this browser: the projector's when watching, the attendee's when joined."""
        texts = self.ctx.texts(request)
        state = self.rooms.mine(code, self.ctx.attendee(request)) if joined else self.rooms.state(code)
        views = {"seen": state["version"], "phase": [state["step"], state["mode"], state["revealed"]],
                 "timer": gr.Timer(active=True)}
        if watching:
            histogram, model_chart = answer_figures(state, texts)
            # The step's mode as the room has it (a watcher's or a second instructor page's radio showed its default).
            headers = getattr(request, "headers", None) or {}
            link, reachable = self.ctx.join_address.link(headers.get("referer"), state["code"])
            views.update(mode=state["mode"], banner=banner_html(state, link, texts, reachable),
                         histogram=histogram, model_chart=model_chart, chips=chips_html(state, texts),
                         timeline=timeline_figure(state, texts), projector=gr.Column(visible=True))
        if joined:
            mine = state["mine"]
            answering = not state["revealed"] and not state.get("stop")  # after Reveal answers are closed
            views.update(attendee_view=attendee_html(state, mine, self.ctx.loaded.vocab_size, texts),
                         attendee=gr.Column(visible=True),
                         guess_row=gr.Row(visible=state["mode"] == "guess" and answering),
                         draw_row=gr.Row(visible=state["mode"] == "sample" and answering))
            if state["revealed"] and mine["answer"] is not None:
                views["my_chart"] = gr.Plot(answer_figures(state, texts, mine["answer"])[1], visible=True)
            else:
                views["my_chart"] = gr.Plot(visible=False)
        return views

    def _act(self, act, request):
        texts = self.ctx.texts(request)
        try:
            return act(texts)
        except InputError as error:
            return {"status": error_html(self.ctx.error_text(error, request), texts)}


def quoted(token_text):
    """« The» as «␣The»: a token in a status line, its spaces visible (Python's quotes read as code)."""
    return f"«{visible_whitespace(token_text)}»"
