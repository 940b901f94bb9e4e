"""`engine_checks_bounds`: Gradio's range check and rounding gone from number boxes and sliders (the engine
checks), also in the copy Gradio builds when an event updates the control; drawn in the browser as before."""

import gradio as gr
import pytest
from gradio.exceptions import Error

from ui.gradio_bounds import engine_checks_bounds


@pytest.mark.parametrize("make", [lambda: gr.Number(3, minimum=0, maximum=10, precision=0),
                                  lambda: gr.Slider(0, 10, value=3, step=1)])
def test_a_value_past_the_range_reaches_the_handler_also_after_gradio_rebuilds_the_control(make):
    control = make()
    with pytest.raises(Error):
        control.preprocess(-1)  # Gradio's check, the English toast
    engine_checks_bounds(control)
    rebuilt = control.__class__(**{**control.constructor_args, "interactive": True, "render": False})  # blocks.py
    for checked in (control, rebuilt):
        assert checked.preprocess(-1) == -1 and checked.preprocess(12) == 12 and checked.preprocess(2.5) == 2.5
        assert checked.get_block_name() == make().get_block_name()  # the browser's component
    assert control.preprocess(None) is None
