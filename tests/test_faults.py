"""Faults a workshop meets: a server restart, evicted caches, one session's crash, a closed tab.

Checked, each on its own `python app.py` on a free loopback port (bench/load_test.AppServer):
- restart mid-session: the browser steps 3 tokens, the server is killed and started again on the
  same port and cache dir (the BrowserState secret lives there); a reload shows the 3 tokens again
  and a 4th step continues them, equal to the same greedy decode over the API;
- steps on evicted sessions: two clients alternate under a 1 KiB cache budget (each step
  rebuilds its cache); every step succeeds and each client's ids equal its replay alone;
- an exception inside one session's forward pass (in-process, handlers called directly): that
  session gets an error status and keeps its tokens, and continues as if nothing happened once the
  fault is gone; another session's steps are untouched and equal a plain Decoder's;
- a tab closed during "Run to end": the session is dropped and its cache freed within 20 s, the
  run stops, and a new client is still served.
Browser tests drive Debian's Chromium and let only 127.0.0.1 through.
"""

import json
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import load_test

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
UI_TIMEOUT_MS = 60_000
CHIPS = "#generated-text .chip"


# --- browser helpers -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser):
    """A fresh context (its own localStorage) whose requests may only go to 127.0.0.1."""
    context = browser.new_context()
    context.route("**/*", lambda route: route.continue_() if _loopback(route.request.url) else route.abort())
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    return context, page


def _loopback(url):
    return re.match(r"^(https?|wss?)://127\.0\.0\.1(:\d+)?/", url) is not None or url.startswith(("data:", "blob:"))


def open_decoder(page):
    page.get_by_role("tab", name="4 · Decoder").click()
    page.locator("#step-btn").wait_for(state="visible")


def wait_chips(page, count):
    page.wait_for_function(f"n => document.querySelectorAll('{CHIPS}').length >= n", arg=count)


def chip_ids(page):
    """The generated ids, read from the chips' tooltips ("step 1 · id 123 · p=...")."""
    titles = page.locator(CHIPS).evaluate_all("chips => chips.map(chip => chip.title)")
    return [int(re.search(r"\bid (\d+)", title).group(1)) for title in titles]


def saved_decoding(page):
    return page.evaluate("() => localStorage.getItem('llm-viz-decoding')")


def fresh_server(tmp_path, **env):
    """An AppServer with its own cache dir (the converted model linked, its own secret). One torch
    thread: two on two shared cores slow down many times over when anything else runs."""
    return load_test.AppServer(cache_dir=load_test.cache_dir_copy(tmp_path / "cache"),
                               env=dict(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **env),
                               log_path=tmp_path / "server.log")


# --- restart -----------------------------------------------------------------------------------

@pytest.mark.browser
def test_server_restart_mid_session_restores_the_tokens_and_goes_on(browser, tmp_path):
    from ui.presets import DEFAULT_PRESET, preset

    with fresh_server(tmp_path) as server:
        context, page = new_page(browser)
        try:
            page.goto(server.url)
            open_decoder(page)
            for count in (1, 2, 3):
                saved_before = saved_decoding(page)
                page.locator("#step-btn").click()
                wait_chips(page, count)
                # The BrowserState is written when the step's outputs arrive: wait until it is.
                page.wait_for_function("before => localStorage.getItem('llm-viz-decoding') !== before",
                                       arg=saved_before)
            before = chip_ids(page)
            assert len(before) == 3

            server.stop(kill=True)  # a crash, not a clean shutdown
            server.start()  # same port, same --cache-dir (the BrowserState secret is there)

            page.reload()
            open_decoder(page)
            wait_chips(page, 3)
            assert chip_ids(page) == before, "the reload after the restart did not restore the tokens"
            page.locator("#step-btn").click()
            wait_chips(page, 4)
            after = chip_ids(page)
        finally:
            context.close()

        assert after[:3] == before and len(after) == 4
        api = load_test.client(server.url)
        api.predict(json.dumps(preset(DEFAULT_PRESET)), api_name="/start")
        assert api.predict(4, api_name="/run")["ids"] == after, "the restored session did not continue greedily"


# --- eviction ----------------------------------------------------------------------------------

EVICTED_ACTIONS = [("step",), ("step",), ("force", None), ("step",), ("undo",), ("step",)]


def test_steps_on_evicted_sessions_rebuild_the_same_state(tmp_path):
    """Two clients alternate under a 1 KiB budget: every action finds its cache evicted."""
    with fresh_server(tmp_path, LLM_VIZ_CACHE_BUDGET_BYTES="1KiB") as server:
        people = [load_test.attendee(0), load_test.attendee(1)]  # greedy, sampled
        for person in people:
            person.actions = EVICTED_ACTIONS
        players = [load_test.Player(load_test.client(server.url), person) for person in people]
        figures = load_test.stats(players[0].api)
        for player in players:
            player.start()
        for actions in zip(*(person.actions for person in people)):
            for player, action in zip(players, actions):
                player.do(action)
        evictions = load_test.stats(players[0].api)["evictions"] - figures["evictions"]
        # Each action (but an undo, which needs no cache) rebuilds its cache and evicts the other's.
        assert evictions >= len(EVICTED_ACTIONS), "the sessions' caches were not evicted between actions"
        for player, person in zip(players, people):
            alone = load_test.play(load_test.client(server.url), person, player.outcome.actions)
            assert alone.error is None, alone.error
            assert player.outcome.ids == alone.ids, f"attendee {person.index} differs from its replay alone"
            assert len(alone.ids) >= 2


# --- an exception in one session ------------------------------------------------------------------

MAX_NEW = 64


def request(key):
    return SimpleNamespace(session_hash=key, headers={})


def decoder_inputs(seed, mode="sampling"):
    from ui.presets import DEFAULT_PRESET, preset

    # messages, add generation prompt, thinking, mode, temperature, top-k, top-p, seed, max new, top-n
    return [preset(DEFAULT_PRESET), True, False, mode, 0.8, 50, 0.95, seed, MAX_NEW, 10]


def reference_ids(inputs, steps):
    """The same decode on a plain Decoder, no server, no store."""
    from ui import context, decoder_handlers
    from visualizer.engine.decoder import Decoder

    messages, add_gen, thinking, mode, temperature, top_k, top_p, seed, max_new, top_n = inputs
    decoder = Decoder(context.current().loaded, decoder_handlers.prompt_ids(messages, add_gen, thinking),
                      decoder_handlers.sampling_settings(mode, temperature, top_k, top_p, seed), max_new, top_n)
    list(decoder.run(steps))
    return decoder.branch.generated


@pytest.fixture(scope="module")
def app_context():
    import app_server  # builds the app as `python app.py` does: app.create_app(app.parse_args([...]))

    return app_server.built_app()[1]


@pytest.fixture()
def one_thread():
    """Torch on one thread for this test (sessions and references alike), then as it was."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _fail_before(decoder):
    def failing(token_id):
        raise RuntimeError("injected fault before the forward pass")
    return failing


def _fail_after(decoder):
    real = decoder._step_forward

    def failing(token_id):
        real(token_id)  # the cache has grown by one position: then the failure
        raise RuntimeError("injected fault after the forward pass")
    return failing


@pytest.mark.parametrize("fault, mode", [(_fail_before, "sampling"), (_fail_after, "greedy")],
                         ids=["before-forward-sampled", "after-forward-greedy"])
def test_an_exception_in_one_session_stays_in_that_session(app_context, one_thread, fault, mode):
    """Sampled, failing before the forward: the failed pick must not move the generator on.
    Greedy, failing after the forward: the cache, one position longer than the ids, must not be
    used again."""
    from ui import context, decoder_handlers

    context._CONTEXT = app_context  # another test module may have configured its own
    key_a, key_b = f"faults-a-{fault.__name__}-{mode}", f"faults-b-{fault.__name__}-{mode}"
    inputs_a, inputs_b = decoder_inputs(seed=7, mode=mode), decoder_inputs(seed=11)
    try:
        for _ in range(2):
            decoder_handlers.step(*inputs_a, request=request(key_a))
            decoder_handlers.step(*inputs_b, request=request(key_b))
        decoder_a = app_context.store.get(key_a).states["decoder"]
        kept = list(decoder_a.branch.generated)
        decoder_a._step_forward = fault(decoder_a)  # this instance only: session B shares the model

        outputs = decoder_handlers.step(*inputs_a, request=request(key_a))  # must not raise
        status = outputs[6]
        assert "internal error (RuntimeError)" in status and "error" in status
        assert decoder_a.branch.generated == kept, "the failed step changed the conversation"
        run = list(decoder_handlers.run_to_end(*inputs_a, request=request(key_a)))
        assert len(run) == 1 and "internal error" in run[0][6], "a failing run to end must stop at once"

        for _ in range(2):
            outputs = decoder_handlers.step(*inputs_b, request=request(key_b))
            assert "error" not in outputs[6]
        assert app_context.store.get(key_b).states["decoder"].branch.generated == reference_ids(inputs_b, 4)

        del decoder_a._step_forward  # the fault is gone: A goes on as if it never happened
        for _ in range(2):
            outputs = decoder_handlers.step(*inputs_a, request=request(key_a))
            assert "error" not in outputs[6]
        assert app_context.store.get(key_a).states["decoder"] is decoder_a
        assert decoder_a.branch.generated == reference_ids(inputs_a, 4), "the failure changed what A generates next"
    finally:
        app_context.store.drop(key_a)
        app_context.store.drop(key_b)


# --- a tab closed mid-run ------------------------------------------------------------------------

@pytest.mark.browser
def test_a_tab_closed_mid_run_frees_its_session(browser, tmp_path):
    with fresh_server(tmp_path) as server:
        api = load_test.client(server.url)
        start = load_test.stats(api)
        context, page = new_page(browser)
        try:
            page.goto(server.url)
            open_decoder(page)
            max_new = page.get_by_label("Max new tokens")
            max_new.fill("200")
            max_new.press("Tab")
            page.locator("#run-btn").click()
            wait_chips(page, 3)
            running = load_test.stats(api)
            assert running["sessions"] == start["sessions"] + 1 and running["cache_bytes"] > start["cache_bytes"]
        finally:
            context.close()  # the tab goes away mid-run

        deadline, figures = time.monotonic() + 20, None
        while time.monotonic() < deadline:
            figures = load_test.stats(api)
            if (figures["dropped"] > running["dropped"] and figures["sessions"] == start["sessions"]
                    and figures["cache_bytes"] < running["cache_bytes"]):
                break
            time.sleep(0.25)
        assert figures["dropped"] > running["dropped"], figures
        assert figures["sessions"] == start["sessions"], figures
        assert figures["cache_bytes"] == start["cache_bytes"] < running["cache_bytes"], figures

        time.sleep(1.5)  # the run must have stopped, not come back as a new session
        later = load_test.stats(api)
        assert later["sessions"] == start["sessions"] and later["cache_bytes"] == start["cache_bytes"], later

        other = load_test.client(server.url)
        other.predict(load_test.attendee(3).conversation, api_name="/start")
        assert len(other.predict(api_name="/step")["ids"]) == 1
