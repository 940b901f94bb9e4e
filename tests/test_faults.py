"""Faults a workshop meets: a server restart, evicted KV rows, one session's crash, a closed tab.

- restart mid-session (browser, its own `python app.py`): 3 tokens stepped, the server killed and
  started again on the same port and cache dir; a reload shows the 3 tokens and a 4th step continues
  them, equal to the same greedy decode over the API;
- evicted rows (API, its own server with a KV pool that holds one attendee): two clients alternate,
  each action rebuilds its row from the ids; each client's ids equal its replay alone;
- an exception inside one session's forward pass (the in-process app, a fault injected for that
  session's rows only): that client gets a one-line error and keeps its tokens, the other client is
  untouched, and once the fault is gone the first goes on as if nothing happened;
- a tab closed during "Run to end": the run stops and the session's KV rows go back.
"""

import json
import re
import sys
import time

import pytest
from browser_support import browser, open_page, open_tab, wait_chips, wait_loaded  # noqa: F401 (a fixture)
from gradio_client.exceptions import AppError

import app_server

sys.path.insert(0, str(app_server.REPO / "bench"))
import load_test  # noqa: E402
from app_process import AppServer, cache_dir_copy, client, stats  # noqa: E402

CHIPS = "#generated-text"
ONE_ATTENDEE_POOL = "4MiB"  # about 90 tokens of SmolLM2: one attendee's row, not two


def fresh_server(tmp_path, **env):
    """An AppServer with its own cache dir (the converted model linked) and one torch thread."""
    return AppServer(cache_dir=cache_dir_copy(tmp_path / "cache"), env=dict(OMP_NUM_THREADS="1", **env),
                     log_path=tmp_path / "server.log")


def chip_ids(page):
    titles = page.locator(f"{CHIPS} .chip").evaluate_all("chips => chips.map(chip => chip.title)")
    return [int(re.search(r"\bid (\d+)", title).group(1)) for title in titles]


@pytest.mark.browser
def test_a_restart_mid_session_restores_the_tokens_and_goes_on(browser, tmp_path):
    from ui.presets import DEFAULT_PRESET, preset

    with fresh_server(tmp_path) as server:
        page = open_page(browser, server.url)
        try:
            open_tab(page, "decoder")
            for count in (1, 2, 3):
                page.locator("#step-btn").click()
                wait_chips(page, CHIPS, count)
            page.wait_for_function("() => (localStorage.getItem('llm-viz-decoding') || '').length > 20")
            before = chip_ids(page)
            server.stop(kill=True)  # a crash, not a clean shutdown
            server.start()  # same port, same cache dir
            page.reload()
            wait_loaded(page)
            open_tab(page, "decoder")
            page.locator("#step-btn").click()  # the fresh session restores the saved tokens, then steps
            wait_chips(page, CHIPS, 4)
            after = chip_ids(page)
        finally:
            page.context.close()
        assert after[:3] == before and len(after) == 4
        api = client(server.url)
        api.predict(json.dumps(preset(DEFAULT_PRESET)), api_name="/start")
        assert api.predict(4, api_name="/run")["ids"] == after, "the restored session did not continue greedily"


EVICTED_ACTIONS = [("step",), ("step",), ("force", None), ("step",), ("undo",), ("step",)]


def test_steps_on_evicted_rows_rebuild_the_same_state(tmp_path):
    with fresh_server(tmp_path, LLM_VIZ_CACHE_BUDGET_BYTES=ONE_ATTENDEE_POOL) as server:
        people = [load_test.attendee(0), load_test.attendee(1)]  # greedy, sampled
        players = [load_test.Player(client(server.url), person) for person in people]
        before = stats(players[0].api)
        for player in players:
            player.start()
        for _ in EVICTED_ACTIONS:
            for player in players:
                player.do(EVICTED_ACTIONS[len(player.outcome.actions)])
        evictions = stats(players[0].api)["evictions"] - before["evictions"]
        assert evictions >= len(EVICTED_ACTIONS), "the rows were not evicted between actions"
        for player, person in zip(players, people):
            alone = load_test.play(client(server.url), person, player.outcome.actions)
            assert alone.error is None, alone.error
            assert player.outcome.ids == alone.ids, f"attendee {person.index} differs from its replay alone"


@pytest.fixture(scope="module")
def app_url():
    yield app_server.launch()
    app_server.close()


@pytest.mark.parametrize("after_the_forward", [False, True], ids=["before-forward", "after-forward"])
def test_an_exception_in_one_session_stays_in_that_session(app_url, after_the_forward):
    _, ctx = app_server.built_app()
    runner = ctx.server.engine.runner
    conversation = load_test.attendee(0).conversation
    a, b, reference = (client(app_url) for _ in range(3))
    a.predict(conversation, 0.8, 50, 0.95, 7, api_name="/start")
    b.predict(conversation, 0.8, 50, 0.95, 11, api_name="/start")
    for _ in range(2):
        kept = a.predict(api_name="/step")["ids"]
        b.predict(api_name="/step")
    handle = ctx.store.get(a.session_hash).workspace.existing_decoder.branch.handle
    real_step = runner.step

    def faulty(handles, token_ids):
        if handle in handles and after_the_forward:
            real_step(handles, token_ids)  # the rows have grown: then the failure
        if handle in handles:
            raise RuntimeError("injected fault")
        return real_step(handles, token_ids)
    runner.step = faulty
    try:
        with pytest.raises(AppError, match=r"internal error \(RuntimeError\)"):
            a.predict(api_name="/step")
        for _ in range(2):
            b_ids = b.predict(api_name="/step")["ids"]
    finally:
        runner.step = real_step
    assert a.predict(api_name="/undo")["ids"] == kept[:-1]  # the failed step left the tokens as they were
    a_ids = [a.predict(api_name="/step")["ids"] for _ in range(3)][-1]
    reference.predict(conversation, 0.8, 50, 0.95, 11, api_name="/start")
    assert reference.predict(4, api_name="/run")["ids"] == b_ids
    reference.predict(conversation, 0.8, 50, 0.95, 7, api_name="/start")
    assert reference.predict(4, api_name="/run")["ids"] == a_ids, "the failure changed what A generates next"
    for api in (a, b, reference):
        api.close()


@pytest.mark.browser
def test_a_tab_closed_mid_run_stops_the_run_and_gives_its_rows_back(browser, tmp_path):
    with fresh_server(tmp_path) as server:
        api = client(server.url)
        start = stats(api)
        page = open_page(browser, server.url)
        try:
            open_tab(page, "decoder")
            page.locator("#max-new input").first.fill("200")
            page.locator("#max-new input").first.press("Tab")
            page.locator("#run-btn").click()
            page.wait_for_function(f"document.querySelectorAll('{CHIPS} .chip').length >= 3")
            running = stats(api)
            assert running["pool_bytes"] > start["pool_bytes"]
        finally:
            page.context.close()  # the tab goes away mid-run
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and stats(api)["pool_bytes"] > start["pool_bytes"]:
            time.sleep(0.25)
        settled = stats(api)
        assert settled["pool_bytes"] == start["pool_bytes"], settled
        time.sleep(1.5)
        assert stats(api)["batched_steps"] == settled["batched_steps"], "the run went on after its tab closed"
