"""What the browser tests share: fixtures (the launched app, one Chromium per module), pages and DOM helpers.

Test modules import the fixtures they use (`from browser_support import app_url, browser, page`),
so pytest finds them. Pages are fresh browser contexts (their own storage, so their own session);
a page fails its test if it ever opens a dialog. Waits are DOM conditions (a count of chips, a
status class), never sleeps. `LLM_VIZ_TEST_URL` points the tests at an app that is already running
(for instance an older version, to see a test fail there) instead of launching this one.
`open_page(..., record=True)` records every streamed message (`stream_recorder.py`); `streamed(page)` reads them.
What is left out: the tests themselves.
"""

import contextlib
import json
import os
from pathlib import Path

import pytest

import app_server
from stream_recorder import STREAM_RECORDER  # noqa: F401 (re-exported for the tests)
from ui.texts import EN

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = app_server.REPO / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
PROJECTOR = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = int(os.environ.get("LLM_VIZ_TEST_TIMEOUT_MS", 60_000))  # a loaded 2-core machine: seconds per step
TAB_IDS = {"conversation": 0, "text": 1, "tokens": 2, "decoder": 3, "compare": 4, "inside": 5, "room": 6}

if not CHROMIUM.exists():
    pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)",
                allow_module_level=True)



@pytest.fixture(scope="session")
def app_url():
    external = os.environ.get("LLM_VIZ_TEST_URL")
    if external:
        yield external
        return
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


def open_page(browser, url, locale="en-US", viewport=PROJECTOR, record=False):
    """A fresh context (its own storage and session) on the app, loaded; dialogs are recorded and dismissed."""
    context = browser.new_context(viewport=viewport, locale=locale, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    if record:
        context.add_init_script(STREAM_RECORDER)
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
    """Until the page load has run: the session token and header are there (on a page that has a
    header to wait for), the rows and the JSON drawn."""
    page.wait_for_function(
        "!document.querySelector('#app-header') || document.querySelector('#app-header [data-ready]')")
    page.wait_for_function("document.querySelector('#conversation-json .cm-content')?.innerText.includes('role')")
    page.wait_for_selector("#message-rows textarea")


@pytest.fixture()
def page(browser, app_url):
    page = open_page(browser, app_url)
    yield page
    assert page.dialogs == [], f"the page opened dialogs: {page.dialogs}"
    page.context.close()


def open_tab(page, tab_id):
    """Select a tab by id ("decoder"), also when a narrow screen moved it into the overflow menu."""
    button = page.locator(f"#{tab_id}-tab-button")
    if button.count() and button.is_visible():
        button.click()
    elif page.locator("#tabs").count() == 0:  # a page without tab ids (an older version): by its label
        page.get_by_role("tab", name=EN[f"tab_{tab_id}"], exact=True).click()
        return
    else:
        page.click("#tabs .overflow-menu > button")
        page.locator("#tabs .overflow-dropdown button", has_text=tab_label(page, tab_id)).click()
    page.wait_for_selector(f"#{tab_id}-tab", state="visible")


def tab_label(page, tab_id):
    return page.locator("#tabs .tab-container.visually-hidden button").nth(TAB_IDS[tab_id]).inner_text()


def shoot(page, name, full_page=False):
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def chips(page, where):
    return page.locator(f"{where} .chip")


def chip_count(page, where):
    return page.locator(f"{where} .chip").count()


def wait_chips(page, where, count, at_least=False):
    """Until `where` shows `count` chips (or more, `at_least`: a run's stream may draw several tokens at once);
    a timeout says how many it showed and the status lines."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    compare = ">=" if at_least else "==="
    try:
        page.wait_for_function(f"document.querySelectorAll({json.dumps(where + ' .chip')}).length {compare} {count}")
    except PlaywrightTimeout:
        statuses = page.locator("[id$='-status']").all_inner_texts()
        raise AssertionError(f"{where}: {chip_count(page, where)} chips, not {count}; status: {statuses}; "
                             f"{server_note()}") from None


def server_note():
    """What the server holds for the session used last (the app in this process only): for a timeout's message."""
    if app_server._APP is None or os.environ.get("LLM_VIZ_TEST_URL"):
        return "server: elsewhere"
    store = app_server._APP[1].store
    with store._lock:
        session = next(reversed(store._sessions.values()), None)
    if session is None:
        return "server: no session"
    decoder, order = session.workspace.existing_decoder, session.data.get("paint_order")
    shown = max(order.shown.values(), default=0) if order else 0
    return (f"server, last session: {len(decoder.generated) if decoder else 'no'} tokens, views made "
            f"{order.made if order else 0} / newest shown {shown}, actions in its turn {session.waiting}")


def wait_text(page, where, text):
    page.wait_for_function(f"document.querySelector({json.dumps(where)})?.innerText.includes({json.dumps(text)})")


def chart_step(page, where="#next-token-chart"):
    """The step the chart shows (0 for a preview) once it is drawn."""
    page.wait_for_selector(f"{where} .ntc")
    return int(page.locator(f"{where} .ntc").get_attribute("data-step"))


def wait_chart(page, step, preview=None, where="#next-token-chart"):
    condition = f".ntc[data-step='{step}']" + ("" if preview is None else f"[data-preview='{int(preview)}']")
    page.wait_for_selector(f"{where} {condition}")


def rows_include(page, text):
    """Until a message row's text box holds `text`."""
    page.wait_for_function("[...document.querySelectorAll('#message-rows textarea')]"
                           f".some((t) => t.value.includes({json.dumps(text)}))")


def set_number(page, selector, value):
    """Type a value into a number box (a gr.Number, or a slider's box) and commit it as a user would."""
    box = page.locator(f"{selector} input[type=number]")
    box.fill(str(value))
    box.press("Tab")


def type_json(page, selector, value):
    """Replace a code editor's text (gr.Code) by typing, as a user would."""
    page.locator(f"{selector} .cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(value if isinstance(value, str) else json.dumps(value))


def streamed(page):
    return page.evaluate("window.__streamed")


@contextlib.contextmanager
def decoder_page(browser, app_url, script=None, locale="en-US"):
    """A page (with `script` run before the app's) on the Decoder's preview; closed after."""
    context = browser.new_context(viewport=PROJECTOR, locale=locale)
    context.set_default_timeout(30_000)
    if script:
        context.add_init_script(script)
    page = context.new_page()
    try:
        page.goto(app_url)
        wait_loaded(page)
        open_tab(page, "decoder")
        wait_chart(page, 0, preview=True)
        yield page
    finally:
        context.close()


STORY = "Write a long, detailed story about a lighthouse keeper who finds a message in a bottle."  # no early end


def open_decoder_on(page, content, max_new):
    """Apply a one-message conversation, open the Decoder on its preview, set max new tokens."""
    type_json(page, "#conversation-json", [{"role": "user", "content": content}])
    page.click("#apply-json-btn")
    rows_include(page, content[:30])
    open_tab(page, "decoder")
    wait_chart(page, 0, preview=True)
    set_number(page, "#max-new", max_new)


def open_room_as_instructor(page):
    """On the in-process app: the Room tab, the key typed, a room opened; until its banner shows."""
    open_tab(page, "room")
    page.locator("#room-instructor .label-wrap").first.click()
    page.locator("#room-key input").first.fill(app_server.built_app()[1].settings.instructor_key)
    page.click("#room-open-btn")
    page.wait_for_selector("#room-banner .room-big-code")
