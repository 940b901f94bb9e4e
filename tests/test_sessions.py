"""Sessions on a shared server: isolation, the cache budget, expiry and settings.

The decoding tests use the real SmolLM2 model: a `Decoder` whose KV cache was evicted by the
store must go on exactly as one that was never interrupted. Store mechanics (expiry, caps,
in-use protection) use small fake states, so their byte counts are known exactly.
"""

import os
import threading
import time
from pathlib import Path

import pytest
from threads import in_threads

from visualizer.engine.decoder import Decoder
from visualizer.engine.limits import DEFAULT_NEW_TOKENS, MAX_NEW_TOKENS
from visualizer.engine.sampling import SamplingSettings
from visualizer.serving.sessions import SessionStore
from visualizer.serving.settings import ServerSettings, parse_size

REPO = Path(__file__).resolve().parent.parent
SAMPLED = SamplingSettings(temperature=1.0, top_k=50, seed=1234)


@pytest.fixture(scope="module")
def model(request):
    """The shared `loaded` fixture from conftest.py when there is one, else the same load here."""
    try:
        return request.getfixturevalue("loaded")
    except pytest.FixtureLookupError:
        from visualizer.engine.models import load_model

        cache_dir = os.environ.get("LLM_VIZ_CACHE") or REPO / ".cache" / "models"
        return load_model("smollm2", cache_dir=cache_dir, report=lambda message: None)


def prompt(model, text):
    return model.tokenizer.encode(text)  # plain text: short prompts keep the test fast


def same_records(actual, expected):
    assert [r.id for r in actual] == [r.id for r in expected]
    assert [r.forced for r in actual] == [r.forced for r in expected]
    # A rebuilt cache comes from one prefill instead of many steps: same ids, probs to float noise.
    assert [r.prob for r in actual] == pytest.approx([r.prob for r in expected], rel=1e-4, abs=1e-6)


class Blob:
    """A fake decode state holding `size` evictable bytes."""

    def __init__(self, size):
        self.size, self.evictions = size, 0

    def nbytes(self):
        return self.size

    def evict(self):
        self.size, self.evictions = 0, self.evictions + 1


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def store_of(**overrides):
    return SessionStore(ServerSettings(**overrides))


# Store with the real model


def test_sessions_stepping_in_interleaved_threads_match_their_own_replays(model):
    store = store_of()
    setups = {"alice": (prompt(model, "The three primary colors are"), None),
              "bob": (prompt(model, "Once upon a time, in a small village,"), SAMPLED)}
    steps, barrier, results = 5, threading.Barrier(2), {}

    def user(key):
        def act():
            ids, settings = setups[key]
            with store.use(key) as session:
                session.states["decoder"] = Decoder(model, ids, settings, forwards=store.forwards)
            for _ in range(steps):
                barrier.wait(30)  # both users step at the same time, every time
                with store.use(key) as session:
                    session.states["decoder"].step()
            results[key] = list(store.get(key).states["decoder"].records)
        return act

    in_threads([user("alice"), user("bob")])()
    for key, (ids, settings) in setups.items():
        replay = Decoder(model, ids, settings)
        same_records(results[key], [replay.step() for _ in range(steps)])
    assert [r.id for r in results["alice"]] != [r.id for r in results["bob"]]


@pytest.mark.parametrize("settings", [None, SAMPLED], ids=["greedy", "sampled"])
def test_budget_evicts_the_other_session_and_it_resumes_exactly(model, settings):
    store = store_of(cache_budget_bytes=1)  # any second cache is over budget
    ids = prompt(model, "The three primary colors are")

    def decoder(key):
        return store.get(key).states["decoder"]

    with store.use("a") as a:
        a.states["decoder"] = Decoder(model, ids, settings, forwards=store.forwards)
        actual = [a.states["decoder"].step() for _ in range(2)]
    assert decoder("a").cache is not None  # alone, the session in use is left over budget
    with store.use("b") as b:
        b.states["decoder"] = Decoder(model, prompt(model, "Hello"), forwards=store.forwards)
        b.states["decoder"].step()
    assert decoder("a").cache is None and decoder("b").cache is not None
    assert store.stats()["evictions"] == 1
    with store.use("a"):
        actual += [decoder("a").step() for _ in range(2)]  # rebuilds, then evicts b on exit
    assert decoder("b").cache is None and store.stats()["evictions"] == 2
    with store.use("b"):
        decoder("b").step()
    assert decoder("a").cache is None
    with store.use("a"):  # undo and redo across an eviction, then go on
        undone = decoder("a").undo()
        assert decoder("a").redo() == undone
        actual += [decoder("a").step() for _ in range(2)]

    reference = Decoder(model, ids, settings)
    expected = [reference.step() for _ in range(4)]
    assert reference.undo() == reference.redo()
    expected += [reference.step() for _ in range(2)]
    same_records(actual, expected)
    same_records(decoder("a").records, expected)
    assert decoder("a").ids == reference.ids


def test_drop_frees_every_byte(model):
    store = store_of()
    for key, text in (("a", "Hello"), ("b", "The three primary colors are")):
        with store.use(key) as session:
            session.states["decoder"] = Decoder(model, prompt(model, text), forwards=store.forwards)
            session.states["decoder"].step()
    both = store.total_cache_bytes()
    store.drop("a")
    assert 0 < store.total_cache_bytes() < both
    with store.use("b") as session:  # dropped while in use: freed when its event ends
        decoder = session.states["decoder"]
        store.drop("b")
        assert decoder.cache is not None
        decoder.step()
    assert decoder.cache is None and store.get("b") is None
    assert store.total_cache_bytes() == 0
    store.drop("never-seen")
    # Three steps, one after another: three forward passes of one row each.
    assert store.stats() == {"sessions": 0, "cache_bytes": 0, "evictions": 0, "dropped": 2, "batches": 3,
                             "batched_steps": 3}


# Store mechanics with fake states


@pytest.mark.parametrize("how", ["use", "raw-lock"])
def test_a_session_in_use_is_not_evicted_by_another(how):
    store = store_of(cache_budget_bytes=100)
    with store.use("a") as a:
        a.states["cache"] = Blob(80)
    inside, leave = threading.Event(), threading.Event()

    def hold_a():
        with (store.use("a") if how == "use" else store.get("a").lock):
            inside.set()
            assert leave.wait(30)

    def use_b():
        assert inside.wait(30)
        with store.use("b") as b:
            b.states["cache"] = Blob(80)
        assert a.states["cache"].evictions == 0 and store.stats()["evictions"] == 0
        leave.set()

    in_threads([hold_a, use_b])()
    with store.use("b") as b:
        pass  # both idle now: whichever is older goes (b on a's exit via use, else a)
    assert a.states["cache"].evictions + b.states["cache"].evictions == 1
    assert store.total_cache_bytes() == 80 and store.stats()["evictions"] == 1


def test_nested_use_in_one_thread_does_not_evict_the_outer_session():
    store = store_of(cache_budget_bytes=100)
    with store.use("outer") as outer:
        outer.states["cache"] = Blob(80)
        with store.use("inner") as inner:
            inner.states["cache"] = Blob(80)
        assert outer.states["cache"].evictions == 0  # RLock would let a try-acquire through


def test_eviction_goes_least_recently_used_first_and_stops_under_budget():
    store = store_of(cache_budget_bytes=250)
    blobs = {}
    for key in ("old", "mid", "new"):
        with store.use(key) as session:
            session.states["cache"] = blobs[key] = Blob(100)
    assert [b.evictions for b in blobs.values()] == [1, 0, 0]
    assert store.stats()["cache_bytes"] == 200


def test_one_sessions_events_never_interleave():
    store, inside, overlaps = store_of(), [0], []

    def event():
        for _ in range(20):
            with store.use("same"):
                inside[0] += 1
                overlaps.append(inside[0])
                time.sleep(0.0005)
                inside[0] -= 1

    in_threads([event, event, event])()
    assert len(overlaps) == 60 and max(overlaps) == 1


def test_idle_sessions_expire_on_the_injected_clock():
    clock = FakeClock()
    store = SessionStore(ServerSettings(idle_timeout_s=10), clock=clock)
    with store.use("a") as a:
        a.states["cache"] = Blob(5)
    clock.now += 8
    with store.use("b"):
        pass
    clock.now += 7  # a idle 15 s, b idle 7 s
    with store.use("c"):
        clock.now += 100  # c is in use: a sweep now must not drop it
        assert store.sweep() == 1  # b goes (idle 107 s)
    assert store.get("a") is None and store.get("b") is None and store.get("c") is not None
    assert a.states == {} and store.stats()["dropped"] == 2
    assert store.sweep() == 0  # c was touched on the way out


def test_one_session_too_many_drops_the_least_recently_used():
    store = store_of(max_sessions=2)
    with store.use("a"):
        pass
    with store.use("b") as b:
        b.states["cache"] = Blob(5)
    with store.use("a"):
        pass
    with store.use("c"):
        pass
    assert store.get("b") is None and store.get("a") is not None and store.get("c") is not None
    assert b.states == {} and store.stats() == {"sessions": 2, "cache_bytes": 0, "evictions": 0, "dropped": 1,
                                                "batches": 0, "batched_steps": 0}


# Settings


def test_settings_defaults_and_environment_overrides():
    assert ServerSettings.from_env({}) == ServerSettings()
    defaults = ServerSettings()
    assert (defaults.idle_timeout_s, defaults.max_sessions, defaults.cache_budget_bytes) == (1800, 200, 2 * 2**30)
    assert (defaults.queue_size, defaults.concurrency_limit) == (256, 32)
    assert defaults.max_new_tokens == DEFAULT_NEW_TOKENS and defaults.allow_models == () and not defaults.hosted
    settings = ServerSettings.from_env({
        "LLM_VIZ_IDLE_TIMEOUT_S": "60", "LLM_VIZ_MAX_SESSIONS": "5", "LLM_VIZ_CACHE_BUDGET_BYTES": "512MiB",
        "LLM_VIZ_QUEUE_SIZE": "9", "LLM_VIZ_CONCURRENCY_LIMIT": "2", "LLM_VIZ_MAX_NEW_TOKENS": str(MAX_NEW_TOKENS),
        "LLM_VIZ_ALLOW_MODELS": " smollm2, Qwen/Qwen3-0.6B,,smollm2", "LLM_VIZ_HOSTED": "yes",
        "LLM_VIZ_MAX_TOP_N": "junk", "LLM_VIZ_QUEUE": "junk",  # not settings: ignored
    })
    assert settings == ServerSettings(60.0, 5, 512 * 2**20, 9, 2, MAX_NEW_TOKENS, ("smollm2", "Qwen/Qwen3-0.6B"), True)
    assert ServerSettings.from_env({"LLM_VIZ_MAX_SESSIONS": " ", "LLM_VIZ_HOSTED": "off"}) == ServerSettings()


@pytest.mark.parametrize("text, size", [
    ("2GiB", 2 * 2**30), ("512MiB", 512 * 2**20), ("512mib", 512 * 2**20), ("64Ki", 65536), ("1.5GiB", 3 * 2**29),
    ("2GB", 2 * 10**9), ("2G", 2 * 10**9), ("4096", 4096), ("10 B", 10), ("0", 0),
])
def test_sizes_parse(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("name, value", [
    ("CACHE_BUDGET_BYTES", "lots"), ("CACHE_BUDGET_BYTES", "-1GiB"), ("CACHE_BUDGET_BYTES", "2XB"),
    ("CACHE_BUDGET_BYTES", "2 GiB GiB"), ("MAX_SESSIONS", "0"), ("MAX_SESSIONS", "1.5"),
    ("QUEUE_SIZE", "-3"), ("CONCURRENCY_LIMIT", "many"), ("IDLE_TIMEOUT_S", "0"), ("IDLE_TIMEOUT_S", "nan"),
    ("MAX_NEW_TOKENS", str(MAX_NEW_TOKENS + 1)), ("MAX_NEW_TOKENS", "0"), ("HOSTED", "maybe"),
])
def test_bad_settings_are_refused_in_one_line_naming_the_variable(name, value):
    with pytest.raises(ValueError) as caught:
        ServerSettings.from_env({"LLM_VIZ_" + name: value})
    message = str(caught.value)
    assert message.startswith("LLM_VIZ_" + name) and "\n" not in message
