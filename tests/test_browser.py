"""The app's main flows in a real browser (Debian's Chromium, Playwright), and screenshots of every tab.

Flows: a preset's markers and tokens; step, force, undo, keys, run and reset in the Decoder;
greedy vs sampled and A vs B in Compare; hostile text renders as text and opens no dialog; two
browsers keep their own decoders and a reload brings the tokens back (a sampled decoder goes on
with the tokens it would have drawn without the reload); a step taken while API
clients step shows that it shared their forward pass. `test_screenshots` saves every tab at
1366x768 (a projector) and 390x844 (a phone), in English and Spanish, to artifacts/screenshots/.
What is left out: one test per defect of issue 8 (`test_browser_defects.py`).
"""

import json
import os
import threading

import pytest

import app_server
from browser_support import (PHONE, PROJECTOR, app_url, browser, chip_count, chips, open_page, open_tab,  # noqa: F401
                             page, rows_include, set_number, shoot, type_json, wait_chart, wait_chips, wait_loaded,
                             wait_text)
from ui.presets import preset
from ui.texts import EN, ES
from visualizer.engine.template import render_conversation

pytestmark = pytest.mark.browser
HOSTILE = "<img src=x onerror=alert(1)> ${alert(1)} `tick` </script><script>alert(2)</script>"


def load_preset(page, name):
    page.locator("#preset input").click()
    page.get_by_role("option", name=name).click()
    page.click("#load-preset-btn")
    rows_include(page, preset(name)[-1]["content"][:20])


def test_preset_plain_text_and_tokens(page):
    load_preset(page, "Madrid in October (en)")
    open_tab(page, "text")
    wait_text(page, "#plain-text pre", "Madrid")
    markers = page.locator("#plain-text pre .marker")
    assert markers.count() == 9  # four messages opened and closed, then the assistant's turn opened
    assert markers.first.inner_text() == "<|im_start|>"

    open_tab(page, "tokens")
    wait_text(page, "#token-chips", "Madrid")
    count = int(page.locator("#token-chips .count-line b").inner_text())
    _, ctx = app_server.built_app()
    rendered = render_conversation(ctx.loaded.tokenizer, preset("Madrid in October (en)"), True)
    assert chip_count(page, "#token-chips") == count == len(ctx.loaded.tokenizer.encode(rendered.text))
    second = int(page.locator("#second-token-chips .count-line b").inner_text())
    assert chip_count(page, "#second-token-chips") == second
    page.wait_for_selector("#word-chips .chip")


def test_decoder_flow(page):
    open_tab(page, "decoder")
    wait_chart(page, 0, preview=True)
    for k in range(1, 6):
        page.click("#step-btn")
        wait_chips(page, "#generated-text", k)
    wait_chart(page, 5)
    labels = page.locator("#candidates label").all_inner_texts()
    rows = page.locator("#next-token-chart .ntc-row").evaluate_all(
        "rows => rows.map(r => r.querySelector('code').textContent + ' · ' + r.dataset.token)")
    assert len(labels) >= 10 and labels == rows  # the picker offers what the chart shows, in its order
    assert page.locator("#step-stats b").first.inner_text() == "5"

    last_before = chips(page, "#generated-text").nth(4).inner_text()
    pick = page.locator("#candidates label").nth(2)
    picked = pick.inner_text().rsplit(" · ", 1)[0]
    assert picked != last_before  # the third candidate is never the greedy choice
    pick.click()
    page.click("#force-btn")
    page.wait_for_selector("#generated-text .chip.forced")
    assert chip_count(page, "#generated-text") == 5  # it replaced the shown step
    assert chips(page, "#generated-text").nth(4).inner_text() == picked

    row = page.locator("#next-token-chart .ntc-row").nth(1)  # a click on a chart row forces its token
    clicked = row.locator("code").inner_text()
    row.click()
    page.wait_for_function("document.querySelectorAll('#generated-text .chip')[4]?.textContent === "
                           + json.dumps(clicked))
    assert chip_count(page, "#generated-text") == 5 and page.locator("#generated-text .chip.forced").count() == 1

    page.click("#undo-btn")
    wait_chips(page, "#generated-text", 4)
    assert page.locator("#generated-text .chip.forced").count() == 0
    wait_chart(page, 0, preview=True)  # after an undo: the next position's preview

    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("ArrowRight")
    wait_chips(page, "#generated-text", 5)
    page.keyboard.press("ArrowLeft")
    wait_chips(page, "#generated-text", 4)

    page.click("#step10-btn")
    wait_chips(page, "#generated-text", 14)
    page.click("#undo-btn")  # back to 4 tokens, one undo per click
    wait_chips(page, "#generated-text", 13)
    for _ in range(9):
        page.click("#undo-btn")
    wait_chips(page, "#generated-text", 4)

    set_number(page, "#max-new", 12)
    page.click("#run-btn")
    page.wait_for_selector("#decoder-status .status.done")
    status = page.locator("#decoder-status").inner_text()
    assert status in (EN["stop_eos"], EN["stop_max"])
    generated = chip_count(page, "#generated-text")
    assert 5 <= generated <= 12 and (generated == 12) == (status == EN["stop_max"])
    assert json.loads(page.locator("#output-panel .ids").inner_text()) and \
        len(json.loads(page.locator("#output-panel .ids").inner_text())) == generated
    assert int(page.locator("#timeline-chart .timeline").get_attribute("data-steps")) == generated

    page.click("#reset-btn")
    wait_chips(page, "#generated-text", 0)
    assert page.locator("#decoder-status").inner_text() == EN["preview"]


def test_compare_tab(page):
    open_tab(page, "compare")
    for k in range(1, 3):
        page.click("#compare-step-btn")
        wait_chips(page, "#compare-greedy", k)
    wait_chips(page, "#compare-sampled", 2)
    assert EN["diverge_at"] in page.locator("#compare-divergence").inner_text()  # seed 0 at 0.7 parts at once
    assert page.locator("#compare-greedy .chip.diverge").count() == 1
    wait_chart(page, 2, where="#compare-sampled-chart")

    set_number(page, "#compare-steps", 3)
    page.click("#compare-pair-btn")
    wait_chips(page, "#compare-a", 3)
    wait_chips(page, "#compare-b", 3)
    wait_text(page, "#compare-pair-divergence", EN["diverge_at"])


def test_hostile_json_is_shown_as_text(page):
    messages = [{"role": "system", "content": HOSTILE}, {"role": "user", "content": "Quote `this` and \\ that"}]
    type_json(page, "#conversation-json", messages)
    page.click("#apply-json-btn")
    rows_include(page, "onerror")

    open_tab(page, "text")
    wait_text(page, "#plain-text pre", "onerror")
    text = page.locator("#plain-text pre").inner_text()
    assert HOSTILE in text and "Quote `this` and \\ that" in text
    assert page.locator("#plain-text img, #plain-text script").count() == 0
    assert page.locator("body img[src=x]").count() == 0
    open_tab(page, "tokens")
    page.wait_for_selector("#token-chips .chip")
    assert page.locator("#token-chips img, #token-chips script").count() == 0
    open_tab(page, "decoder")
    wait_chart(page, 0, preview=True)
    page.fill("#force-text textarea, #force-text input", "`")
    page.click("#force-typed-btn")
    wait_chips(page, "#generated-text", 1)
    assert chips(page, "#generated-text").first.inner_text() == "`"
    page.fill("#force-text textarea, #force-text input", "${alert(3)}<b>x</b>")
    page.click("#force-typed-btn")  # several tokens: refused, and the refusal shows the text as text
    page.wait_for_selector("#decoder-status .status.error")
    assert "${alert(3)}<b>x</b>" in page.locator("#decoder-status").inner_text()
    assert page.locator("#decoder-status b").count() == 0


def test_two_browsers_have_their_own_decoders(browser, app_url):
    first, second = open_page(browser, app_url), open_page(browser, app_url)
    try:
        for page in (first, second):
            open_tab(page, "decoder")
        for k in (1, 2):
            first.click("#step-btn")
            wait_chips(first, "#generated-text", k)
        second.click("#step-btn")
        wait_chips(second, "#generated-text", 1)  # not a third token of the first browser's
        assert chips(second, "#generated-text").first.inner_text() == chips(first, "#generated-text").first.inner_text()
        first.click("#undo-btn")
        wait_chips(first, "#generated-text", 1)
        second.click("#step-btn")
        wait_chips(second, "#generated-text", 2)
        tokens = chips(second, "#generated-text").all_inner_texts()
        second.reload()  # the browser keeps its tokens and puts them back into a new session
        wait_loaded(second)
        open_tab(second, "decoder")
        wait_chips(second, "#generated-text", 2)
        assert chips(second, "#generated-text").all_inner_texts() == tokens
        second.click("#step-btn")  # and goes on from them
        wait_chips(second, "#generated-text", 3)
    finally:
        first.context.close()
        second.context.close()


def test_a_sampled_decoder_reloaded_half_way_goes_on_with_the_tokens_of_an_uninterrupted_run(browser, app_url):
    """What the browser keeps of the noise (its seed and how many draws were made) puts the generator back
    where it was: three sampled steps, a reload, three more equal six steps without a reload."""
    pages = [open_page(browser, app_url) for _ in range(2)]
    try:
        for page in pages:
            open_tab(page, "decoder")
            page.locator("#mode label", has_text=EN["mode_sampling"]).click()
            page.wait_for_function("!document.querySelector('#temperature input[type=number]').disabled")
            set_number(page, "#temperature", 1.6)  # a wide distribution: draws differ from greedy and each other
            wait_text(page, "#next-token-chart .ntc-legend", "temperature 1.6")
        reloaded, straight = pages
        for count in (1, 2, 3):
            reloaded.click("#step-btn")
            wait_chips(reloaded, "#generated-text", count)
        reloaded.reload()
        wait_loaded(reloaded)
        open_tab(reloaded, "decoder")
        wait_chips(reloaded, "#generated-text", 3)
        for count in (4, 5, 6):
            reloaded.click("#step-btn")
            wait_chips(reloaded, "#generated-text", count)
        for count in range(1, 7):
            straight.click("#step-btn")
            wait_chips(straight, "#generated-text", count)
        made = chips(reloaded, "#generated-text").all_inner_texts()
        assert made == chips(straight, "#generated-text").all_inner_texts()
    finally:
        for page in pages:
            page.context.close()


def test_a_fresh_session_is_restored_from_the_browser(page):
    """The server loses the session (a restart, an expiry, an eviction): the next click rebuilds it
    from what the page holds (its conversation, its saved tokens) before acting."""
    if os.environ.get("LLM_VIZ_TEST_URL"):
        pytest.skip("needs the app in this process")
    type_json(page, "#conversation-json", [{"role": "user", "content": "Name three rivers of Spain."}])
    page.click("#apply-json-btn")
    rows_include(page, "rivers")
    open_tab(page, "decoder")
    wait_chart(page, 0, preview=True)
    for k in (1, 2):
        page.click("#step-btn")
        wait_chips(page, "#generated-text", k)
    tokens = chips(page, "#generated-text").all_inner_texts()
    prompt = page.locator("#step-stats .stats > div").nth(2).inner_text()
    _, ctx = app_server.built_app()
    for key in list(ctx.store._sessions):  # what a server restart does to every session
        ctx.store.drop(key)
    page.click("#step-btn")
    wait_chips(page, "#generated-text", 3)
    assert chips(page, "#generated-text").all_inner_texts()[:2] == tokens
    assert page.locator("#step-stats .stats > div").nth(2).inner_text() == prompt  # the same conversation
    assert page.locator("#step-stats b").first.inner_text() == "3"


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
        open_tab(page, "decoder")
        wait_chart(page, 0, preview=True)
        for clicks in range(1, 16):
            page.click("#step-btn")
            wait_chips(page, "#generated-text", clicks)
            if page.locator("#step-stats .batched").count():
                break
        shoot(page, "decoder-batched-1366")
        cell = page.locator("#step-stats .batched")
        assert cell.count() == 1, "no step of this browser shared a forward pass in 15 tries"
        assert EN["batch_rows"] in cell.inner_text() and int(cell.locator("b").inner_text().lstrip("×")) >= 2
    finally:
        stop.set()
        for thread in threads:
            thread.join(120)
    assert errors == []


@pytest.mark.parametrize("locale", ["en-US", "es-ES"])
def test_screenshots(browser, app_url, locale):
    """Every tab, projector and phone, after a few steps; the projector's Decoder also in presenter mode."""
    language = locale[:2]
    for name, viewport in (("1366", PROJECTOR), ("390", PHONE)):
        page = open_page(browser, app_url, locale=locale, viewport=viewport)
        try:
            shoot(page, f"{language}-{name}-1-conversation")
            open_tab(page, "text")
            page.wait_for_selector("#plain-text .marker")
            shoot(page, f"{language}-{name}-2-plain-text")
            open_tab(page, "tokens")
            page.wait_for_selector("#word-chips .chip")
            shoot(page, f"{language}-{name}-3-tokens")
            open_tab(page, "decoder")
            wait_chart(page, 0, preview=True)
            for k in range(1, 4):
                page.click("#step-btn")
                wait_chips(page, "#generated-text", k)
            wait_chart(page, 3)
            page.mouse.move(0, 0)
            shoot(page, f"{language}-{name}-4-decoder")
            shoot(page, f"{language}-{name}-4-decoder-full", full_page=True)
            if viewport is PROJECTOR:
                page.click("#presenter-btn")
                shoot(page, f"{language}-{name}-4-decoder-presenter")
                page.click("#presenter-btn")
            open_tab(page, "compare")
            page.wait_for_selector("#compare-sampled-chart .ntc")
            page.click("#compare-step-btn")
            wait_chips(page, "#compare-sampled", 1)
            shoot(page, f"{language}-{name}-5-compare")
            set_number(page, "#compare-steps", 6)
            page.click("#compare-pair-btn")
            page.wait_for_selector("#compare-b-chart .ntc")
            shoot(page, f"{language}-{name}-5-compare-full", full_page=True)
            assert page.dialogs == []
            assert (ES if language == "es" else EN)["title"] in page.title()
        finally:
            page.context.close()
