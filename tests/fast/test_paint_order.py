"""A page's views go out in the order they were made: through Gradio's own `Blocks.process_api`, handlers on its threads.

Each event is answered as Gradio 6.31's queue answers it (`process_api` with the session's state,
a run's iterations one call each, the run's end with its iterator); a handler that stamps its view
and then stalls (a loaded server) lets a later click's view go out first. The reference is what
the browser draws: the newer view, never the older one after it.
"""

import asyncio
import threading
from types import SimpleNamespace

import anyio
import gradio as gr
from gradio.state_holder import SessionState

from ui import gradio_skips, paint_order
from ui.paint_order import NO_CHANGE, stamp

WAIT_S = 60


def app():
    """A page with two outputs and five events: a click, a click stalling in its handler, a run stalling
    in its last answer, a click on the second output only, a click stalling in Gradio's postprocess."""
    gradio_skips.install()
    paint_order.install()
    page = SimpleNamespace(session=SimpleNamespace(data={}), stamped=threading.Event(), hold=threading.Event())

    def stalled(view, extra=None):
        made = stamp(view, page.session)
        page.stamped.set()
        assert page.hold.wait(WAIT_S)
        return {**made, **(extra or {})}

    with gr.Blocks() as demo:
        page.chips, page.knob = gr.HTML(), gr.HTML()
        postprocess = page.chips.postprocess

        def slow_postprocess(value):  # (an instance's, not a subclass: Gradio writes a .pyi for those)
            if value == "slow to postprocess":
                page.stamped.set()
                assert page.hold.wait(WAIT_S)
            return postprocess(value)
        page.chips.postprocess = slow_postprocess
        buttons = [gr.Button() for _ in range(5)]
        buttons[0].click(lambda: stamp({page.chips: "newer"}, page.session), None, [page.chips, page.knob])
        buttons[1].click(lambda: stalled({page.chips: "older"}, {page.knob: "greyed"}), None, [page.chips, page.knob])

        def run():
            yield stamp({page.chips: "run 1"}, page.session)
            yield stalled({page.chips: "run 2"})
        buttons[2].click(run, None, [page.chips, page.knob])
        buttons[3].click(lambda: stamp({page.knob: "knob only"}, page.session), None, [page.chips, page.knob])
        buttons[4].click(lambda: stamp({page.chips: "slow to postprocess"}, page.session), None,
                         [page.chips, page.knob])
    page.demo, page.state = demo, SessionState(demo)
    page.click, page.stalled_click, page.run, page.knob_click, page.slow_click = demo.fns.values()
    return page


async def answer(page, fn, event_id, iterator=None):
    return await page.demo.process_api(block_fn=fn, inputs=[], state=page.state, session_hash="s",
                                       event_id=event_id, iterator=iterator)


async def while_stalled(page, stalled_call, then):
    """Start `stalled_call`, run `then` once its view is stamped, let it go; -> (stalled answer, then's)."""
    stalled = asyncio.ensure_future(stalled_call)
    assert await anyio.to_thread.run_sync(page.stamped.wait, WAIT_S)
    newer = await then
    page.hold.set()
    return await stalled, newer


def test_a_click_stalled_after_its_view_leaves_the_newer_view_drawn():
    page = app()
    older, newer = asyncio.run(while_stalled(page, answer(page, page.stalled_click, "a"), answer(page, page.click, "b")))
    assert newer["data"] == ["newer", NO_CHANGE]
    assert older["data"] == [NO_CHANGE, "greyed"]  # what its view did not cover goes out as made


def test_a_click_stalled_in_gradios_postprocess_leaves_the_newer_view_drawn():
    page = app()
    older, newer = asyncio.run(while_stalled(page, answer(page, page.slow_click, "a"), answer(page, page.click, "b")))
    assert newer["data"][0] == "newer"
    assert older["data"][0] == NO_CHANGE


def test_a_runs_stalled_last_answer_and_its_end_leave_the_newer_view_drawn():
    page = app()

    async def main():
        first = await answer(page, page.run, "r")
        assert first["data"][0] == "run 1" and first["is_generating"]
        last, newer = await while_stalled(page, answer(page, page.run, "r", first["iterator"]),
                                          answer(page, page.click, "b"))
        end = await answer(page, page.run, "r", last["iterator"])
        return last, newer, end
    last, newer, end = asyncio.run(main())
    assert newer["data"][0] == "newer"
    assert last["is_generating"] and last["data"][0] == [["replace", [], NO_CHANGE]]  # an edit to "no change"
    assert not end["is_generating"] and end["data"][0] == NO_CHANGE  # Gradio sends the last answer again


def test_views_in_order_all_go_out_and_a_run_ends_with_its_last_answer():
    page = app()
    page.hold.set()

    async def main():
        answers = [await answer(page, page.click, "a"), await answer(page, page.stalled_click, "b")]
        first = await answer(page, page.run, "r")
        last = await answer(page, page.run, "r", first["iterator"])
        end = await answer(page, page.run, "r", last["iterator"])
        return answers, end
    order = page.session.data["paint_order"] = paint_order.PaintOrder()
    made_before = order.made
    (click, later), end = asyncio.run(main())
    assert click["data"][0] == "newer" and later["data"] == ["older", "greyed"]
    assert end["data"][0] == "run 2"
    assert order.made - made_before == 4


def test_a_newer_view_holds_back_only_the_outputs_it_drew():
    page = app()
    older, newer = asyncio.run(while_stalled(page, answer(page, page.stalled_click, "a"),
                                             answer(page, page.knob_click, "b")))
    assert newer["data"] == [NO_CHANGE, "knob only"]
    assert older["data"] == ["older", "greyed"]


def test_outside_an_event_stamp_changes_nothing():
    session = SimpleNamespace(data={})
    view = {"chips": "x"}
    assert stamp(view, session) is view and "paint_order" not in session.data
