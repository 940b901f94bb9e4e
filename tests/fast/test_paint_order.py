"""A page's views go out in the order they were made: the wrapped `process_api`, with the handler on anyio's thread.

Each fake event runs its handler as Gradio 6.31 does (`anyio.to_thread.run_sync`, which runs it in a
copy of the event's context): the handler stamps its view, and the wrapper decides at the end.
"""

import asyncio
import threading
from types import SimpleNamespace

import anyio

from ui.paint_order import NO_CHANGE, PaintOrder, _process_api_in_order, stamp


class Block:
    def __init__(self, name, stateful=False):
        self.name, self.stateful = name, stateful


CHIPS, CHART, KNOB = Block("chips"), Block("chart"), Block("knob")
FN = SimpleNamespace(outputs=[CHIPS, CHART, KNOB])


def event(session, chips, hold=None, streamed=False):
    """A fake Gradio process_api: the handler makes a view in a thread (waiting for `hold` first,
    after stamping, as a stalled thread would), and its answer comes back as postprocessed data."""
    def handler():
        view = stamp({CHIPS: chips, CHART: f"chart {chips}"}, session)
        if hold is not None:
            hold.wait(5)
        return view

    async def original(blocks, block_fn, *args, **kwargs):
        view = await anyio.to_thread.run_sync(handler)
        return {"data": [view[CHIPS], view[CHART], "knob greyed"], "is_generating": streamed}
    return _process_api_in_order(original)(None, FN)


def test_an_older_view_let_out_after_a_newer_one_changes_nothing_it_covers():
    async def main():
        session, hold = SimpleNamespace(data={}), threading.Event()
        first = asyncio.ensure_future(event(session, "1 chip", hold))
        while session.data.get("paint_order") is None or session.data["paint_order"].made < 1:
            await asyncio.sleep(0.001)
        second = await event(session, "2 chips")
        hold.set()
        return await first, second
    first, second = asyncio.run(main())
    assert second["data"] == ["2 chips", "chart 2 chips", "knob greyed"]
    assert first["data"] == [NO_CHANGE, NO_CHANGE, "knob greyed"]  # outputs outside the view go out as made


def test_views_let_out_in_order_all_go_out_and_other_sessions_do_not_count():
    async def main():
        mine, other = SimpleNamespace(data={}), SimpleNamespace(data={})
        answers = [await event(mine, "1"), await event(other, "1"), await event(mine, "2")]
        return answers, mine.data["paint_order"].made
    answers, made = asyncio.run(main())
    assert [answer["data"][0] for answer in answers] == ["1", "1", "2"]
    assert made == 2


def test_a_streamed_view_always_goes_out_and_holds_older_ones_back():
    order = PaintOrder()
    assert order.let_out(3, streamed=True)
    assert order.let_out(2, streamed=True)  # a run's token: Gradio sends it as an edit of the last one
    assert not order.let_out(2)
    assert order.let_out(3) and order.let_out(4)


def test_outside_an_event_stamp_changes_nothing():
    session = SimpleNamespace(data={})
    view = {CHIPS: "x"}
    assert stamp(view, session) is view and "paint_order" not in session.data
