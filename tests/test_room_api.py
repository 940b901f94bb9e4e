"""Room mode through gradio_client, against the room endpoints launched on a real server (SmolLM2).

Checked: 30 attendees each draw with their own seed and every draw equals the CLI's for that seed
(in-process through the CLI's code path for all 30, and `python -m visualizer decode` itself for
one); guesses are counted per token; a commit without the instructor key is refused and changes
nothing; after a commit everyone is on step 2 with the same prefix; two rooms at once do not mix;
a restart (a second app on the same cache dir) keeps the room.
"""

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

import app_server
import room_app
from room_app import INSTRUCTOR_KEY as KEY

CONVERSATION = [{"role": "user", "content": "Name one fruit that is red."}]
KNOBS = dict(temperature=1.0, top_k=50, top_p=0.95)
ATTENDEES = 30
STATE_KEYS = {"step", "mode", "attendees", "answered", "histogram", "model_top", "committed"}


@pytest.fixture(scope="module")
def loaded():
    return room_app.smollm2()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("room-cache")


@pytest.fixture(scope="module")
def app(loaded, cache_dir):
    app = room_app.RoomApp(loaded, cache_dir)
    app.launch()
    yield app
    app.close()


def clients(url, count):
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda _: Client(url, verbose=False), range(count)))


def open_room(client, **knobs):
    knobs = knobs or KNOBS
    return client.predict(json.dumps(CONVERSATION), knobs["temperature"], knobs["top_k"], knobs["top_p"], KEY,
                          api_name="/room_open")


def reference_first_tokens(loaded, seeds):
    """What `decode --steps 1 --seed S` samples, through the CLI's own code path (`cli._run`)."""
    from visualizer.engine.engine import Engine
    from visualizer.engine.workspace import Workspace

    engine = Engine.create(loaded, 64 * 2**20)
    tokens = []
    for seed in seeds:
        workspace = Workspace(loaded, engine, messages=CONVERSATION)
        workspace.configure(workspace.sampling_from_user(seed=seed, **KNOBS), 10, 1)
        tokens.append(workspace.decoder().step().id)
        workspace.evict()
    return tokens


def cli_first_token(seed, tmp_path):
    path = tmp_path / "conversation.json"
    path.write_text(json.dumps(CONVERSATION))
    flags = [f"--{name.replace('_', '-')}={value}" for name, value in KNOBS.items()]
    out = subprocess.run([sys.executable, "-m", "visualizer", "decode", "--messages", str(path), "--steps", "1",
                          "--seed", str(seed), *flags, "--json", "--cache-dir", str(app_server.CACHE_DIR)],
                         cwd=app_server.REPO, capture_output=True, text=True, timeout=300, check=True).stdout
    return json.loads(out)["ids"][0]


def test_thirty_seeds_draw_what_the_cli_draws(app, loaded, tmp_path):
    instructor = Client(app.url, verbose=False)
    opened = open_room(instructor)
    assert set(opened) == {"code", "step", "text"} and opened["step"] == 1
    code = opened["code"]
    attendees = clients(app.url, ATTENDEES)
    with ThreadPoolExecutor(6) as pool:
        joins = list(pool.map(lambda client: client.predict(code, api_name="/room_join"), attendees))
    assert all(j == {"code": code, "step": 1, "text": opened["text"], "mode": "guess"} for j in joins)
    assert instructor.predict(code, KEY, "sample", api_name="/room_mode")["mode"] == "sample"
    with ThreadPoolExecutor(6) as pool:
        draws = list(pool.map(lambda pair: pair[1].predict(code, pair[0], api_name="/room_sample"),
                              enumerate(attendees)))
    assert all(set(d) == {"step", "id", "text", "prob"} and d["step"] == 1 for d in draws)
    expected = reference_first_tokens(loaded, range(ATTENDEES))
    assert [d["id"] for d in draws] == expected
    assert cli_first_token(7, tmp_path) == draws[7]["id"]
    assert attendees[3].predict(code, 3, api_name="/room_sample") == draws[3]  # same seed, same step, same token
    state = instructor.predict(code, api_name="/room_state")
    assert set(state) >= STATE_KEYS and (state["attendees"], state["answered"]) == (ATTENDEES, ATTENDEES)
    assert sum(bar["count"] for bar in state["histogram"]) == ATTENDEES
    assert {bar["id"]: bar["count"] for bar in state["histogram"]} == \
        {token: expected.count(token) for token in set(expected)}


def test_guesses_commit_and_the_next_step(app):
    instructor, *people = clients(app.url, 4)
    code = open_room(instructor)["code"]
    for person in people:
        person.predict(code, api_name="/room_join")
    answers = [people[0].predict(code, " apple", api_name="/room_answer"),
               people[1].predict(code, " apple", api_name="/room_answer"),
               people[2].predict(code, " cherry", api_name="/room_answer")]
    assert set(answers[0]) == {"step", "id", "text"} and answers[0]["text"] == " apple"
    people[2].predict(code, f"#{answers[0]['id']}", api_name="/room_answer")  # changed before reveal
    people[2].predict(code, " cherry", api_name="/room_answer")
    state = instructor.predict(code, api_name="/room_state")
    assert [(bar["text"], bar["count"]) for bar in state["histogram"]] == [(" apple", 2), (" cherry", 1)]
    assert state["model_top"] == []

    with pytest.raises(AppError, match="instructor key"):
        people[0].predict(code, "not-the-key", "top", api_name="/room_commit")
    with pytest.raises(AppError, match="instructor key"):
        people[0].predict(code, "", "sample", api_name="/room_mode")
    assert instructor.predict(code, api_name="/room_state") == state

    revealed = instructor.predict(code, KEY, api_name="/room_reveal")
    assert len(revealed["model_top"]) == 10 and set(revealed["model_top"][0]) == {"id", "text", "prob", "raw_prob"}
    with pytest.raises(AppError, match="revealed"):
        people[0].predict(code, " pear", api_name="/room_answer")
    after = instructor.predict(code, KEY, "top", api_name="/room_commit")
    assert (after["step"], after["committed"], after["answered"]) == (2, [answers[0]["id"]], 0)
    views = [person.predict(code, api_name="/room_state") for person in people]
    assert all(v["step"] == 2 and v["text"] == after["text"] and v["text"].endswith(" apple") for v in views)
    assert people[0].predict(code, api_name="/room_join")["step"] == 2


def test_two_rooms_at_once_do_not_mix(app):
    instructor, ana, ben = clients(app.url, 3)
    first = open_room(instructor)["code"]
    second = open_room(instructor, temperature=0.3, top_k=5, top_p=0.9)["code"]
    ana.predict(first, api_name="/room_join")
    ben.predict(second, api_name="/room_join")
    instructor.predict(second, KEY, "sample", api_name="/room_mode")
    ana.predict(first, " apple", api_name="/room_answer")
    ben.predict(second, 1, api_name="/room_sample")
    with pytest.raises(AppError, match="join room"):
        ana.predict(second, 1, api_name="/room_sample")
    instructor.predict(second, KEY, "greedy", api_name="/room_commit")
    one, two = (instructor.predict(code, api_name="/room_state") for code in (first, second))
    assert (one["step"], one["mode"], one["attendees"], one["answered"]) == (1, "guess", 1, 1)
    assert (two["step"], two["mode"], two["attendees"], two["answered"]) == (2, "sample", 1, 0)
    assert one["histogram"][0]["text"] == " apple" and two["settings"]["top_k"] == 5


def test_bad_input_is_one_line(app):
    client = Client(app.url, verbose=False)
    for args, api_name, words in (((json.dumps(CONVERSATION), 9.0, 50, 0.9, KEY), "/room_open", "between"),
                                  (("[]", 0.7, 50, 0.9, KEY), "/room_open", "empty"),
                                  (("ZZZZZ",), "/room_join", "no open room"),
                                  (("ZZZZZ", "x"), "/room_answer", "no open room")):
        with pytest.raises(AppError, match=words) as error:
            client.predict(*args, api_name=api_name)
        assert "\n" not in str(error.value).strip()


def test_a_restart_keeps_the_room(loaded, tmp_path):
    first = room_app.RoomApp(loaded, tmp_path)
    try:
        instructor, person = clients(first.launch(), 2)
        code = open_room(instructor)["code"]
        person.predict(code, api_name="/room_join")
        person.predict(code, " apple", api_name="/room_answer")
        instructor.predict(code, KEY, "top", api_name="/room_commit")
        person.predict(code, " is", api_name="/room_answer")
        before = instructor.predict(code, api_name="/room_state")
    finally:
        first.close()
    second = room_app.RoomApp(loaded, tmp_path)
    try:
        instructor, stranger = clients(second.launch(), 2)
        after = instructor.predict(code, api_name="/room_state")
        assert {k: after[k] for k in STATE_KEYS | {"text"}} == {k: before[k] for k in STATE_KEYS | {"text"}}
        assert instructor.predict(code, KEY, "top", api_name="/room_commit")["step"] == 3
        assert stranger.predict(code, api_name="/room_join")["step"] == 3
    finally:
        second.close()
