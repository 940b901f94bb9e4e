"""Left-out outputs (`ui.gradio_skips`): the wrapped postprocess answers what Gradio's own does, for every
mix of left-out and changed outputs (a left-out one: an update without a value either way), and builds
no component for the left-out ones.
Reference: Gradio 6.31's `Blocks.postprocess_data` itself, on the same answers.
"""

import asyncio
import copy
import itertools

import gradio as gr
import pytest
from gradio import blocks
from gradio.state_holder import SessionState

from ui import gradio_skips

ORIGINAL = getattr(blocks.Blocks.postprocess_data, "wrapped", blocks.Blocks.postprocess_data)


@pytest.fixture(scope="module")
def demo():
    with gr.Blocks() as built:
        outputs = [gr.HTML(elem_id="a"), gr.Radio([], label="r"), gr.HTML(elem_id="b"), gr.State()]
        gr.Button().click(lambda: None, outputs=outputs)
    return built, outputs, list(built.fns.values())[0]


def answers(outputs):
    """(answer, which outputs it changes) for every mix, as a list and as a dict without the left-out
    ones (one output at least: Gradio refuses an empty dict)."""
    changed = ["<b>x</b>", gr.update(choices=[("a", 1), ("b", 2)], value=None), "<i>y</i>", {"kept": 1}]
    for mask in itertools.product([False, True], repeat=len(outputs)):
        yield [value if keep else gr.skip() for keep, value in zip(mask, changed)], mask
        if any(mask):
            yield {block: value for block, value, keep in zip(outputs, changed, mask) if keep}, mask


def postprocessed(method, demo, block_fn, answer):
    state = SessionState(demo)  # Gradio pops "value" from an update: each call gets its own copies
    fresh = {block: copy.deepcopy(value) for block, value in answer.items()} if isinstance(answer, dict) \
        else copy.deepcopy(answer)
    result = asyncio.run(method(demo, block_fn, fresh, state))
    return result, state


def test_the_wrapped_postprocess_answers_what_gradios_own_does(demo):
    built, outputs, block_fn = demo
    wrapped = gradio_skips._postprocess_without_skips(ORIGINAL)
    for answer, changes in answers(outputs):
        expected, expected_state = postprocessed(ORIGINAL, built, block_fn, answer)
        result, state = postprocessed(wrapped, built, block_fn, answer)
        for block, changed, mine, gradios in zip(outputs, changes, result, expected):
            if changed or block.stateful:
                assert mine == gradios, answer
            else:  # Gradio adds an empty "props" to an HTML's
                assert mine == gr.skip() and gradios["__type__"] == "update" and "value" not in gradios, answer
        assert state[outputs[3]._id] == expected_state[outputs[3]._id] if outputs[3]._id in expected_state \
            else outputs[3]._id not in state


def test_a_left_out_output_builds_no_component(demo, monkeypatch):
    built, outputs, block_fn = demo
    made = []
    original_init = gr.HTML.__init__

    def counted(self, *args, **kwargs):
        made.append(self)
        original_init(self, *args, **kwargs)
    monkeypatch.setattr(gr.HTML, "__init__", counted)
    token = {outputs[0]: "<b>chart</b>"}  # a streamed token: one output changed, three left out
    postprocessed(ORIGINAL, built, block_fn, token)
    assert len(made) == 1  # Gradio 6.31 builds the other HTML anew: when it stops, this module goes
    made.clear()
    postprocessed(gradio_skips._postprocess_without_skips(ORIGINAL), built, block_fn, token)
    assert made == []


def test_install_wraps_once():
    gradio_skips.install()
    gradio_skips.install()
    assert blocks.Blocks.postprocess_data.wrapped is ORIGINAL
