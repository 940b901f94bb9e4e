"""Turns at the shared model: arrival order, batched steps across caches, failures kept apart.

`kvcache.step_rows` is checked against transformers' `generate` (greedy) for prompts of three
lengths stepped together, and against lone steps (logits to float rounding). `ForwardQueue` is
driven by real threads on the real SmolLM2: steps queued while the model is held run as one
forward pass, and each equals what its decoder gives alone.
"""

import threading
import time

import pytest
import torch
from threads import in_threads, queued_together, wait_until

from visualizer.engine import kvcache
from visualizer.engine.decoder import Decoder
from visualizer.serving.forward_queue import ForwardQueue
from visualizer.engine.sampling import SamplingSettings
from ui.texts import EN
from ui.views import stats_html

SAMPLED = SamplingSettings(temperature=0.9, top_k=40, top_p=0.95, seed=77)
TEXTS = ("The capital of France is", "Once upon a time, in a small village by the sea, there lived",
         "List three primary colors and explain, in one short sentence each, why painters love them:",
         "Write a haiku about tea:")
# Batched matrix products sum in another order than lone ones: equal to float rounding.
ROW_TOLERANCE = dict(rtol=1e-4, atol=2e-4)


def encode(loaded, text):
    return loaded.tokenizer.encode(text)


def generate_greedy(loaded, ids, max_new_tokens):
    input_ids = torch.tensor([ids])
    with torch.no_grad():
        output = loaded.model.generate(input_ids, attention_mask=torch.ones_like(input_ids), do_sample=False,
                                       max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens,
                                       pad_token_id=loaded.tokenizer.eos_ids[0])
    return output[0, len(ids):].tolist()


# kvcache.step_rows


def test_step_rows_of_three_lengths_decodes_what_generate_decodes(loaded):
    prompts = [encode(loaded, text) for text in TEXTS[:3]]
    assert len({len(ids) for ids in prompts}) == 3
    caches, firsts = [], []
    for ids in prompts:
        logits, cache = kvcache.prefill(loaded.model, ids)
        caches.append(cache)
        firsts.append(int(logits.argmax()))
    generated = [[first] for first in firsts]
    for _ in range(11):
        logits = kvcache.step_rows(loaded.model, caches, [row[-1] for row in generated])
        assert logits.shape == (3, loaded.model.config.vocab_size)
        for row, token in zip(generated, logits.argmax(dim=-1).tolist()):
            row.append(token)
    for ids, row, cache in zip(prompts, generated, caches):
        assert row == generate_greedy(loaded, ids, 12)
        assert kvcache.length(cache) == len(ids) + 11


def test_step_rows_matches_lone_steps_and_keeps_no_batch_memory(loaded):
    prompts = [encode(loaded, text) for text in TEXTS[:3]]
    batched = [kvcache.prefill(loaded.model, ids)[1] for ids in prompts]
    alone = [kvcache.fork(cache) for cache in batched]
    tokens = [11, 2021, 330]
    rows = kvcache.step_rows(loaded.model, batched, tokens)
    for row, cache, token in zip(rows, alone, tokens):
        torch.testing.assert_close(row, kvcache.step(loaded.model, cache, [token])[0], **ROW_TOLERANCE)
    # Each cache holds its own positions only (no padding, no view of the batch) and goes on alone.
    for cache, lone in zip(batched, alone):
        assert kvcache.length(cache) == kvcache.length(lone) and kvcache.nbytes(cache) == kvcache.nbytes(lone)
        torch.testing.assert_close(kvcache.step(loaded.model, cache, [13])[0],
                                   kvcache.step(loaded.model, lone, [13])[0], **ROW_TOLERANCE)


def test_step_rows_refuses_caches_it_cannot_batch_and_leaves_them_alone(loaded):
    single = kvcache.prefill(loaded.model, encode(loaded, TEXTS[0]))[1]
    pair = kvcache.fork(kvcache.prefill(loaded.model, encode(loaded, TEXTS[1]))[1], copies=2)  # a lockstep cache
    before = (kvcache.length(single), kvcache.length(pair))
    assert not kvcache.can_batch([single, pair])
    with pytest.raises(ValueError):
        kvcache.step_rows(loaded.model, [single, pair], [5, 6])
    assert (kvcache.length(single), kvcache.length(pair)) == before


# ForwardQueue: turns


def test_exclusive_turns_come_in_arrival_order():
    queue, order, count = ForwardQueue(), [], 8

    def waiter(i):
        def hold():
            with queue.exclusive():
                order.append(i)
        return hold

    with queue.exclusive():
        threads = []
        for i in range(count):  # each one queues only after the previous one is waiting
            threads.append(threading.Thread(target=waiter(i), daemon=True))
            threads[-1].start()
            wait_until(lambda: queue.waiting == i + 1)
    for thread in threads:
        thread.join(10)
    assert order == list(range(count))


def test_a_turn_gets_into_a_long_run_within_one_token():
    queue, token_s, tokens, waited = ForwardQueue(), 0.05, [0], {}

    def long_run():  # queues again at once after every token, like Decoder.run
        for _ in range(30):
            with queue.exclusive():
                time.sleep(token_s)
                tokens[0] += 1

    def short_step():
        wait_until(lambda: tokens[0] >= 3)
        asked_at, started = tokens[0], time.monotonic()
        with queue.exclusive():
            waited["tokens"] = tokens[0] - asked_at
            waited["seconds"] = time.monotonic() - started

    in_threads([long_run, short_step])()
    assert waited["tokens"] <= 1  # only the token in progress finishes first
    assert waited["seconds"] < 10 * token_s  # the whole run takes 30
    assert tokens[0] == 30


def test_the_queue_refuses_re_entry_and_stays_usable(loaded):
    queue = ForwardQueue()
    cache = kvcache.prefill(loaded.model, encode(loaded, TEXTS[0]))[1]
    with queue.exclusive():
        with pytest.raises(RuntimeError):
            queue.step(loaded.model, cache, 5)  # would wait for itself forever
        with pytest.raises(RuntimeError):
            with queue.exclusive():
                pass
    assert queue.waiting == 0
    queue.step(loaded.model, cache, 5)  # still usable afterwards
    assert kvcache.length(cache) == len(encode(loaded, TEXTS[0])) + 1


def test_a_waiter_that_gives_up_leaves_no_hole_in_the_queue():
    queue = ForwardQueue()
    real_wait = queue._cond.wait

    def wait(timeout=None):  # the waiter named "quitter" is interrupted while queued
        if threading.current_thread().name == "quitter":
            raise KeyboardInterrupt
        return real_wait(timeout)

    queue._cond.wait = wait
    quitter_error, order = [], []

    def quitter():
        try:
            with queue.exclusive():
                order.append("quitter")
        except KeyboardInterrupt:
            quitter_error.append(True)

    def later():
        with queue.exclusive():
            order.append("later")

    with queue.exclusive():
        thread = threading.Thread(target=quitter, name="quitter", daemon=True)
        thread.start()
        thread.join(10)
        join = in_threads([later])
        wait_until(lambda: queue.waiting == 1)
    join()
    assert quitter_error == [True] and order == ["later"] and queue.waiting == 0


# ForwardQueue: batched steps on the real model


def test_steps_waiting_together_share_one_forward_and_equal_their_lone_runs(loaded):
    queue = ForwardQueue()
    settings = [SamplingSettings(), SAMPLED, SamplingSettings(), SAMPLED]
    decoders = [Decoder(loaded, encode(loaded, text), s, forwards=queue) for text, s in zip(TEXTS, settings)]
    lone = [Decoder(loaded, list(d.prompt_ids), s) for d, s in zip(decoders, settings)]
    for decoder in decoders + lone:
        decoder.start()
    for rounds in range(1, 4):
        queued_together(queue, [decoder.step for decoder in decoders])  # all four wait, then one pass
        assert queue.stats() == {"batches": rounds, "batched_steps": rounds * len(decoders)}
        assert [decoder.records[-1].batch_rows for decoder in decoders] == [len(decoders)] * len(decoders)
    shown = stats_html(decoders[0].records[-1], len(decoders[0].prompt_ids), EN)
    assert f'<div class="batched"><b>×{len(decoders)}</b><small>{EN["batch_rows"]}</small>' in shown
    for decoder, alone in zip(decoders, lone):
        expected = [alone.step() for _ in range(3)]
        assert 'class="batched"' not in stats_html(expected[-1], len(alone.prompt_ids), EN)  # a lone step
        assert decoder.branch.generated == [record.id for record in expected]
        # Logits within 2e-4 of the lone ones: probabilities within a few 1e-4, relatively.
        assert [r.prob for r in decoder.records] == pytest.approx([r.prob for r in expected], rel=5e-4, abs=1e-6)


def test_a_long_cache_waits_for_a_batch_of_its_own(loaded):
    queue = ForwardQueue()
    short = [kvcache.prefill(loaded.model, encode(loaded, TEXTS[0]))[1] for _ in range(3)]
    long = kvcache.prefill(loaded.model, encode(loaded, " ".join([TEXTS[2]] * 12)))[1]
    assert kvcache.length(long) > 10 * kvcache.length(short[0])
    queued_together(queue, [lambda c=cache: queue.step(loaded.model, c, 5) for cache in short + [long]])
    assert queue.stats() == {"batches": 2, "batched_steps": 4}  # 3 short ones together, then the long one


def test_a_failing_step_in_a_batch_fails_only_its_own_caller(loaded):
    queue = ForwardQueue()
    good = [kvcache.prefill(loaded.model, encode(loaded, text))[1] for text in TEXTS[:2]]
    reference = [kvcache.fork(cache) for cache in good]
    broken = kvcache.prefill(loaded.model, encode(loaded, TEXTS[2]))[1]
    broken.layers[3].keys = broken.layers[3].keys[..., :16]  # a cache no forward pass can use
    results, errors = {}, {}

    def step(name, cache):
        def call():
            try:
                results[name] = queue.step(loaded.model, cache, 42)  # (logits, batch rows)
            except Exception as error:  # noqa: BLE001 - checked below
                errors[name] = error
        return call

    queued_together(queue, [step("good0", good[0]), step("broken", broken), step("good1", good[1])])
    assert set(errors) == {"broken"} and set(results) == {"good0", "good1"}
    for index, cache in enumerate(reference):
        logits, batch_rows = results[f"good{index}"]
        assert batch_rows == 1  # stepped alone once the batch had failed
        torch.testing.assert_close(logits, kvcache.step(loaded.model, cache, [42])[0])
        assert kvcache.length(good[index]) == kvcache.length(cache)


def test_exclusive_holds_wait_for_the_steps_queued_before_them(loaded):
    queue, seen = ForwardQueue(), []
    ids = encode(loaded, TEXTS[0])
    cache = kvcache.prefill(loaded.model, ids)[1]

    def holder():
        with queue.exclusive():
            seen.append(kvcache.length(cache))  # the earlier step has grown the cache already

    with queue.exclusive():
        join_step = in_threads([lambda: queue.step(loaded.model, cache, 5)])
        wait_until(lambda: queue.waiting == 1)
        join_hold = in_threads([holder])
        wait_until(lambda: queue.waiting == 2)
    join_step()
    join_hold()
    assert seen == [len(ids) + 1]
