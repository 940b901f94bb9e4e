"""A value typed past a number box's or a slider's range is refused by the engine, in the page's language.

Gradio 6.31 checks a `gr.Number`'s and a `gr.Slider`'s minimum and maximum in `preprocess`, before the
handler runs: 5000 typed into "max new tokens" (maximum 1024) failed the whole event with an English
toast ("Value 5000 is greater than maximum value 1024.", twice) and left the Decoder's chart greyed
out, waiting (found by hand in the Spanish UI). `engine_checks_bounds(*controls)` keeps each control's
range in the browser (spinner, slider track) and hands the value to the handler as typed, unrounded
too (1.5 typed into top-k was rounded to 2 while the box showed 1.5); every handler reading these
controls checks them in the engine (`engine/limits.py`, the knobs' table: range, whole numbers), which
refuses the value in the status line, in the page's language, and keeps everything else on the page.
The replacement is a subclass, not a patch of the instance: an event that updates a control
(`gr.update(interactive=...)` on a mode switch) makes Gradio build the session's copy anew from the
control's class, and a patched method was lost there (top-k typed past its range after a switch to
sampling got the English toast again: found by hand). `is_template` is Gradio's flag for a subclass
drawn in the browser as its base class.
What is left out: controls no handler checks (none of the app's number boxes or sliders is one).
"""

from gradio.components import Number, Slider


def _as_typed(self, payload):
    return payload


class _NumberCheckedByEngine(Number):
    is_template = True
    preprocess = _as_typed


class _SliderCheckedByEngine(Slider):
    is_template = True
    preprocess = _as_typed


_CHECKED_BY_ENGINE = {Number: _NumberCheckedByEngine, Slider: _SliderCheckedByEngine}


def engine_checks_bounds(*controls):
    for control in controls:
        control.__class__ = _CHECKED_BY_ENGINE[type(control)]
