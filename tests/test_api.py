"""The HTTP API through gradio_client, against the app launched as `python app.py` launches it.

Checked: /tokens and the decode endpoints answer in the CLI's JSON shapes; greedy ids equal
what `python -m visualizer decode --json` prints for the same conversation; each client has
its own session; bad input comes back as a one-line client error naming the problem.
"""

import json
import subprocess
import sys

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

import app_server
from ui.presets import preset

STRAWBERRY = json.dumps(preset("Strawberry, Zyrqel (en)"))
MADRID = json.dumps(preset("Madrid in October (en)"))
CLI_STEPS = 8
TOKEN_KEYS = {"id", "text", "special"}
DECODE_KEYS = {"model", "prompt_tokens", "steps", "ids", "text", "stop"}
STEP_KEYS = {"id", "text", "prob", "top", "top_raw", "ms"}
CANDIDATE_KEYS = {"id", "text", "prob"}


@pytest.fixture(scope="session")
def app_url():
    yield app_server.launch()
    app_server.close()


@pytest.fixture(scope="module", autouse=True)
def cli_decode(tmp_path_factory):
    """`python -m visualizer decode --json` on the strawberry conversation, started at once in the
    background (it loads its own model) and awaited by the first test that needs it."""
    path = tmp_path_factory.mktemp("cli") / "strawberry.json"
    path.write_text(STRAWBERRY, encoding="utf-8")
    command = [sys.executable, "-m", "visualizer", "decode", "--messages", str(path), "--steps", str(CLI_STEPS),
               "--json", "--cache-dir", str(app_server.CACHE_DIR)]
    process = subprocess.Popen(command, cwd=app_server.REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    result = {}

    def wait():
        if not result:
            out, err = process.communicate(timeout=240)
            assert process.returncode == 0, err[-2000:]
            result.update(json.loads(out))
        return result
    yield wait
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture()
def client(app_url):
    return Client(app_url, verbose=False)


def assert_decode_shape(payload, steps):
    assert set(payload) >= DECODE_KEYS
    assert payload["model"] == "SmolLM2-135M-Instruct" and payload["prompt_tokens"] == 47
    assert isinstance(payload["ids"], list) and isinstance(payload["text"], str)
    assert payload["stop"] in (None, "eos", "max_tokens")
    assert len(payload["steps"]) == steps
    for step in payload["steps"]:
        assert set(step) >= STEP_KEYS and isinstance(step["id"], int) and 0 <= step["prob"] <= 1
        assert step["ms"] >= 0 and len(step["top"]) == len(step["top_raw"]) == 10
        for candidate in step["top"] + step["top_raw"]:
            assert set(candidate) == CANDIDATE_KEYS


def test_endpoints_are_named_as_documented(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/tokens", "/start", "/step", "/force", "/undo", "/run"} <= set(endpoints)
    start = [p["parameter_name"] for p in endpoints["/start"]["parameters"]]
    assert start[:7] == ["conversation", "temperature", "top_k", "top_p", "seed", "max_new_tokens", "top"]
    assert {"min_p", "repetition_penalty"} <= set(start[7:])  # the other knobs of the table follow


def test_tokens(client):
    payload = client.predict(STRAWBERRY, api_name="/tokens")
    assert set(payload) == {"model", "text", "count", "tokens"}
    assert payload["count"] == len(payload["tokens"]) == 47
    assert all(set(token) == TOKEN_KEYS for token in payload["tokens"])
    assert payload["text"].startswith("<|im_start|>system\n") and payload["text"].endswith("<|im_start|>assistant\n")
    assert payload["tokens"][0] == {"id": 1, "text": "<|im_start|>", "special": True}
    without = client.predict(STRAWBERRY, False, api_name="/tokens")
    assert without["count"] < payload["count"] and not without["text"].endswith("assistant\n")
    _, ctx = app_server.built_app()
    assert [token["id"] for token in payload["tokens"]] == ctx.loaded.tokenizer.encode(payload["text"])


def test_decode_session_matches_cli(client, cli_decode):
    started = client.predict(STRAWBERRY, api_name="/start")
    assert_decode_shape(started, 0)
    assert started["ids"] == [] and started["stop"] is None
    for number in range(1, 4):
        stepped = client.predict(api_name="/step")
        assert_decode_shape(stepped, 1)
        assert len(stepped["ids"]) == number and stepped["steps"][0]["id"] == stepped["ids"][-1]
    greedy = stepped["ids"]
    outsider = stepped["steps"][0]["top"][-1]["id"]  # the 10th candidate: never the greedy pick
    forced = client.predict(outsider, api_name="/force")
    assert_decode_shape(forced, 1)
    assert forced["ids"] == greedy + [outsider] and forced["steps"][0]["forced"] is True
    undone = client.predict(api_name="/undo")
    assert_decode_shape(undone, 0)
    assert undone["ids"] == greedy and undone["undone"]["id"] == outsider
    ran = client.predict(5, api_name="/run")
    assert_decode_shape(ran, 5)

    cli = cli_decode()
    assert set(cli) == DECODE_KEYS and cli["model"] == ran["model"] and cli["prompt_tokens"] == ran["prompt_tokens"]
    assert_decode_shape(cli, len(cli["ids"]))
    assert ran["ids"] == cli["ids"] and ran["text"] == cli["text"]
    assert [step["id"] for step in ran["steps"]] == cli["ids"][3:]
    for ours, theirs in zip(ran["steps"], cli["steps"][3:]):
        assert [c["id"] for c in ours["top"]] == [c["id"] for c in theirs["top"]]
        assert ours["prob"] == pytest.approx(theirs["prob"], abs=1e-4)


def test_clients_have_isolated_sessions(app_url):
    a, b, replay = (Client(app_url, verbose=False) for _ in range(3))
    a.predict(STRAWBERRY, api_name="/start")
    b.predict(MADRID, 1.0, 40, None, 11, api_name="/start")  # sampling, its own generator
    a_ids, b_ids = [], []
    for _ in range(3):  # interleaved: each step continues its own session
        a_ids = a.predict(api_name="/step")["ids"]
        b_ids = b.predict(api_name="/step")["ids"]
    assert len(a_ids) == len(b_ids) == 3
    replay.predict(MADRID, 1.0, 40, None, 11, api_name="/start")
    assert replay.predict(3, api_name="/run")["ids"] == b_ids
    replay.predict(STRAWBERRY, api_name="/start")  # /start restarts this client's decoder
    assert replay.predict(3, api_name="/run")["ids"] == a_ids
    assert a.predict(api_name="/undo")["ids"] == a_ids[:2]  # b's and replay's calls left a alone


@pytest.mark.parametrize("endpoint, args, words", [
    ("/start", ('[{"role": "user", "content": "hi"',), "invalid JSON"),
    ("/start", ('[{"role": "robot", "content": "hi"}]',), "unknown role"),
    ("/start", (STRAWBERRY, 0), "temperature must be between"),
    ("/start", (STRAWBERRY, 0.7, 10**6), "top-k must be between"),
    ("/start", (STRAWBERRY, 0.7, 50, 0.9, 0, 64, 10, 0), "repetition-penalty must be between"),
    ("/start", (STRAWBERRY, 0.7, 50, 0.9, 0, 64, 10, 1.0, 2.0), "min-p must be between"),
    ("/start", (STRAWBERRY, None, None, None, 0, 10**5), "max new tokens must be between 1 and 1024"),
    ("/tokens", ("",), "conversation is empty"),
    ("/tokens", ("[" * 5000 + "]" * 5000,), "nested too deeply"),
    ("/step", (), "call /start"),
    ("/run", (5,), "call /start"),
    ("/force", (5,), "call /start"),
])
def test_bad_input_is_one_line_error(client, endpoint, args, words):
    with pytest.raises(AppError) as caught:
        client.predict(*args, api_name=endpoint)
    message = str(caught.value)
    assert words in message and "\n" not in message.strip() and "Traceback" not in message


def test_bad_token_id_after_start(client):
    client.predict(STRAWBERRY, max_new_tokens=4, api_name="/start")
    with pytest.raises(AppError, match="token id must be between 0 and 49151"):
        client.predict(10**6, api_name="/force")
    with pytest.raises(AppError, match="steps must be between"):
        client.predict(0, api_name="/run")
    finished = client.predict(10, api_name="/run")  # max_new_tokens=4: stops early, no error
    assert len(finished["ids"]) <= 4 and finished["stop"] in ("eos", "max_tokens")



def test_the_app_sends_no_usage_reports_whatever_the_environment(monkeypatch):
    from app import create_app, parse_args

    monkeypatch.delenv("GRADIO_ANALYTICS_ENABLED", raising=False)  # gradio's default is then to report
    demo, _ = create_app(parse_args(["--cache-dir", str(app_server.CACHE_DIR)], environ={}))
    assert demo.config["analytics_enabled"] is False


def test_every_child_of_a_tab_set_is_a_tab():
    """A component created inside gr.Tabs but outside any gr.Tab shifts Gradio's count of the tabs: the
    next tab's button was drawn twice once opened (the Inside tab's State did that to the Room tab)."""
    import gradio as gr

    demo, _ = app_server.built_app()
    tab_sets = [block for block in demo.blocks.values() if isinstance(block, gr.Tabs)]
    assert tab_sets
    for tabs in tab_sets:
        strays = [type(child).__name__ for child in tabs.children if not isinstance(child, gr.Tab)]
        assert strays == [], f"{tabs.elem_id}: {strays}"


def test_no_value_of_a_choice_is_a_text_key():
    """Gradio's page translates a component's string value that equals a key of the app's gr.I18n: the room's
    commit choice "greedy" came back after a reload as "Greedy" (the text of the key "greedy", the Decoder's
    mode label), none of its choices, and Commit failed in an English pop-up."""
    from ui.texts import TEXTS

    demo, _ = app_server.built_app()
    keys = set().union(*TEXTS.values())
    values = set()
    for block in demo.blocks.values():
        choices = getattr(block, "choices", None) or []
        values.update(choice[1] if isinstance(choice, (tuple, list)) else choice for choice in choices)
        values.add(getattr(block, "value", None))
    assert "greedy" in values and "guess" in values  # the radios are there
    assert sorted(value for value in values if isinstance(value, str) and value in keys) == []
