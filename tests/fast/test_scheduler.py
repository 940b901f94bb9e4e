"""The scheduler on a tiny model: batches, fairness between clicks, runs and long prompts, full pools.

To make turns wait together, a test holds the model thread with a `call` that blocks on an event,
lets the other threads queue behind it (counted with `scheduler.waiting`), then lets go.
References: each session's steps alone (a DirectTurns engine), step for step.
"""

import threading
import time

import pytest
from threads import in_threads, wait_until

from visualizer.engine.decoder import Decoder
from visualizer.engine.engine import Engine
from visualizer.engine.errors import InputError
from visualizer.engine.sampling import SamplingSettings
from visualizer.serving import scheduler as scheduler_module
from visualizer.serving.scheduler import Scheduler, ServerBusy

SEEDS = range(8)


@pytest.fixture()
def scheduled(tiny):
    engines = []

    def make(pool_bytes=32 * 2**20, **options):
        engine = Engine.create(tiny, pool_bytes, turns=lambda runner: Scheduler(runner, **options))
        engines.append(engine)
        return engine
    yield make
    for engine in engines:
        engine.turns.close()


def held(scheduler):
    """A context: the model thread blocked until the block ends; -> (enter, leave)."""
    release, entered = threading.Event(), threading.Event()

    def block():
        entered.set()
        release.wait(30)
    join = in_threads([lambda: scheduler.call(block)])
    entered.wait(30)
    return release, join


def queued_together(scheduler, functions):
    release, join_hold = held(scheduler)
    join = in_threads(functions)
    wait_until(lambda: scheduler.waiting == len(functions))
    release.set()
    join_hold()
    join()


def decoders(engine, prompt, count, max_new=12):
    made = [Decoder(engine, prompt[: len(prompt) - i], SamplingSettings.sampled(seed=i, temperature=1.1), max_new)
            for i in range(count)]
    for decoder in made:
        decoder.start()
    return made


def six_run_tokens_then_a_click(server, prompt):
    """Six runs' next tokens queue, then a click, all behind a held model thread; -> (runs, click) once
    every one is served."""
    runs, click = decoders(server, prompt, 6), decoders(server, prompt, 1)[0]
    release, join_hold = held(server.turns)
    join_runs = in_threads([lambda d=d: d.step(interactive=False) for d in runs])
    wait_until(lambda: server.turns.waiting == 6)
    join_click = in_threads([click.step])
    wait_until(lambda: server.turns.waiting == 7)
    release.set()
    join_hold()
    join_click()
    join_runs()
    return runs, click


def test_steps_waiting_together_share_one_pass_and_equal_lone_runs(scheduled, engine, prompt):
    server = scheduled()
    batched, alone = decoders(server, prompt, 8), decoders(engine, prompt, 8)
    for round_number in range(1, 4):
        batches_before = server.turns.stats()["batches"]
        queued_together(server.turns, [d.step for d in batched])
        assert server.turns.stats()["batches"] == batches_before + 1
        assert {d.records[-1].batch_rows for d in batched} == {8}
    for a, b in zip(batched, alone):
        expected = [b.step() for _ in range(3)]
        assert [r.id for r in a.records] == [r.id for r in expected]
        assert [r.prob for r in a.records] == pytest.approx([r.prob for r in expected], abs=2e-5)


def test_thirty_threads_stepping_at_once_equal_their_alone_replays(scheduled, engine, prompt):
    server = scheduled(max_batch=32)
    many = decoders(server, prompt, 30, max_new=6)
    in_threads([lambda d=d: list(d.run()) for d in many])()
    for decoder in many:
        alone = Decoder(engine, decoder.prompt_ids, decoder.branch.settings, 6)
        assert [r.id for r in alone.run()] == decoder.generated
    stats = server.turns.stats()
    assert stats["batched_steps"] == 30 * 6 and stats["batches"] < 30 * 6


def test_clicks_go_before_the_tokens_of_runs_and_batches_respect_max_batch(scheduled, prompt):
    server = scheduled(max_batch=4)
    runs, click = six_run_tokens_then_a_click(server, prompt)
    assert click.records[-1].batch_rows == 4  # the click and the three oldest run tokens
    assert server.turns.stats()["last_click_wait"] == 0
    assert sorted(d.records[-1].batch_rows for d in runs) == [3, 3, 3, 4, 4, 4]  # the other three after


def test_a_click_waits_for_the_batch_in_flight_only_and_the_server_says_how_many(scheduled, prompt, monkeypatch):
    """/stats' `last_click_wait`: advance batches run while the last click served waited (what the
    hardening test and bench read instead of timing clicks through HTTP)."""
    server = scheduled(max_batch=2)
    runs, click = decoders(server, prompt, 6), decoders(server, prompt, 1)[0]
    in_flight, release, real = [], threading.Event(), scheduler_module.stepper.run_batch

    def first_batch_held(runner, items):
        if not in_flight:
            in_flight.append(len(items))
            release.wait(30)
        return real(runner, items)
    monkeypatch.setattr(scheduler_module.stepper, "run_batch", first_batch_held)
    join_runs = in_threads([lambda d=d: d.step(interactive=False) for d in runs])
    wait_until(lambda: in_flight and server.turns.waiting == 6 - in_flight[0])
    join_click = in_threads([click.step])
    wait_until(lambda: server.turns.waiting == 7 - in_flight[0])
    release.set()
    join_click()
    join_runs()
    assert server.turns.stats()["last_click_wait"] == 1  # the runs' batch in flight, not the run tokens queued
    assert server.turns.stats()["batches"] >= 3


@pytest.mark.parametrize("fixed_ms, per_row_ms, click_rows, run_rows", [
    (40.0, 4.0, 1, [6] * 6),  # a 2-core CPU (SmolLM2): a row costs a tenth of a step, a click goes alone
    (10.0, 0.3, 2, [2] + [5] * 5),  # a GPU: rows nearly free, one run token rides with the click
])
def test_a_click_batch_carries_run_tokens_only_where_rows_are_nearly_free(scheduled, prompt, monkeypatch,
                                                                           fixed_ms, per_row_ms, click_rows,
                                                                           run_rows):
    """The batch times learnt (frozen here) decide: with a click in it, a batch may take at most 1.05x
    a one-row step; runs alone take the rows `cost.run_rows` allows (nothing steered here: all)."""
    server = scheduled(max_batch=32)
    for rows in (1, 10, 20):
        server.turns.cost.add(rows, (fixed_ms + per_row_ms * rows) / 1000)
    monkeypatch.setattr(server.turns.cost, "add", lambda rows, seconds: None)
    monkeypatch.setattr(server.turns.cost, "steer_runs", lambda *args: None)
    runs, click = six_run_tokens_then_a_click(server, prompt)
    assert click.records[-1].batch_rows == click_rows
    assert sorted(d.records[-1].batch_rows for d in runs) == run_rows


def test_runs_alone_take_the_rows_steered_and_batches_with_clicks_do_not_steer(scheduled, prompt, monkeypatch):
    server = scheduled(max_batch=32)
    monkeypatch.setattr(server.turns.cost, "run_rows", lambda factor: 4)
    steered = []
    monkeypatch.setattr(server.turns.cost, "steer_runs", lambda rows, *args: steered.append(rows))
    runs = decoders(server, prompt, 6)
    queued_together(server.turns, [lambda d=d: d.step(interactive=False) for d in runs])
    assert sorted(d.records[-1].batch_rows for d in runs) == [2, 2, 4, 4, 4, 4]
    assert sorted(steered) == [2, 4]  # each batch of runs alone told its time
    monkeypatch.setattr(server.turns.cost, "rows_within", lambda factor, most: 1)  # a click goes alone
    runs, click = six_run_tokens_then_a_click(server, prompt)
    assert click.records[-1].batch_rows == 1
    assert sorted(steered) == [2, 2, 4, 4]  # the click's batch steered nothing


def test_runs_alone_take_longer_batches_when_nobody_clicked_for_a_while(scheduled, prompt, monkeypatch):
    server = scheduled(max_batch=32)
    asked = []
    monkeypatch.setattr(server.turns.cost, "run_rows", lambda factor: asked.append(factor) or 3)
    runs = decoders(server, prompt, 3)
    queued_together(server.turns, [lambda d=d: d.step(interactive=False) for d in runs])
    server.turns.last_click_at -= scheduler_module.CLICKS_RECENT_S
    queued_together(server.turns, [lambda d=d: d.step(interactive=False) for d in runs])
    assert asked == [scheduler_module.RUN_BATCH_FACTOR, scheduler_module.QUIET_RUN_BATCH_FACTOR]
    assert scheduler_module.QUIET_RUN_BATCH_FACTOR > scheduler_module.RUN_BATCH_FACTOR


def test_a_room_whose_next_clicks_arrive_spread_out_still_shares_one_pass(scheduled, prompt, monkeypatch):
    """Four attendees stepped together; their next clicks reach the model thread 0.2 s apart (more than
    the wait per arrival, a tenth of a batch's time, here a learnt 1 s): the first waits for the rest
    (a batch's time at most) and all four share one pass."""
    server = scheduled(max_batch=32)
    room = decoders(server, prompt, 4)
    queued_together(server.turns, [d.step for d in room])
    server.turns.cost.typical_s = 1.0
    monkeypatch.setattr(server.turns.cost, "add", lambda rows, seconds: None)
    joins = []
    for decoder in room:
        joins.append(in_threads([decoder.step]))
        time.sleep(0.2)
    for join in joins:
        join()
    assert [d.records[-1].batch_rows for d in room] == [4, 4, 4, 4]
    assert server.turns.last_clicks == 4


def test_a_long_prompt_is_read_in_chunks_and_steps_get_in_between(scheduled, prompt):
    server = scheduled(chunk=16)
    stepper = decoders(server, prompt, 1, max_new=40)[0]
    long_prompt = (prompt * 20)[:600]
    reader = Decoder(server, long_prompt, max_new_tokens=4)
    chunks_when_stepped = []

    def steps():
        for _ in range(5):
            stepper.step()
            chunks_when_stepped.append(server.turns.stats()["prefill_chunks"])
    release, join_hold = held(server.turns)
    join = in_threads([reader.start])
    wait_until(lambda: server.turns.waiting == 1)  # the prefill's first turn (its row) is queued
    join_steps = in_threads([steps])
    release.set()
    join_hold()
    join_steps()
    join()
    total = -(-600 // 16)
    assert server.turns.stats()["prefill_chunks"] >= total
    assert chunks_when_stepped[0] < total  # the first step did not wait for the whole prompt
    assert reader.cache_length() == 600


def test_clicks_that_keep_coming_do_not_starve_a_prompt(scheduled, prompt, monkeypatch):
    """While every batch runs, another attendee's click arrives (a room stepping out of step): the
    prompt still gets a chunk after each batch of clicks, long before the clicks stop."""
    from visualizer.serving import scheduler as scheduler_module
    server = scheduled(chunk=16)
    clickers = [Decoder(server, prompt, SamplingSettings.sampled(seed=i), 4) for i in range(40)]
    for clicker in clickers:
        clicker.start()
    reader = Decoder(server, (prompt * 20)[:160], max_new_tokens=4)  # 10 chunks
    real_run_batch, arrivals, left_when_read = scheduler_module.stepper.run_batch, [], []

    def run_batch(runner, items):
        if len(arrivals) < len(clickers):  # a click arrives while this batch runs
            waiting = server.turns.waiting
            arrivals.append(in_threads([clickers[len(arrivals)].step]))
            wait_until(lambda: server.turns.waiting > waiting)
        return real_run_batch(runner, items)
    monkeypatch.setattr(scheduler_module.stepper, "run_batch", run_batch)

    def read():
        reader.start()
        left_when_read.append(len(clickers) - len(arrivals))
    release, join_hold = held(server.turns)
    join_read = in_threads([read])
    wait_until(lambda: server.turns.waiting == 1)
    arrivals.append(in_threads([clickers[0].step]))
    wait_until(lambda: server.turns.waiting == 2)
    release.set()
    join_hold()
    join_read()
    for join in arrivals:
        join()
    assert reader.cache_length() == 160
    assert left_when_read[0] >= 10  # read while clicks kept coming (about one batch of clicks per chunk)


def test_the_servers_narrow_passes_run_on_one_thread_and_the_engine_alone_on_all(scheduled, engine):
    assert scheduled().runner.narrow_threads == scheduler_module.SERVER_NARROW_THREADS == 1
    assert engine.runner.narrow_threads is None  # the engine alone (CLI, benches): every thread


def test_too_many_prompt_tokens_waiting_are_refused_clearly(scheduled, prompt):
    server = scheduled(max_prefill_tokens=len(prompt) + 10)
    first, second = Decoder(server, prompt, max_new_tokens=4), Decoder(server, prompt, max_new_tokens=4)
    release, join_hold = held(server.turns)
    join = in_threads([first.start])
    wait_until(lambda: server.turns.waiting >= 1 and server.turns.stats()["prefill_tokens_waiting"] > 0)
    with pytest.raises(ServerBusy) as refused:
        second.start()
    assert refused.value.code == "prefill_busy"
    release.set()
    join_hold()
    join()
    second.start()  # once the first is read, there is room again


def small_pool(engine, tiny, prompt, on_pool_full, room_wait_s):
    """An engine whose pool holds one prompt and a few tokens."""
    pages_for_one_prompt = len(prompt) // engine.pool.page_size + 2
    return Engine.create(tiny, pages_for_one_prompt * engine.pool.page_bytes, turns=lambda runner: Scheduler(
        runner, on_pool_full=on_pool_full, room_wait_s=room_wait_s))


def test_a_full_pool_asks_for_room_waits_then_fails_with_a_clear_error(engine, tiny, prompt):
    asked = []
    small = small_pool(engine, tiny, prompt, asked.append, room_wait_s=0.3)
    try:
        first = Decoder(small, prompt, max_new_tokens=4)
        first.start()
        second = Decoder(small, prompt, max_new_tokens=4)
        with pytest.raises(InputError) as refused:
            second.start()
        assert refused.value.code == "pool_full" and len(asked) >= 2  # asked, waited, asked again
        first.evict()
        second.start()  # the room is back
    finally:
        small.turns.close()


def test_a_turn_waiting_for_room_goes_on_when_rows_are_given_back(engine, tiny, prompt):
    small = small_pool(engine, tiny, prompt, lambda full: None, room_wait_s=30)
    try:
        first, second = Decoder(small, prompt, max_new_tokens=4), Decoder(small, prompt, max_new_tokens=4)
        first.start()
        join = in_threads([second.start])
        wait_until(lambda: small.turns.waiting == 1)  # parked, waiting for room
        first.evict()  # the other session goes idle and gives its row back
        join()
        assert second.branch.ready and not first.branch.ready
    finally:
        small.turns.close()


def test_one_failing_row_fails_only_its_own_caller(scheduled, prompt):
    server = scheduled()
    good, bad = decoders(server, prompt, 2)
    server.turns.call(lambda: server.pool.free(bad.branch.handle))  # a broken row: its pool row is gone
    errors = []

    def bad_step():
        try:
            bad.step()
        except Exception as error:  # noqa: BLE001
            errors.append(error)
    queued_together(server.turns, [good.step, bad_step])
    assert len(good.records) == 1 and len(bad.records) == 0 and len(errors) == 1
