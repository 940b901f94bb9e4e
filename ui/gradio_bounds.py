"""A value typed past a number box's or a slider's range is refused by the engine, in the page's language.

Gradio 6.31 checks a `gr.Number`'s and a `gr.Slider`'s minimum and maximum in `preprocess`, before the
handler runs: 5000 typed into "max new tokens" (maximum 1024) failed the whole event with an English
toast ("Value 5000 is greater than maximum value 1024.", twice) and left the Decoder's chart greyed
out, waiting (found by hand in the Spanish UI). `engine_checks_bounds(*controls)` keeps each control's
range in the browser (spinner, slider track) and replaces that check, on the instance, by Gradio's own
rounding alone; every handler reading these controls checks them in the engine (`engine/limits.py`,
the knobs' table), which refuses the value in the status line, in the page's language, and keeps
everything else on the page.
What is left out: controls no handler checks (none of the app's number boxes or sliders is one).
"""

from gradio.components import Number


def engine_checks_bounds(*controls):
    for control in controls:
        control.preprocess = _rounding_only(control)


def _rounding_only(control):
    def preprocess(payload):
        return None if payload is None else Number.round_to_precision(payload, control.precision)
    return preprocess
