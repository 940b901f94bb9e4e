"""A page's views reach its browser in the order they were made: an older one is never drawn over a newer one.

A view of a session (its chips, chart, status) is made inside the session's turn, so views are made
in the order of the session's states. Gradio then hands each event's answer back to its event loop,
postprocesses it (a thread hop per output) and sends it, each event on its own; a thread stalled
there for longer than the next click's step (a loaded server) lets the newer answer out first, and
the older one then repaints the page with an older state for good: five quick → left one chip on
screen under the five drawn (a browser test stalls a step's answer to show it). `stamp(view,
session)` numbers a view (in the turn) and notes the number for the event being answered;
`install()` wraps `Blocks.process_api`, at whose end Gradio sends the message without yielding to
the event loop: an answer numbered below one already let out for its session leaves the view's
outputs unchanged (the newer view is on screen), the rest of the answer goes out as it is.
What is left out: streamed answers of a run (generator events) are numbered and let out, never held
back: Gradio sends them as edits to the run's previous answer, and the run's next token repaints
anyway. Stateful outputs (gr.State) are not in any numbered view: their server copy would keep the
older value.
"""

import contextvars

from gradio import blocks

_ANSWERING = contextvars.ContextVar("paint_order_answering", default=None)  # the event's note: {"stamp": ...}
NO_CHANGE = {"__type__": "update"}


class PaintOrder:
    """One session's view numbers: `made` in the session's turn, `shown` on Gradio's event loop."""

    def __init__(self):
        self.made = 0
        self.shown = 0

    def let_out(self, number, streamed=False):
        """May the view numbered `number` go out? (A streamed one always does.)"""
        if number < self.shown and not streamed:
            return False
        self.shown = max(self.shown, number)
        return True


def stamp(view, session):
    """Number `view` ({component: value}) as the session's newest and note it for the event being
    answered; -> view, unchanged. Call it in the session's turn, once the view is complete."""
    note = _ANSWERING.get()
    if note is not None:
        order = session.data.setdefault("paint_order", PaintOrder())
        order.made += 1
        note["stamp"] = (order, order.made, frozenset(view))
    return view


def _process_api_in_order(original):
    async def process_api(self, block_fn, *args, **kwargs):
        note = {}
        token = _ANSWERING.set(note)  # the handler's thread runs in a copy of this context: same dict
        try:
            output = await original(self, block_fn, *args, **kwargs)
        finally:
            _ANSWERING.reset(token)
        if "stamp" in note:
            order, number, covers = note["stamp"]
            if not order.let_out(number, streamed=bool(output.get("is_generating"))):
                output["data"] = [NO_CHANGE if block in covers and not block.stateful else value
                                  for block, value in zip(block_fn.outputs, output["data"])]
        return output
    process_api.paint_ordered = original
    return process_api


def install():
    """Make every Blocks let a session's views out in order (idempotent)."""
    if not hasattr(blocks.Blocks.process_api, "paint_ordered"):
        blocks.Blocks.process_api = _process_api_in_order(blocks.Blocks.process_api)
