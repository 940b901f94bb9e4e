"""The session store's rules, with small fake workspaces and an injected clock; and the server settings.

Rules under test: only their owner drives a session; a request that cannot use a session creates
none; one session's actions run one at a time in arrival order, with a cap on those waiting, and
those that only raise a flag are told apart; creations are rate-limited per address; at the cap an
idle session goes, never a busy one; idle sessions expire; a full pool evicts idle sessions' rows,
least recently used first.
"""

import threading

import pytest
from threads import in_threads, wait_until

from visualizer.serving.sessions import NotYourSession, SessionExpired, SessionStore
from visualizer.serving.settings import ServerSettings, parse_size
from visualizer.engine.errors import InputError
from visualizer.engine.limits import MAX_NEW_TOKENS


class FakeWorkspace:
    """Holds `size` evictable bytes."""

    def __init__(self, size=100):
        self.size, self.evictions = size, 0

    def nbytes(self):
        return self.size

    def evict(self):
        self.size, self.evictions = 0, self.evictions + 1


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def store(**settings):
    clock = Clock()
    return SessionStore(ServerSettings(**settings), FakeWorkspace, clock=clock), clock


def test_only_requests_that_can_use_a_session_create_one():
    sessions, _ = store()
    for made_up in ("abc", "x" * 40, "0"):
        with pytest.raises(SessionExpired) as refused:
            with sessions.use(made_up, "owner"):
                pass
        assert refused.value.code == "session_expired"
    with pytest.raises(SessionExpired):
        with sessions.use(None, "owner", create=True):
            pass
    assert sessions.stats()["sessions"] == 0
    with sessions.use("real", "owner", create=True) as session:
        assert session.workspace.nbytes() == 100
    assert sessions.stats()["sessions"] == 1


def test_a_session_answers_only_its_owner_and_only_its_owner_can_drop_it():
    sessions, _ = store()
    with sessions.use("key", "browser-a", create=True):
        pass
    for stranger in ("browser-b", None, ""):
        with pytest.raises(NotYourSession):
            with sessions.use("key", stranger, create=True):
                pass
    assert not sessions.drop("key", owner="browser-b") and sessions.get("key") is not None
    assert sessions.stats()["refused"] == 3
    assert sessions.drop("key", owner="browser-a") and sessions.get("key") is None


def test_one_sessions_actions_run_one_at_a_time_in_arrival_order():
    sessions, _ = store()
    order, gate = [], threading.Event()
    with sessions.use("key", "o", create=True):
        pass

    def action(name):
        def run():
            with sessions.use("key", "o"):
                order.append(name)
                if name == 0:
                    gate.wait(10)
        return run
    joins = []
    for name in range(6):  # each one queues only after the previous one is inside or waiting
        joins.append(in_threads([action(name)]))
        wait_until(lambda: sessions.get("key").waiting == name + 1)
    gate.set()
    for join in joins:
        join()
    assert order == list(range(6))


def test_an_action_that_only_raises_a_flag_is_not_counted_among_those_that_change():
    """A Stop waiting behind a Step: the Step sees nothing after it that will change (and show) the
    state, so it answers with its view; a second Step waiting behind does count."""
    sessions, _ = store()
    gate, seen = threading.Event(), []
    with sessions.use("key", "o", create=True):
        pass

    def step():
        with sessions.use("key", "o") as session:
            gate.wait(10)
            seen.append((session.waiting, session.waiting_clicks))

    def stop():
        with sessions.use("key", "o", click=False):
            pass
    join_step = in_threads([step])
    wait_until(lambda: sessions.get("key").waiting == 1)
    join_stop = in_threads([stop])
    wait_until(lambda: sessions.get("key").waiting == 2)
    join_second = in_threads([step])
    wait_until(lambda: sessions.get("key").waiting == 3)
    gate.set()
    for join in (join_step, join_stop, join_second):
        join()
    assert seen == [(3, 2), (1, 1)]
    assert sessions.get("key").waiting_clicks == 0


def test_too_many_waiting_actions_are_refused():
    sessions, _ = store(max_pending=2)
    gate = threading.Event()
    with sessions.use("key", "o", create=True):
        pass

    def hold():
        with sessions.use("key", "o"):
            gate.wait(10)
    join = in_threads([hold, hold])
    wait_until(lambda: sessions.get("key").waiting == 2)
    with pytest.raises(InputError) as refused:
        with sessions.use("key", "o"):
            pass
    assert refused.value.code == "too_many_pending"
    gate.set()
    join()


def test_creations_are_rate_limited_per_address():
    sessions, clock = store(creations_per_minute=3)
    for index in range(3):
        with sessions.use(f"k{index}", "o", create=True, address="10.0.0.1"):
            pass
    with pytest.raises(InputError) as refused:
        with sessions.use("k3", "o", create=True, address="10.0.0.1"):
            pass
    assert refused.value.code == "too_many_new_sessions"
    with sessions.use("other", "o", create=True, address="10.0.0.2"):
        pass  # another address is not affected
    clock.now += 61
    with sessions.use("k3", "o", create=True, address="10.0.0.1"):
        pass


def test_at_the_cap_an_idle_session_goes_and_busy_ones_stay():
    sessions, _ = store(max_sessions=2)
    gate = threading.Event()
    for key in ("old", "busy"):
        with sessions.use(key, "o", create=True):
            pass

    def hold(key):
        def run():
            with sessions.use(key, "o"):
                gate.wait(10)
        return run
    join = in_threads([hold("busy")])
    wait_until(lambda: sessions.get("busy").waiting == 1)
    with sessions.use("new", "o", create=True):
        pass
    assert sessions.get("old") is None and sessions.get("busy") is not None
    join_new = in_threads([hold("new")])
    wait_until(lambda: sessions.get("new").waiting == 1)
    with pytest.raises(InputError) as refused:  # both sessions busy: nobody is pushed out
        with sessions.use("newest", "o", create=True):
            pass
    assert refused.value.code == "server_full" and sessions.get("busy") and sessions.get("new")
    gate.set()
    join()
    join_new()


def test_idle_sessions_expire_on_the_injected_clock():
    sessions, clock = store(idle_timeout_s=60)
    with sessions.use("a", "o", create=True) as session:
        workspace = session.workspace
    clock.now += 59
    assert sessions.sweep() == 0
    clock.now += 2
    assert sessions.sweep() == 1 and sessions.get("a") is None and workspace.evictions == 1


def test_a_full_pool_evicts_idle_rows_least_recently_used_first_and_never_a_busy_one():
    sessions, clock = store()
    workspaces = {}
    for key in ("a", "b", "c", "busy"):
        clock.now += 1
        with sessions.use(key, "o", create=True) as session:
            workspaces[key] = session.workspace
    gate = threading.Event()

    def hold():
        with sessions.use("busy", "o"):
            gate.wait(10)
    join = in_threads([hold])
    wait_until(lambda: sessions.get("busy").waiting == 1)
    evicted = []
    assert sessions.evict_idle(enough=lambda: len([w for w in workspaces.values() if w.evictions]) >= 2) == 2
    evicted = [key for key, w in workspaces.items() if w.evictions]
    assert evicted == ["a", "b"]
    assert sessions.evict_idle() == 1 and workspaces["busy"].evictions == 0  # "c"; the busy one keeps its rows
    gate.set()
    join()


def test_settings_defaults_and_environment_overrides():
    assert ServerSettings.from_env({}) == ServerSettings()
    defaults = ServerSettings()
    assert (defaults.idle_timeout_s, defaults.max_sessions, defaults.cache_budget_bytes) == (1800, 200, 2 * 2**30)
    assert defaults.max_new_tokens == MAX_NEW_TOKENS and defaults.allow_models == () and defaults.graphs
    settings = ServerSettings.from_env({
        "LLM_VIZ_IDLE_TIMEOUT_S": "60", "LLM_VIZ_MAX_SESSIONS": "5", "LLM_VIZ_CACHE_BUDGET_BYTES": "512MiB",
        "LLM_VIZ_MAX_BODY_BYTES": "1MiB", "LLM_VIZ_MAX_NEW_TOKENS": "64", "LLM_VIZ_GRAPHS": "off",
        "LLM_VIZ_ALLOW_MODELS": " smollm2, Qwen/Qwen3-0.6B,,smollm2",
        "LLM_VIZ_MAX_TOP_N": "junk", "LLM_VIZ_QUEUE": "junk",  # not settings: ignored
    })
    assert (settings.idle_timeout_s, settings.max_sessions, settings.cache_budget_bytes) == (60.0, 5, 512 * 2**20)
    assert (settings.max_body_bytes, settings.max_new_tokens, settings.graphs) == (2**20, 64, False)
    assert settings.allow_models == ("smollm2", "Qwen/Qwen3-0.6B")
    assert ServerSettings.from_env({"LLM_VIZ_MAX_SESSIONS": " "}) == ServerSettings()


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
    ("MAX_NEW_TOKENS", str(MAX_NEW_TOKENS + 1)), ("MAX_NEW_TOKENS", "0"), ("GRAPHS", "maybe"),
    ("MAX_BODY_BYTES", "0"),
])
def test_bad_settings_are_refused_in_one_line_naming_the_variable(name, value):
    with pytest.raises(ValueError) as caught:
        ServerSettings.from_env({"LLM_VIZ_" + name: value})
    message = str(caught.value)
    assert message.startswith("LLM_VIZ_" + name) and "\n" not in message
