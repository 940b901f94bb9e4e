"""Browser tests for the defects the third walkthrough found (stop 23: an instructor and a stranger); each
failed before its fix.

A knob typed past its range after a mode switch is refused in the page's language (Gradio rebuilt the
control on the switch and its English bounds check came back).
What is left out: the earlier walkthroughs' (`test_browser_walkthrough.py`, `test_browser_walkthrough_es.py`).
"""

import pytest

from browser_support import app_url, browser, decoder_page, set_number, wait_chart, wait_chips  # noqa: F401
from ui.texts import ES

pytestmark = pytest.mark.browser


def test_a_knob_typed_past_its_range_after_a_mode_switch_is_refused_in_the_pages_language(browser, app_url):
    """-1 typed into top-k in sampling mode gave Gradio's English toast ("Value -1 is less than minimum
    value 0.") and left the chart greyed out, Step doing nothing, in Spanish too: the switch to sampling
    makes the knobs interactive, and Gradio rebuilds a control so updated without the check's removal."""
    with decoder_page(browser, app_url, locale="es-ES") as page:
        page.locator("#mode label", has_text=ES["sampling"]).click()
        page.wait_for_selector("#top-k input[type=number]:not([disabled])")
        set_number(page, "#top-k", -1)
        page.click("#step-btn")
        page.wait_for_selector("#decoder-status .status.error", state="attached")
        status = page.locator("#decoder-status .status.error").text_content()
        assert status.startswith(ES["error"]) and "top-k" in status and "-1" in status, status
        assert page.locator(".toast-body").count() == 0, page.locator(".toast-body").all_inner_texts()
        set_number(page, "#top-k", 50)
        page.click("#step-btn")
        wait_chips(page, "#generated-text", 1)
        wait_chart(page, 1)
        assert page.locator(".toast-body").count() == 0
