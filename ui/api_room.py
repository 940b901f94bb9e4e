"""Named room endpoints for gradio_client: open, join, mode, reveal, answer, sample, state, commit, export, close.

Each is one call into the server's `RoomStore` (`ctx.rooms`) and answers its plain JSON:
/room_open (conversation JSON, temperature, top_k, top_p, instructor_key) -> {"code", "step", "text"};
/room_join (code) -> {"code", "step", "text", "mode"}; /room_mode (code, instructor_key, mode) -> state;
/room_reveal (code, instructor_key) -> state; /room_answer (code, token) -> {"step", "id", "text"};
/room_sample (code, seed) -> {"step", "id", "text", "prob"}; /room_state (code) -> state;
/room_commit (code, instructor_key, choice) -> the next step's state; /room_export (code,
instructor_key) -> the room's snapshot; /room_close (code, instructor_key) -> {"closed"}.
A state is {"step", "mode", "attendees", "answered", "histogram", "model_top", "committed", ...}
(`serving/room.py`). An attendee is this client's cookie (`ui/http.py` sets it on /config and
gradio_client keeps it), hashed; a client without it is refused. Bad input raises `gr.Error`
with one English line. /room_open and /room_commit run forward passes and queue in the "model"
group; the rest only read or record, in milliseconds, and skip the queue (see LIGHT).
What is left out: the UI (`room_tab.py`).
"""

import gradio as gr

from .api import _answer as answer_or_error

# Light calls (API and the Room tab's events) skip the queue: one plain HTTP request each instead of a
# queue join and an event stream, for 100 attendees answering at once and every page's 1 s timer.
LIGHT = dict(queue=False)


def register(ctx):
    """Add the endpoints to the gr.Blocks being built (before UI events: names are taken in order);
    nothing when the app has no room store (`ctx.rooms` None)."""
    if ctx.rooms is None:
        return None
    endpoints = RoomEndpoints(ctx)
    model = dict(concurrency_id="model", concurrency_limit=ctx.settings.concurrency_limit)
    for name in ("room_open", "room_commit"):
        gr.api(getattr(endpoints, name), api_name=name, **model)
    for name in ("room_join", "room_mode", "room_reveal", "room_answer", "room_sample", "room_state",
                 "room_export", "room_close"):
        gr.api(getattr(endpoints, name), api_name=name, **LIGHT)
    return endpoints


class RoomEndpoints:
    def __init__(self, ctx):
        self.ctx = ctx

    @property
    def rooms(self):
        return self.ctx.rooms

    def room_open(self, conversation: str, temperature: float | None = None, top_k: int | None = None,
                  top_p: float | None = None, instructor_key: str = "", request: gr.Request = None) -> dict:
        """Open a room on a conversation at these settings (sampling when a temperature is given)."""
        return answer_or_error(lambda: self.rooms.open(instructor_key, conversation, temperature, top_k, top_p,
                                                       self.ctx.address(request)))

    def room_join(self, code: str, request: gr.Request = None) -> dict:
        """This client joins the room."""
        return answer_or_error(lambda: self.rooms.join(code, self.ctx.attendee(request)))

    def room_mode(self, code: str, instructor_key: str, mode: str, request: gr.Request = None) -> dict:
        """Instructor: this step is for guessing ("guess") or drawing ("sample"); clears its answers on a change."""
        return answer_or_error(lambda: self.rooms.set_mode(code, instructor_key, mode, self.ctx.address(request)))

    def room_reveal(self, code: str, instructor_key: str, request: gr.Request = None) -> dict:
        """Instructor: show the model's candidates and close this step's answers."""
        return answer_or_error(lambda: self.rooms.reveal(code, instructor_key, self.ctx.address(request)))

    def room_answer(self, code: str, token: str | int, request: gr.Request = None) -> dict:
        """A guess: a token id, "#id", or a text that is one token (changeable until Reveal)."""
        return answer_or_error(lambda: self.rooms.answer(code, self.ctx.attendee(request), token))

    def room_sample(self, code: str, seed: int, request: gr.Request = None) -> dict:
        """This client's draw with `seed` at the room's settings (the same seed and step, the same token)."""
        return answer_or_error(lambda: self.rooms.sample(code, self.ctx.attendee(request), seed))

    def room_state(self, code: str) -> dict:
        """The current step: answers counted per token, the model's candidates once revealed, committed ids."""
        return answer_or_error(lambda: self.rooms.state(code))

    def room_commit(self, code: str, instructor_key: str, choice: str | int,
                    request: gr.Request = None) -> dict:
        """Instructor: force "greedy", "top" (the room's most chosen) or a token id; everyone moves on."""
        return answer_or_error(lambda: self.rooms.commit(code, instructor_key, choice, self.ctx.address(request)))

    def room_export(self, code: str, instructor_key: str, request: gr.Request = None) -> dict:
        """Instructor: the whole room (settings, committed ids, every step's counts and candidates)."""
        return answer_or_error(lambda: self.rooms.export(code, instructor_key, self.ctx.address(request)))

    def room_close(self, code: str, instructor_key: str, request: gr.Request = None) -> dict:
        """Instructor: close the room now."""
        def act():
            self.rooms.close(code, instructor_key, self.ctx.address(request))
            return {"closed": str(code).strip().upper()}
        return answer_or_error(act)
