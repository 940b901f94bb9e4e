"""Outputs an answer leaves out cost nothing: Gradio's postprocess, minus its work on left-out outputs.

An answer that leaves an output out (`gr.skip()`, or a dict answer without that component) means
"unchanged". Gradio 6.31's `Blocks.postprocess_data` still builds a new component for each such output
(`block.__class__(**constructor_args)`, for an HTML one also `inspect.signature(HTML.__init__)`) and
sends `{"__type__": "update"}`: 0.2-0.25 ms each on the event loop. A streamed token of Run to end
changes 3 of its event's 8 outputs, so 1.2 of the 1.75 ms Gradio spent on each token went there; in
a room of 34 pages running (70 tokens a second) that is GIL time taken from the model thread.
`install()` wraps `postprocess_data`: outputs whose answer is exactly `gr.skip()` are taken out
before Gradio's own code runs on the others, and a plain `{"__type__": "update"}` (None for a State)
is put in their places: an update that changes nothing, as Gradio's own is, less the empty
`props` Gradio adds for an HTML output. The session's copy of a left-out component stays as it was
(Gradio replaced it with an equal one).
What is left out: anything else in postprocess (answers that do change an output go through Gradio's
code unchanged).
"""

import copy

import gradio as gr
from gradio import blocks


def _left_out(value):
    return isinstance(value, dict) and value == gr.skip()


def _postprocess_without_skips(original):
    async def postprocess_data(self, block_fn, predictions, state):
        outputs = list(block_fn.outputs)
        if len(outputs) < 2 or block_fn.batch or block_fn.is_validator_function:
            return await original(self, block_fn, predictions, state)
        if isinstance(predictions, dict):
            predictions = blocks.convert_component_dict_to_list(outputs, predictions)
        if not isinstance(predictions, (list, tuple)) or len(predictions) != len(outputs):
            return await original(self, block_fn, predictions, state)  # Gradio says what is wrong
        kept = [i for i, value in enumerate(predictions) if not _left_out(value)]
        if len(kept) == len(outputs):
            return await original(self, block_fn, predictions, state)
        answer = [None if block.stateful else gr.skip() for block in outputs]
        if kept:
            narrowed = copy.copy(block_fn)
            narrowed.outputs = [outputs[i] for i in kept]
            values = [predictions[i] for i in kept]
            done = await original(self, narrowed, values if len(kept) > 1 else values[0], state)
            for i, value in zip(kept, done):
                answer[i] = value
        return answer
    postprocess_data.wrapped = original
    return postprocess_data


def install():
    """Make every Blocks use the wrapped postprocess (idempotent)."""
    if not hasattr(blocks.Blocks.postprocess_data, "wrapped"):
        blocks.Blocks.postprocess_data = _postprocess_without_skips(blocks.Blocks.postprocess_data)
