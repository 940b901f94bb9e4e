"""A page's views reach its browser in the order they were made: an older one is never drawn over a newer one.

A view of a session (its chips, chart, status) is made inside the session's turn, so views are made
in the order of the session's states. Gradio then hands each event's answer back to its event loop,
postprocesses it (a thread hop per output) and sends it, each event on its own; a thread stalled
there for longer than the next click's step (a loaded server) lets the newer answer out first, and
the older one then repaints the page with an older state for good: five quick → left one chip on
screen under the five drawn (a browser test stalls a step's answer to show it).

`stamp(view, session)` numbers a view (in the turn) and notes the number for the event being
answered (a context variable: the handler's thread runs in a copy of the event's context). Per
output, the session keeps the number of the newest view let out with it, and `install()` wraps two
of Gradio 6.31's `Blocks` methods:
- `call_function` (the answer is back on the event loop, not yet postprocessed): outputs a newer
  view already went out with become `gr.skip()`, so Gradio leaves them, its server copy included
  (a Radio's choices there decide which values it accepts), also in a run's streamed answers;
- `process_api`, at its end (from there Gradio sends the message without yielding to the event
  loop): a click's outputs that became stale meanwhile are sent as "no change", and the outputs
  that go out are noted. (A run's end sends its last answer again: a skipped output stays skipped.)
What is left out: a run's answer that becomes stale during its own postprocess still goes out
(Gradio sends it as edits of the run's previous answer, which the browser holds); the run's next
answer repaints its outputs, unless it was the last. A click's answer that becomes stale then
leaves Gradio's server copy of its outputs one view behind.
"""

import contextvars
import time
from typing import NamedTuple

import gradio as gr
from gradio import blocks

_ANSWERING = contextvars.ContextVar("paint_order_answering", default=None)  # the event's note: {"stamp": ...}
NO_CHANGE = {"__type__": "update"}


class PaintOrder:
    """One session's views: how many were made, and per output the newest number let out with it."""

    def __init__(self):
        # Numbers go on growing when a page's session is made anew (expired, or a restarted server):
        # the browser compares them. A view takes 20 ms at least, so a session never catches up.
        self.made = int(time.time() * 1000)
        self.shown = {}

    def newer_out(self, number, outputs):
        """Of `outputs`, those a view newer than `number` went out with."""
        return {output for output in outputs if self.shown.get(output, 0) > number}

    def let_out(self, number, outputs):
        for output in outputs:
            self.shown[output] = max(self.shown.get(output, 0), number)


class Stamp(NamedTuple):
    order: PaintOrder
    number: int
    covers: frozenset  # the view's outputs


def stamp(view, session, marked=None):
    """Number `view` ({component: value}) as the session's newest and note it for the event being
    answered; -> view. Call it in the session's turn, once the view is complete. `marked`: an output
    of the view whose HTML gets the number at its end (`view_mark`), for the browser's own check."""
    note = _ANSWERING.get()
    if note is not None:
        order = session.data.setdefault("paint_order", PaintOrder())
        order.made += 1
        note["stamp"] = Stamp(order, order.made, frozenset(view))
        if marked in view:
            view[marked] += view_mark(order.made)
    return view


def view_mark(number):
    """The end of a marked output's HTML: `client_js.APPEND_JS` draws no value older than one it drew.
    (Gradio's browser client can itself draw an answer late: one that comes before its event's join
    is answered is kept and drawn when the join is, maybe after a newer answer.)"""
    return f"<!--view {number}-->"


def _stale(note):
    mark = note.get("stamp") if note else None
    return mark, (mark.order.newer_out(mark.number, mark.covers) if mark else set())


def _call_function_in_order(original):
    async def call_function(self, block_fn, *args, **kwargs):
        result = await original(self, block_fn, *args, **kwargs)
        _, stale = _stale(_ANSWERING.get())
        if stale and isinstance(result.get("prediction"), dict):
            result["prediction"] = {output: gr.skip() if output in stale else value
                                    for output, value in result["prediction"].items()}
        return result
    call_function.paint_ordered = original
    return call_function


def _process_api_in_order(original):
    async def process_api(self, block_fn, *args, **kwargs):
        note = {}
        token = _ANSWERING.set(note)
        try:
            output = await original(self, block_fn, *args, **kwargs)
        finally:
            _ANSWERING.reset(token)
        mark, stale = _stale(note)
        if mark is None:
            return output
        if stale and not output.get("is_generating"):  # a run's answer is edits of its last one: sent
            output["data"] = [NO_CHANGE if block in stale and not block.stateful else value
                              for block, value in zip(block_fn.outputs, output["data"])]
        mark.order.let_out(mark.number, mark.covers)
        return output
    process_api.paint_ordered = original
    return process_api


def install():
    """Make every Blocks let a session's views out in order (idempotent)."""
    if not hasattr(blocks.Blocks.process_api, "paint_ordered"):
        blocks.Blocks.process_api = _process_api_in_order(blocks.Blocks.process_api)
        blocks.Blocks.call_function = _call_function_in_order(blocks.Blocks.call_function)
