"""The decoding controls, one per sampling knob of `engine/knobs.py`, plus mode, seed, candidates and max tokens.

`DecodingControls(ctx, i18n)` creates, where it is called: the greedy / sampling radio (#mode), one
control per knob of the table (element id = the knob's, label = the text keyed by its name, range,
step and default from the table; an integer knob whose top is the vocabulary, top-k, is a number
box), the seed, the number of candidates shown (#top-n) and max new tokens (#max-new). A new knob
in the table shows up here, in the saved settings and in the chart's legend with no change to this
file. In greedy mode the knobs that only apply when sampling (warpers) and the seed are greyed out.
It turns the controls' values into the workspace's settings (`read`), the values the browser
keeps (`saved`) and back (`restore`).
What is left out: events (the Decoder tab wires them) and validation (the engine's: `gradio_bounds.py`).
"""

import math

import gradio as gr

from visualizer.engine.knobs import KNOBS
from visualizer.engine.limits import DEFAULT_NEW_TOKENS, DEFAULT_TOP_N, MAX_TOP_N
from .gradio_bounds import engine_checks_bounds

GREEDY, SAMPLING = "greedy", "sampling"


def _slider_minimum(knob):
    """The lowest value the control offers: the knob's "off" value when it lies below its range (top-k 0),
    else its low end rounded up to the control's step (top-p's lowest is one step, not a denormal)."""
    lowest = min(knob.low, knob.off)
    steps = math.ceil(lowest / knob.step - 1e-9)
    return round(max(steps, 1 if lowest > 0 else 0) * knob.step, 10)


def knob_control(knob, vocab, **common):
    """One knob of the table as a control: a number box for a whole knob whose top is the vocabulary
    (top-k), else a slider; range, step and default from the table, the bounds checked by the engine."""
    if knob.kind is int and knob.high is None:
        control = gr.Number(knob.default, minimum=_slider_minimum(knob), maximum=vocab, precision=0, **common)
    else:
        control = gr.Slider(_slider_minimum(knob), knob.high, value=knob.default, step=knob.step, **common)
    engine_checks_bounds(control)
    return control


class DecodingControls:
    def __init__(self, ctx, i18n):
        vocab = ctx.loaded.vocab_size
        max_new = ctx.settings.max_new_tokens
        self.mode = gr.Radio([(i18n("mode_greedy"), GREEDY), (i18n("mode_sampling"), SAMPLING)], value=GREEDY,
                             label=i18n("mode"), elem_id="mode")
        self.knobs = {}
        with gr.Row(elem_classes="knobs"):
            for knob in KNOBS:
                self.knobs[knob.name] = knob_control(knob, vocab, label=i18n(knob.name), elem_id=knob.elem_id,
                                                     interactive=knob.stage == "processor", min_width=200)
            self.seed = gr.Number(0, label=i18n("seed"), precision=0, minimum=0, elem_id="seed", interactive=False,
                                  min_width=200)
            self.top_n = gr.Slider(1, MAX_TOP_N, value=DEFAULT_TOP_N, step=1, label=i18n("top_n"), elem_id="top-n",
                                   min_width=200)
            self.max_new = gr.Number(min(DEFAULT_NEW_TOKENS, max_new), label=i18n("max_new_tokens"), precision=0,
                                     minimum=1, maximum=max_new, elem_id="max-new", min_width=200)
        engine_checks_bounds(self.seed, self.top_n, self.max_new)  # refused in the page's language, not Gradio's

    # What events read and write.
    def components(self):
        return [self.mode, *self.knobs.values(), self.seed, self.top_n, self.max_new]

    def inputs(self):
        return set(self.components())

    def knob_inputs(self):
        """The controls whose change re-warps the shown distribution."""
        return [self.mode, *self.knobs.values(), self.seed]

    def read(self, values, workspace):
        """-> (SamplingSettings, candidates shown, max new tokens), validated by the engine (InputError)."""
        sampling = workspace.sampling_from_user(
            greedy=values.get(self.mode) != SAMPLING, seed=values.get(self.seed),
            **{name: values.get(control) for name, control in self.knobs.items()})
        return sampling, values.get(self.top_n), values.get(self.max_new)

    def interactivity(self, mode):
        """Warpers and the seed only matter when sampling: greyed out (not interactive) in greedy mode."""
        sampling = mode == SAMPLING
        updates = {control: gr.update(interactive=sampling or knob.stage == "processor")
                   for knob, control in zip(KNOBS, self.knobs.values())}
        updates[self.seed] = gr.update(interactive=sampling)
        return updates

    def saved(self, values):
        return {control.elem_id: values.get(control) for control in self.components()}

    def restore(self, saved):
        """Saved {elem id: value} -> updates putting them back (unknown or missing ids are left alone)."""
        saved = saved if isinstance(saved, dict) else {}
        mode = saved.get(self.mode.elem_id)
        mode = mode if mode in (GREEDY, SAMPLING) else GREEDY
        updates = self.interactivity(mode)
        updates[self.mode] = gr.update(value=mode)
        for control in self.components()[1:]:
            value = saved.get(control.elem_id)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                updates[control] = {**updates.get(control, gr.update()), "value": value}
        return updates
