"""Rooms on the tiny Qwen3: draws equal the CLI's code path, answers per step, commits, limits, restarts.

The reference for a seed's draw is what `python -m visualizer decode` runs: a Workspace on an engine,
configured with the room's settings and that seed, stepped (`cli._run`'s path, on the tiny model).
"""

import json

import pytest

from visualizer.engine.engine import Engine
from visualizer.engine.errors import InputError
from visualizer.engine.workspace import Workspace
from visualizer.serving.room_export import COLUMNS, room_csv
from visualizer.serving.rooms import CODE_ALPHABET, KEY_FAILURES, RoomStore, with_instructor_key
from visualizer.serving.settings import ServerSettings

KEY = "instructor"
POOL_BYTES = 32 * 2**20
CONVERSATION = [{"role": "user", "content": "How many Rs are in the word strawberry?"}]
KNOBS = dict(temperature=1.3, top_k=200, top_p=0.98)  # a wide distribution: seeds draw different tokens


class Clock:
    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture()
def clock():
    return Clock()


def make_store(tiny, path=None, clock=None, **settings):
    return RoomStore(tiny, Engine.create(tiny, POOL_BYTES), ServerSettings(instructor_key=KEY, **settings), path,
                     clock=clock or Clock())


def open_room(store, **knobs):
    return store.open(KEY, json.dumps(CONVERSATION), **(knobs or KNOBS))["code"]


def cli_draws(tiny, seed, steps):
    """The tokens `decode --seed SEED --steps N` samples with the room's settings (the CLI's code path)."""
    workspace = Workspace(tiny, Engine.create(tiny, POOL_BYTES), messages=CONVERSATION)
    workspace.configure(workspace.sampling_from_user(seed=seed, **KNOBS), 10, steps)
    return [record.id for record in workspace.decoder().run()]


def joined(store, code, count):
    people = [f"attendee-{i}" for i in range(count)]
    for person in people:
        store.join(code, person)
    return people


def test_each_seed_draws_what_the_cli_draws_at_step_one(tiny):
    store = make_store(tiny)
    code = open_room(store)
    store.set_mode(code, KEY, "sample")
    people = joined(store, code, 12)
    draws = [store.sample(code, person, seed) for seed, person in enumerate(people)]
    assert [d["id"] for d in draws] == [cli_draws(tiny, seed, 1)[0] for seed in range(12)]
    assert len({d["id"] for d in draws}) > 3  # the test distribution is wide enough to mean something
    assert all(d["step"] == 1 and 0 < d["prob"] <= 1 for d in draws)
    assert store.sample(code, people[0], 0) == draws[0]  # the same seed at the same step, the same token
    state = store.state(code)
    assert state["answered"] == 12 and sum(bar["count"] for bar in state["histogram"]) == 12


def test_a_seed_at_step_n_draws_what_its_cli_run_draws_when_the_room_took_its_tokens(tiny):
    store = make_store(tiny)
    code = open_room(store)
    store.set_mode(code, KEY, "sample")
    (person,) = joined(store, code, 1)
    reference = cli_draws(tiny, 5, 4)
    for step, expected in enumerate(reference, start=1):
        drawn = store.sample(code, person, 5)
        assert (drawn["step"], drawn["id"]) == (step, expected)
        store.commit(code, KEY, "top")


def test_guesses_are_counted_per_token_and_change_until_reveal(tiny):
    store = make_store(tiny)
    code = open_room(store)
    a, b, c = joined(store, code, 3)
    the = store.answer(code, a, " the")
    assert the["id"] == tiny.tokenizer.encode(" the")[0] and the["step"] == 1
    assert store.answer(code, b, f"#{the['id']}")["id"] == the["id"]
    assert store.answer(code, c, the["id"])["id"] == the["id"]
    store.answer(code, c, "Hello")
    state = store.state(code)
    assert [(bar["text"], bar["count"]) for bar in state["histogram"]] == [(" the", 2), ("Hello", 1)]
    assert state["model_top"] == []  # hidden until reveal
    store.reveal(code, KEY)
    revealed = store.state(code)
    assert len(revealed["model_top"]) == 10 and set(revealed["model_top"][0]) == {"id", "text", "prob", "raw_prob"}
    with pytest.raises(InputError, match="revealed"):
        store.answer(code, a, "Hello")
    mine = store.mine(code, a)["mine"]
    assert mine["answer"]["id"] == the["id"] and mine["position"]["rank"] >= 1


def test_bad_answers_are_refused_with_one_line(tiny):
    store = make_store(tiny, room_answer_chars=10)
    code = open_room(store)
    (person,) = joined(store, code, 1)
    for typed, words in ((" strawberry pie", "too long"), ("two words", "tokens"), ("#99999999", "between"),
                         (None, "type a token first")):
        with pytest.raises(InputError, match=words):
            store.answer(code, person, typed)
    with pytest.raises(InputError, match="join room"):
        store.answer(code, "stranger", " the")
    with pytest.raises(InputError, match="for guessing"):
        store.sample(code, person, 1)
    store.set_mode(code, KEY, "sample")
    with pytest.raises(InputError, match="for sampling"):
        store.answer(code, person, " the")
    with pytest.raises(InputError, match="no open room"):
        store.state("NOPE1")


def test_only_the_instructor_steps_the_room_and_a_refusal_changes_nothing(tiny):
    store = make_store(tiny)
    code = open_room(store)
    people = joined(store, code, 2)
    store.answer(code, people[0], " the")
    before = store.state(code)
    for action in (lambda: store.commit(code, "wrong", "greedy"), lambda: store.set_mode(code, "", "sample"),
                   lambda: store.reveal(code, None), lambda: store.open("wrong", json.dumps(CONVERSATION)),
                   lambda: store.export(code, "guess"), lambda: store.close(code, "x")):
        with pytest.raises(InputError, match="instructor key"):
            action()
    assert store.state(code) == before and store.codes() == [code]


def test_commit_forces_the_choice_and_moves_everyone_to_the_next_step(tiny):
    store = make_store(tiny)
    code = open_room(store)
    people = joined(store, code, 3)
    for person, typed in zip(people, (" the", " the", "Hello")):
        store.answer(code, person, typed)
    with pytest.raises(InputError, match="greedy, top or a token id"):
        store.commit(code, KEY, "   ")
    state = store.commit(code, KEY, "top")
    the = tiny.tokenizer.encode(" the")[0]
    assert (state["step"], state["committed"], state["answered"], state["histogram"]) == (2, [the], 0, [])
    assert state["text"].endswith(" the") and state["history"][0]["answered"] == 3
    greedy = store.commit(code, KEY, "greedy")
    workspace = Workspace(tiny, Engine.create(tiny, POOL_BYTES), messages=CONVERSATION)
    decoder = workspace.decoder()
    decoder.force(the)
    assert greedy["committed"] == [the, decoder.step().id]
    assert store.commit(code, KEY, 42)["committed"][-1] == 42
    with pytest.raises(InputError, match="nobody has answered"):
        store.commit(code, KEY, "top")


def test_two_rooms_do_not_mix(tiny):
    store = make_store(tiny)
    first, second = open_room(store), open_room(store, temperature=0.5)
    assert first != second and set(first + second) <= set(CODE_ALPHABET)
    store.join(first, "ana")
    store.join(second, "ben")
    store.answer(first, "ana", " the")
    store.commit(second, KEY, "greedy")
    assert store.state(first)["histogram"][0]["count"] == 1 and store.state(first)["step"] == 1
    assert store.state(second)["answered"] == 0 and store.state(second)["step"] == 2
    with pytest.raises(InputError, match="join room"):
        store.answer(second, "ana", " the")
    assert store.state(second)["settings"]["temperature"] == 0.5


def test_a_restart_keeps_rooms_answers_and_draws(tiny, tmp_path):
    path = tmp_path / "rooms.json"
    store = make_store(tiny, path)
    code = open_room(store)
    people = joined(store, code, 3)
    store.answer(code, people[0], " the")
    store.commit(code, KEY, "top")
    store.set_mode(code, KEY, "sample")
    draws = [store.sample(code, person, seed) for seed, person in enumerate(people)]
    before = store.state(code)
    store.shutdown()
    restarted = make_store(tiny, path)
    after = restarted.state(code)
    assert {k: after[k] for k in ("step", "mode", "attendees", "answered", "histogram", "committed", "text")} == \
        {k: before[k] for k in ("step", "mode", "attendees", "answered", "histogram", "committed", "text")}
    redrawn = [restarted.sample(code, person, seed) for seed, person in enumerate(people)]
    assert [d["id"] for d in redrawn] == [d["id"] for d in draws]  # the rebuilt prefix: one pass, not steps
    assert [d["prob"] for d in redrawn] == pytest.approx([d["prob"] for d in draws], rel=1e-4)
    assert restarted.commit(code, KEY, "greedy")["step"] == 3
    assert "instructor" not in path.read_text() and "attendee-0" in path.read_text()


def test_a_file_for_another_model_or_a_broken_file_opens_no_rooms(tiny, tmp_path):
    path = tmp_path / "rooms.json"
    path.write_text("{not json")
    assert make_store(tiny, path).codes() == []
    path.write_text(json.dumps({"format": 1, "model": "another", "rooms": [{"code": "X"}]}))
    assert make_store(tiny, path).codes() == []
    path.write_text(json.dumps({"format": 1, "model": tiny.name, "rooms": [{"code": "BROKEN"}]}))
    assert make_store(tiny, path).codes() == []


def test_limits_rooms_attendees_rate_and_idle_expiry(tiny, clock):
    store = make_store(tiny, clock=clock, max_rooms=2, room_max_attendees=2, room_answers_per_minute=3,
                       room_idle_timeout_s=600)
    code = open_room(store)
    open_room(store)
    with pytest.raises(InputError, match="as many rooms"):
        open_room(store)
    joined(store, code, 2)
    store.join(code, "attendee-0")  # joining again is fine
    with pytest.raises(InputError, match="is full"):
        store.join(code, "late")
    for _ in range(3):
        store.answer(code, "attendee-0", " the")
    with pytest.raises(InputError, match="at most 3 a minute"):
        store.answer(code, "attendee-0", " the")
    clock.now += 61
    store.answer(code, "attendee-0", " the")
    clock.now += 599
    store.state(code)  # watching is not acting: the other room expires first
    clock.now += 2
    assert store.codes() == [code]
    clock.now += 600
    with pytest.raises(InputError, match=f"room {code} has been closed"):  # not "no open room": found by hand
        store.state(code)
    other = open_room(store)
    store.close(other, KEY)
    with pytest.raises(InputError, match=f"room {other} has been closed"):
        store.answer(other.lower(), "attendee-0", " the")
    with pytest.raises(InputError, match="no open room"):
        store.state("ZZZZZ")


def test_wrong_keys_lock_an_address_out_for_a_minute(tiny, clock):
    store = make_store(tiny, clock=clock)
    code = open_room(store)
    for _ in range(KEY_FAILURES):
        with pytest.raises(InputError, match="does not match"):
            store.reveal(code, "guess", address="10.0.0.9")
    with pytest.raises(InputError, match="try again in a minute"):
        store.reveal(code, KEY, address="10.0.0.9")
    store.reveal(code, KEY, address="10.0.0.1")
    clock.now += 61
    store.reveal(code, KEY, address="10.0.0.9")


def test_an_instructor_key_is_made_when_none_is_set():
    made, was_made = with_instructor_key(ServerSettings())
    assert was_made and len(made.instructor_key) >= 12 and made.instructor_key not in repr(made)
    assert with_instructor_key(ServerSettings(instructor_key="mine")) == (ServerSettings(instructor_key="mine"), False)


def test_export_has_every_step_with_counts_and_candidates(tiny):
    store = make_store(tiny)
    code = open_room(store)
    people = joined(store, code, 2)
    store.answer(code, people[0], "=")  # a cell a spreadsheet would read as a formula
    store.commit(code, KEY, "top")
    store.answer(code, people[1], " the")
    exported = store.export(code, KEY)
    assert exported["history"][0]["counts"][0]["count"] == 1 and len(exported["history"][0]["model_top"]) == 10
    lines = room_csv(exported).splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert any(line.startswith("1,guess,1,") and line.endswith("True") for line in lines)  # the committed token
    assert any(line.startswith("2,guess,1,") and ", the" in line for line in lines)
    assert not any(",=" in line for line in lines) and any(",'=," in line for line in lines)
