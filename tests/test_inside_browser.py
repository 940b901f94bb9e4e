"""Inside the step in a real browser (Debian's Chromium via Playwright), in English and in Spanish.

Flow: three greedy steps in the Decoder tab, then the Inside tab: opening it draws the lens
heatmap (one row per layer, the embeddings included), the attention over the token chips (one chip
per context position, the predicting one ringed, special markers and the parts marked) with its
top positions, and the sampler's stages; a layer picked in the picker redraws the chips; a stage
knob redraws the stages with no forward pass (the app runs in this process, so its runner's calls
are counted). Full-page screenshots at 1366x768 (a projector) and 390x844 (a phone) land in
artifacts/screenshots/8-inside-<lang>-<width>.png.
"""

import contextlib

import pytest
from browser_support import SHOTS, app_url, browser  # noqa: F401 (fixtures)

import app_server
from ui.texts import EN, ES

pytestmark = pytest.mark.browser

TIMEOUT_MS = 90_000  # a loaded 2-core machine can take seconds per forward pass
SIZES = ((1366, 768), (390, 844))

@contextlib.contextmanager
def forward_calls(runner):
    """Count the runner's forward passes inside the block: -> the list the counted calls land in."""
    calls, names = [], ("step", "extend", "inspect")
    for name in names:
        original = getattr(runner, name)
        setattr(runner, name, lambda *args, original=original, name=name: calls.append(name) or original(*args))
    try:
        yield calls
    finally:
        for name in names:
            delattr(runner, name)  # the instance's wrapper goes: the class's method is back


def set_value(page, selector, value):
    field = page.locator(f"{selector} input[type=number]").first
    field.fill(str(value))
    field.press("Enter")


@pytest.mark.parametrize("locale,texts", [("en-US", EN), ("es-ES", ES)], ids=["en", "es"])
def test_lens_attention_and_stages_render(browser, app_url, locale, texts):
    context = browser.new_context(viewport=dict(zip(("width", "height"), SIZES[0])), locale=locale)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message) or dialog.dismiss())
    page.goto(app_url)
    page.wait_for_function("document.querySelector('#conversation-json .cm-content')?.innerText.includes('role')")
    page.get_by_role("tab", name=texts["tab_decoder"]).click()
    for step in range(1, 4):
        page.click("#step-btn")
        page.wait_for_selector(f'#next-token-chart .ntc[data-step="{step}"]')

    page.get_by_role("tab", name=texts["tab_inside"]).click()
    page.wait_for_selector("#attention-chips .chip.current")
    page.wait_for_selector("#lens-chart .main-svg")
    _, ctx = app_server.built_app()
    config = ctx.loaded.model.config
    position = int(page.get_attribute("#inside-status .inside-status", "data-position"))
    assert page.locator("#lens-chart .ytick").count() == config.num_hidden_layers + 1
    assert page.locator("#lens-chart .hm text, #lens-chart .textpoint, #lens-chart text").count() > 100
    assert texts["lens_note"] in page.inner_text("#lens-notes")
    chips = page.locator("#attention-chips .chip")
    assert chips.count() == position + 1 and page.locator("#attention-chips .chip.current").count() == 1
    for part in ("special", "part-system", "part-user", "part-generated"):
        assert page.locator(f"#attention-chips .chip.{part}").count() > 0, part
    assert page.locator("#attention-bars .bar-row").count() == 12
    assert page.locator("#stage-view tr[data-stage]").count() == 7

    page.locator("#attention-layer input").click()
    page.get_by_role("option", name="1", exact=True).click()  # counted from 1, as the lens's rows (0: embeddings)
    page.wait_for_function("(label) => document.querySelector('#attention-chips .showing')?.innerText.includes(label)",
                           arg=texts["attention_layer_n"].format(layer=1))

    with forward_calls(ctx.server.engine.runner) as calls:
        for selector, value in (("#stage-repetition-penalty", 1.3), ("#stage-temperature", 1.5),
                                ("#stage-min-p", 0.05), ("#stage-top-k", 3)):
            set_value(page, selector, value)
        page.wait_for_selector('#stage-view tr[data-stage="top_k"][data-kept="3"]')
        page.wait_for_selector('#stage-view tr[data-stage="min_p"]:not(.off)')
    assert calls == []

    language = locale[:2]
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(800)  # plotly redraws at the new width
        page.screenshot(path=str(SHOTS / f"8-inside-{language}-{width}.png"), full_page=True)
    assert dialogs == []
    context.close()
