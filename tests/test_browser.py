"""The app in a real browser: Debian's Chromium driven by Playwright against the launched app.

Flows: pick a preset and see the markers and token chips; step, force, undo, use the keys,
run to the end and reset in the Decoder tab; greedy vs sampled and A vs B in the Compare tab;
hostile text typed into the JSON editor shows up as text and opens no dialog; a Spanish browser
gets Spanish labels; a step taken while API clients step shows it shared their forward pass.
Full-page screenshots of every tab land in artifacts/screenshots/.
"""

import json
import threading
from pathlib import Path

import pytest

import app_server
from ui.presets import preset
from visualizer.engine.template import render_conversation
from ui.texts import EN, ES

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = app_server.REPO / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 1000}
TIMEOUT_MS = 60_000  # a loaded 2-core machine can take seconds per forward pass
HOSTILE = "<img src=x onerror=alert(1)> ${alert(1)} `tick` </script><script>alert(2)</script>"

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)",
                allow_module_level=True)


@pytest.fixture(scope="session")
def app_url():
    yield app_server.launch()
    app_server.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser, url, locale="en-US"):
    """A fresh context (its own storage and session) on the app; fails the test on any dialog."""
    context = browser.new_context(viewport=VIEWPORT, locale=locale)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.dialogs = []

    def on_dialog(dialog):
        page.dialogs.append(dialog.message)
        dialog.dismiss()
    page.on("dialog", on_dialog)
    page.goto(url)
    wait_loaded(page)
    return page


def wait_loaded(page):
    """Until the page-load events have filled the JSON editor: edits made before that are overwritten."""
    page.wait_for_function("document.querySelector('#conversation-json .cm-content')?.innerText.includes('role')")


@pytest.fixture()
def page(browser, app_url):
    page = open_page(browser, app_url)
    yield page
    assert page.dialogs == [], f"the page opened dialogs: {page.dialogs}"
    page.context.close()


def open_tab(page, name):
    page.get_by_role("tab", name=name, exact=True).click()


def shoot(page, name):
    page.wait_for_timeout(300)  # let plotly and transitions settle
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def chips(page, where):
    return page.locator(f"{where} .chip")


def wait_chips(page, where, count):
    page.wait_for_function(f"document.querySelectorAll({json.dumps(where + ' .chip')}).length === {count}")


def shown_count(page, where):
    """The number in a view's count line ("<b>47</b> tokens")."""
    return int(page.locator(f"{where} .count-line b").first.inner_text())


def test_preset_plain_text_and_tokens(page):
    shoot(page, "1-conversation")
    page.get_by_label(EN["preset"], exact=True).click()
    page.get_by_role("option", name="Madrid in October (en)").click()
    page.click("#load-preset-btn")

    open_tab(page, EN["tab_text"])
    page.wait_for_function("document.querySelector('#plain-text pre')?.innerText.includes('Madrid')")
    markers = page.locator("#plain-text pre .marker")
    assert markers.count() == 9  # four messages opened and closed, then the assistant's turn opened
    assert markers.first.inner_text() == "<|im_start|>"
    shoot(page, "2-plain-text")

    open_tab(page, EN["tab_tokens"])
    page.wait_for_selector("#token-chips .chip")
    count = shown_count(page, "#token-chips")
    assert chips(page, "#token-chips").count() == count > 47  # longer than the strawberry preset
    _, ctx = app_server.built_app()
    rendered = render_conversation(ctx.loaded.tokenizer, preset("Madrid in October (en)"), True)
    assert count == len(ctx.loaded.tokenizer.encode(rendered.text))
    assert chips(page, "#second-token-chips").count() == shown_count(page, "#second-token-chips")
    page.wait_for_selector("#word-chips .chip")
    shoot(page, "3-tokens")


def test_decoder_flow(page):
    open_tab(page, EN["tab_decoder"])
    for k in range(1, 6):
        page.click("#step-btn")
        wait_chips(page, "#generated-text", k)
    page.wait_for_function("document.querySelector('#next-token-chart .gtitle')?.textContent.endsWith('step 5')")
    labels = page.locator("#candidates label").all_inner_texts()
    ticks = page.locator("#next-token-chart .ytick text").all_text_contents()
    assert len(labels) >= 10 and len(set(labels)) == len(labels)
    # The chart shows what the picker offers, most likely on top (plotly lists ticks bottom-up).
    assert [tick.replace("\u00a0", " ") for tick in reversed(ticks)] == labels
    assert "5" in page.locator("#step-stats").inner_text()
    shoot(page, "4-decoder")

    last_before = chips(page, "#generated-text").nth(4).inner_text()
    pick = page.locator("#candidates label").nth(2)
    picked = pick.inner_text().rsplit(" · ", 1)[0]
    assert picked != last_before  # the third candidate is never the greedy choice
    pick.click()
    page.click("#force-btn")
    page.wait_for_selector("#generated-text .chip.forced")
    assert chips(page, "#generated-text").count() == 5
    assert chips(page, "#generated-text").nth(4).inner_text() == picked
    assert "forced" in chips(page, "#generated-text").nth(4).get_attribute("class")

    page.click("#undo-btn")
    wait_chips(page, "#generated-text", 4)
    assert page.locator("#generated-text .chip.forced").count() == 0

    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("ArrowRight")
    wait_chips(page, "#generated-text", 5)
    page.keyboard.press("ArrowLeft")
    wait_chips(page, "#generated-text", 4)

    max_new = page.get_by_label(EN["max_new_tokens"], exact=True)
    max_new.fill("12")
    max_new.press("Tab")
    page.click("#run-btn")
    page.wait_for_selector("#decoder-status .status.done")
    status = page.locator("#decoder-status").inner_text()
    assert status in (EN["stop_eos"], EN["stop_max"])
    generated = chips(page, "#generated-text").count()
    assert 1 <= generated <= 12 and (generated == 12) == (status == EN["stop_max"])
    assert page.locator("#output-panel .ids").inner_text().count(",") == generated - 1
    shoot(page, "4-decoder-run")

    page.click("#reset-btn")
    wait_chips(page, "#generated-text", 0)
    assert page.locator("#decoder-status").inner_text() == EN["preview"]


def test_compare_tab(page):
    open_tab(page, EN["tab_compare"])
    for k in range(1, 3):
        page.click("#compare-step-btn")
        wait_chips(page, "#compare-greedy", k)
    wait_chips(page, "#compare-sampled", 2)
    divergence = page.locator("#compare-divergence")
    assert EN["diverge_at"] in divergence.inner_text()  # seed 0 at temperature 0.7 parts at once
    assert page.locator("#compare-greedy .chip.diverge").count() == 1
    page.wait_for_selector("#compare-sampled-chart svg.main-svg")

    steps = page.get_by_label(f"number input for {EN['compare_steps']}", exact=True)
    steps.fill("3")
    steps.press("Tab")
    page.click("#compare-pair-btn")
    wait_chips(page, "#compare-a", 3)
    wait_chips(page, "#compare-b", 3)
    page.wait_for_function(
        f"document.querySelector('#compare-pair-divergence')?.innerText.includes({json.dumps(EN['diverge_at'])})")
    shoot(page, "5-compare")


def test_hostile_json_is_shown_as_text(page):
    messages = [{"role": "system", "content": HOSTILE}, {"role": "user", "content": "Quote `this` and \\ that"}]
    editor = page.locator("#conversation-json .cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(json.dumps(messages))
    page.click("#apply-json-btn")

    open_tab(page, EN["tab_text"])
    page.wait_for_function("document.querySelector('#plain-text pre')?.innerText.includes('onerror')")
    text = page.locator("#plain-text pre").inner_text()
    assert HOSTILE in text and "Quote `this` and \\ that" in text
    assert page.locator("#plain-text img, #plain-text script").count() == 0
    assert page.locator("body img[src=x]").count() == 0
    shoot(page, "6-hostile-plain-text")
    open_tab(page, EN["tab_tokens"])
    page.wait_for_selector("#token-chips .chip")
    assert page.locator("#token-chips img, #token-chips script").count() == 0
    open_tab(page, EN["tab_decoder"])
    page.get_by_label(EN["force_text"], exact=True).fill("`")
    page.click("#force-typed-btn")
    wait_chips(page, "#generated-text", 1)
    assert chips(page, "#generated-text").first.inner_text() == "`"
    page.wait_for_timeout(500)  # a dialog would have opened by now


def test_spanish_browser(browser, app_url):
    page = open_page(browser, app_url, locale="es-ES")
    try:
        tabs = page.get_by_role("tab").all_inner_texts()
        assert ES["tab_decoder"] in tabs and ES["tab_conversation"] in tabs
        assert "Una llamada a la API envía" in page.locator(".prose.intro:visible").inner_text()
        assert page.get_by_role("button", name=ES["load_preset"]).count() == 1
        shoot(page, "7-spanish-conversation")
        open_tab(page, ES["tab_text"])
        page.wait_for_selector("#plain-text .marker")
        assert ES["characters"] in page.locator("#plain-text .count-line").inner_text()
        assert "Paso 1" in page.locator(".prose.intro:visible").inner_text()
        open_tab(page, ES["tab_decoder"])
        page.click("#step-btn")
        wait_chips(page, "#generated-text", 1)
        page.wait_for_selector("#next-token-chart svg.main-svg")
        assert ES["chart_title"] in page.locator("#next-token-chart .gtitle").text_content()
        shoot(page, "7-spanish-decoder")
        assert page.dialogs == []
    finally:
        page.context.close()


def test_two_browsers_have_their_own_decoders(browser, app_url):
    first, second = open_page(browser, app_url), open_page(browser, app_url)
    try:
        for page in (first, second):
            open_tab(page, EN["tab_decoder"])
        for k in (1, 2):
            first.click("#step-btn")
            wait_chips(first, "#generated-text", k)
        second.click("#step-btn")
        second.wait_for_function("document.querySelectorAll('#generated-text .chip').length > 0")
        assert chips(second, "#generated-text").count() == 1  # not a third token of the first browser's
        assert chips(second, "#generated-text").first.inner_text() == chips(first, "#generated-text").first.inner_text()
        first.click("#undo-btn")
        wait_chips(first, "#generated-text", 1)
        second.click("#step-btn")
        wait_chips(second, "#generated-text", 2)
        tokens = chips(second, "#generated-text").all_inner_texts()
        second.reload()  # the browser keeps its tokens and replays them into a new session
        wait_loaded(second)
        second.wait_for_timeout(2000)  # the tokens come back even when the Decoder tab opens late
        open_tab(second, EN["tab_decoder"])
        wait_chips(second, "#generated-text", 2)
        assert chips(second, "#generated-text").all_inner_texts() == tokens
    finally:
        first.context.close()
        second.context.close()


def test_a_step_among_other_attendees_shares_their_forward_pass(page, app_url):
    """Five API clients step without pause while this browser steps: its step's panel says how many
    steps its forward pass served (the server batches steps that wait together)."""
    from gradio_client import Client

    stop, errors = threading.Event(), []

    def attendee(index):
        api = Client(app_url, verbose=False, analytics_enabled=False, download_files=False)
        try:
            api.predict(json.dumps([{"role": "user", "content": f"Tell story number {index}."}]), 0.8, 40, 0.95,
                        index, 256, 5, api_name="/start")
            while not stop.is_set():
                if api.predict(api_name="/step")["stop"]:
                    api.predict(api_name="/undo")
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            api.close()

    threads = [threading.Thread(target=attendee, args=(i,), daemon=True) for i in range(5)]
    for thread in threads:
        thread.start()
    try:
        open_tab(page, EN["tab_decoder"])
        for clicks in range(1, 16):
            page.click("#step-btn")
            wait_chips(page, "#generated-text", clicks)
            if page.locator("#step-stats .batched").count():
                break
        shoot(page, "4-decoder-batched")
        cell = page.locator("#step-stats .batched")
        assert cell.count() == 1, "no step of this browser shared a forward pass in 15 tries"
        assert EN["batch_rows"] in cell.inner_text() and int(cell.locator("b").inner_text().lstrip("×")) >= 2
    finally:
        stop.set()
        for thread in threads:
            thread.join(120)
    assert errors == []
